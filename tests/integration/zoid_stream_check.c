/*
 * integration.zoid_stream's driver: one case of the stream plugin per invocation, against the
 * daemon at argv[1] (zoid_stream.sh starts it). Prints "ok CASE ..." or "FAIL: ..." (exit 1).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zepto/zoid.h"

static const char *addr;

/* What a case opened in its main thread, closed at exit (LeakSanitizer). */
static struct zoid_client *clients[64];
static struct zoid_stream *streams[64];
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned nclients, nstreams;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL: %s:%d: ", __FILE__, __LINE__);                                  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct zoid_client *conn(void)
{
    struct zoid_client *c;
    struct zepto_err err = {0};
    struct zoid_client_opts o = {.timeout_ms = -1};
    CHECK(!zoid_connect(addr, &o, &c, &err), "connect %s: %s", addr, err.msg);
    pthread_mutex_lock(&reg_mu);
    if (nclients < 64)
        clients[nclients++] = c;
    pthread_mutex_unlock(&reg_mu);
    return c;
}

static struct zoid_stream *sopen(struct zoid_client *c, const char *name, struct zoid_stream_opts o)
{
    struct zoid_stream *s;
    struct zepto_err err = {0};
    CHECK(!zoid_stream_open(c, name, &o, &s, &err), "open %s: %s", name, err.msg);
    pthread_mutex_lock(&reg_mu);
    if (nstreams < 64)
        streams[nstreams++] = s;
    pthread_mutex_unlock(&reg_mu);
    return s;
}

/* Records of varied sizes through, in order, sequence numbers without gaps. */
static void case_basic(void)
{
    struct zoid_client *p = conn(), *c = conn();
    struct zoid_stream *ps = sopen(p, "basic", (struct zoid_stream_opts){.flags = 1});
    struct zoid_stream *cs = sopen(c, "basic", (struct zoid_stream_opts){0});
    static unsigned char buf[200000];
    for (unsigned i = 0; i < 300; i++) {
        size_t len = (i * 7919u) % sizeof(buf);
        memset(buf, (int)(i & 0xff), len);
        CHECK(!zoid_stream_push(ps, i, 0, buf, len, 0), "push %u", i);
    }
    CHECK(!zoid_stream_end(ps, 0), "end");
    struct zoid_stream_record r;
    for (unsigned i = 0; i < 300; i++) {
        CHECK(zoid_stream_read(cs, &r, 5000) == 1, "read %u", i);
        CHECK(r.seq == i && r.step == i && r.lost == 0, "record %u: seq %llu step %llu", i,
              (unsigned long long)r.seq, (unsigned long long)r.step);
        CHECK(r.len == (i * 7919u) % sizeof(buf), "record %u: len %u", i, r.len);
        CHECK(!r.len || ((const unsigned char *)r.data)[r.len - 1] == (i & 0xff), "data %u", i);
    }
    CHECK(zoid_stream_read(cs, &r, 5000) == 0, "end of stream expected");
    printf("ok basic\n");
}

struct prod {
    const char *name;
    uint32_t rank, steps, len;
    int reduce;
    int rc;
};

static void *producer(void *arg)
{
    struct prod *a = arg;
    struct zoid_client *c;
    struct zoid_stream *s;
    struct zepto_err err = {0};
    struct zoid_client_opts co = {.timeout_ms = -1};
    CHECK(!zoid_connect(addr, &co, &c, &err), "connect: %s", err.msg);
    CHECK(!zoid_stream_open(c, a->name, &(struct zoid_stream_opts){0}, &s, &err), "open: %s",
          err.msg);
    unsigned char *buf = malloc(a->len);
    for (uint32_t t = 0; t < a->steps && !a->rc; t++) {
        if (a->reduce == ZOID_STREAM_SUM_F64)
            for (uint32_t i = 0; i < a->len / 8; i++) {
                double v = a->rank + t + i;
                memcpy(buf + 8 * i, &v, 8);
            }
        else
            memset(buf, (int)((a->rank * 31 + t) & 0xff), a->len);
        a->rc = zoid_stream_push(s, t, a->rank, buf, a->len, 20000);
    }
    if (!a->rc)
        a->rc = zoid_stream_end(s, 20000);
    free(buf);
    zoid_stream_close(s);
    zoid_close(c);
    return NULL;
}

