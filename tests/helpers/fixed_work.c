/*
 * A program of fixed CPU work, for measuring what injected noise costs a real program:
 *   fixed_work --calibrate MS   prints how many iterations take about MS milliseconds here
 *   fixed_work N                runs N iterations and prints the elapsed nanoseconds
 * The work is a dependent floating-point chain: no memory traffic, no system calls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double work(uint64_t n)
{
    double x = 1.0;
    for (uint64_t i = 0; i < n; i++)
        x = x * 1.0000001 + 1e-9;
    return x;
}

int main(int argc, char **argv)
{
    volatile double sink;
    if (argc == 3 && !strcmp(argv[1], "--calibrate")) {
        uint64_t want = strtoull(argv[2], NULL, 10) * 1000000u, n = 1000000;
        for (;;) {
            uint64_t t0 = now_ns();
            sink = work(n);
            uint64_t dt = now_ns() - t0;
            if (dt > want / 4) {
                printf("%llu\n", (unsigned long long)((double)n * (double)want / (double)dt));
                return 0;
            }
            n *= 2;
        }
    }
    if (argc != 2) {
        fprintf(stderr, "usage: fixed_work --calibrate MS | fixed_work N\n");
        return 2;
    }
    uint64_t n = strtoull(argv[1], NULL, 10), t0 = now_ns();
    sink = work(n);
    printf("%llu\n", (unsigned long long)(now_ns() - t0));
    (void)sink;
    return 0;
}
