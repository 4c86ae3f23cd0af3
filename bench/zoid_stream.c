/*
 * bench/zoid_stream.sh's driver: N producers -> 1 consumer, records of one size, through a zoid
 * stream (ADDR: the daemon) or a raw TCP baseline (ADDR "raw": N loopback TCP connections read
 * by one poll loop, the same bytes), or the same through a relay (ADDR "relay": a thread reads
 * the N connections with one poll loop and writes what it gets to one connection to the
 * consumer: the bytes a forwarder that touches nothing moves, the ceiling of any I/O-node hop on
 * this machine). SLOW_US > 0 makes the consumer sleep that long per record (a slow consumer).
 * Prints one JSON line.
 * usage: bench_zoid_stream ADDR|raw|relay NPROD RECORD_BYTES TOTAL_MB [SLOW_US]
 *
 * The same parts one per process, for runs across the test cluster's hosts
 * (bench/cluster_stream.sh):
 *   consume ADDR NAME NPROD RECORD   creates stream NAME for NPROD producers, reads it to its end
 *   sink LISTEN NCONN RECORD         accepts NCONN raw connections, reads them to their end
 *   forward LISTEN NCONN TO          NCONN connections in, what they send out to one connection
 *   produce ADDR NAME|- NPROD RECORD MB FIRST_RANK
 *                                    NPROD producers of MB in all, into stream NAME at ADDR, or
 *                                    ("-") over raw TCP connections to ADDR
 * consume and sink print the bytes and the times of the first and the last byte
 * (CLOCK_MONOTONIC, one clock for every namespace of the machine): bytes over that span is the
 * rate, whatever the skew of the producers' starts.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raw_sock.h"
#include "zepto/zoid.h"

static const char *addr;
static char sname[64];
static unsigned nprod;
static uint32_t first_rank;
static size_t rec;
static uint64_t per_prod;           /* records per producer */
static struct raw_addr consumer_at; /* where the consumer listens (raw, relay) */
static struct raw_addr relay_at;    /* relay: where producers connect */
static int relay_lfd;
static unsigned relay_conns;

/* Reads n connections with one poll loop until each has ended, handing what each read returns
 * to got (at most cap bytes at a time). */
static void read_conns(struct pollfd *pf, unsigned n, size_t cap,
                       void (*got)(void *arg, const unsigned char *b, size_t len), void *arg)
{
    unsigned char *buf = malloc(cap);
    for (unsigned open = n; open;) {
        poll(pf, n, -1);
        for (unsigned i = 0; i < n; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            ssize_t r = read(pf[i].fd, buf, cap);
            if (r <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open--;
                continue;
            }
            got(arg, buf, (size_t)r);
        }
    }
    free(buf);
}

static void forward_out(void *arg, const unsigned char *b, size_t len)
{
    if (raw_write_all(*(int *)arg, b, len))
        raw_die("relay write");
}

/* relay: the producers' bytes, as they come, to one connection to the consumer. */
static void *relay(void *arg)
{
    (void)arg;
    struct pollfd *pf = calloc(relay_conns, sizeof(*pf));
    for (unsigned i = 0; i < relay_conns; i++)
        pf[i] = (struct pollfd){.fd = raw_accept(relay_lfd), .events = POLLIN};
    int out = raw_connect(&consumer_at);
    read_conns(pf, relay_conns, rec > (1u << 20) ? rec : (1u << 20), forward_out, &out);
    close(out);
    free(pf);
    return NULL;
}

static double now_s(void)
{
    return (double)raw_now_ns() / 1e9;
}

/* A producer thread: per_prod records of rec bytes, raw to the_raw or into stream sname. */
static const struct raw_addr *the_raw;
static void *producer(void *arg)
{
    uint32_t rank = first_rank + (uint32_t)(uintptr_t)arg;
    unsigned char *buf = malloc(rec);
    memset(buf, (int)rank, rec);
    if (the_raw) {
        int fd = raw_connect(the_raw);
        for (uint64_t i = 0; i < per_prod; i++)
            if (raw_write_all(fd, buf, rec))
                raw_die("producer write");
        close(fd);
    } else {
        struct zoid_client *c;
        struct zoid_stream *s;
        struct zepto_err err = {0};
        struct zoid_client_opts o = {.timeout_ms = -1};
        if (zoid_connect(addr, &o, &c, &err) || zoid_stream_open(c, sname, NULL, &s, &err)) {
            fprintf(stderr, "producer: %s\n", err.msg);
            exit(1);
        }
        for (uint64_t i = 0; i < per_prod; i++)
            if (zoid_stream_push(s, i, rank, buf, rec, -1))
                exit(1);
        if (zoid_stream_end(s, -1))
            exit(1);
        zoid_stream_close(s);
        zoid_close(c);
    }
    free(buf);
    return NULL;
}

static pthread_t *start_producers(void)
{
    pthread_t *t = calloc(nprod, sizeof(*t));
    for (unsigned i = 0; i < nprod; i++)
        pthread_create(&t[i], NULL, producer, (void *)(uintptr_t)i);
    return t;
}

