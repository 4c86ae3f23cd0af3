/*
 * `zepto noise collective`: MPI collectives timed with and without injected noise. Private to
 * the noise part and to the zepto-noise-collective program; needs MPI (libzepto_noise does not).
 */
#ifndef ZEPTO_NOISE_COLLECTIVE_H
#define ZEPTO_NOISE_COLLECTIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "zepto/noise.h"

struct zb_json;

enum zn_coll_op { ZN_OP_ALLREDUCE, ZN_OP_BARRIER, ZN_OP_BCAST };

struct zn_coll_opts {
    enum zn_coll_op op;
    uint64_t bytes;     /* message size (allreduce of doubles: rounded up to 8) */
    unsigned iters;     /* timed iterations per mode */
    unsigned warmup;    /* untimed iterations first */
    unsigned blocks;    /* quiet and noisy blocks alternate this many times */
    uint64_t window_ns; /* 0: chosen from the warm-up */
    uint64_t seed;
    /* noise: one of the two, or neither (only the quiet measurement) */
    const struct zn_synthetic *synthetic;
    const struct zn_trace *trace;
    enum zn_phase phase;
    double scale;
};

struct zn_coll_stats {
    uint64_t valid; /* iterations that started on time on every rank */
    double mean_ns, median_ns, p99_ns, max_ns;
};

struct zn_coll_result {
    int ranks;
    int hosts;
    uint64_t window_ns;
    int64_t clock_offset_max_ns; /* largest |offset| to rank 0's clock */
    uint64_t clock_rtt_min_ns;   /* best ping-pong round trip used for it */
    struct zn_coll_stats quiet, noisy;
    uint64_t overruns; /* iterations dropped: a rank was still in the previous one */
    bool noise;        /* a noisy measurement was made */
    double slowdown_mean, slowdown_median;
    struct zn_play_cpu injected; /* summed over ranks: detours, time; lateness from rank 0 */
    bool realtime;               /* every rank's injector ran at SCHED_FIFO */
    char priority[160];
};

int zn_coll_op_parse(const char *s, enum zn_coll_op *op, struct zepto_err *err);
const char *zn_coll_op_name(enum zn_coll_op op);

/* Runs the measurement on MPI_COMM_WORLD (MPI must be initialised); every rank returns the same
 * result. Collective: every rank must call it with the same options. */
int zn_collective_run(const struct zn_coll_opts *o, struct zn_coll_result *r,
                      struct zepto_err *err);

void zn_coll_result_json(const struct zn_coll_opts *o, const struct zn_coll_result *r,
                         struct zb_json *j);

#endif
