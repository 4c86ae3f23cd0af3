/*
 * The test suite's own noise injector, independent of the code under test: a thread pinned to one
 * CPU at SCHED_FIFO that sleeps until each period's start (absolute CLOCK_MONOTONIC, minimal timer
 * slack) and spins for the detour length, logging when each injection ran. Also the classic
 * same-CPU context-switch measurement (two threads ping-ponging through pipes).
 */
#ifndef ZEPTO_TEST_INJECTOR_H
#define ZEPTO_TEST_INJECTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct inj_span {
    uint64_t start_ns;   /* CLOCK_MONOTONIC when the injector began to spin */
    uint64_t end_ns;     /* when it stopped */
    uint64_t max_gap_ns; /* longest gap between two clock reads of the spin: above a few us,
                            something (the hypervisor, an interrupt) took the CPU mid-spin */
};

struct injector {
    int cpu;
    uint64_t period_ns, length_ns, run_ns;
    pthread_t thread;
    _Atomic int ready; /* 1 when running at SCHED_FIFO, -1 on failure */
    int err;           /* errno of the failure */
    struct inj_span *spans;
    uint64_t n, cap;
};

/* Whether this process may create SCHED_FIFO threads; on false, *why says why. */
bool inj_fifo_allowed(const char **why);

/* Starts injecting: the first detour one period from now, the last before run_ns is over.
 * Returns 0, or an errno value (EPERM when SCHED_FIFO is refused). */
int inj_start(struct injector *inj, int cpu, uint64_t period_ns, uint64_t length_ns,
              uint64_t run_ns);

/* Waits for the injector to finish; frees nothing (inj_free does). */
void inj_join(struct injector *inj);
void inj_free(struct injector *inj);

/* One context switch on `cpu`, in ns: half of the round trip of two threads pinned there that
 * wake each other through pipes, median of `rounds` round trips. */
double inj_context_switch_ns(int cpu, unsigned rounds);

uint64_t inj_now_ns(void);

#endif
