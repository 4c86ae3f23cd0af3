/*
 * The ZOID benchmark (`zepto zoid bench`) as a library: what a running daemon costs its callers,
 * measured through libzoid as a program would call it (round trip of a null call, calls per
 * second with 1, 4, 16 and 64 clients, bandwidth of 4 KiB to 16 MiB calls to the daemon and back,
 * one call at a time and ZOID_BENCH_PIPELINE in flight), and one JSON writer for the result.
 */
#ifndef ZEPTO_ZOID_BENCH_H
#define ZEPTO_ZOID_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "zepto/zepto.h"
#include "zepto/zoid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZOID_BENCH_NCOUNTS  4 /* client counts: 1, 4, 16, 64 */
#define ZOID_BENCH_NSIZES   4 /* payloads: 4 KiB, 64 KiB, 1 MiB, 16 MiB */
#define ZOID_BENCH_PIPELINE 4 /* calls in flight in the pipelined bandwidth runs */

struct zoid_bench_opts {
    const char *server;            /* unix:PATH or tcp:HOST:PORT */
    struct zoid_client_opts copts; /* token file, timeouts */
    bool quick;                    /* about a tenth of the calls and of the time */
    uint64_t wait_ns;              /* retry connecting this long while nobody listens */
};

struct zoid_bench_rate {
    unsigned clients;
    uint64_t calls, ns;
};

struct zoid_bench_bandwidth {
    bool upload;    /* sink; else download (source) */
    unsigned depth; /* calls in flight */
    uint64_t bytes; /* payload of one call */
    uint64_t calls, ns;
    bool skipped; /* above the daemon's payload limit */
};

struct zoid_bench_result {
    const char *server;
    bool quick;
    char transport[8];
    uint32_t max_payload;
    unsigned warmup_calls, latency_calls;
    uint64_t clients_ns; /* how long each client count ran */
    uint64_t median_ns, p99_ns, min_ns, max_ns;
    double mean_ns;
    struct zoid_bench_rate rate[ZOID_BENCH_NCOUNTS];
    /* [2 * size + 0]: upload, [2 * size + 1]: download */
    struct zoid_bench_bandwidth bw[2 * ZOID_BENCH_NSIZES];    /* one call at a time */
    struct zoid_bench_bandwidth piped[2 * ZOID_BENCH_NSIZES]; /* PIPELINE calls in flight */
};

/* Checks the options (the server address); 0 or -EINVAL. */
int zoid_bench_check(const struct zoid_bench_opts *o, struct zepto_err *err);
/* Runs the whole benchmark (about 8 s; --quick about 1 s); 0 or -errno. */
int zoid_bench_run(const struct zoid_bench_opts *o, struct zoid_bench_result *r,
                   struct zepto_err *err);
/* n per second over ns. */
double zoid_bench_per_s(uint64_t n, uint64_t ns);
/* The result as one JSON object (pretty); 0 or -errno. */
int zoid_bench_write_json(FILE *out, const struct zoid_bench_result *r);

#ifdef __cplusplus
}
#endif
#endif
