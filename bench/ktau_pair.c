/*
 * The cost of a ktau_start/ktau_stop pair (target: at most 30 ns), and of an empty function call
 * through the -finstrument-functions hooks: the minimum and the median over batches of pairs, in
 * ns per pair (short batches: their minimum leaves out what other work on the machine takes).
 * Usage: bench_ktau_pair [PAIRS_PER_BATCH [BATCHES]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "zepto/ktau.h"

void __cyg_profile_func_enter(void *fn, void *site);
void __cyg_profile_func_exit(void *fn, void *site);

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_f64(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Stands for a function's address (a data address: ISO C has no function-to-void* cast). */
static char func;

int main(int argc, char **argv)
{
    /* 1.8 million pairs of each kind: 3.6 million events, within the 64 MiB of event log a thread
     * has by default (KTAU_LOG_MAX), so that every pair is logged. */
    long pairs = argc > 1 ? atol(argv[1]) : 10000;
    int batches = argc > 2 ? atoi(argv[2]) : 90;
    if (pairs <= 0 || batches <= 0 || batches > 1000) {
        fprintf(stderr, "usage: bench_ktau_pair [PAIRS_PER_BATCH [BATCHES]]\n");
        return 2;
    }
    double pair[1000], hook[1000];
    ktau_start("bench");
    for (int b = 0; b < batches; b++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < pairs; i++) {
            ktau_start("pair");
            ktau_stop("pair");
        }
        uint64_t t1 = now_ns();
        for (long i = 0; i < pairs; i++) {
            __cyg_profile_func_enter(&func, NULL);
            __cyg_profile_func_exit(&func, NULL);
        }
        uint64_t t2 = now_ns();
        pair[b] = (double)(t1 - t0) / (double)pairs;
        hook[b] = (double)(t2 - t1) / (double)pairs;
    }
    ktau_stop("bench");
    qsort(pair, (size_t)batches, sizeof(double), cmp_f64);
    qsort(hook, (size_t)batches, sizeof(double), cmp_f64);
    printf("ktau start/stop pair: min %.1f ns, median %.1f ns (target <= 30 ns)\n", pair[0],
           pair[batches / 2]);
    printf("instrumented-function hooks pair: min %.1f ns, median %.1f ns\n", hook[0],
           hook[batches / 2]);
    return 0;
}