/* N producers, one slice per step each: the consumer gets whole, reduced steps. */
/* Starts n producers of name (rank r pushes steps records of len), one thread each. */
static void start_producers(const char *name, uint32_t n, uint32_t steps, uint32_t len,
                            struct prod *a, pthread_t *t)
{
    for (uint32_t r = 0; r < n; r++) {
        a[r] = (struct prod){name, r, steps, len, 0, 0};
        pthread_create(&t[r], NULL, producer, &a[r]);
    }
}

/* Joins them; each must have pushed everything. */
static void join_producers(uint32_t n, struct prod *a, pthread_t *t)
{
    for (uint32_t r = 0; r < n; r++) {
        pthread_join(t[r], NULL);
        CHECK(!a[r].rc, "producer %u: %s", r, strerror(-a[r].rc));
    }
}

/* tight: slices of 16 KiB through the smallest stream (64 KiB: three steps), so that producers
 * wait in line for room while others still owe slices of steps begun (which need no room: they
 * must not wait behind them). */
static void case_reduce(int op, bool tight)
{
    enum { N = 4, STEPS = 50 };
    const uint32_t LEN = tight ? 16384 : 1024;
    const char *name = tight ? "tight4" : op == ZOID_STREAM_CONCAT ? "cat4" : "sum4";
    struct zoid_client *c = conn();
    struct zoid_stream *cs =
        sopen(c, name,
              (struct zoid_stream_opts){
                  .flags = 1, .producers = N, .reduce = op, .limit = tight ? 64 << 10 : 1 << 20});
    pthread_t t[N];
    struct prod a[N];
    for (uint32_t r = 0; r < N; r++) {
        a[r] = (struct prod){name, r, STEPS, LEN, op, 0};
        pthread_create(&t[r], NULL, producer, &a[r]);
    }
    struct zoid_stream_record rec;
    unsigned got = 0;
    while (zoid_stream_read(cs, &rec, 20000) == 1) {
        CHECK(rec.step == got && rec.rank == N, "step %llu (%u contributions), expected %u",
              (unsigned long long)rec.step, rec.rank, got);
        const unsigned char *d = rec.data;
        if (op == ZOID_STREAM_CONCAT) {
            CHECK(rec.len == N * LEN, "concat length %u", rec.len);
            for (uint32_t r = 0; r < N; r++)
                CHECK(d[r * LEN] == ((r * 31 + got) & 0xff), "slice %u of step %u", r, got);
        } else {
            CHECK(rec.len == LEN, "sum length %u", rec.len);
            for (uint32_t i = 0; i < LEN / 8; i++) {
                double v;
                memcpy(&v, d + 8 * i, 8);
                CHECK(v == (double)(0 + 1 + 2 + 3) + N * (got + i), "sum %u[%u] = %g", got, i, v);
            }
        }
        got++;
    }
    for (int r = 0; r < N; r++) {
        pthread_join(t[r], NULL);
        CHECK(!a[r].rc, "producer %d: %s", r, strerror(-a[r].rc));
    }
    CHECK(got == STEPS, "%u steps of %d", got, STEPS);
    printf("ok reduce %s\n", name);
}

/* 64 producers blocked on a full stream: another client's null calls answer at once; then a
 * consumer drains everything, each producer's records in order, nothing lost. */
