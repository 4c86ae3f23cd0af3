/*
 * Pairing injected detours with recorded ones, and the checks that the ground-truth and
 * injection-accuracy tests share: every injection found (count within 10 % of the expected),
 * none shorter than asked, each at most its spin plus twice the 99th percentile of the
 * preemption cost measured in the same run (3 % may exceed it: the hypervisor, see
 * docs/BENCHMARKS.md).
 */
#ifndef ZEPTO_TEST_MATCH_H
#define ZEPTO_TEST_MATCH_H

#include <stdint.h>

#include "injector.h"
#include "zepto/noise.h"

struct match {
    uint64_t injected; /* injections inside the recording */
    uint64_t matched;  /* of those, covered by a recorded detour */
    uint64_t *length;  /* length of each matched detour */
    uint64_t *spin;    /* the injector's own spin for it */
};

/* Pairs each span (CLOCK_MONOTONIC) inside the recording of t's first CPU with the detour that
 * covers its start. */
void match_spans(const struct zn_trace *t, const struct inj_span *spans, uint64_t n,
                 struct match *m);
void match_free(struct match *m);

/* The 99th percentile and median of (recorded length - spin): the preemption cost. */
void match_cost(const struct match *m, uint64_t *median, uint64_t *p99);

/* The checks above for injections of `length` ns, `expected` of them; prints what it measured
 * and each failure; returns the number of failed checks. */
int match_check(const struct match *m, uint64_t length, double expected, uint64_t cost_p99);

/* What the injection drivers share: checks `DRIVER ZEPTO WORKDIR` and that SCHED_FIFO is
 * allowed (else prints why and exits 77: skipped), and returns the CPU to work on (the last one
 * this process may use). */
int driver_setup(int argc, char **argv, const char *needs);

/* Runs argv (stdout to /dev/null), then reads the trace it wrote; exits 1 on any failure. */
struct zn_trace *run_and_read(char *const argv[], const char *trace);

/* Reads a `zepto noise play --log` CSV into spans (malloc'd); -1 on error. */
int read_play_log(const char *path, struct inj_span **spans, uint64_t *n);

#endif
