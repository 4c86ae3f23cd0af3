/*
 * The recorder's loop time against a bare loop of the same clock read, in one run on one CPU.
 *
 * Bare loop: read the clock and compare it with the end time, nothing else. Its time per
 * iteration is the median over windows of 4096 iterations (a window hit by an interrupt is an
 * outlier the median ignores). Recorder: `zn_recorder` on the same CPU, its mean iteration with
 * the detours left out ((measured - detour time) / (loops - detours)). The two alternate for
 * several rounds; the ratio of their medians is printed.
 *
 * usage: bench_loop_ratio [CPU] [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/cpuset.h"
#include "zepto/noise.h"

#define WINDOW  4096
#define WINDOWS 2000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* Median ns per iteration of the bare loop. */
static double bare_loop(const struct zb_clock *clk)
{
    static double per[WINDOWS];
    for (unsigned w = 0; w < WINDOWS; w++) {
        uint64_t start, now = 0, end;
        if (clk->kind == ZB_CLOCK_TSC) {
            start = zb_tsc_read();
            end = UINT64_MAX;
            for (unsigned i = 0; i < WINDOW; i++) {
                now = zb_tsc_read();
                if (now >= end)
                    break;
            }
        } else {
            start = zb_mono_read();
            end = UINT64_MAX;
            for (unsigned i = 0; i < WINDOW; i++) {
                now = zb_mono_read();
                if (now >= end)
                    break;
            }
        }
        per[w] = (double)zb_clock_to_ns(clk, (now - start) * 1000) / 1000.0 / WINDOW;
    }
    return median(per, WINDOWS);
}

static double recorder_loop(int cpu, enum zb_clock_kind kind)
{
    struct zn_record_opts o = {.cpus = &cpu, .ncpu = 1, .duration_ns = 500000000ull, .clock = kind};
    struct zn_recorder *rec;
    struct zepto_err err = {0};
    if (zn_recorder_new(&o, &rec, &err) || zn_recorder_run(rec, NULL, NULL, &err)) {
        fprintf(stderr, "recorder: %s\n", err.msg);
        exit(1);
    }
    struct zn_trace *t = zn_recorder_take_trace(rec);
    const struct zn_cpu_trace *c = &t->cpu[0];
    double per = (double)(c->measured_ns - c->detour_ns) / (double)(c->loops - c->detours);
    zn_trace_free(t);
    zn_recorder_free(rec);
    return per;
}

int main(int argc, char **argv)
{
    int cpu = argc > 1 ? atoi(argv[1]) : 0;
    unsigned rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 5;
    struct zepto_err err = {0};
    if (zb_pin_self(cpu, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const enum zb_clock_kind kinds[] = {ZB_CLOCK_TSC, ZB_CLOCK_MONOTONIC};
    for (unsigned k = 0; k < 2; k++) {
        struct zb_clock clk;
        if (zb_clock_init(&clk, kinds[k], 0, &err)) {
            printf("%s: %s\n", zb_clock_name(kinds[k]), err.msg);
            continue;
        }
        double bare[16], rec[16];
        rounds = rounds > 16 ? 16 : rounds;
        for (unsigned r = 0; r < rounds; r++) {
            bare[r] = bare_loop(&clk);
            rec[r] = recorder_loop(cpu, kinds[k]);
        }
        double b = median(bare, rounds), m = median(rec, rounds);
        printf("clock %-9s CPU %d: bare loop %.2f ns, recorder loop %.2f ns, ratio %.3f "
               "(median of %u alternating rounds)\n",
               zb_clock_name(kinds[k]), cpu, b, m, m / b, rounds);
    }
    return 0;
}