static void join_producers(pthread_t *t)
{
    for (unsigned i = 0; i < nprod; i++)
        pthread_join(t[i], NULL);
    free(t);
}

/* What a consumer saw: bytes, records, records lost, first and last byte (ns). */
struct seen {
    uint64_t bytes, records, lost, first_ns, last_ns;
};

static void count_in(void *arg, const unsigned char *b, size_t len)
{
    (void)b;
    struct seen *v = arg;
    v->last_ns = raw_now_ns();
    if (!v->bytes)
        v->first_ns = v->last_ns;
    v->bytes += len;
}

/* Reads conns connections accepted on lfd to their end (SLOW_US: one record per read). */
static struct seen sink_read(int lfd, unsigned conns, long slow)
{
    struct seen v = {0};
    struct pollfd *pf = calloc(conns, sizeof(*pf));
    for (unsigned i = 0; i < conns; i++)
        pf[i] = (struct pollfd){.fd = raw_accept(lfd), .events = POLLIN};
    read_conns(pf, conns, slow ? rec : rec > (1u << 20) ? rec : (1u << 20), count_in, &v);
    free(pf);
    v.records = v.bytes / rec;
    return v;
}

/* Reads stream s to its end. */
static int stream_read(struct zoid_stream *s, long slow, struct seen *v)
{
    struct zoid_stream_record r;
    int rc;
    while ((rc = zoid_stream_read(s, &r, -1)) == 1) {
        v->last_ns = raw_now_ns();
        if (!v->records++)
            v->first_ns = v->last_ns;
        v->bytes += r.len;
        v->lost += r.lost;
        if (slow)
            usleep((useconds_t)slow);
    }
    if (rc < 0)
        fprintf(stderr, "read: %d\n", rc);
    return rc;
}

static void print_seen(const char *mode, const struct seen *v)
{
    double span = (double)(v->last_ns - v->first_ns) / 1e9;
    printf("{\"mode\":\"%s\",\"record\":%zu,\"records\":%llu,\"bytes\":%llu,\"lost\":%llu,"
           "\"first_ns\":%llu,\"last_ns\":%llu,\"mb_per_s\":%.1f}\n",
           mode, rec, (unsigned long long)v->records, (unsigned long long)v->bytes,
           (unsigned long long)v->lost, (unsigned long long)v->first_ns,
           (unsigned long long)v->last_ns, span > 0 ? (double)v->bytes / span / 1048576.0 : 0.0);
}

