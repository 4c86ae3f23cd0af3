/*
 * The tracepoints of ktau's kernel capture (tracepoints.c), shared with the capture itself
 * (capture.c): the table of events, loading their formats from tracefs, and decoding what the
 * ring buffers held into ktau_krec records. Private to src/ktau.
 */
#ifndef ZEPTO_KTAU_TRACEPOINTS_H
#define ZEPTO_KTAU_TRACEPOINTS_H

#include <stdbool.h>

#include "ktau/capture.h"

/* Which capture opens an event: the per-process one of `zepto ktau run`, the per-CPU one of
 * `zepto noise record --explain`, or both. */
enum { KT_IN_PROC = 1, KT_IN_CPU = 2, KT_IN_BOTH = 3 };

struct kt_tracepoint {
    const char *sys, *name;
    unsigned char in;  /* KT_IN_* */
    bool needed;       /* the capture fails without it */
    const char *field; /* the field read for the record's arg, or NULL */
};

#define KT_NTRACEPOINTS 19
extern const struct kt_tracepoint kt_tracepoints[KT_NTRACEPOINTS];

/* Indexes into kt_tracepoints. */
enum {
    KT_EV_SWITCH,
    KT_EV_IRQ_IN,
    KT_EV_IRQ_OUT,
    KT_EV_SOFT_IN,
    KT_EV_SOFT_OUT,
    KT_EV_SYS_IN,
    KT_EV_SYS_OUT,
    KT_EV_PF,
    KT_EV_PF_KERNEL,
    KT_EV_VEC_FIRST /* the irq_vectors pairs (entry, exit) from here */
};

/* Empties c and reads the format and id of every event of `mode` (KT_IN_PROC or KT_IN_CPU)
 * into it (c->tep, ids, events, fields, vec_names). */
int kt_tracepoints_load(struct ktau_capture *c, unsigned mode, struct zepto_err *err);

/* Parses the records drained so far (c->raw) into c->recs. */
int kt_tracepoints_parse(struct ktau_capture *c, struct zepto_err *err);

#endif