static void case_blocked(void)
{
    enum { N = 64, STEPS = 8, LEN = 16384 };
    struct zoid_client *c = conn();
    struct zoid_stream *cs =
        sopen(c, "blk", (struct zoid_stream_opts){.flags = 1, .producers = N, .limit = 64 << 10});
    pthread_t t[N];
    struct prod a[N];
    start_producers("blk", N, STEPS, LEN, a, t);
    struct zoid_stream_stat st;
    struct zepto_err err = {0};
    double t0 = now_s();
    do {
        CHECK(!zoid_stream_stat(c, "blk", &st, &err), "stat: %s", err.msg);
    } while (st.producers_blocked < N / 2 && now_s() - t0 < 20);
    CHECK(st.producers_blocked >= N / 2, "only %u producers blocked", st.producers_blocked);
    double worst = 0;
    for (int i = 0; i < 50; i++) {
        double s0 = now_s();
        CHECK(!zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 5000), "null call");
        if (now_s() - s0 > worst)
            worst = now_s() - s0;
    }
    CHECK(worst < 0.5, "a null call took %.0f ms beside %u blocked producers", worst * 1e3,
          st.producers_blocked);
    uint32_t next[N] = {0};
    struct zoid_stream_record rec;
    unsigned got = 0;
    while (got < N * STEPS && zoid_stream_read(cs, &rec, 20000) == 1) {
        CHECK(rec.rank < N && rec.step == next[rec.rank], "producer %u: step %llu, expected %u",
              rec.rank, (unsigned long long)rec.step, next[rec.rank]);
        CHECK(rec.lost == 0, "lost %llu", (unsigned long long)rec.lost);
        next[rec.rank]++;
        got++;
    }
    join_producers(N, a, t);
    CHECK(got == N * STEPS, "%u records of %d", got, N * STEPS);
    printf("ok blocked %u producers, worst null call %.1f ms\n", st.producers_blocked, worst * 1e3);
}

/* Backpressure without wasted sends: 16 producers (threads of one process, a connection each)
 * of 256 KiB records through a 1 MiB stream; the consumer reads and checks each record. Every
 * push that finds the stream full carries records for nothing (they are sent again), so the
 * daemon's count of refused record bytes must stay small beside what went through. (When each
 * wake reached every waiting producer, or every waiting thread of the process, most pushes
 * were refused: several times the bytes delivered.) */
static void case_herd(void)
{
    enum { N = 16, STEPS = 16, LEN = 256 << 10 };
    struct zoid_client *c = conn();
    struct zoid_stream *cs =
        sopen(c, "herd", (struct zoid_stream_opts){.flags = 1, .producers = N, .limit = 1 << 20});
    pthread_t t[N];
    struct prod a[N];
    start_producers("herd", N, STEPS, LEN, a, t);
    uint32_t next[N] = {0};
    struct zoid_stream_record rec;
    unsigned got = 0;
    while (got < N * STEPS && zoid_stream_read(cs, &rec, 20000) == 1) {
        CHECK(rec.rank < N && rec.step == next[rec.rank] && rec.len == LEN && !rec.lost,
              "record %u: rank %u step %llu len %u lost %llu", got, rec.rank,
              (unsigned long long)rec.step, rec.len, (unsigned long long)rec.lost);
        CHECK(((const unsigned char *)rec.data)[LEN - 1] == ((rec.rank * 31 + rec.step) & 0xff),
              "record %u: data", got);
        next[rec.rank]++;
        got++;
    }
    join_producers(N, a, t);
    CHECK(got == N * STEPS, "%u records of %d", got, N * STEPS);
    uint64_t pushes = 0, bytes = 0;
    struct zepto_err err = {0};
    CHECK(!zoid_stream_refusals(c, "herd", &pushes, &bytes, &err), "refusals: %s", err.msg);
    uint64_t delivered = (uint64_t)N * STEPS * LEN;
    CHECK(bytes * 4 <= delivered, "refused %llu record bytes (%llu pushes) for %llu delivered",
          (unsigned long long)bytes, (unsigned long long)pushes, (unsigned long long)delivered);
    int rc = zoid_stream_refusals(c, "nosuch", &pushes, &bytes, &err);
    CHECK(rc == -ENOENT && strstr(err.msg, "nosuch: no such stream"), "refusals of nosuch: %d %s",
          rc, err.msg);
    rc = zoid_stream_refusals(c, "a/b", &pushes, &bytes, &err);
    CHECK(rc == -EINVAL && strstr(err.msg, "'a/b'"), "refusals of a/b: %d %s", rc, err.msg);
    printf("ok herd (%llu pushes refused, %.1f MiB of %.1f MiB delivered)\n",
           (unsigned long long)pushes, bytes / 1048576.0, delivered / 1048576.0);
}

