/*
 * Kernel capture for `zepto ktau run`: perf_event_open on the scheduler, interrupt, softirq,
 * syscall and page-fault tracepoints of one process and every thread and process it creates
 * (inherit), one ring buffer per CPU, time stamps on CLOCK_MONOTONIC (the clock of libktau's
 * timers). Records are copied out of the buffers while the program runs and parsed with
 * libtraceevent into compact ktau_krec entries when it is over; switch-ins come from
 * PERF_RECORD_SWITCH (the tracepoint only fires in the task that leaves the CPU).
 */
#ifndef ZEPTO_KTAU_CAPTURE_H
#define ZEPTO_KTAU_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zepto/zepto.h"

enum ktau_krec_kind {
    KR_SYS_ENTER,     /* arg = syscall number */
    KR_SYS_EXIT,      /* arg = syscall number */
    KR_IRQ_ENTRY,     /* arg = irq, name = handler name */
    KR_IRQ_EXIT,      /* arg = irq */
    KR_SOFTIRQ_ENTRY, /* arg = vector */
    KR_SOFTIRQ_EXIT,  /* arg = vector */
    KR_SWITCH_OUT,    /* arg = 1 when preempted (runnable), 0 when it blocked */
    KR_SWITCH_IN,
    KR_PAGE_FAULT, /* arg unused */
};

struct ktau_krec {
    uint64_t t_ns; /* CLOCK_MONOTONIC */
    uint32_t pid, tid;
    int32_t arg;
    uint16_t kind; /* enum ktau_krec_kind */
    uint16_t cpu;
    uint32_t name; /* index into the capture's names (KR_IRQ_ENTRY), else 0 */
    uint32_t seq;  /* arrival order, to keep equal time stamps in order */
};

struct ktau_capture {
    struct ktau_krec *recs; /* in arrival order; ktau_capture_sort() orders them */
    size_t nrecs, cap;
    char **names; /* interned strings; names[0] = "" */
    size_t nnames;
    uint64_t lost;    /* records the kernel could not store (buffers full) */
    uint64_t unknown; /* records not understood */
    /* private */
    int ncpu;
    int *fds;           /* ncpu * KTAU_NEVENTS, -1 when not open */
    void **maps;        /* per CPU ring buffer */
    size_t map_len;     /* bytes mapped per CPU (1 + 2^n pages) */
    void *tep;          /* struct tep_handle */
    int ids[16];        /* tracepoint ids, by event index */
    void *events[16];   /* their struct tep_event, by event index */
    void *fields[16];   /* the field each event's records are read for (struct tep_format_field) */
    void *pid_field;    /* sched_switch's prev_pid */
    unsigned char *raw; /* records drained, not yet parsed (ktau_capture_stop parses them) */
    size_t raw_len, raw_cap;
};

/* Opens the events for pid and its future threads and children; they start counting at its
 * next exec (enable_on_exec), so the caller forks, calls this, then lets the child exec.
 * -EACCES/-EPERM when perf refuses (err says why and what to change), -ENOENT without tracefs. */
int ktau_capture_open(struct ktau_capture *c, pid_t pid, struct zepto_err *err);

/* The descriptors to poll(2) for readable buffers: c->fds[cpu * ...]; one per CPU. */
int ktau_capture_poll_fds(const struct ktau_capture *c, int *fds, int max);

/* Copies what the buffers hold (parsed into c->recs by ktau_capture_stop). */
int ktau_capture_drain(struct ktau_capture *c, struct zepto_err *err);

/* Final drain, closes the events, parses everything into c->recs. */
int ktau_capture_stop(struct ktau_capture *c, struct zepto_err *err);

/* Orders the records by thread, then time, then arrival. */
void ktau_capture_sort(struct ktau_capture *c);

void ktau_capture_free(struct ktau_capture *c);

/* Adds a record (for tests and for the merge's own tests). */
int ktau_capture_add(struct ktau_capture *c, const struct ktau_krec *r);
/* Interns a string; its index, or 0 when out of memory. */
uint32_t ktau_capture_intern(struct ktau_capture *c, const char *s);

/* Where tracefs is mounted (mounting it at /sys/kernel/tracing when root and it is not);
 * 0 or a negative errno with err saying what to do. */
int ktau_tracefs(char *path, size_t len, struct zepto_err *err);

#endif
