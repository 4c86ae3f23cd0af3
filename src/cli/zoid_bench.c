/*
 * `zepto zoid bench`: what a running ZOID daemon costs its callers, measured through libzoid as
 * a program would call it: the round trip of a null call (median and p99 of many, after a
 * warm-up), calls per second with 1, 4, 16 and 64 clients (each its own connection and thread,
 * null calls back to back for a fixed time), and the bandwidth of calls moving 4 KiB to 16 MiB
 * to the daemon (core sink) and back (core source): one call at a time, and PIPELINE calls in
 * flight on one connection (threads sharing it), which is how a forwarding client streams.
 * bench/zoid.sh sets these beside raw-socket baselines on the same transport.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/parse.h"
#include "cli/cli.h"
#include "zepto/zoid.h"
#include "zepto/zoid_settings.h"
#include "zoid/core/transport.h"

#define CMD "zoid bench"

static const unsigned client_counts[] = {1, 4, 16, 64};
static const uint64_t payload_sizes[] = {4u << 10, 64u << 10, 1u << 20, 16u << 20};
#define NCOUNTS  (sizeof(client_counts) / sizeof(client_counts[0]))
#define NSIZES   (sizeof(payload_sizes) / sizeof(payload_sizes[0]))
#define MAX_SIZE (16u << 20)
#define PIPELINE 4 /* calls in flight in the pipelined bandwidth runs */

static const char usage[] =
    "usage: zepto zoid bench --server ADDR [--token-file F] [--json] [--quick] [--wait DUR]\n"
    "\n"
    "Measures a running daemon (zepto zoid serve) through its core plugin:\n"
    "  latency     round trip of a null call (nothing in, nothing out): median and p99 of\n"
    "              20,000 calls after 2,000 of warm-up\n"
    "  calls/s     1, 4, 16 and 64 clients, each its own connection and thread, making null\n"
    "              calls back to back for 1 s\n"
    "  bandwidth   4 KiB, 64 KiB, 1 MiB and 16 MiB payloads, one call at a time and 4 in\n"
    "              flight (threads sharing the connection), 0.25 s each: upload (sink: the\n"
    "              payload in, nothing back) and download (source: that many bytes back), in\n"
    "              MiB/s counted from the first call to the last reply\n"
    "About 8 s in all. Run it beside a raw-socket baseline: bench/zoid.sh does.\n"
    "\n"
    "  --server ADDR     unix:PATH or tcp:HOST:PORT\n"
    "  --token-file F    the daemon's token (tcp; file mode 0600; default $ZOID_TOKEN_FILE)\n"
    "  --json            one JSON object on stdout\n"
    "  --quick           about a tenth of the calls and of the time (a smoke test, ~1 s)\n"
    "  --wait DUR        retry connecting for this long while nobody listens (default 0s)\n"
    "\n"
    "example:\n"
    "  zepto zoid serve --listen unix:/tmp/zoid.sock --export /tmp &\n"
    "  zepto zoid bench --server unix:/tmp/zoid.sock --wait 5s\n"
    "  zepto zoid bench --server tcp:io0:7000 --token-file ~/.zoid.token --json | jq .clients\n";

struct params {
    const char *server;
    struct zoid_client_opts copts;
    bool json, quick;
    uint64_t wait_ns;
    unsigned warmup_calls, latency_calls;
    uint64_t clients_ns;   /* how long each client count runs */
    uint64_t bandwidth_ns; /* how long each size and direction runs, at least min_calls calls */
    unsigned min_calls;
};

struct rate {
    unsigned clients;
    uint64_t calls, ns;
};

struct bandwidth {
    bool upload;
    unsigned depth; /* calls in flight */
    uint64_t bytes; /* payload of one call */
    uint64_t calls, ns;
    bool skipped; /* above the daemon's payload limit */
};

struct results {
    char transport[8];
    uint32_t max_payload;
    uint64_t median_ns, p99_ns, min_ns, max_ns;
    double mean_ns;
    struct rate rate[NCOUNTS];
    struct bandwidth bw[2 * NSIZES];    /* one call at a time */
    struct bandwidth piped[2 * NSIZES]; /* PIPELINE calls in flight */
};

/* ---- connecting ---- */

/* Connects, retrying while nobody listens (no socket file yet, or refused) until wait_ns has
 * passed: lets scripts start the daemon and the bench together without sleeping. */