/* The reservation request (function 5) for nrec records of bytes on name: granted (1/0), or
 * a negative code. */
static int reserve_raw(struct zoid_client *c, const char *name, uint64_t bytes)
{
    unsigned char req[14 + 64];
    uint32_t nrec = 1;
    uint16_t nl = (uint16_t)strlen(name);
    memcpy(req, &nrec, 4);
    memcpy(req + 4, &bytes, 8);
    memcpy(req + 12, &nl, 2);
    memcpy(req + 14, name, nl);
    unsigned char rep[12];
    size_t rep_len = 0;
    struct iovec rq = {req, 14u + nl}, rp = {rep, sizeof(rep)};
    int rc = zoid_call(c, ZOID_STREAM_PLUGIN, 5, &rq, 1, &rp, 1, &rep_len, 5000);
    if (rc)
        return rc;
    uint32_t granted;
    memcpy(&granted, rep, 4);
    return rep_len == 12 ? (int)granted : -EPROTO;
}

/* A connection that is granted the whole stream's room and never pushes: the grant lapses and
 * another producer's records go through within seconds. */
static void case_hoard(void)
{
    struct zoid_client *h = conn(), *c = conn();
    struct zoid_stream *cs =
        sopen(c, "hoard", (struct zoid_stream_opts){.flags = 1, .limit = 1 << 20});
    CHECK(reserve_raw(h, "hoard", 1 << 20) == 1,
          "the first reservation of an empty stream was not granted");
    struct zoid_client *p = conn();
    struct zoid_stream *ps = sopen(p, "hoard", (struct zoid_stream_opts){.batch_bytes = 1});
    static unsigned char buf[64 << 10];
    double t0 = now_s();
    for (unsigned i = 0; i < 8; i++) /* half the limit: fits once the grant is gone */
        CHECK(!zoid_stream_push(ps, i, 0, buf, sizeof(buf), 10000), "push %u", i);
    CHECK(!zoid_stream_end(ps, 10000), "end");
    double dt = now_s() - t0;
    struct zoid_stream_record rec;
    unsigned got = 0;
    while (zoid_stream_read(cs, &rec, 5000) == 1)
        got++;
    CHECK(got == 8, "got %u of 8", got);
    CHECK(dt < 5, "8 records of 64 KiB took %.1f s beside a hoarded grant", dt);
    printf("ok hoard (%.2f s beside a grant of the whole stream that was never used)\n", dt);
}

/* Another user's connection asks for the whole of the shared stream "shr" again and again and
 * never pushes (run as a second uid by zoid_stream.sh, for argv seconds): writes "hoarding" to
 * stdout once it holds a grant. */
static void case_hoarder(double secs)
{
    struct zoid_client *c = conn();
    double t0 = now_s();
    unsigned asks = 0, grants = 0;
    int rc;
    while ((rc = reserve_raw(c, "shr", 1 << 20)) == -(ZOID_REMOTE + ENOENT) && now_s() - t0 < 10)
        ;
    CHECK(rc >= 0, "reserve on shr: %d", rc);
    printf("hoarding\n");
    fflush(stdout);
    while (now_s() - t0 < secs) {
        rc = reserve_raw(c, "shr", 1 << 20);
        if (rc == -(ZOID_REMOTE + EPIPE) || rc == -(ZOID_REMOTE + ENOENT))
            break; /* the owner ended and removed it */
        CHECK(rc >= 0, "reserve on shr: %d", rc);
        grants += (unsigned)rc;
        asks++;
    }
    printf("ok hoarder (%u asks, %u granted at once)\n", asks, grants);
}

static void *drain(void *arg)
{
    struct zoid_stream *cs = arg;
    struct zoid_stream_record rec;
    uintptr_t got = 0;
    while (zoid_stream_read(cs, &rec, 20000) == 1)
        got++;
    return (void *)got;
}

