/*
 * Kernel capture for `zepto ktau run`: perf_event_open on the scheduler, interrupt (with the x86
 * system vectors: local_timer...), softirq, syscall and page-fault tracepoints of one process and
 * every thread and process it creates (inherit), one ring buffer per CPU, time stamps on
 * CLOCK_MONOTONIC (the clock of libktau's timers). Records are copied out of the buffers while the
 * program runs and parsed with libtraceevent into compact ktau_krec entries when it is over;
 * switch-ins come from PERF_RECORD_SWITCH (the tracepoint only fires in the task that leaves the
 * CPU).
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
    KR_IRQ_ENTRY,     /* arg = irq (-1: an x86 system vector), name = handler or vector name */
    KR_IRQ_EXIT,      /* arg = irq (-1: an x86 system vector, name = its name) */
    KR_SOFTIRQ_ENTRY, /* arg = vector */
    KR_SOFTIRQ_EXIT,  /* arg = vector */
    KR_SWITCH_OUT,    /* arg = 1 when preempted (runnable), 0 when it blocked; system-wide:
                         name = the comm of the task that takes the CPU */
    KR_SWITCH_IN,     /* system-wide: name = the comm of the task (tid) that gets the CPU */
    KR_PAGE_FAULT,    /* arg unused */
};

struct ktau_krec {
    uint64_t t_ns; /* CLOCK_MONOTONIC */
    uint32_t pid, tid;
    int32_t arg;
    uint16_t kind; /* enum ktau_krec_kind */
    uint16_t cpu;
    uint32_t name; /* index into the capture's names (see the kinds), else 0 */
    uint32_t seq;  /* arrival order, to keep equal time stamps in order */
};

#define KTAU_NEVENTS 24 /* room for the events of capture.c */

struct ktau_capture {
    struct ktau_krec *recs; /* in arrival order; ktau_capture_sort() orders them */
    size_t nrecs, cap;
    char **names; /* interned strings; names[0] = "" */
    size_t nnames;
    uint64_t lost;    /* records the kernel could not store (buffers full) */
    uint64_t unknown; /* records not understood */
    /* private */
    int ncpu;
    int *fds;              /* ncpu * KTAU_NEVENTS, -1 when not open */
    void **maps;           /* per CPU ring buffer */
    size_t map_len;        /* bytes mapped per CPU (1 + 2^n pages) */
    bool small_buffers;    /* the lock limit made them smaller than the watermark was set for */
    void *tep;             /* struct tep_handle */
    bool cpu_wide;         /* opened by ktau_capture_open_cpus */
    int ids[KTAU_NEVENTS]; /* tracepoint ids, by event index */
    void *events[KTAU_NEVENTS];       /* their struct tep_event, by event index */
    void *fields[KTAU_NEVENTS];       /* the field read for each event (struct tep_format_field) */
    uint32_t vec_names[KTAU_NEVENTS]; /* interned names of the system vectors' entry events */
    void *pid_field;                  /* sched_switch's prev_pid */
    void *next_pid_field;             /* and next_pid */
    unsigned char *raw; /* records drained, not yet parsed (ktau_capture_stop parses them) */
    size_t raw_len, raw_cap;
};

/* Opens the events for pid and its future threads and children; they start counting at its
 * next exec (enable_on_exec), so the caller forks, calls this, then lets the child exec.
 * -EACCES/-EPERM when perf refuses (err says why and what to change), -ENOENT without tracefs. */
int ktau_capture_open(struct ktau_capture *c, pid_t pid, struct zepto_err *err);

/* The system-wide capture of `zepto noise record --explain`: every task on each of the CPUs,
 * counting at once, no syscalls, page faults also in kernel mode; sched_switch gives both the
 * switch-out (named after the next task) and the switch-in. In both captures the x86 system
 * vectors (local_timer, reschedule, call_function, call_function_single, irq_work) come as
 * KR_IRQ_ENTRY/EXIT with arg -1 and their name.
 * Needs root or perf_event_paranoid <= 0 (-EACCES/-EPERM otherwise, err says so). */
int ktau_capture_open_cpus(struct ktau_capture *c, const int *cpus, unsigned ncpu,
                           struct zepto_err *err);

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

/* The capture inside an explainer of include/zepto/ktau_explain.h (detour_causes.c), where tests
 * add records by hand. */
struct ktau_explain;
struct ktau_capture *ktau_explain_capture(struct ktau_explain *x);

/* Where tracefs is mounted (mounting it at /sys/kernel/tracing when root and it is not);
 * 0 or a negative errno with err saying what to do. */
int ktau_tracefs(char *path, size_t len, struct zepto_err *err);

#endif
