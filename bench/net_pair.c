/*
 * The raw TCP baseline of zoid between two hosts (bench/cluster_zoid.sh): what the link itself
 * gives, with the server on the I/O node and the client on a compute node, as two programs
 * (bench_raw_stream and bench_raw_pingpong fork both ends on one host). Blocking sockets,
 * TCP_NODELAY on both ends as zoid sets it (raw_sock.c).
 *
 *   bench_net_pair serve tcp:A.B.C.D:PORT          serves every connection (a child each), forever
 *   bench_net_pair stream tcp:A.B.C.D:PORT SECONDS [MSG_BYTES]
 *       streams MSG_BYTES messages (default 1 MiB) one way for SECONDS, shuts its side down and
 *       waits for the server's byte count, so that nothing still in the buffers counts; prints
 *       {"bytes":N,"seconds":S,"mib_s":R}
 *   bench_net_pair ping tcp:A.B.C.D:PORT ROUNDS
 *       64-byte ping-pongs after ROUNDS/10 of warm-up; prints {"rounds":N,"median_us":M,"p99_us":P}
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "raw_sock.h"

#define MAX_MSG (16u << 20)
#define PING    64

static void serve_one(int fd, char *buf)
{
    char mode;
    if (raw_read_all(fd, &mode, 1))
        return;
    if (mode == 's') { /* read to the end, answer the count */
        uint64_t got = 0;
        ssize_t r;
        while ((r = read(fd, buf, MAX_MSG)) > 0)
            got += (uint64_t)r;
        raw_write_all(fd, &got, sizeof(got));
    } else if (mode == 'p') { /* echo until the end */
        while (!raw_read_all(fd, buf, PING) && !raw_write_all(fd, buf, PING))
            ;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int stream(const struct raw_addr *a, double seconds, uint64_t msg, char *buf)
{
    int fd = raw_connect(a);
    uint64_t sent = 0, got = 0;
    memset(buf, 0x5a, msg);
    if (raw_write_all(fd, "s", 1))
        raw_die("stream: write");
    uint64_t t0 = raw_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    while (raw_now_ns() < end) {
        if (raw_write_all(fd, buf, msg))
            raw_die("stream: write");
        sent += msg;
    }
    shutdown(fd, SHUT_WR);
    if (raw_read_all(fd, &got, sizeof(got)) || got != sent)
        raw_die("stream: the server's count");
    double s = (double)(raw_now_ns() - t0) / 1e9;
    printf("{\"bytes\":%llu,\"seconds\":%.3f,\"mib_s\":%.1f}\n", (unsigned long long)sent, s,
           (double)sent / s / (1 << 20));
    close(fd);
    return 0;
}

static int ping(const struct raw_addr *a, long rounds, char *buf)
{
    int fd = raw_connect(a);
    long warm = rounds / 10;
    uint64_t *lat = malloc((size_t)rounds * sizeof(*lat));
    if (!lat)
        raw_die("malloc");
    memset(buf, 0x5a, PING);
    if (raw_write_all(fd, "p", 1))
        raw_die("ping: write");
    for (long i = -warm; i < rounds; i++) {
        uint64_t t = raw_now_ns();
        if (raw_write_all(fd, buf, PING) || raw_read_all(fd, buf, PING))
            raw_die("ping");
        if (i >= 0)
            lat[i] = raw_now_ns() - t;
    }
    qsort(lat, (size_t)rounds, sizeof(*lat), cmp_u64);
    printf("{\"rounds\":%ld,\"median_us\":%.1f,\"p99_us\":%.1f}\n", rounds,
           (double)lat[rounds / 2] / 1e3, (double)lat[rounds * 99 / 100] / 1e3);
    free(lat);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    static char buf[MAX_MSG];
    struct raw_addr a;
    if (argc < 3 || raw_addr_parse(argv[2], &a)) {
        fprintf(stderr, "usage: bench_net_pair serve|stream|ping tcp:A.B.C.D:PORT [ARGS]\n");
        return 2;
    }
    if (!strcmp(argv[1], "serve") && argc == 3) {
        int lfd = raw_listen(&a);
        signal(SIGCHLD, SIG_IGN); /* children reap themselves */
        for (;;) {                /* a child per connection: several clients stream at once */
            int fd = raw_accept(lfd);
            if (fork() == 0) {
                serve_one(fd, buf);
                _exit(0);
            }
            close(fd);
        }
    }
    if (!strcmp(argv[1], "stream") && (argc == 4 || argc == 5)) {
        double s = atof(argv[3]);
        long long msg = argc == 5 ? atoll(argv[4]) : 1 << 20;
        if (s <= 0 || s > 600 || msg < 1 || msg > MAX_MSG) {
            fprintf(stderr, "bench_net_pair: SECONDS 0..600, MSG_BYTES 1..%u\n", MAX_MSG);
            return 2;
        }
        return stream(&a, s, (uint64_t)msg, buf);
    }
    if (!strcmp(argv[1], "ping") && argc == 4) {
        long n = atol(argv[3]);
        if (n < 10 || n > 10000000) {
            fprintf(stderr, "bench_net_pair: ROUNDS 10..10000000\n");
            return 2;
        }
        return ping(&a, n, buf);
    }
    fprintf(stderr, "usage: bench_net_pair serve|stream|ping tcp:A.B.C.D:PORT [ARGS]\n");
    return 2;
}