static int connect_to(const struct params *pr, struct zoid_client **c, struct zepto_err *err)
{
    uint64_t deadline = zb_mono_read() + pr->wait_ns;
    for (;;) {
        int rc = zoid_connect(pr->server, &pr->copts, c, err);
        if (!rc)
            return 0;
        bool absent = err->code == ENOENT || err->code == ECONNREFUSED;
        if (!absent || zb_mono_read() >= deadline)
            return rc;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
}

/* What the user can do about a connection that failed, after the library's reason. */
static void hint(const struct params *pr, struct zepto_err *err)
{
    const char *h = NULL;
    if (err->code == ENOENT || err->code == ECONNREFUSED)
        h = "is zepto zoid serve running there? (--wait DUR retries)";
    else if (err->code == EACCES && !pr->copts.token_file && !zoid_setting(ZOID_SET_TOKEN_FILE, NULL))
        h = "give --token-file F";
    size_t n = strlen(err->msg);
    if (h && n + 4 < sizeof(err->msg))
        snprintf(err->msg + n, sizeof(err->msg) - n, "; %s", h);
}

static int null_call(struct zoid_client *c)
{
    return zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0);
}

static int call_failed(struct zepto_err *err, const char *what, int rc)
{
    return zepto_fail(err, rc < 0 ? -rc : rc, "%s: %s", what, zoid_strerror(rc));
}

/* ---- latency ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int latency(const struct params *pr, struct zoid_client *c, struct results *r,
                   struct zepto_err *err)
{
    uint64_t *ns = malloc(pr->latency_calls * sizeof(*ns));
    if (!ns)
        return zepto_fail(err, ENOMEM, "out of memory");
    int rc = 0;
    for (unsigned i = 0; i < pr->warmup_calls && !rc; i++)
        rc = null_call(c);
    for (unsigned i = 0; i < pr->latency_calls && !rc; i++) {
        uint64_t t0 = zb_mono_read();
        rc = null_call(c);
        ns[i] = zb_mono_read() - t0;
    }
    if (rc) {
        free(ns);
        return call_failed(err, "null call", rc);
    }
    qsort(ns, pr->latency_calls, sizeof(*ns), cmp_u64);
    unsigned n = pr->latency_calls;
    double sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum += (double)ns[i];
    /* Nearest rank: the p99 is a call that happened, never an interpolation. */
    r->median_ns = ns[(n - 1) / 2];
    r->p99_ns = ns[(n * 99 + 99) / 100 - 1];
    r->min_ns = ns[0];
    r->max_ns = ns[n - 1];
    r->mean_ns = sum / n;
    free(ns);
    return 0;
}

/* ---- calls per second ---- */

/* The clients wait at a gate so that all start at once, after every connection is made. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    atomic_bool stop;
};

struct worker {
    pthread_t tid;
    struct zoid_client *c;
    struct gate *g;
    uint64_t calls;
    int rc;
};

static void *call_loop(void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&w->g->mu);
    while (!w->g->open)
        pthread_cond_wait(&w->g->cv, &w->g->mu);
    pthread_mutex_unlock(&w->g->mu);
    while (!atomic_load_explicit(&w->g->stop, memory_order_relaxed)) {
        if ((w->rc = null_call(w->c)))
            break;
        w->calls++;
    }
    return NULL;
}

static void open_gate(struct gate *g, bool stop)
{
    pthread_mutex_lock(&g->mu);
    atomic_store(&g->stop, stop);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* n clients, connected first (connecting is not what is measured), then started together. */
static int rate(const struct params *pr, unsigned n, struct rate *out, struct zepto_err *err)
{
    struct worker *w = calloc(n, sizeof(*w));
    if (!w)
        return zepto_fail(err, ENOMEM, "out of memory");
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    unsigned started = 0;
    int rc = 0;
    for (unsigned i = 0; i < n && !rc; i++)
        if ((rc = connect_to(pr, &w[i].c, err)))
            zepto_err_prefix(err, "client %u of %u", i + 1, n);
    while (!rc && started < n) {
        w[started].g = &g;
        if (pthread_create(&w[started].tid, NULL, call_loop, &w[started]))
            rc = zepto_fail(err, EAGAIN, "cannot start %u client threads", n);
        else
            started++;
    }
    open_gate(&g, rc != 0);
    uint64_t t0 = zb_mono_read();
    if (!rc) {
        struct timespec ts = {(time_t)(pr->clients_ns / 1000000000u),
                              (long)(pr->clients_ns % 1000000000u)};
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
        atomic_store(&g.stop, true);
    }
    out->clients = n;
    out->calls = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(w[i].tid, NULL);
        out->calls += w[i].calls;
        if (!rc && w[i].rc)
            rc = call_failed(err, "null call", w[i].rc);
    }
    out->ns = zb_mono_read() - t0;
    for (unsigned i = 0; i < n; i++)
        zoid_close(w[i].c);
    free(w);
    return rc;
}

