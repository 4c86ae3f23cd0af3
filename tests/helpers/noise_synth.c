/*
 * Writes a synthetic noise trace (with the project's trace writer) for the cluster tests and
 * benchmarks: random detours on every CPU, optionally scaled, plus an optional periodic one.
 *
 *   noise_synth OUT HOST NCPU SECONDS SEED [RATE_SCALE [LEN_NS PERIOD_NS CPU]]
 *
 * NOISE_SYNTH_CLOCK=tsc in the environment names another clock (for the mismatch test).
 * NOISE_SYNTH_PERIODIC=PERIOD:LEN:PHASE[,...] (ns) adds those trains on every CPU (each start
 * moved by up to +-1 us, each length by up to +-10 %), and detours that then overlap become one
 * as a recorder sees them: the later one runs when the earlier ends (a source that falls on the
 * tick makes longer ticks). For the signature tests and bench/periodic.sh.
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

struct train {
    uint64_t period, len, phase;
};

#define MAX_TRAINS 8

/* Trains from NOISE_SYNTH_PERIODIC; returns how many, or -1 (message printed). */
static int parse_trains(const char *all, struct train *tr)
{
    const char *spec = all;
    int n = 0;
    while (spec && *spec) {
        char *end;
        if (n == MAX_TRAINS)
            goto bad;
        tr[n].period = strtoull(spec, &end, 10);
        if (*end != ':' || !tr[n].period)
            goto bad;
        tr[n].len = strtoull(end + 1, &end, 10);
        if (*end != ':' || !tr[n].len || tr[n].len >= tr[n].period)
            goto bad;
        tr[n].phase = strtoull(end + 1, &end, 10);
        if (*end != ',' && *end)
            goto bad;
        n++;
        spec = *end ? end + 1 : end;
    }
    return n;
bad:
    fprintf(stderr,
            "noise_synth: NOISE_SYNTH_PERIODIC '%s': want PERIOD:LEN:PHASE[,...] in ns, "
            "at most %d, 0 < LEN < PERIOD\n",
            all, MAX_TRAINS);
    return -1;
}

/* Overlapping detours (sorted) become one: the later runs when the earlier ends. */
static uint64_t merge(struct zn_detour *d, uint64_t n)
{
    uint64_t m = 0;
    for (uint64_t k = 0; k < n; k++) {
        if (m && d[k].start_ns <= d[m - 1].start_ns + d[m - 1].duration_ns) {
            d[m - 1].duration_ns += d[k].duration_ns;
            continue;
        }
        d[m++] = d[k];
    }
    return m;
}

static int fill_cpu(struct zn_cpu_trace *c, uint64_t span, double scale, uint64_t *seed,
                    uint64_t plen, uint64_t period, const struct train *tr, int ntr)
{
    /* random detours: about 200 per second (times scale), 1..4 us, exponential gaps */
    uint64_t cap = (uint64_t)(span / 1e9 * 200 * scale * 2) + 16 + (period ? span / period + 1 : 0);
    for (int k = 0; k < ntr; k++)
        cap += span / tr[k].period + 1;
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
    for (int k = 0; k < ntr; k++)
        for (uint64_t t = tr[k].phase + 1000; t + 2 * tr[k].len + 1000 < span && n < cap;
             t += tr[k].period) {
            uint64_t wobble = tr[k].len / 10;
            c->d[n++] = (struct zn_detour){t - 1000 + rng(seed) % 2001,
                                           tr[k].len - wobble + rng(seed) % (2 * wobble + 1)};
        }
    qsort(c->d, n, sizeof *c->d, cmp_detour);
    if (ntr)
        n = merge(c->d, n);
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
    struct train tr[MAX_TRAINS];
    int ntr = parse_trains(getenv("NOISE_SYNTH_PERIODIC"), tr);
    if (ntr < 0)
        return 2;
    t.cpu = calloc(t.ncpu, sizeof *t.cpu);
    if (!t.cpu || t.ncpu == 0)
        return 1;
    for (uint32_t i = 0; i < t.ncpu; i++) {
        t.cpu[i].cpu = i;
        if (fill_cpu(&t.cpu[i], t.duration_ns, scale, &seed, plen, i == pcpu ? period : 0, tr, ntr))
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
