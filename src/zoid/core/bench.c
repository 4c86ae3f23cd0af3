/*
 * The ZOID benchmark (include/zepto/zoid_bench.h): connecting, the round trip of a null call
 * (median and p99 of many, after a warm-up) and calls per second with 1, 4, 16 and 64 clients
 * (each its own connection and thread, null calls back to back for a fixed time). The bandwidth
 * runs are in bench_transfer.c. bench/zoid.sh sets these beside raw-socket baselines.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "zoid/core/bench.h"
#include "zoid/core/transport.h"
#include "zepto/zoid_settings.h"

static const unsigned client_counts[ZOID_BENCH_NCOUNTS] = {1, 4, 16, 64};

/* ---- connecting ---- */

/* Connects, retrying while nobody listens (no socket file yet, or refused) until wait_ns has
 * passed: lets scripts start the daemon and the bench together without sleeping. */
static int connect_to(const struct zoid_bench_params *pr, struct zoid_client **c,
                      struct zepto_err *err)
{
    uint64_t deadline = zb_mono_read() + pr->o->wait_ns;
    for (;;) {
        int rc = zoid_connect(pr->o->server, &pr->o->copts, c, err);
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
static void hint(const struct zoid_bench_params *pr, struct zepto_err *err)
{
    const char *h = NULL;
    if (err->code == ENOENT || err->code == ECONNREFUSED)
        h = "is zepto zoid serve running there? (--wait DUR retries)";
    else if (err->code == EACCES && !pr->o->copts.token_file &&
             !zoid_setting(ZOID_SET_TOKEN_FILE, NULL))
        h = "give --token-file F";
    size_t n = strlen(err->msg);
    if (h && n + 4 < sizeof(err->msg))
        snprintf(err->msg + n, sizeof(err->msg) - n, "; %s", h);
}

static int null_call(struct zoid_client *c)
{
    return zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0);
}

int zoid_bench_call_failed(struct zepto_err *err, const char *what, int rc)
{
    return zepto_fail(err, zoid_errno(rc), "%s: %s", what, zoid_strerror(rc));
}

/* ---- latency ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int latency(const struct zoid_bench_params *pr, struct zoid_client *c,
                   struct zoid_bench_result *r, struct zepto_err *err)
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
        return zoid_bench_call_failed(err, "null call", rc);
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
static int rate(const struct zoid_bench_params *pr, unsigned n, struct zoid_bench_rate *out,
                struct zepto_err *err)
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
            rc = zoid_bench_call_failed(err, "null call", w[i].rc);
    }
    out->ns = zb_mono_read() - t0;
    for (unsigned i = 0; i < n; i++)
        zoid_close(w[i].c);
    free(w);
    return rc;
}

/* ---- the run ---- */

int zoid_bench_check(const struct zoid_bench_opts *o, struct zepto_err *err)
{
    struct zoid_addr addr;
    const struct zoid_transport *t;
    if (!o->server)
        return zepto_fail(err, EINVAL, "no server address");
    int rc = zoid_addr_parse(o->server, &addr, &t, err);
    return rc ? -EINVAL : 0;
}

double zoid_bench_per_s(uint64_t n, uint64_t ns)
{
    return ns ? (double)n * 1e9 / (double)ns : 0;
}

int zoid_bench_run(const struct zoid_bench_opts *o, struct zoid_bench_result *r,
                   struct zepto_err *err)
{
    struct zoid_addr addr;
    const struct zoid_transport *t;
    int rc = zoid_addr_parse(o->server, &addr, &t, err);
    if (rc)
        return rc;
    struct zoid_bench_params pr = {.o = o};
    pr.warmup_calls = o->quick ? 200 : 2000;
    pr.latency_calls = o->quick ? 2000 : 20000;
    pr.clients_ns = o->quick ? 100000000u : 1000000000u;
    pr.bandwidth_ns = o->quick ? 25000000u : 250000000u;
    pr.min_calls = o->quick ? 2 : 4;

    *r = (struct zoid_bench_result){.server = o->server,
                                    .quick = o->quick,
                                    .warmup_calls = pr.warmup_calls,
                                    .latency_calls = pr.latency_calls,
                                    .clients_ns = pr.clients_ns};
    snprintf(r->transport, sizeof(r->transport), "%s", addr.scheme);
    struct zoid_client *cl;
    if ((rc = connect_to(&pr, &cl, err))) {
        hint(&pr, err);
        return rc;
    }
    r->max_payload = zoid_max_payload(cl);
    rc = latency(&pr, cl, r, err);
    for (unsigned i = 0; i < ZOID_BENCH_NCOUNTS && !rc; i++)
        rc = rate(&pr, client_counts[i], &r->rate[i], err);
    if (!rc)
        rc = zoid_bench_bandwidth(&pr, cl, r, err);
    zoid_close(cl);
    return rc;
}