/* ---- bandwidth ---- */

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
static int measure(const struct params *pr, struct zoid_client *c, struct bandwidth *b,
                   unsigned char *const *bufs)
{
    int rc = one_transfer(c, b->upload, bufs[0], b->bytes); /* warm-up: buffers, TCP window */
    if (rc)
        return rc;
    struct pipe_worker w[PIPELINE];
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

static int bandwidth(const struct params *pr, struct zoid_client *c, struct results *r,
                     struct zepto_err *err)
{
    unsigned char *bufs[PIPELINE] = {0};
    for (unsigned i = 0; i < PIPELINE; i++) {
        if (!(bufs[i] = malloc(MAX_SIZE))) {
            for (unsigned k = 0; k < i; k++)
                free(bufs[k]);
            return zepto_fail(err, ENOMEM, "out of memory");
        }
        memset(bufs[i], 0x5a, MAX_SIZE);
    }
    int rc = 0;
    for (unsigned s = 0; s < NSIZES && !rc; s++) {
        for (int up = 1; up >= 0 && !rc; up--) {
            for (unsigned depth = 1; depth <= PIPELINE && !rc; depth += PIPELINE - 1) {
                struct bandwidth *b = &(depth == 1 ? r->bw : r->piped)[2 * s + (up ? 0 : 1)];
                *b = (struct bandwidth){.upload = up, .depth = depth, .bytes = payload_sizes[s]};
                if (b->bytes > r->max_payload) {
                    b->skipped = true;
                    continue;
                }
                if ((rc = measure(pr, c, b, bufs))) {
                    char what[96], sz[32];
                    snprintf(what, sizeof(what), "%s of %s, %u in flight",
                             up ? "upload (sink)" : "download (source)",
                             zb_fmt_size(b->bytes, sz, sizeof(sz)), depth);
                    rc = call_failed(err, what, rc);
                }
            }
        }
    }
    for (unsigned i = 0; i < PIPELINE; i++)
        free(bufs[i]);
    return rc;
}

/* ---- output ---- */

static double per_s(uint64_t n, uint64_t ns)
{
    return ns ? (double)n * 1e9 / (double)ns : 0;
}

static void print_bandwidth_json(struct zb_json *j, const char *key, const struct bandwidth *bw)
{
    zb_json_key(j, key);
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < 2 * NSIZES; i++) {
        const struct bandwidth *b = &bw[i];
        zb_json_obj_begin(j);
        zb_json_kv_str(j, "direction", b->upload ? "upload" : "download");
        zb_json_kv_str(j, "function", b->upload ? "sink" : "source");
        zb_json_kv_u64(j, "payload_bytes", b->bytes);
        zb_json_kv_u64(j, "in_flight", b->depth);
        if (b->skipped) {
            zb_json_kv_str(j, "skipped", "above the daemon's payload limit");
        } else {
            zb_json_kv_u64(j, "calls", b->calls);
            zb_json_kv_u64(j, "duration_ns", b->ns);
            zb_json_kv_f64(j, "bandwidth_bytes_per_s", per_s(b->calls * b->bytes, b->ns));
        }
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);
}

static int print_json(const struct params *pr, const struct results *r)
{
    struct zb_json j;
    zb_json_init(&j, stdout, true);
    zb_json_obj_begin(&j);
    zb_json_kv_str(&j, "server", pr->server);
    zb_json_kv_str(&j, "transport", r->transport);
    zb_json_kv_bool(&j, "quick", pr->quick);
    zb_json_kv_u64(&j, "max_payload_bytes", r->max_payload);
    zb_json_kv_u64(&j, "latency_warmup_calls", pr->warmup_calls);
    zb_json_kv_u64(&j, "latency_calls", pr->latency_calls);
    zb_json_kv_u64(&j, "latency_median_ns", r->median_ns);
    zb_json_kv_u64(&j, "latency_p99_ns", r->p99_ns);
    zb_json_kv_u64(&j, "latency_min_ns", r->min_ns);
    zb_json_kv_u64(&j, "latency_max_ns", r->max_ns);
    zb_json_kv_f64(&j, "latency_mean_ns", r->mean_ns);
    zb_json_key(&j, "clients");
    zb_json_arr_begin(&j);
    for (unsigned i = 0; i < NCOUNTS; i++) {
        zb_json_obj_begin(&j);
        zb_json_kv_u64(&j, "clients", r->rate[i].clients);
        zb_json_kv_u64(&j, "calls", r->rate[i].calls);
        zb_json_kv_u64(&j, "duration_ns", r->rate[i].ns);
        zb_json_kv_f64(&j, "calls_per_s", per_s(r->rate[i].calls, r->rate[i].ns));
        zb_json_obj_end(&j);
    }
    zb_json_arr_end(&j);
    print_bandwidth_json(&j, "bandwidth", r->bw);
    print_bandwidth_json(&j, "bandwidth_pipelined", r->piped);
    zb_json_obj_end(&j);
    return zb_json_finish(&j);
}

