/*
 * Explaining detours with the kernel's own account: what `zepto noise record --explain` uses of
 * ktau. A system-wide tracepoint capture on a set of CPUs (interrupts, x86 system vectors,
 * softirqs, context switches, page faults) runs while the noise recorder spins; afterwards each
 * detour, given as a CPU, the recorder thread and a window on CLOCK_MONOTONIC, gets the kernel
 * activity traced on that CPU inside the window and its cause: the component with the most time.
 *
 * Needs root or kernel.perf_event_paranoid <= 0, and tracefs. Functions return 0 or a negative
 * errno with err filled, and never print.
 */
#ifndef ZEPTO_KTAU_EXPLAIN_H
#define ZEPTO_KTAU_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ktau_cause_kind {
    KTAU_CAUSE_UNKNOWN = 0, /* nothing traced in the guest kernel: the host (hypervisor) */
    KTAU_CAUSE_IRQ = 1,     /* a hard interrupt or x86 system vector; name = handler/vector */
    KTAU_CAUSE_SOFTIRQ = 2, /* a softirq; name = its vector ("TIMER", "RCU", ...) */
    KTAU_CAUSE_THREAD = 3,  /* another task ran on the CPU; name = its comm */
    KTAU_CAUSE_FAULT = 4,   /* a page fault of the recorder thread; name empty */
};
#define KTAU_CAUSE_KINDS 5

/* What the kernel did on one CPU inside one detour. */
struct ktau_why {
    int kind;           /* enum ktau_cause_kind of the cause */
    char name[64];      /* see the kinds */
    uint64_t cause_ns;  /* time in the cause (exclusive of what nested in it) */
    uint64_t traced_ns; /* all kernel time traced in the window, at most its length */
    uint32_t faults;    /* page faults of the recorder thread */
    uint32_t events;    /* kernel records in the window */
};

struct ktau_explain;

/* Opens the capture on the CPUs; it records from now on. */
int ktau_explain_open(struct ktau_explain **out, const int *cpus, unsigned ncpu,
                      struct zepto_err *err);
/* An explainer without a capture, for records added by hand (tests). */
int ktau_explain_new(struct ktau_explain **out, struct zepto_err *err);

/* Copies the kernel's buffers out each time one is a quarter full, sleeping in poll(2) in
 * between (at most 2 s), until ktau_explain_halt(); run it in a thread of its own. The thread
 * runs wherever the scheduler puts it: pin it away from the recorded CPUs when there is room. */
int ktau_explain_pump(struct ktau_explain *x, struct zepto_err *err);
/* Ends ktau_explain_pump (from any thread; async-signal-safe). */
void ktau_explain_halt(struct ktau_explain *x);

/* Stops the capture, parses and sorts its records by CPU; then classify may be called. */
int ktau_explain_stop(struct ktau_explain *x, struct zepto_err *err);

/* Slack added on each side of a window, for the error of the caller's clock conversion
 * (default 2 us). */
void ktau_explain_set_slack(struct ktau_explain *x, uint64_t ns);

/* The kernel activity on cpu in [start_ns - slack, end_ns + slack] (CLOCK_MONOTONIC), for the
 * recorder thread tid that was spinning there. O(log records + records in the window). */
void ktau_explain_classify(const struct ktau_explain *x, int cpu, uint32_t tid, uint64_t start_ns,
                           uint64_t end_ns, struct ktau_why *out);

/* Counts: records parsed, records the kernel lost (buffers full), bytes drained, drains done. */
struct ktau_explain_stats {
    uint64_t records, lost, bytes, drains;
    uint64_t drain_ns; /* time spent copying in ktau_explain_pump */
};
void ktau_explain_stats(const struct ktau_explain *x, struct ktau_explain_stats *st);

void ktau_explain_free(struct ktau_explain *x);

/* "irq", "softirq", "thread", "page fault", "unknown (host)". */
const char *ktau_cause_kind_name(int kind);

#ifdef __cplusplus
}
#endif

#endif
