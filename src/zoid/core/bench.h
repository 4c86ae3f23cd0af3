/*
 * The ZOID benchmark's parts (private): bench.c connects and measures latency and call rates,
 * bench_transfer.c the bandwidth, bench_json.c writes the result.
 */
#ifndef ZOID_CORE_BENCH_H
#define ZOID_CORE_BENCH_H

#include "zepto/zoid_bench.h"

/* What the options come to. */
struct zoid_bench_params {
    const struct zoid_bench_opts *o;
    unsigned warmup_calls, latency_calls;
    uint64_t clients_ns;   /* how long each client count runs */
    uint64_t bandwidth_ns; /* how long each size and direction runs, at least min_calls calls */
    unsigned min_calls;
};

extern const uint64_t zoid_bench_sizes[ZOID_BENCH_NSIZES];

int zoid_bench_call_failed(struct zepto_err *err, const char *what, int rc);
int zoid_bench_bandwidth(const struct zoid_bench_params *pr, struct zoid_client *c,
                         struct zoid_bench_result *r, struct zepto_err *err);

#endif
