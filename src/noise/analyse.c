/*
 * From a trace to a summary: per CPU and for the node, the time measured, the detour count,
 * rate and noise fraction (exact, also when a buffer filled), the length quantiles and histogram
 * and the periodic signatures (from the stored detours); for explained traces, the detour time
 * by cause.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cpuset.h"
#include "zepto/noise.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of sorted values. */
static uint64_t quantile(const uint64_t *v, uint64_t n, double q)
{
    if (!n)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    return v[rank ? rank - 1 : 0];
}

static void swap_u64(uint64_t *a, uint64_t *b)
{
    uint64_t t = *a;
    *a = *b;
    *b = t;
}

/* The k-th smallest of v[0..n) (quickselect, median-of-three pivots): on return v[k] holds it,
 * everything before it is no larger and everything after no smaller. O(n) on average, where a
 * sort of the 7.7 M detours of a 128-CPU minute took seconds. */
static uint64_t select_kth(uint64_t *v, uint64_t n, uint64_t k)
{
    uint64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo])
            swap_u64(&v[mid], &v[lo]);
        if (v[hi] < v[lo])
            swap_u64(&v[hi], &v[lo]);
        if (v[hi] < v[mid])
            swap_u64(&v[hi], &v[mid]);
        uint64_t pivot = v[mid], i = lo, j = hi;
        while (i <= j) { /* Hoare partition */
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                swap_u64(&v[i], &v[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break; /* between j and i everything equals the pivot */
    }
    return v[k];
}

/* Nearest-rank rank (0-based) of quantile q of n values. */
static uint64_t rank_of(uint64_t n, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    return rank ? rank - 1 : 0;
}

static void fill_quantiles(struct zn_cpu_summary *s, uint64_t *lens, uint64_t n)
{
    if (!n) {
        s->median_ns = s->p99_ns = 0;
        return;
    }
    uint64_t r99 = rank_of(n, 0.99), r50 = rank_of(n, 0.5);
    s->p99_ns = select_kth(lens, n, r99);
    s->median_ns = r50 < r99 ? select_kth(lens, r99, r50) : s->p99_ns;
}

static void summarise_cpu(const struct zn_cpu_trace *c, struct zn_cpu_summary *s, uint64_t *lens)
{
    memset(s, 0, sizeof(*s));
    s->cpu = c->cpu;
    s->measured_ns = c->measured_ns;
    s->detours = c->detours;
    s->detour_ns = c->detour_ns;
    s->rate_per_s = c->measured_ns ? (double)c->detours * 1e9 / (double)c->measured_ns : 0;
    s->noise_fraction = c->measured_ns ? (double)c->detour_ns / (double)c->measured_ns : 0;
    s->min_ns = c->detour_min_ns;
    s->max_ns = c->detour_max_ns;
    s->loop_min_ps = c->loop_min_ps;
    s->loop_tail_ps = c->loop_tail_ps;
    if (c->loops > c->detours && c->measured_ns > c->detour_ns)
        s->loop_mean_ps = (c->measured_ns - c->detour_ns) * 1000 / (c->loops - c->detours);
    s->truncated = c->flags & ZN_CPU_TRUNCATED;
    s->truncated_at_ns = c->truncated_at_ns;
    s->stored = c->stored;
    for (uint64_t k = 0; k < c->stored; k++)
        lens[k] = c->d[k].duration_ns;
    fill_quantiles(s, lens, c->stored);
    zn_hist_build(c->d, c->stored, &s->hist);
    uint64_t span = s->truncated ? c->truncated_at_ns : c->measured_ns;
    s->nsig = zn_find_signatures(c->d, c->stored, span, s->sig, ZN_MAX_SIGNATURES);
    for (unsigned i = 0; i < s->nsig; i++)
        snprintf(s->sig[i].cpus, sizeof(s->sig[i].cpus), "%u", c->cpu);
}

static int cmp_cause_time(const void *a, const void *b)
{
    const struct zn_cause_summary *x = a, *y = b;
    if (x->detour_ns != y->detour_ns)
        return x->detour_ns > y->detour_ns ? -1 : 1;
    return (x->cause > y->cause) - (x->cause < y->cause);
}

/* Detour time by cause over the stored detours of CPU records [from, to): the lengths are
 * grouped by cause in lens (room for all of them) for the medians. */
static int cause_table(const struct zn_trace *t, uint32_t from, uint32_t to, uint64_t *lens,
                       struct zn_cpu_summary *s)
{
    if (!(t->flags & ZN_TRACE_EXPLAINED) || !t->ncauses)
        return 0;
    struct zn_cause_summary *cs = calloc(t->ncauses, sizeof(*cs));
    uint64_t *at = calloc(t->ncauses + 1, sizeof(*at));
    if (!cs || !at) {
        free(cs);
        free(at);
        return -ENOMEM;
    }
    uint64_t total = 0;
    for (uint32_t i = from; i < to; i++)
        for (uint64_t k = 0; k < t->cpu[i].stored; k++) {
            const struct zn_detour_cause *w = &t->cpu[i].why[k];
            cs[w->cause].detours++;
            cs[w->cause].detour_ns += t->cpu[i].d[k].duration_ns;
            cs[w->cause].traced_ns += w->traced_ns;
            total += t->cpu[i].d[k].duration_ns;
        }
    for (uint32_t c = 0; c < t->ncauses; c++)
        at[c + 1] = at[c] + cs[c].detours;
    for (uint32_t i = from; i < to; i++)
        for (uint64_t k = 0; k < t->cpu[i].stored; k++)
            lens[at[t->cpu[i].why[k].cause]++] = t->cpu[i].d[k].duration_ns;
    unsigned n = 0;
    for (uint32_t c = 0; c < t->ncauses; c++) {
        if (!cs[c].detours)
            continue;
        uint64_t *l = lens + at[c] - cs[c].detours;
        qsort(l, cs[c].detours, sizeof(*l), cmp_u64);
        struct zn_cause_summary *o = &cs[n++];
        *o = cs[c];
        o->cause = c;
        o->median_ns = quantile(l, o->detours, 0.5);
        o->share = total ? (double)o->detour_ns / (double)total : 0;
        o->traced_fraction = o->detour_ns ? (double)o->traced_ns / (double)o->detour_ns : 0;
    }
    free(at);
    qsort(cs, n, sizeof(*cs), cmp_cause_time);
    s->ncause = n;
    s->cause = cs;
    return 0;
}

/* Node signatures: per-CPU signatures whose periods agree within 2 % are one. */
static void merge_signatures(struct zn_summary *sum)
{
    struct zn_cpu_summary *node = &sum->node;
    struct group {
        struct zn_signature s;
        struct zb_cpuset cpus;
        double weight;     /* detours, for the weighted period */
        uint64_t best_len; /* length of the CPU signature with most detours */
        uint64_t best_n;
    } *g = calloc((size_t)sum->ncpu * ZN_MAX_SIGNATURES, sizeof(*g));
    if (!g)
        return;
    unsigned ng = 0;
    for (unsigned c = 0; c < sum->ncpu; c++) {
        for (unsigned k = 0; k < sum->cpu[c].nsig; k++) {
            const struct zn_signature *s = &sum->cpu[c].sig[k];
            unsigned i = 0;
            while (i < ng && fabs(g[i].s.period_ns - s->period_ns) > 0.02 * s->period_ns)
                i++;
            if (i == ng) {
                memset(&g[ng], 0, sizeof(g[ng]));
                ng++;
            }
            double w = (double)s->detours;
            g[i].s.period_ns =
                (g[i].s.period_ns * g[i].weight + s->period_ns * w) / (g[i].weight + w);
            g[i].s.regularity =
                (g[i].s.regularity * g[i].weight + s->regularity * w) / (g[i].weight + w);
            g[i].weight += w;
            g[i].s.detours += s->detours;
            g[i].s.detour_ns += s->detour_ns;
            if (s->detours > g[i].best_n) {
                g[i].best_n = s->detours;
                g[i].best_len = s->length_ns;
            }
            zb_cpuset_add(&g[i].cpus, sum->cpu[c].cpu);
        }
    }
    /* Keep the largest by time. */
    for (unsigned i = 0; i < ng; i++)
        for (unsigned j = i + 1; j < ng; j++)
            if (g[j].s.detour_ns > g[i].s.detour_ns) {
                struct group t = g[i];
                g[i] = g[j];
                g[j] = t;
            }
    node->nsig = ng < ZN_MAX_SIGNATURES ? ng : ZN_MAX_SIGNATURES;
    for (unsigned i = 0; i < node->nsig; i++) {
        node->sig[i] = g[i].s;
        node->sig[i].length_ns = g[i].best_len;
        node->sig[i].noise_share =
            node->detour_ns ? (double)g[i].s.detour_ns / (double)node->detour_ns : 0;
        zb_cpuset_format(&g[i].cpus, node->sig[i].cpus, sizeof(node->sig[i].cpus));
    }
    free(g);
}

/* The CPUs are summarised by up to MAX_WORKERS threads (one per online CPU), each taking the
 * next CPU record in turn with its own length buffer: the signature search of a 128-CPU trace
 * is most of the analysis, and the records are independent. */
#define MAX_WORKERS 8

struct work {
    const struct zn_trace *t;
    struct zn_summary *sum;
    uint64_t max_stored;
    atomic_uint next;
    atomic_int failed; /* out of memory in one of them */
};

static void *summarise_some(void *arg)
{
    struct work *w = arg;
    uint64_t *lens = malloc((w->max_stored ? w->max_stored : 1) * sizeof(uint64_t));
    if (!lens) {
        atomic_store(&w->failed, 1);
        return NULL;
    }
    for (unsigned i; (i = atomic_fetch_add(&w->next, 1)) < w->t->ncpu;) {
        summarise_cpu(&w->t->cpu[i], &w->sum->cpu[i], lens);
        if (cause_table(w->t, i, i + 1, lens, &w->sum->cpu[i]))
            atomic_store(&w->failed, 1);
    }
    free(lens);
    return NULL;
}

/* Summarises every CPU record into sum->cpu; -ENOMEM when memory ran out. */
static int summarise_all(const struct zn_trace *t, struct zn_summary *sum, uint64_t max_stored)
{
    struct work w = {.t = t, .sum = sum, .max_stored = max_stored};
    atomic_init(&w.next, 0);
    atomic_init(&w.failed, 0);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = online > 1 ? (unsigned)online : 1;
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    if (n > t->ncpu)
        n = t->ncpu;
    pthread_t th[MAX_WORKERS];
    unsigned started = 0;
    for (unsigned k = 1; k < n; k++) /* the caller is one of them */
        if (pthread_create(&th[started], NULL, summarise_some, &w) == 0)
            started++;
    summarise_some(&w);
    for (unsigned k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    return atomic_load(&w.failed) ? -ENOMEM : 0;
}

int zn_analyse(const struct zn_trace *t, struct zn_summary **out, struct zepto_err *err)
{
    *out = NULL;
    struct zn_summary *sum = calloc(1, sizeof(*sum));
    uint64_t total_stored = 0, max_stored = 0;
    for (uint32_t i = 0; i < t->ncpu; i++) {
        total_stored += t->cpu[i].stored;
        if (t->cpu[i].stored > max_stored)
            max_stored = t->cpu[i].stored;
    }
    uint64_t *lens = malloc((total_stored ? total_stored : 1) * sizeof(uint64_t));
    if (sum)
        sum->cpu = calloc(t->ncpu ? t->ncpu : 1, sizeof(*sum->cpu));
    if (!sum || !sum->cpu || !lens) {
        free(lens);
        zn_summary_free(sum);
        return zepto_fail(err, ENOMEM, "out of memory analysing %u CPUs", t->ncpu);
    }
    sum->trace = t;
    sum->ncpu = t->ncpu;

    struct zn_cpu_summary *node = &sum->node;
    node->cpu = UINT32_MAX;
    node->min_ns = UINT64_MAX;
    node->truncated_at_ns = UINT64_MAX;
    uint64_t at = 0;
    if (summarise_all(t, sum, max_stored)) {
        free(lens);
        zn_summary_free(sum);
        return zepto_fail(err, ENOMEM, "out of memory analysing %u CPUs", t->ncpu);
    }
    for (uint32_t i = 0; i < t->ncpu; i++) {
        const struct zn_cpu_summary *s = &sum->cpu[i];
        node->measured_ns += s->measured_ns;
        node->detours += s->detours;
        node->detour_ns += s->detour_ns;
        node->rate_per_s += s->rate_per_s;
        node->stored += s->stored;
        if (s->detours && s->min_ns < node->min_ns)
            node->min_ns = s->min_ns;
        if (s->max_ns > node->max_ns)
            node->max_ns = s->max_ns;
        if (s->loop_min_ps > node->loop_min_ps)
            node->loop_min_ps = s->loop_min_ps;
        if (s->loop_tail_ps > node->loop_tail_ps)
            node->loop_tail_ps = s->loop_tail_ps;
        if (s->loop_mean_ps > node->loop_mean_ps)
            node->loop_mean_ps = s->loop_mean_ps;
        if (s->truncated) {
            node->truncated = true;
            if (s->truncated_at_ns < node->truncated_at_ns)
                node->truncated_at_ns = s->truncated_at_ns;
        }
        for (unsigned b = 0; b < ZN_HIST_BINS; b++) {
            node->hist.lo_ns[b] = s->hist.lo_ns[b];
            node->hist.count[b] += s->hist.count[b];
            node->hist.total_ns[b] += s->hist.total_ns[b];
        }
    }
    if (!node->detours)
        node->min_ns = 0;
    if (!node->truncated)
        node->truncated_at_ns = 0;
    node->noise_fraction =
        node->measured_ns ? (double)node->detour_ns / (double)node->measured_ns : 0;
    if (!t->ncpu)
        zn_hist_build(NULL, 0, &node->hist);

    for (uint32_t i = 0; i < t->ncpu; i++)
        for (uint64_t k = 0; k < t->cpu[i].stored; k++)
            lens[at++] = t->cpu[i].d[k].duration_ns;
    fill_quantiles(node, lens, at);
    merge_signatures(sum);
    int crc = cause_table(t, 0, t->ncpu, lens, node);
    free(lens);
    if (crc) {
        zn_summary_free(sum);
        return zepto_fail(err, ENOMEM, "out of memory analysing the causes");
    }
    *out = sum;
    return 0;
}

void zn_summary_free(struct zn_summary *s)
{
    if (!s)
        return;
    for (unsigned i = 0; s->cpu && i < s->ncpu; i++)
        free(s->cpu[i].cause);
    free(s->node.cause);
    free(s->cpu);
    free(s);
}