/* The honest side: creates "shr" (shared, 1 MiB; "create" only creates it), or pushes 1024
 * records of 64 KiB through it with a consumer reading beside, and prints the time taken. */
static void case_victim(bool create_only)
{
    struct zoid_client *c = conn(), *p = conn();
    struct zoid_stream *cs =
        sopen(c, "shr", (struct zoid_stream_opts){.flags = 1 | 2, .limit = 1 << 20});
    if (create_only) {
        printf("ok victim created shr\n");
        return;
    }
    struct zoid_stream *ps = sopen(p, "shr", (struct zoid_stream_opts){.batch_bytes = 1});
    pthread_t t;
    pthread_create(&t, NULL, drain, cs);
    static unsigned char buf[64 << 10];
    double t0 = now_s();
    for (unsigned i = 0; i < 1024; i++)
        CHECK(!zoid_stream_push(ps, i, 0, buf, sizeof(buf), 20000), "push %u", i);
    CHECK(!zoid_stream_end(ps, 20000), "end");
    void *got;
    pthread_join(t, &got);
    double dt = now_s() - t0;
    CHECK((uintptr_t)got == 1024, "consumer got %u of 1024", (unsigned)(uintptr_t)got);
    struct zepto_err err = {0};
    CHECK(!zoid_stream_delete(c, "shr", &err), "delete: %s", err.msg);
    printf("ok victim %.3f s\n", dt);
}

/* A consumer that never reads: policy error fails the producer with ENOBUFS (never silently);
 * policy drop keeps going and the reader sees the gap; a record over the limit: EMSGSIZE. */
static void case_noread(void)
{
    struct zoid_client *c = conn();
    struct zoid_stream *e = sopen(
        c, "err",
        (struct zoid_stream_opts){.flags = 1, .limit = 1 << 20, .policy = 1, .batch_bytes = 1});
    static unsigned char buf[1 << 16];
    int rc = 0;
    unsigned n = 0;
    while (n < 1000 && !(rc = zoid_stream_push(e, n, 0, buf, sizeof(buf), 5000)))
        n++;
    CHECK(rc == -ENOBUFS, "policy error: push %u gave %d (%s), expected ENOBUFS", n, rc,
          strerror(-rc));
    CHECK(n >= 10 && n <= 16, "%u records of 64 KiB fitted in 1 MiB", n);
    static unsigned char big[2 << 20];
    rc = zoid_stream_push(e, 0, 0, big, sizeof(big), 5000);
    CHECK(rc == -EMSGSIZE, "a 2 MiB record into a 1 MiB stream gave %d", rc);
    struct zoid_stream *d = sopen(
        c, "drop",
        (struct zoid_stream_opts){.flags = 1, .limit = 1 << 20, .policy = 2, .batch_bytes = 1});
    for (unsigned i = 0; i < 100; i++)
        CHECK(!zoid_stream_push(d, i, 0, buf, sizeof(buf), 5000), "drop push %u", i);
    CHECK(!zoid_stream_end(d, 0), "end");
    struct zoid_stream *r = sopen(c, "drop", (struct zoid_stream_opts){0});
    struct zoid_stream_record rec;
    unsigned got = 0;
    uint64_t first = 0, last = 0;
    while (zoid_stream_read(r, &rec, 5000) == 1) {
        if (!got)
            first = rec.seq;
        last = rec.seq;
        got++;
    }
    struct zoid_stream_stat st;
    struct zepto_err err = {0};
    CHECK(!zoid_stream_stat(c, "drop", &st, &err), "stat");
    CHECK(last == 99 && first > 0 && st.dropped == first && got == 100 - first,
          "drop: first %llu last %llu got %u dropped %llu", (unsigned long long)first,
          (unsigned long long)last, got, (unsigned long long)st.dropped);
    printf("ok noread (error after %u records; drop: %llu dropped, reported)\n", n,
           (unsigned long long)st.dropped);
}

