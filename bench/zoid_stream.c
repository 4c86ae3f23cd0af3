/*
 * bench/zoid_stream.sh's driver: N producers -> 1 consumer, records of one size, through a zoid
 * stream (ADDR: the daemon) or a raw TCP baseline (ADDR "raw": N loopback TCP connections read
 * by one poll loop, the same bytes), or the same through a relay (ADDR "relay": a thread reads
 * the N connections with one poll loop and writes what it gets to one connection to the
 * consumer: the bytes a forwarder that touches nothing moves, the ceiling of any I/O-node hop on
 * this machine). SLOW_US > 0 makes the consumer sleep that long per record (a slow consumer).
 * Prints one JSON line.
 * usage: bench_zoid_stream ADDR|raw|relay NPROD RECORD_BYTES TOTAL_MB [SLOW_US]
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
static size_t rec;
static uint64_t per_prod;           /* records per producer */
static struct raw_addr consumer_at; /* where the consumer listens (raw, relay) */
static struct raw_addr relay_at;    /* relay: where producers connect */
static int relay_lfd;

/* relay: the N producers' bytes, as they come, to one connection to the consumer. */
static void *relay(void *arg)
{
    (void)arg;
    struct pollfd *pf = calloc(nprod, sizeof(*pf));
    for (unsigned i = 0; i < nprod; i++)
        pf[i] = (struct pollfd){.fd = raw_accept(relay_lfd), .events = POLLIN};
    int out = raw_connect(&consumer_at);
    size_t cap = rec > (1u << 20) ? rec : (1u << 20);
    unsigned char *buf = malloc(cap);
    for (unsigned open = nprod; open;) {
        poll(pf, nprod, -1);
        for (unsigned i = 0; i < nprod; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            ssize_t r = read(pf[i].fd, buf, cap);
            if (r <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open--;
                continue;
            }
            if (raw_write_all(out, buf, (size_t)r))
                raw_die("relay write");
        }
    }
    close(out);
    free(buf);
    free(pf);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *producer(void *arg)
{
    uint32_t rank = (uint32_t)(uintptr_t)arg;
    unsigned char *buf = malloc(rec);
    memset(buf, (int)rank, rec);
    if (!strcmp(addr, "raw") || !strcmp(addr, "relay")) {
        int fd = raw_connect(strcmp(addr, "raw") ? &relay_at : &consumer_at);
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

int main(int argc, char **argv)
{
    if (argc < 5)
        return fprintf(stderr, "usage: %s ADDR|raw|relay NPROD RECORD TOTAL_MB [SLOW_US]\n",
                       argv[0]),
               2;
    addr = argv[1];
    nprod = (unsigned)atoi(argv[2]);
    rec = (size_t)atol(argv[3]);
    uint64_t total = (uint64_t)atol(argv[4]) << 20;
    long slow = argc > 5 ? atol(argv[5]) : 0;
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
        if (relayed) {
            relay_lfd = raw_listen(&relay_at);
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
    pthread_t *t = calloc(nprod, sizeof(*t));
    for (unsigned i = 0; i < nprod; i++)
        pthread_create(&t[i], NULL, producer, (void *)(uintptr_t)i);
    uint64_t got = 0, bytes = 0, lost = 0;
    if (raw) {
        unsigned conns = relayed ? 1 : nprod;
        struct pollfd *pf = calloc(conns, sizeof(*pf));
        for (unsigned i = 0; i < conns; i++)
            pf[i] = (struct pollfd){.fd = raw_accept(lfd), .events = POLLIN};
        size_t cap = rec > (1u << 20) ? rec : (1u << 20);
        unsigned char *buf = malloc(cap);
        unsigned open = conns;
        while (open) {
            poll(pf, conns, -1);
            for (unsigned i = 0; i < conns; i++) {
                if (pf[i].fd < 0 || !pf[i].revents)
                    continue;
                ssize_t r = read(pf[i].fd, buf, slow ? rec : cap);
                if (r <= 0) {
                    close(pf[i].fd);
                    pf[i].fd = -1;
                    open--;
                } else
                    bytes += (uint64_t)r;
            }
        }
        got = bytes / rec;
    } else {
        struct zoid_stream_record r;
        int rc;
        while ((rc = zoid_stream_read(s, &r, -1)) == 1) {
            got++;
            bytes += r.len;
            lost += r.lost;
            if (slow)
                usleep((useconds_t)slow);
        }
        if (rc < 0)
            return fprintf(stderr, "read: %d\n", rc), 1;
    }
    double dt = now_s() - t0;
    for (unsigned i = 0; i < nprod; i++)
        pthread_join(t[i], NULL);
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
           nprod, rec, (unsigned long long)got, (unsigned long long)(per_prod * nprod),
           (unsigned long long)lost, dt, got / dt, bytes / dt / 1048576.0,
           (unsigned long long)refused, refused_bytes / 1048576.0);
    return got == per_prod * nprod && !lost ? 0 : 1;
}
