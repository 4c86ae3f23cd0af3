/*
 * The raw baseline of zoid's bulk calls: N-byte messages streamed one way on one stream socket
 * between two processes (blocking writes from one pre-touched buffer, blocking reads into
 * another, TCP_NODELAY on TCP), for the payload sizes `zepto zoid bench` moves: 4 KiB, 64 KiB,
 * 1 MiB, 16 MiB. Per size, one connection: the client sends the message size and a warm-up, the
 * server acknowledges it; then the client streams for a fixed time and shuts its side down, and
 * the server answers with the byte count once it has read everything. The time runs from the
 * first timed message to that answer, so that no byte still in the socket buffers is counted
 * as delivered. Prints JSON.
 *
 * usage: bench_raw_stream unix:PATH|tcp:127.0.0.1:PORT [SECONDS_PER_SIZE]
 *        (PORT 0 picks a free one; default 0.25 s per size, as zoid bench does)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raw_sock.h"

static const uint64_t sizes[] = {4u << 10, 64u << 10, 1u << 20, 16u << 20};
#define NSIZES   (sizeof(sizes) / sizeof(sizes[0]))
#define MAX_SIZE (16u << 20)

/* Enough warm-up messages for 4 MiB, and at least 2. */
static uint64_t warmup_of(uint64_t size)
{
    uint64_t n = (4u << 20) / size;
    return n < 2 ? 2 : n;
}

static void serve(int lfd, char *buf)
{
    for (unsigned s = 0; s < NSIZES; s++) {
        int fd = raw_accept(lfd);
        uint64_t size, got = 0;
        if (raw_read_all(fd, &size, sizeof(size)) || size > MAX_SIZE)
            raw_die("stream header");
        for (uint64_t i = 0; i < warmup_of(size); i++)
            if (raw_read_all(fd, buf, size))
                raw_die("warm-up");
        if (raw_write_all(fd, "", 1))
            raw_die("ack");
        /* Message by message, as a receiver of N-byte records reads them. */
        while (raw_read_all(fd, buf, size) == 0)
            got += size;
        if (raw_write_all(fd, &got, sizeof(got)))
            raw_die("count");
        close(fd);
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    struct raw_addr a;
    if (argc < 2 || argc > 3 || raw_addr_parse(argv[1], &a)) {
        fprintf(stderr, "usage: bench_raw_stream unix:PATH|tcp:A.B.C.D:PORT [SECONDS_PER_SIZE]\n");
        return 2;
    }
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 0.25;
    if (!(seconds > 0 && seconds < 3600)) {
        fprintf(stderr, "SECONDS_PER_SIZE must be above 0\n");
        return 2;
    }
    /* Both buffers touched before the clock starts: page faults are not part of the figure. */
    char *buf = malloc(MAX_SIZE);
    if (!buf)
        raw_die("malloc");
    memset(buf, 0x5a, MAX_SIZE);
    int lfd = raw_listen(&a);
    pid_t pid = fork();
    if (pid < 0)
        raw_die("fork");
    if (pid == 0)
        serve(lfd, buf);
    close(lfd);

    printf("{\"transport\": \"%s\", \"address\": \"%s\", \"sizes\": [", raw_transport(&a), a.text);
    for (unsigned s = 0; s < NSIZES; s++) {
        uint64_t size = sizes[s], sent = 0, got = 0;
        int fd = raw_connect(&a);
        char ack;
        if (raw_write_all(fd, &size, sizeof(size)))
            raw_die("stream header");
        for (uint64_t i = 0; i < warmup_of(size); i++)
            if (raw_write_all(fd, buf, size))
                raw_die("warm-up");
        if (raw_read_all(fd, &ack, 1))
            raw_die("ack");
        uint64_t t0 = raw_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
        do {
            if (raw_write_all(fd, buf, size))
                raw_die("stream");
            sent += size;
        } while (raw_now_ns() < end || sent < 4 * size);
        shutdown(fd, SHUT_WR);
        if (raw_read_all(fd, &got, sizeof(got)) || got != sent)
            raw_die("count");
        uint64_t ns = raw_now_ns() - t0;
        close(fd);
        printf("%s{\"message_bytes\": %llu, \"messages\": %llu, \"duration_ns\": %llu, "
               "\"bandwidth_bytes_per_s\": %.0f}",
               s ? ", " : "", (unsigned long long)size, (unsigned long long)(sent / size),
               (unsigned long long)ns, (double)sent * 1e9 / (double)ns);
    }
    printf("]}\n");
    waitpid(pid, NULL, 0);
    if (a.family == AF_UNIX)
        unlink(a.text + 5);
    free(buf);
    return 0;
}