/* A consumer that goes away reconnects and gets what it had not acknowledged. */
static void case_resume(void)
{
    struct zoid_client *p = conn(), *c1 = conn();
    struct zoid_stream *ps = sopen(p, "res", (struct zoid_stream_opts){.flags = 1});
    for (unsigned i = 0; i < 10; i++)
        CHECK(!zoid_stream_push(ps, i, 0, &i, sizeof(i), 0), "push");
    CHECK(!zoid_stream_flush(ps, 0), "flush");
    struct zoid_stream *a = sopen(c1, "res", (struct zoid_stream_opts){0});
    struct zoid_stream_record rec;
    for (unsigned i = 0; i < 3; i++)
        CHECK(zoid_stream_read(a, &rec, 5000) == 1 && rec.seq == i, "first consumer %u", i);
    for (unsigned i = 0; i < nclients; i++)
        if (clients[i] == c1)
            clients[i] = NULL;
    zoid_close(c1); /* gone before acknowledging anything it got */
    for (unsigned i = 10; i < 12; i++)
        CHECK(!zoid_stream_push(ps, i, 0, &i, sizeof(i), 0), "push");
    CHECK(!zoid_stream_end(ps, 0), "end");
    struct zoid_client *c2 = conn();
    struct zoid_stream *b = sopen(c2, "res", (struct zoid_stream_opts){0});
    unsigned got = 0;
    while (zoid_stream_read(b, &rec, 5000) == 1) {
        CHECK(rec.seq == got, "resumed consumer: seq %llu, expected %u",
              (unsigned long long)rec.seq, got);
        got++;
    }
    CHECK(got == 12, "resumed consumer got %u of 12", got);
    printf("ok resume\n");
}

/* 1,000 streams of one user; beyond the per-user maximum a clear error; then all removed. */
static void case_many(void)
{
    struct zoid_client *c = conn();
    char name[32];
    struct zepto_err err = {0};
    struct zoid_stream *s;
    unsigned made = 0;
    int rc = 0;
    for (unsigned i = 0; i < 1100; i++) {
        snprintf(name, sizeof(name), "many%u", i);
        rc = zoid_stream_open(c, name, &(struct zoid_stream_opts){.flags = 1}, &s, &err);
        if (rc)
            break;
        CHECK(!zoid_stream_push(s, 0, 0, name, 8, 0) && !zoid_stream_flush(s, 0), "push");
        zoid_stream_close(s);
        made++;
    }
    CHECK(made >= 1000 && rc == -EDQUOT && strstr(err.msg, "maximum of streams"),
          "made %u, then %d (%s)", made, rc, err.msg);
    for (unsigned i = 0; i < made; i++) {
        snprintf(name, sizeof(name), "many%u", i);
        CHECK(!zoid_stream_delete(c, name, &err), "delete %s: %s", name, err.msg);
    }
    printf("ok many (%u streams, then: %s)\n", made, err.msg);
}

/* A READ made by hand (docs/zoid-stream.md, "Reading ahead"): flags (2 ahead, 4 numbered),
 * from, max_bytes and the read's number; returns the reply's flags and the seqs of the records
 * in it (first, count), or -1 when the call failed (*rc). */
static int read_raw(struct zoid_client *c, const char *name, uint32_t flags, uint64_t from,
                    uint32_t max, uint32_t num, uint64_t *first, unsigned *count, int *rc)
{
    unsigned char req[24 + 2 + 64 + 4] = {0}, rep[4096];
    uint16_t nl = (uint16_t)strlen(name);
    memcpy(req, &flags, 4);
    memcpy(req + 12, &max, 4);
    memcpy(req + 16, &from, 8);
    memcpy(req + 24, &nl, 2);
    memcpy(req + 26, name, nl);
    size_t len = 26u + nl;
    if (flags & 4) {
        memcpy(req + len, &num, 4);
        len += 4;
    }
    size_t rep_len = 0;
    struct iovec rq = {req, len}, rp = {rep, sizeof(rep)};
    *rc = zoid_call(c, ZOID_STREAM_PLUGIN, 2, &rq, 1, &rp, 1, &rep_len, 5000);
    if (*rc || rep_len < 24)
        return -1;
    uint32_t rflags;
    memcpy(&rflags, rep + 16, 4);
    *count = 0;
    for (size_t at = 24; at + 24 <= rep_len; (*count)++) {
        uint64_t seq;
        uint32_t l;
        memcpy(&seq, rep + at, 8);
        memcpy(&l, rep + at + 20, 4);
        if (!*count)
            *first = seq;
        at += 24u + l;
    }
    return (int)rflags;
}