static void print_text(const struct params *pr, const struct results *r)
{
    char a[32], b[32], c[32], d[32];
    printf("zoid bench: %s, daemon payload limit %s\n\n", pr->server,
           zb_fmt_size(r->max_payload, a, sizeof(a)));
    printf("null call round trip (%u calls after %u of warm-up):\n", pr->latency_calls,
           pr->warmup_calls);
    printf("  median %s, p99 %s, min %s, max %s\n\n", zb_fmt_duration(r->median_ns, a, sizeof(a)),
           zb_fmt_duration(r->p99_ns, b, sizeof(b)), zb_fmt_duration(r->min_ns, c, sizeof(c)),
           zb_fmt_duration(r->max_ns, d, sizeof(d)));
    printf("null calls per second (each client its own connection and thread, %s each):\n",
           zb_fmt_duration(pr->clients_ns, a, sizeof(a)));
    printf("  %7s %12s\n", "clients", "calls/s");
    for (unsigned i = 0; i < NCOUNTS; i++)
        printf("  %7u %12.0f\n", r->rate[i].clients, per_s(r->rate[i].calls, r->rate[i].ns));
    printf("\nbandwidth, MiB/s (one call at a time | %d calls in flight on one connection):\n",
           PIPELINE);
    printf("  %8s %14s %18s | %14s %18s\n", "payload", "upload (sink)", "download (source)",
           "upload (sink)", "download (source)");
    for (unsigned s = 0; s < NSIZES; s++) {
        printf("  %8s", zb_fmt_size(payload_sizes[s], a, sizeof(a)));
        for (int k = 0; k < 4; k++) {
            const struct bandwidth *bw = &(k < 2 ? r->bw : r->piped)[2 * s + (k & 1)];
            int width = k & 1 ? 18 : 14;
            if (k == 2)
                printf(" |");
            if (bw->skipped)
                printf(" %*s", width, "(above limit)");
            else
                printf(" %*.1f", width, per_s(bw->calls * bw->bytes, bw->ns) / (1 << 20));
        }
        printf("\n");
    }
}

/* ---- the command ---- */

int cli_zoid_bench(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, 0, 's'},
        {"token-file", required_argument, 0, 'k'},
        {"json", no_argument, 0, 'j'},
        {"quick", no_argument, 0, 'q'},
        {"wait", required_argument, 0, 'w'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    struct params pr = {0};
    struct zepto_err err = {0};
    int c;
    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, ":h", longopts)) != -1) {
        switch (c) {
        case 's': pr.server = optarg; break;
        case 'k': pr.copts.token_file = optarg; break;
        case 'j': pr.json = true; break;
        case 'q': pr.quick = true; break;
        case 'w':
            if (zb_parse_duration_ns(optarg, &pr.wait_ns, &err))
                return cli_usage_error(CMD, "--wait %s", err.msg);
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!pr.server)
        return cli_usage_error(CMD, "missing --server unix:PATH|tcp:HOST:PORT");
    struct zoid_addr addr;
    const struct zoid_transport *t;
    if (zoid_addr_parse(pr.server, &addr, &t, &err))
        return cli_usage_error(CMD, "--server %s", err.msg);
    pr.warmup_calls = pr.quick ? 200 : 2000;
    pr.latency_calls = pr.quick ? 2000 : 20000;
    pr.clients_ns = pr.quick ? 100000000u : 1000000000u;
    pr.bandwidth_ns = pr.quick ? 25000000u : 250000000u;
    pr.min_calls = pr.quick ? 2 : 4;

    struct results r = {0};
    snprintf(r.transport, sizeof(r.transport), "%s", addr.scheme);
    struct zoid_client *cl;
    if (connect_to(&pr, &cl, &err)) {
        hint(&pr, &err);
        return cli_fail(CMD, &err);
    }
    r.max_payload = zoid_max_payload(cl);
    int rc = latency(&pr, cl, &r, &err);
    for (unsigned i = 0; i < NCOUNTS && !rc; i++)
        rc = rate(&pr, client_counts[i], &r.rate[i], &err);
    if (!rc)
        rc = bandwidth(&pr, cl, &r, &err);
    zoid_close(cl);
    if (rc)
        return cli_fail(CMD, &err);
    if (pr.json)
        return print_json(&pr, &r) ? EXIT_FAIL : 0;
    print_text(&pr, &r);
    return 0;
}
