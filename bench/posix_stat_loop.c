/*
 * The latency of one path's stat, repeated: a program polling a file, a build tool checking its
 * inputs. Under the interposer each stat is a call to the daemon; prints the percentiles of N
 * calls as one JSON object (µs).
 *
 * usage: bench_posix_stat_loop PATH [N]        (default N = 20000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bench_posix_stat_loop PATH [N]\n"
                        "example: bench_posix_stat_loop /mnt/io/input.deck 20000\n");
        return 2;
    }
    char *end = NULL;
    long n = argc == 3 ? strtol(argv[2], &end, 10) : 20000;
    if (argc == 3 && (*end || end == argv[2] || n <= 0 || n > 10000000)) {
        fprintf(stderr, "bench_posix_stat_loop: N must be 1..10000000: %s\n", argv[2]);
        return 2;
    }
    double *lat = malloc((size_t)n * sizeof(*lat));
    if (!lat) {
        fprintf(stderr, "bench_posix_stat_loop: out of memory\n");
        return 1;
    }
    struct stat st;
    for (long i = 0; i < n; i++) {
        double t = now_us();
        if (stat(argv[1], &st)) {
            fprintf(stderr, "bench_posix_stat_loop: stat %s: %s\n", argv[1], strerror(errno));
            free(lat);
            return 1;
        }
        lat[i] = now_us() - t;
    }
    qsort(lat, (size_t)n, sizeof(*lat), by_value);
    printf("{\"calls\":%ld,\"p10_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f}\n", n,
           lat[n / 10], lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100]);
    free(lat);
    return 0;
}