/* Reads ahead, numbered, as the daemon may run them: out of order. A read ahead is served only
 * in its turn and starts where the last reply to its connection ended; one early or late is
 * answered empty (flag 4) and never moves that place; a read at the cursor starts at its
 * `from`. */
static void case_ahead(void)
{
    struct zoid_client *p = conn(), *c = conn();
    struct zoid_stream *ps = sopen(p, "ahead", (struct zoid_stream_opts){.flags = 1});
    unsigned char rec[100] = {0};
    for (unsigned i = 0; i < 12; i++)
        CHECK(!zoid_stream_push(ps, i, 0, rec, sizeof(rec), 0), "push %u", i);
    CHECK(!zoid_stream_flush(ps, 0), "flush");
    const uint32_t three = 24 + 3 * (24 + 100), AHEAD = 2, NUM = 4, UNSERVED = 4;
    uint64_t first = 99;
    unsigned n = 0;
    int rc, f;
    f = read_raw(c, "ahead", NUM, 0, three, 1, &first, &n, &rc);
    CHECK(f >= 0 && (f & 2) && n == 3 && first == 0, "read 1 at the cursor: flags %d, %u from %llu",
          f, n, (unsigned long long)first);
    f = read_raw(c, "ahead", AHEAD | NUM, 0, three, 3, &first, &n, &rc);
    CHECK(f >= 0 && (f & UNSERVED) && n == 0, "read 3 before 2: flags %d, %u records", f, n);
    f = read_raw(c, "ahead", AHEAD | NUM, 0, three, 2, &first, &n, &rc);
    CHECK(f >= 0 && !(f & UNSERVED) && n == 3 && first == 3,
          "read 2 in its turn: flags %d, %u "
          "from %llu (expected 3 from 3)",
          f, n, (unsigned long long)first);
    f = read_raw(c, "ahead", AHEAD | NUM, 3, three, 4, &first, &n, &rc);
    CHECK(f >= 0 && !(f & UNSERVED) && n == 3 && first == 6,
          "read 4 after 3 was answered early: "
          "flags %d, %u from %llu (expected 3 from 6)",
          f, n, (unsigned long long)first);
    f = read_raw(c, "ahead", AHEAD | NUM, 3, three, 2, &first, &n, &rc);
    CHECK(f >= 0 && (f & UNSERVED) && n == 0, "read 2 again, late: flags %d, %u records", f, n);
    f = read_raw(c, "ahead", AHEAD | NUM, 3, three, 5, &first, &n, &rc);
    CHECK(f >= 0 && n == 3 && first == 9, "read 5: the late one moved nothing: %u from %llu", n,
          (unsigned long long)first);
    f = read_raw(c, "ahead", NUM, 6, three, 6, &first, &n, &rc);
    CHECK(f >= 0 && n == 3 && first == 6,
          "read 6 at the cursor starts at its from (6): %u from "
          "%llu",
          n, (unsigned long long)first);
    f = read_raw(c, "ahead", AHEAD | NUM, 6, three, 7, &first, &n, &rc);
    CHECK(f >= 0 && n == 3 && first == 9, "read 7 ahead after it: %u from %llu", n,
          (unsigned long long)first);
    f = read_raw(c, "ahead", AHEAD | NUM, 6, 1u << 20, 1000, &first, &n, &rc);
    CHECK(f >= 0 && (f & UNSERVED), "a number far ahead: not served (flags %d)", f);
    /* the number announced but missing: a protocol error, the connection fine */
    unsigned char bad[26 + 5] = {4, 0, 0, 0};
    uint16_t nl = 5;
    memcpy(bad + 24, &nl, 2);
    memcpy(bad + 26, "ahead", 5);
    struct iovec bq = {bad, sizeof(bad)};
    rc = zoid_call(c, ZOID_STREAM_PLUGIN, 2, &bq, 1, NULL, 0, NULL, 5000);
    CHECK(zoid_errno(rc) == EPROTO, "numbered read without its number: %d", rc);
    CHECK(!zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 5000), "null after it");

    /* Through the library: a consumer reading ahead meets a record larger than its 4 MiB
     * buffers between small ones, and gets every record once, in order. */
    struct zoid_stream *bp = sopen(p, "ahead-big", (struct zoid_stream_opts){.flags = 1});
    struct zoid_stream *bc = sopen(c, "ahead-big", (struct zoid_stream_opts){0});
    static unsigned char big[6u << 20];
    const size_t lens[] = {100, 200000, 300, sizeof(big), 50, 4000000, 7};
    for (unsigned i = 0; i < 7; i++) {
        memset(big, (int)i + 1, lens[i]);
        CHECK(!zoid_stream_push(bp, i, 0, big, lens[i], 0), "push big %u", i);
    }
    CHECK(!zoid_stream_end(bp, 0), "end big");
    struct zoid_stream_record r;
    for (unsigned i = 0; i < 7; i++) {
        CHECK(zoid_stream_read(bc, &r, 10000) == 1, "read big %u", i);
        CHECK(r.seq == i && r.len == lens[i] && !r.lost &&
                  ((const unsigned char *)r.data)[r.len - 1] == i + 1,
              "big record %u: seq %llu len %u", i, (unsigned long long)r.seq, r.len);
    }
    CHECK(zoid_stream_read(bc, &r, 10000) == 0, "end of the big stream expected");
    printf("ok ahead\n");
}

