/*
 * Writes a synthetic noise trace (with the project's trace writer) for the cluster tests and
 * benchmarks: random detours on every CPU, optionally scaled, plus an optional periodic one.
 *
 *   noise_synth OUT HOST NCPU SECONDS SEED [RATE_SCALE [LEN_NS PERIOD_NS CPU]]
 *
 * NOISE_SYNTH_CLOCK=tsc in the environment names another clock (for the mismatch test).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/noise.h"

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_detour(const void *a, const void *b)
{
    const struct zn_detour *x = a, *y = b;
    return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
}

static int fill_cpu(struct zn_cpu_trace *c, uint64_t span, double scale, uint64_t *seed,
                    uint64_t plen, uint64_t period)
{
    /* random detours: about 200 per second (times scale), 1..4 us, exponential gaps */
    uint64_t cap = (uint64_t)(span / 1e9 * 200 * scale * 2) + 16 + (period ? span / period + 1 : 0);
    c->d = calloc(cap, sizeof *c->d);
    if (!c->d)
        return -1;
    uint64_t n = 0;
    double mean_gap = 1e9 / (200 * scale);
    for (double t = 0;;) {
        double u = (rng(seed) % 1000000 + 1) / 1000001.0;
        t += -mean_gap * __builtin_log(u);
        if (t >= (double)span - 10000 || n + 1 >= cap)
            break;
        c->d[n++] = (struct zn_detour){(uint64_t)t, 1000 + rng(seed) % 3000};
    }
    for (uint64_t t = period / 2; period && t + plen < span && n < cap; t += period)
        c->d[n++] = (struct zn_detour){t, plen};
    qsort(c->d, n, sizeof *c->d, cmp_detour);
    c->measured_ns = span;
    c->loops = span / 20;
    c->loop_min_ps = 20000;
    c->loop_tail_ps = 40000;
    c->detours = c->stored = n;
    c->detour_min_ns = UINT64_MAX;
    for (uint64_t k = 0; k < n; k++) {
        c->detour_ns += c->d[k].duration_ns;
        if (c->d[k].duration_ns < c->detour_min_ns)
            c->detour_min_ns = c->d[k].duration_ns;
        if (c->d[k].duration_ns > c->detour_max_ns)
            c->detour_max_ns = c->d[k].duration_ns;
    }
    if (!n)
        c->detour_min_ns = 0;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7 && argc != 10) {
        fprintf(stderr, "usage: noise_synth OUT HOST NCPU SECONDS SEED [SCALE [LEN PERIOD CPU]]\n");
        return 2;
    }
    struct zn_trace t = {0};
    snprintf(t.host, sizeof t.host, "%s", argv[2]);
    snprintf(t.kernel, sizeof t.kernel, "synthetic");
    snprintf(t.cpu_model, sizeof t.cpu_model, "synthetic");
    const char *clock = getenv("NOISE_SYNTH_CLOCK");
    snprintf(t.clock, sizeof t.clock, "%s", clock ? clock : "monotonic");
    t.clock_hz = 1000000000;
    t.ncpu = (uint32_t)atoi(argv[3]);
    t.duration_ns = (uint64_t)(atof(argv[4]) * 1e9);
    t.threshold_ns = 500;
    uint64_t seed = strtoull(argv[5], NULL, 10) * 2654435761u + 1;
    double scale = argc >= 7 ? atof(argv[6]) : 1.0;
    uint64_t plen = argc == 10 ? strtoull(argv[7], NULL, 10) : 0;
    uint64_t period = argc == 10 ? strtoull(argv[8], NULL, 10) : 0;
    unsigned pcpu = argc == 10 ? (unsigned)atoi(argv[9]) : 0;
    t.cpu = calloc(t.ncpu, sizeof *t.cpu);
    if (!t.cpu || t.ncpu == 0)
        return 1;
    for (uint32_t i = 0; i < t.ncpu; i++) {
        t.cpu[i].cpu = i;
        if (fill_cpu(&t.cpu[i], t.duration_ns, scale, &seed, plen, i == pcpu ? period : 0))
            return 1;
    }
    struct zepto_err err = {0};
    int rc = zn_trace_write(&t, argv[1], &err);
    if (rc)
        fprintf(stderr, "noise_synth: %s\n", err.msg);
    for (uint32_t i = 0; i < t.ncpu; i++)
        free(t.cpu[i].d);
    free(t.cpu);
    return rc ? 1 : 0;
}
