/*
 * The metadata rate of a directory, for bench/zoid_posix.sh: N files created (open O_CREAT |
 * O_EXCL, close), then stat'ed, then unlinked, each phase timed on its own; prints the rates as
 * one JSON object. Plain libc calls on paths, so that the interposer forwards each of them.
 *
 * usage: bench_posix_meta DIR [N]        (default N = 2000; DIR must exist and be writable)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "bench_posix_meta: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr,
                "usage: bench_posix_meta DIR [N]\nexample: bench_posix_meta /mnt/io/m 2000\n");
        return 2;
    }
    long n = argc == 3 ? strtol(argv[2], NULL, 10) : 2000;
    if (n <= 0 || n > 10000000) {
        fprintf(stderr, "bench_posix_meta: N must be 1..10000000: %s\n", argv[2]);
        return 2;
    }
    static char path[4096];
    struct stat st;
    double t[4];
    t[0] = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/m%07ld", argv[1], i);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0)
            return fail("create", path);
        if (close(fd) != 0)
            return fail("close", path);
    }
    t[1] = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/m%07ld", argv[1], i);
        if (stat(path, &st) != 0)
            return fail("stat", path);
    }
    t[2] = now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/m%07ld", argv[1], i);
        if (unlink(path) != 0)
            return fail("unlink", path);
    }
    t[3] = now();
    printf("{\"files\":%ld,\"create_per_s\":%.1f,\"stat_per_s\":%.1f,\"unlink_per_s\":%.1f}\n", n,
           (double)n / (t[1] - t[0]), (double)n / (t[2] - t[1]), (double)n / (t[3] - t[2]));
    return 0;
}
