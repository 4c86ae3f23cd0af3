/*
 * The ZOID benchmark's bandwidth runs: calls moving 4 KiB to 16 MiB to the daemon (core sink)
 * and back (core source), one call at a time and ZOID_BENCH_PIPELINE calls in flight on one
 * connection (threads sharing it), which is how a forwarding client streams.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/parse.h"
#include "zoid/core/bench.h"

#define ZOID_BENCH_MAX_SIZE (16u << 20)

const uint64_t zoid_bench_sizes[ZOID_BENCH_NSIZES] = {4u << 10, 64u << 10, 1u << 20, 16u << 20};

static int one_transfer(struct zoid_client *c, bool upload, void *buf, uint64_t bytes)
{
    if (upload) {
        struct iovec req = {buf, bytes};
        return zoid_call(c, 0, ZOID_CORE_SINK, &req, 1, NULL, 0, NULL, 0);
    }
    uint64_t n = bytes; /* the core plugin reads its u64 in the host's order */
    struct iovec req = {&n, sizeof(n)}, rep = {buf, bytes};
    size_t got = 0;
    int rc = zoid_call(c, 0, ZOID_CORE_SOURCE, &req, 1, &rep, 1, &got, 0);
    return rc ? rc : got == bytes ? 0 : -EPROTO;
}

/* One thread of a pipelined run: transfers until `until` (and at least min_calls). */
struct pipe_worker {
    struct zoid_client *c;
    bool upload;
    uint64_t bytes, until_ns;
    unsigned min_calls;
    unsigned char *buf;
    uint64_t calls, end_ns;
    int rc;
    pthread_t tid;
};

static void *pipe_loop(void *arg)
{
    struct pipe_worker *w = arg;
    uint64_t t = zb_mono_read();
    while (!w->rc && (t < w->until_ns || w->calls < w->min_calls)) {
        w->rc = one_transfer(w->c, w->upload, w->buf, w->bytes);
        w->calls++;
        t = zb_mono_read();
    }
    w->end_ns = t;
    return NULL;
}

/* Measures b (size, direction and depth set) with `depth` threads sharing c, each with its own
 * buffer from bufs (touched before timing, so that page faults are not part of the figure). */
static int measure(const struct zoid_bench_params *pr, struct zoid_client *c,
                   struct zoid_bench_bandwidth *b, unsigned char *const *bufs)
{
    int rc = one_transfer(c, b->upload, bufs[0], b->bytes); /* warm-up: buffers, TCP window */
    if (rc)
        return rc;
    struct pipe_worker w[ZOID_BENCH_PIPELINE];
    uint64_t t0 = zb_mono_read();
    unsigned started = 0;
    for (unsigned i = 0; i < b->depth; i++) {
        w[i] = (struct pipe_worker){.c = c,
                                    .upload = b->upload,
                                    .bytes = b->bytes,
                                    .until_ns = t0 + pr->bandwidth_ns,
                                    .min_calls = (pr->min_calls + b->depth - 1) / b->depth,
                                    .buf = bufs[i]};
        if (b->depth == 1)
            pipe_loop(&w[i]);
        else if (pthread_create(&w[i].tid, NULL, pipe_loop, &w[i]))
            break;
        started++;
    }
    uint64_t end = t0;
    for (unsigned i = 0; i < started; i++) {
        if (b->depth > 1)
            pthread_join(w[i].tid, NULL);
        b->calls += w[i].calls;
        end = w[i].end_ns > end ? w[i].end_ns : end;
        rc = rc ? rc : w[i].rc;
    }
    b->ns = end - t0;
    return started < b->depth ? -EAGAIN : rc;
}

int zoid_bench_bandwidth(const struct zoid_bench_params *pr, struct zoid_client *c,
                         struct zoid_bench_result *r, struct zepto_err *err)
{
    unsigned char *bufs[ZOID_BENCH_PIPELINE] = {0};
    for (unsigned i = 0; i < ZOID_BENCH_PIPELINE; i++) {
        if (!(bufs[i] = malloc(ZOID_BENCH_MAX_SIZE))) {
            for (unsigned k = 0; k < i; k++)
                free(bufs[k]);
            return zepto_fail(err, ENOMEM, "out of memory");
        }
        memset(bufs[i], 0x5a, ZOID_BENCH_MAX_SIZE);
    }
    int rc = 0;
    for (unsigned s = 0; s < ZOID_BENCH_NSIZES && !rc; s++) {
        for (int up = 1; up >= 0 && !rc; up--) {
            for (unsigned depth = 1; depth <= ZOID_BENCH_PIPELINE && !rc;
                 depth += ZOID_BENCH_PIPELINE - 1) {
                struct zoid_bench_bandwidth *b =
                    &(depth == 1 ? r->bw : r->piped)[2 * s + (up ? 0 : 1)];
                *b = (struct zoid_bench_bandwidth){
                    .upload = up, .depth = depth, .bytes = zoid_bench_sizes[s]};
                if (b->bytes > r->max_payload) {
                    b->skipped = true;
                    continue;
                }
                if ((rc = measure(pr, c, b, bufs))) {
                    char what[96], sz[32];
                    snprintf(what, sizeof(what), "%s of %s, %u in flight",
                             up ? "upload (sink)" : "download (source)",
                             zb_fmt_size(b->bytes, sz, sizeof(sz)), depth);
                    rc = zoid_bench_call_failed(err, what, rc);
                }
            }
        }
    }
    for (unsigned i = 0; i < ZOID_BENCH_PIPELINE; i++)
        free(bufs[i]);
    return rc;
}
