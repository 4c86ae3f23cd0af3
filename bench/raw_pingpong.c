/*
 * The raw baseline of a zoid null call: 64-byte ping-pong on one stream socket between two
 * processes, as small as such a program can be (blocking read and write, TCP_NODELAY on TCP).
 * The server is a forked child that echoes every message; the parent times each round trip after
 * a warm-up and prints the median and p99 as JSON, in the keys `zepto zoid bench --json` uses.
 *
 * usage: bench_raw_pingpong unix:PATH|tcp:127.0.0.1:PORT [ROUNDS [WARMUP]]
 *        (PORT 0 picks a free one; defaults: 20000 rounds after 2000, as zoid bench does)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raw_pin.h"
#include "raw_sock.h"

#define MESSAGE 64

static void serve(int lfd)
{
    int fd = raw_accept(lfd);
    char buf[MESSAGE];
    while (raw_read_all(fd, buf, sizeof(buf)) == 0)
        if (raw_write_all(fd, buf, sizeof(buf)))
            break;
    _exit(0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct raw_addr a;
    if (argc < 2 || argc > 4 || raw_addr_parse(argv[1], &a)) {
        fprintf(stderr, "usage: bench_raw_pingpong unix:PATH|tcp:A.B.C.D:PORT [ROUNDS [WARMUP]]\n");
        return 2;
    }
    unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 20000;
    unsigned warmup = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2000;
    if (rounds == 0) {
        fprintf(stderr, "ROUNDS must be at least 1\n");
        return 2;
    }
    int lfd = raw_listen(&a);
    pid_t pid = fork();
    if (pid < 0)
        raw_die("fork");
    if (pid == 0) {
        raw_pin_server();
        serve(lfd);
    }
    close(lfd);

    int fd = raw_connect(&a);
    uint64_t *ns = malloc(rounds * sizeof(*ns));
    char msg[MESSAGE] = {1};
    if (!ns)
        raw_die("malloc");
    for (unsigned i = 0; i < warmup + rounds; i++) {
        uint64_t t0 = raw_now_ns();
        if (raw_write_all(fd, msg, sizeof(msg)) || raw_read_all(fd, msg, sizeof(msg)))
            raw_die("ping-pong");
        if (i >= warmup)
            ns[i - warmup] = raw_now_ns() - t0;
    }
    close(fd);
    waitpid(pid, NULL, 0);
    if (a.family == AF_UNIX)
        unlink(a.text + 5);

    qsort(ns, rounds, sizeof(*ns), cmp_u64);
    double sum = 0;
    for (unsigned i = 0; i < rounds; i++)
        sum += (double)ns[i];
    /* Nearest-rank percentiles, as zoid bench computes them. */
    printf("{\"transport\": \"%s\", \"address\": \"%s\", \"message_bytes\": %d, \"rounds\": %u, "
           "\"warmup_rounds\": %u, \"latency_median_ns\": %llu, \"latency_p99_ns\": %llu, "
           "\"latency_min_ns\": %llu, \"latency_max_ns\": %llu, \"latency_mean_ns\": %.1f}\n",
           raw_transport(&a), a.text, MESSAGE, rounds, warmup,
           (unsigned long long)ns[(rounds - 1) / 2],
           (unsigned long long)ns[(rounds * 99 + 99) / 100 - 1], (unsigned long long)ns[0],
           (unsigned long long)ns[rounds - 1], sum / rounds);
    free(ns);
    return 0;
}
