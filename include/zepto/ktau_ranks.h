/*
 * The cross-rank view of an MPI run's profiles (`zepto ktau show` of a directory with several
 * ranks, like TAU's pprof -s): per routine, the mean, min and max over the ranks of its
 * exclusive time (each rank the sum of its threads and processes, i.e. of the profiles of its
 * TAU node), and the rank with the most kernel time: system calls, interrupts, softirqs and
 * exceptions the kernel ran for it (exclusive, so a switch-out inside a call is not counted;
 * scheduling — preempted and blocked time — is not kernel work done for the rank and is left
 * out), with its host and how it compares with the median rank.
 */
#ifndef ZEPTO_KTAU_RANKS_H
#define ZEPTO_KTAU_RANKS_H

#include <stddef.h>

#include "zepto/ktau_profile.h"

struct ktau_rank_row {
    char *name;
    char *group;                 /* the TAU group of the first profile that has it */
    double calls_mean;           /* calls per rank, mean */
    double excl_mean, incl_mean; /* microseconds per rank, mean (a rank without it counts 0) */
    double excl_min, excl_max;   /* microseconds */
    int rank_min, rank_max;      /* the ranks (TAU nodes) with them */
};

struct ktau_rank_info {
    int rank;         /* TAU node */
    char host[64];    /* the Hostname of its first profile, or "" */
    double kernel_us; /* kernel time (see above), microseconds */
    double total_us;  /* the sum of its threads' flat exclusive times (their wall time) */
    size_t threads;   /* profiles of this rank */
};

struct ktau_rank_summary {
    size_t nranks;
    struct ktau_rank_info *ranks; /* by rank */
    size_t nrows;
    struct ktau_rank_row *rows; /* by mean exclusive time, largest first */
    size_t flagged;             /* index in ranks of the one with the most kernel time */
    double median_kernel_us;
};

/* Builds the summary of n thread profiles (any order); 0 or -ENOMEM. */
int ktau_rank_summary(const struct ktau_pthread *t, size_t n, struct ktau_rank_summary *out);
void ktau_rank_summary_free(struct ktau_rank_summary *s);

/* Whether a profile entry is kernel work done for the thread (KTAU_SYSCALL, KTAU_IRQ, KTAU_BH,
 * KTAU_EXCEPTION; flat, not a call path). */
int ktau_is_kernel_work(const struct ktau_pfunc *f);

#endif
