/*
 * The merge of `zepto ktau run`: each thread's user profile and event log (libktau's files) with
 * the kernel records of the same thread. Kernel activity is a stack of its own per thread
 * (a syscall, inside it a switch-out, an interrupt, a softirq...); every kernel interval is
 * charged to the innermost user routine running when it began, and its time (when it is the
 * outermost kernel interval) is taken from that routine's exclusive time, so that the user and
 * kernel entries of a thread add up to its wall time, as in KTAU's merged profiles.
 */
#ifndef ZEPTO_KTAU_MERGE_H
#define ZEPTO_KTAU_MERGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ktau/capture.h"
#include "ktau/profile.h"
#include "ktau/raw.h"

/* What summary.txt says of one thread. */
struct ktau_tsum {
    uint32_t pid, tid;
    int node, context, thread;
    char comm[64];
    uint64_t start_ns, end_ns;
    uint64_t user_routines;
    uint64_t syscalls, syscall_ns;
    uint64_t irqs, irq_ns;
    uint64_t softirqs, softirq_ns;
    uint64_t preempts, preempted_ns;
    uint64_t blocks, blocked_ns;
    uint64_t faults;
    int has_user;  /* a libktau file was found */
    int truncated; /* its log was cut */
};

struct ktau_merge_in {
    struct ktau_raw_thread *users; /* libktau files, any order */
    size_t nusers;
    struct ktau_capture *kernel; /* sorted (ktau_capture_sort), or NULL */
    const char *comm;            /* root routine of threads without a libktau file */
    uint32_t root_pid;           /* the process started by zepto (node 0) */
    uint64_t root_start_ns;      /* when it started and ended (CLOCK_MONOTONIC), for a profile */
    uint64_t root_end_ns;        /* of it when nothing else was recorded (it left by _exit) */
    FILE *trace;                 /* Chrome trace JSON out, or NULL */
    bool one_rank;               /* every process is MPI rank `rank`'s (zepto ktau run as a rank) */
    int rank;                    /* then: node of all, processes numbered by context */
};

struct ktau_merge_out {
    struct ktau_pthread *threads; /* TAU profiles */
    struct ktau_tsum *sums;       /* same order */
    size_t n;
};

/* 0 or a negative errno. */
int ktau_merge(const struct ktau_merge_in *in, struct ktau_merge_out *out, struct zepto_err *err);
void ktau_merge_free(struct ktau_merge_out *out);

/* Kernel entry names. */
const char *ktau_softirq_name(int vec);

#endif