/* A malformed request: a clear error, the connection and the stream still fine. */
static void case_malformed(void)
{
    struct zoid_client *c = conn();
    unsigned char junk[40] = {0, 0, 0, 0, 5, 0, 'x', 'y', 'z', 'z', 'y', 0xff, 0xff, 0xff, 0x7f};
    struct iovec iov = {junk, sizeof(junk)};
    for (uint16_t fn = 0; fn < 7; fn++) {
        int rc = zoid_call(c, ZOID_STREAM_PLUGIN, fn, &iov, 1, NULL, 0, NULL, 5000);
        CHECK(rc < 0, "junk to function %u accepted", fn);
    }
    CHECK(!zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 5000), "null after junk");
    printf("ok malformed\n");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDR CASE\n", argv[0]);
        return 2;
    }
    addr = argv[1];
    const char *k = argv[2];
    if (!strcmp(k, "basic"))
        case_basic();
    else if (!strcmp(k, "reduce")) {
        case_reduce(ZOID_STREAM_CONCAT, false);
        case_reduce(ZOID_STREAM_SUM_F64, false);
        case_reduce(ZOID_STREAM_SUM_F64, true);
    } else if (!strcmp(k, "blocked"))
        case_blocked();
    else if (!strcmp(k, "herd"))
        case_herd();
    else if (!strcmp(k, "hoard"))
        case_hoard();
    else if (!strcmp(k, "hoarder"))
        case_hoarder(6);
    else if (!strcmp(k, "victim"))
        case_victim(false);
    else if (!strcmp(k, "victim-create"))
        case_victim(true);
    else if (!strcmp(k, "noread"))
        case_noread();
    else if (!strcmp(k, "resume"))
        case_resume();
    else if (!strcmp(k, "many"))
        case_many();
    else if (!strcmp(k, "malformed"))
        case_malformed();
    else if (!strcmp(k, "ahead"))
        case_ahead();
    else {
        fprintf(stderr, "unknown case %s\n", k);
        return 2;
    }
    for (unsigned i = 0; i < nstreams; i++)
        zoid_stream_close(streams[i]);
    for (unsigned i = 0; i < nclients; i++)
        if (clients[i])
            zoid_close(clients[i]);
    return 0;
}
