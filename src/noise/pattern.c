/*
 * Detour patterns that loop, and cursors over them: what the player injects and the simulator
 * replays. A traced CPU loops over the time it measured; a synthetic spec is drawn for enough
 * periods (at least 10 s) that its jitter does not visibly repeat.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "zepto/noise.h"

#define SYNTH_MIN_LOOP_NS 10000000000ull /* synthetic patterns with jitter span 10 s or more */
#define SYNTH_MAX_PERIODS 1000000ull

static int alloc_pattern(struct zn_pattern *p, uint64_t n, struct zepto_err *err)
{
    p->n = n;
    p->start_ns = malloc((n ? n : 1) * sizeof(uint64_t));
    p->len_ns = malloc((n ? n : 1) * sizeof(uint64_t));
    if (!p->start_ns || !p->len_ns) {
        zn_pattern_free(p);
        return zepto_fail(err, ENOMEM, "out of memory for %llu detours", (unsigned long long)n);
    }
    return 0;
}

static uint64_t scaled(uint64_t len, double scale)
{
    double v = (double)len * scale;
    return v < 1 ? 1 : (uint64_t)llround(v);
}

int zn_pattern_from_trace(const struct zn_trace *t, unsigned index, double scale,
                          struct zn_pattern *p, struct zepto_err *err)
{
    memset(p, 0, sizeof(*p));
    if (index >= t->ncpu)
        return zepto_fail(err, EINVAL, "no CPU record %u in the trace", index);
    const struct zn_cpu_trace *c = &t->cpu[index];
    uint64_t loop = (c->flags & ZN_CPU_TRUNCATED) ? c->truncated_at_ns : c->measured_ns;
    if (!loop)
        return zepto_fail(err, EINVAL, "CPU %u of the trace measured no time", c->cpu);
    uint64_t n = 0;
    while (n < c->stored && c->d[n].start_ns < loop)
        n++;
    int rc = alloc_pattern(p, n, err);
    if (rc)
        return rc;
    p->loop_ns = loop;
    for (uint64_t i = 0; i < n; i++) {
        p->start_ns[i] = c->d[i].start_ns;
        p->len_ns[i] = scaled(c->d[i].duration_ns, scale);
    }
    return 0;
}

int zn_pattern_from_synthetic(const struct zn_synthetic *s, double scale, uint64_t seed,
                              struct zn_pattern *p, struct zepto_err *err)
{
    memset(p, 0, sizeof(*p));
    if (!s->period_ns)
        return zepto_fail(err, EINVAL, "synthetic noise with a zero period");
    uint64_t n = 1;
    if (s->jitter_ns) {
        n = (SYNTH_MIN_LOOP_NS + s->period_ns - 1) / s->period_ns;
        n = n < 64 ? 64 : n > SYNTH_MAX_PERIODS ? SYNTH_MAX_PERIODS : n;
    }
    int rc = alloc_pattern(p, n, err);
    if (rc)
        return rc;
    p->loop_ns = n * s->period_ns;
    uint64_t st = seed;
    for (uint64_t k = 0; k < n; k++) {
        p->start_ns[k] = k * s->period_ns + zb_rand_below(&st, s->jitter_ns);
        p->len_ns[k] = scaled(s->duration_ns, scale);
    }
    return 0;
}

void zn_pattern_free(struct zn_pattern *p)
{
    free(p->start_ns);
    free(p->len_ns);
    memset(p, 0, sizeof(*p));
}

double zn_pattern_fraction(const struct zn_pattern *p)
{
    double sum = 0;
    for (uint64_t i = 0; i < p->n; i++)
        sum += (double)p->len_ns[i];
    return p->loop_ns ? sum / (double)p->loop_ns : 0;
}

unsigned zn_trace_record_for(const struct zn_trace *t, int cpu, unsigned position)
{
    for (unsigned i = 0; i < t->ncpu; i++)
        if ((int)t->cpu[i].cpu == cpu)
            return i;
    return position % t->ncpu;
}

void zn_cursor_init(struct zn_cursor *c, const struct zn_pattern *p, uint64_t offset_ns,
                    uint64_t t0_ns)
{
    c->p = p;
    uint64_t off = p->loop_ns ? offset_ns % p->loop_ns : 0;
    c->base_ns = t0_ns - off;
    /* The first detour at or after the offset: binary search. */
    uint64_t lo = 0, hi = p->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (p->start_ns[mid] < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    c->idx = lo;
    if (c->idx == p->n && p->n) {
        c->idx = 0;
        c->base_ns += p->loop_ns;
    }
}

uint64_t zn_cursor_next(const struct zn_cursor *c, uint64_t *len_ns)
{
    if (!c->p->n) {
        *len_ns = 0;
        return UINT64_MAX;
    }
    *len_ns = c->p->len_ns[c->idx];
    return c->base_ns + c->p->start_ns[c->idx];
}

void zn_cursor_advance(struct zn_cursor *c)
{
    if (!c->p->n)
        return;
    if (++c->idx == c->p->n) {
        c->idx = 0;
        c->base_ns += c->p->loop_ns;
    }
}