static int parse_count(const char *s, const char *what, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || !v || v > max) {
        fprintf(stderr, "bench_zoid_stream: %s '%s': expected 1..%lu\n", what, s, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* consume ADDR NAME NPROD RECORD */
static int cmd_consume(char **a)
{
    unsigned long n, r;
    if (parse_count(a[2], "NPROD", 4096, &n) || parse_count(a[3], "RECORD", 1ul << 30, &r))
        return 2;
    rec = r;
    struct zoid_client *c;
    struct zoid_stream *s;
    struct zepto_err err = {0};
    struct zoid_client_opts o = {.timeout_ms = -1};
    struct zoid_stream_opts so = {.flags = ZOID_STREAM_CREATE, .producers = (uint32_t)n};
    if (zoid_connect(a[0], &o, &c, &err) || zoid_stream_open(c, a[1], &so, &s, &err))
        return fprintf(stderr, "consume: %s\n", err.msg), 1;
    struct seen v = {0};
    int rc = stream_read(s, 0, &v);
    zoid_stream_delete(c, a[1], &err);
    zoid_stream_close(s);
    zoid_close(c);
    print_seen("stream", &v);
    return rc < 0 || v.lost ? 1 : 0;
}

/* sink LISTEN NCONN RECORD */
static int cmd_sink(char **a)
{
    unsigned long n, r;
    struct raw_addr at;
    if (raw_addr_parse(a[0], &at) || parse_count(a[1], "NCONN", 4096, &n) ||
        parse_count(a[2], "RECORD", 1ul << 30, &r))
        return 2;
    rec = r;
    int lfd = raw_listen(&at);
    printf("listening\n");
    fflush(stdout);
    struct seen v = sink_read(lfd, (unsigned)n, 0);
    print_seen("raw", &v);
    return 0;
}

/* forward LISTEN NCONN TO: the relay as a process of its own */
static int cmd_forward(char **a)
{
    unsigned long n;
    if (raw_addr_parse(a[0], &relay_at) || parse_count(a[1], "NCONN", 4096, &n) ||
        raw_addr_parse(a[2], &consumer_at))
        return 2;
    relay_conns = (unsigned)n;
    rec = 1u << 20;
    relay_lfd = raw_listen(&relay_at);
    printf("listening\n");
    fflush(stdout);
    relay(NULL);
    return 0;
}

/* produce ADDR NAME|- NPROD RECORD MB FIRST_RANK */
static int cmd_produce(char **a)
{
    unsigned long n, r, mb, first;
    static struct raw_addr to;
    if (parse_count(a[2], "NPROD", 4096, &n) || parse_count(a[3], "RECORD", 1ul << 30, &r) ||
        parse_count(a[4], "MB", 1ul << 20, &mb))
        return 2;
    char *end;
    first = strtoul(a[5], &end, 10);
    if (!*a[5] || *end || first > UINT32_MAX)
        return fprintf(stderr, "bench_zoid_stream: FIRST_RANK '%s': expected 0..%u\n", a[5],
                       UINT32_MAX),
               2;
    nprod = (unsigned)n;
    rec = r;
    first_rank = (uint32_t)first;
    per_prod = (mb << 20) / rec / nprod;
    if (!per_prod)
        per_prod = 1;
    if (!strcmp(a[1], "-")) {
        if (raw_addr_parse(a[0], &to))
            return 2;
        the_raw = &to;
    } else {
        addr = a[0];
        snprintf(sname, sizeof(sname), "%s", a[1]);
    }
    join_producers(start_producers());
    return 0;
}

/* The original one-process run: producers, consumer (and relay) as threads of this program. */
static int run_local(int argc, char **argv)
{
    addr = argv[1];
    nprod = (unsigned)atoi(argv[2]);
    rec = (size_t)atol(argv[3]);
    uint64_t total = (uint64_t)atol(argv[4]) << 20;
    long slow = argc > 5 ? atol(argv[5]) : 0;
    if (!nprod || !rec)
        return fprintf(stderr, "bench_zoid_stream: NPROD and RECORD must be positive\n"), 2;
    per_prod = total / rec / nprod;
    if (!per_prod)
        per_prod = 1;
    bool relayed = !strcmp(addr, "relay"), raw = relayed || !strcmp(addr, "raw");
    int lfd = -1;
    struct zoid_client *c = NULL;
    struct zoid_stream *s = NULL;
    pthread_t relay_thread;
    if (raw) {
        if (raw_addr_parse("tcp:127.0.0.1:0", &consumer_at) ||
            raw_addr_parse("tcp:127.0.0.1:0", &relay_at))
            return 2;
        lfd = raw_listen(&consumer_at);
        the_raw = &consumer_at;
        if (relayed) {
            relay_lfd = raw_listen(&relay_at);
            relay_conns = nprod;
            the_raw = &relay_at;
            pthread_create(&relay_thread, NULL, relay, NULL);
        }
    } else {
        snprintf(sname, sizeof(sname), "bench%d", (int)getpid());
        struct zepto_err err = {0};
        struct zoid_client_opts o = {.timeout_ms = -1};
        struct zoid_stream_opts so = {.flags = ZOID_STREAM_CREATE, .producers = nprod};
        if (zoid_connect(addr, &o, &c, &err) || zoid_stream_open(c, sname, &so, &s, &err))
            return fprintf(stderr, "consumer: %s\n", err.msg), 1;
    }
    double t0 = now_s();
    pthread_t *t = start_producers();
    struct seen v = {0};
    if (raw)
        v = sink_read(lfd, relayed ? 1 : nprod, slow);
    else if (stream_read(s, slow, &v) < 0)
        return 1;
    double dt = now_s() - t0;
    join_producers(t);
    if (relayed)
        pthread_join(relay_thread, NULL);
    uint64_t refused = 0, refused_bytes = 0; /* pushes that found the stream full */
    if (s) {
        struct zepto_err err = {0};
        zoid_stream_refusals(c, sname, &refused, &refused_bytes, &err);
        zoid_stream_delete(c, sname, &err);
    }
    printf("{\"mode\":\"%s\",\"producers\":%u,\"record\":%zu,\"records\":%llu,\"expected\":%llu,"
           "\"lost\":%llu,\"seconds\":%.3f,\"records_per_s\":%.0f,\"mb_per_s\":%.1f,"
           "\"refused_pushes\":%llu,\"refused_mb\":%.1f}\n",
           relayed ? "relay"
           : raw   ? "raw"
                   : "stream",
           nprod, rec, (unsigned long long)v.records, (unsigned long long)(per_prod * nprod),
           (unsigned long long)v.lost, dt, v.records / dt, v.bytes / dt / 1048576.0,
           (unsigned long long)refused, refused_bytes / 1048576.0);
    return v.records == per_prod * nprod && !v.lost ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int args;
        int (*run)(char **);
    } cmds[] = {{"consume", 4, cmd_consume},
                {"sink", 3, cmd_sink},
                {"forward", 3, cmd_forward},
                {"produce", 6, cmd_produce}};
    for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            if (argc - 2 != cmds[i].args)
                return fprintf(stderr, "bench_zoid_stream %s: %d arguments expected\n",
                               cmds[i].name, cmds[i].args),
                       2;
            return cmds[i].run(argv + 2);
        }
    if (argc < 5)
        return fprintf(stderr, "usage: %s ADDR|raw|relay NPROD RECORD TOTAL_MB [SLOW_US]\n",
                       argv[0]),
               2;
    return run_local(argc, argv);
}
