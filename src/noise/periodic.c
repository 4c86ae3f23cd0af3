/*
 * Periodic signatures: which detours recur with a fixed period, and how much of the noise they
 * explain (a timer tick, a daemon waking once a second), also when several sources share a CPU.
 *
 * 1. Candidates. For every detour, the lags to its next few successors go into a log-scale lag
 *    histogram (200 bins per decade, ~1.2 % wide), the k-th successor with weight 1/k so that a
 *    train of period P peaks at P rather than equally at 2P, 3P... One histogram covers all
 *    detours, and one per length class (factors of 4) pairs only detours of similar length, so
 *    that a rare 300 us source is not drowned by a dense 2 us one. The highest local maxima of
 *    each histogram are the candidates, each judged on the detours of its class and the classes
 *    next to it (or, where the next shorter class is denser, on its class and the two above).
 * 2. Chains. For a candidate period P, chains are followed through the detours: from a detour at
 *    t, the unused detour within a tolerance of t + P that is nearest and most alike in length
 *    continues the chain (up to two missing cycles are bridged), and the running period estimate
 *    follows the chain so that an inexact candidate converges. Chains of at least three detours
 *    are kept.
 * 3. One phase. Chains that overlap in time belong to different phases, which means either a
 *    multiple of the true period (at 4P, four interleaved chains cover a train of period P) or
 *    several sources. Only a set of chains that do not overlap is kept, the longest first, so
 *    that a multiple of the period finds only its share of the detours.
 * 4. Choice. A candidate is a signature when its chains span at least a quarter of the recording
 *    (a steady source, not a burst), found a detour in at least half of the cycles they span
 *    (regularity), hold clearly more detours than chains through detours at random times would,
 *    or else are clearly more regular than those, and, without its own detours, chains at two
 *    unrelated periods are clearly less regular or find a quarter of its detours (chains that
 *    drift to another period there follow another source and are no evidence). The candidate
 *    with the most detours x regularity wins (its fractions P/2 ... P/8 are tried too, as the
 *    histograms may have missed the fundamental), and the search starts again for the next.
 * 5. Overlap. Of the winner's detours, those clearly longer than its own length are its detour
 *    merged with another source's that fell on it (an injected detour on a tick): it takes its
 *    own length of them and the residual stays, at the same start, for the next signatures.
 *    Residuals sit on the winner's lattice, so at a multiple of its period the chance that a
 *    target catches one is the share of its cycles that left one, not their rate.
 *
 * The period reported is the least-squares fit of detour time against cycle number over the
 * chains kept. Cost: O(N log N) per candidate; most candidates are refused from chains started
 * at every 16th detour, or without any chains where random detours are too dense to tell.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/noise.h"

#define MIN_PERIOD_NS   20000.0 /* shorter periods are not looked for */
#define BINS_PER_DECADE 200
#define SUCCESSORS      16 /* lags per detour that go into a histogram */
#define NCLASS          12 /* length classes: [100 ns * 4^k, 100 ns * 4^(k+1)) */
#define PEAKS_PER_HIST  4  /* candidates taken from each histogram */
#define MAX_MISSES      2  /* missing cycles a chain may bridge */
#define MIN_CHAIN       3  /* detours in a chain that is kept */
#define MIN_DETOURS     5  /* detours in a signature */
#define MIN_REGULARITY  0.5
#define OVER_RANDOM     0.25 /* regularity above what random detours give */
#define CHANCE_FACTOR   4.0  /* members beyond what random chains hold that need no OVER_RANDOM */
#define CONTRAST        0.2  /* regularity above that at unrelated periods */
#define MAX_DIVISOR     8    /* P/2 .. P/8 are tried for the best candidate */
#define MIN_COVERAGE    0.25 /* a signature recurs through at least this share of the recording */
#define LENGTH_SPREAD   4    /* members within this factor of the typical length */
#define SCREEN          16   /* a first look starts chains from every 16th detour only */

struct chain {
    uint64_t off, len; /* members[off .. off+len) */
    uint64_t hits;     /* steps that found a detour (len - 1) */
    uint64_t cycles;   /* steps in all, found or bridged */
    double t0, t1;     /* first and last detour */
    double sxy, sxx;   /* centred least-squares sums of time against cycle number */
};

struct result {
    double period_ns;
    double covered_ns; /* time spanned by the kept chains */
    uint64_t members;
    uint64_t hits;
    uint64_t cycles;
    double score;
};

struct found {
    double period_ns; /* of a signature already chosen */
    uint64_t members; /* detours it took */
};

struct finder {
    const struct zn_detour *d;
    uint64_t n;
    uint64_t span;
    uint64_t *len;           /* working lengths: a residual keeps only what its signature left */
    uint8_t *cls_of;         /* length class of len[i] */
    float *loglen;           /* log(len[i]) */
    int8_t *owner;           /* residual of signature owner, or -1 */
    uint64_t in_cls[NCLASS]; /* alive detours per length class, this round */
    uint64_t res_alive[ZN_MAX_SIGNATURES]; /* alive residuals per owner, this round */
    struct found found[ZN_MAX_SIGNATURES];
    unsigned nfound;
    bool *alive;       /* not yet explained by a signature */
    bool *used;        /* scratch: taken by a chain of the current candidate */
    uint64_t *members; /* scratch: members of all chains, chain after chain */
    uint64_t *cyc;     /* scratch: cycle number of each member of the current chain */
    struct chain *chains;
    uint64_t nchains;
    uint64_t *order; /* scratch: chain indexes by length */
    uint64_t *kept;  /* scratch: indexes of kept chains, by start time */
    uint64_t nkept;
    uint64_t *sel; /* members of the kept chains of the current candidate */
    uint64_t nsel;
    uint64_t *best; /* members of the best candidate so far */
    uint64_t nbest;
};

static unsigned length_class(uint64_t len)
{
    unsigned c = 0;
    for (uint64_t edge = 400; len >= edge && c + 1 < NCLASS; edge *= 4)
        c++;
    return c;
}

static double tolerance(double period)
{
    double tol = period * 0.02;
    if (tol < 500)
        tol = 500;
    if (tol > period * 0.1)
        tol = period * 0.1;
    return tol;
}

static bool eligible(const struct finder *f, uint64_t i, int cls)
{
    return f->alive[i] && !f->used[i] && (cls < 0 || abs((int)f->cls_of[i] - cls) <= 1);
}

/* First index at or after `from` with start >= t, when every detour before `from` starts before
 * t: a galloping search, as the next target is usually a few detours ahead of the last one. */
static uint64_t lower_bound(const struct finder *f, uint64_t from, double t)
{
    uint64_t lo = from, step = 1, hi = from;
    while (hi < f->n && (double)f->d[hi].start_ns < t) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > f->n)
        hi = f->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((double)f->d[mid].start_ns < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The eligible detour within tol of t that fits best, or UINT64_MAX: the cost is the distance
 * in units of tol plus how far its length is from `like` (natural log of the ratio), so that
 * a chain through 300 us detours does not take a 40 us tick that happens to be closer. */
static uint64_t nearest(const struct finder *f, uint64_t from, double t, double tol, int cls,
                        float like)
{
    uint64_t best = UINT64_MAX;
    double best_cost = INFINITY;
    for (uint64_t i = lower_bound(f, from, t - tol);
         i < f->n && (double)f->d[i].start_ns <= t + tol; i++) {
        if (!eligible(f, i, cls))
            continue;
        double cost = fabs((double)f->d[i].start_ns - t) / tol + fabsf(f->loglen[i] - like);
        if (cost < best_cost) {
            best = i;
            best_cost = cost;
        }
    }
    return best;
}

/* Follows one chain from detour i; returns its length (members appended at f->members + off). */
static uint64_t follow(struct finder *f, uint64_t i, double P, double tol, int cls, struct chain *c)
{
    uint64_t *m = f->members + c->off;
    uint64_t len = 0, misses = 0, cycle = 0;
    m[len] = i;
    f->cyc[len++] = 0;
    f->used[i] = true;
    double first = (double)f->d[i].start_ns, last = first, per = P;
    for (;;) {
        double target = last + per * (double)(misses + 1);
        uint64_t j = nearest(f, m[len - 1], target, tol, cls, f->loglen[m[len - 1]]);
        if (j == UINT64_MAX) {
            if (++misses > MAX_MISSES || target > (double)f->span)
                break;
            continue;
        }
        cycle += misses + 1;
        misses = 0;
        f->used[j] = true;
        m[len] = j;
        f->cyc[len++] = cycle;
        last = (double)f->d[j].start_ns;
        per = (last - first) / (double)cycle;
    }
    c->len = len;
    c->hits = len - 1;
    c->cycles = cycle;
    c->t0 = first;
    c->t1 = last;
    double mx = 0, my = 0;
    for (uint64_t k = 0; k < len; k++) {
        mx += (double)f->cyc[k];
        my += (double)f->d[m[k]].start_ns;
    }
    mx /= (double)len;
    my /= (double)len;
    c->sxy = c->sxx = 0;
    for (uint64_t k = 0; k < len; k++) {
        double x = (double)f->cyc[k] - mx;
        c->sxy += x * ((double)f->d[m[k]].start_ns - my);
        c->sxx += x * x;
    }
    return len;
}

static int by_length_desc(const void *a, const void *b, void *arg)
{
    const struct chain *ch = arg;
    uint64_t x = ch[*(const uint64_t *)a].len, y = ch[*(const uint64_t *)b].len;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Whether chain c overlaps (within tol) one of the kept chains; kept is sorted by start. */
static bool overlaps(const struct finder *f, const struct chain *c, double tol, uint64_t *pos)
{
    uint64_t lo = 0, hi = f->nkept;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (f->chains[f->kept[mid]].t0 < c->t0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    if (lo > 0 && f->chains[f->kept[lo - 1]].t1 + tol >= c->t0)
        return true;
    if (lo < f->nkept && c->t1 + tol >= f->chains[f->kept[lo]].t0)
        return true;
    return false;
}

/* All chains of period ~P; keeps one phase (chains that do not overlap, longest first). */
static void evaluate_every(struct finder *f, double P, int cls, unsigned stride, struct result *r)
{
    double tol = tolerance(P);
    memset(r, 0, sizeof(*r));
    memset(f->used, 0, f->n * sizeof(bool));
    f->nchains = 0;
    uint64_t used_members = 0, seen = 0;

    for (uint64_t i = 0; i < f->n; i++) {
        if (!eligible(f, i, cls) || seen++ % stride)
            continue;
        struct chain *c = &f->chains[f->nchains];
        c->off = used_members;
        uint64_t len = follow(f, i, P, tol, cls, c);
        if (len < MIN_CHAIN) {
            for (uint64_t k = 1; k < len; k++) /* give them back to later chains */
                f->used[f->members[c->off + k]] = false;
            continue;
        }
        used_members += len;
        f->nchains++;
    }

    for (uint64_t k = 0; k < f->nchains; k++)
        f->order[k] = k;
    qsort_r(f->order, f->nchains, sizeof(uint64_t), by_length_desc, f->chains);
    f->nkept = 0;
    f->nsel = 0;
    double sxy = 0, sxx = 0;
    for (uint64_t k = 0; k < f->nchains; k++) {
        const struct chain *c = &f->chains[f->order[k]];
        uint64_t pos;
        if (overlaps(f, c, tol, &pos))
            continue;
        memmove(f->kept + pos + 1, f->kept + pos, (f->nkept - pos) * sizeof(uint64_t));
        f->kept[pos] = f->order[k];
        f->nkept++;
        memcpy(f->sel + f->nsel, f->members + c->off, c->len * sizeof(uint64_t));
        f->nsel += c->len;
        r->hits += c->hits;
        r->cycles += c->cycles;
        r->covered_ns += c->t1 - c->t0 + P;
        sxy += c->sxy;
        sxx += c->sxx;
    }
    r->members = f->nsel;
    r->period_ns = sxx > 0 ? sxy / sxx : P;
}

static void evaluate(struct finder *f, double P, int cls, struct result *r)
{
    evaluate_every(f, P, cls, 1, r);
}

/* The regularity that chains through detours at random times would show, when each target
 * catches one with probability p and up to MAX_MISSES missing cycles are bridged. */
static double random_regularity(double p)
{
    if (p >= 1)
        return 1;
    double found = 0, cycles = 0, miss = 1;
    for (int k = 1; k <= MAX_MISSES + 1; k++) {
        found += miss * p;
        cycles += k * miss * p;
        miss *= 1 - p;
    }
    return cycles > 0 ? found / cycles : 0;
}

/* How many of n detours at random times chains of MIN_CHAIN or more would hold, when each target
 * catches one with probability p: a chain goes on while one of its next MAX_MISSES + 1 targets
 * catches a detour (probability h), so its length is geometric, and the detours of shorter
 * chains are given back. */
static double random_members(double p, uint64_t n)
{
    double h = 1 - pow(1 - (p < 1 ? p : 1), MAX_MISSES + 1), shorter = 0, hk = 1;
    for (int len = 1; len < MIN_CHAIN; len++, hk *= h)
        shorter += len * hk;
    return (1 - (1 - h) * (1 - h) * shorter) * (double)n;
}

static double regularity(const struct result *r)
{
    return r->cycles ? (double)r->hits / (double)r->cycles : 0;
}

/* Alive detours of length class cls (all for -1). */
static uint64_t eligible_count(const struct finder *f, int cls)
{
    uint64_t n = 0;
    for (int c = 0; c < NCLASS; c++)
        if (cls < 0 || abs(c - cls) <= 1)
            n += f->in_cls[c];
    return n;
}

/* The chance that a target of period P catches a detour that is not from a source of period P.
 * Detours at random times: 2 tol x their rate. Residuals (what is left of a signature's detours
 * that were longer than its own, see zn_find_signatures) sit on that signature's lattice: when P
 * is a multiple of its period, a target catches one of those not taken by P's own chains with
 * the share of the signature's cycles that left one. */
static double chance(const struct finder *f, const struct result *r, uint64_t eligible_n)
{
    double P = r->period_ns, p = 2 * tolerance(P) * (double)eligible_n / (double)f->span;
    for (unsigned s = 0; s < f->nfound; s++) {
        double k = round(P / f->found[s].period_ns);
        if (k < 1 || fabs(P - k * f->found[s].period_ns) > tolerance(P) || !f->found[s].members)
            continue;
        double other = (double)f->res_alive[s] - (double)r->members;
        double q = other > 0 ? other / (double)f->found[s].members : 0;
        if (q > p)
            p = q;
    }
    return p;
}

/* members x regularity when the chains are regular enough to be a signature, else 0. A result
 * from every stride-th start holds a source's chains whole but only 1/stride of the random
 * ones: its chance of random members is divided as much. */
static double judge_every(const struct finder *f, const struct result *r, int cls, unsigned stride)
{
    if (r->members < MIN_DETOURS || !r->cycles || r->covered_ns < MIN_COVERAGE * (double)f->span)
        return 0;
    uint64_t eligible_n = eligible_count(f, cls);
    double p = chance(f, r, eligible_n);
    double reg = regularity(r);
    if (reg < MIN_REGULARITY)
        return 0;
    /* Chains through random detours that exist at all are at least 1/2 regular (they end after
     * MAX_MISSES + 1 misses), so this margin alone would refuse every source that misses a
     * quarter of its cycles. It is needed only where random chains could hold the members. */
    if ((double)r->members < CHANCE_FACTOR * random_members(p, eligible_n) / stride &&
        reg < random_regularity(p) + OVER_RANDOM)
        return 0;
    return (double)r->members * reg;
}

static double judge(const struct finder *f, const struct result *r, int cls)
{
    return judge_every(f, r, cls, 1);
}

/* Candidate (P, cls) judged: first with chains from every SCREEN-th eligible detour only (a
 * source's chain runs through its train from whichever of its detours it starts, random ones
 * die within a few cycles), which refuses most candidates at a fraction of the cost; those
 * that pass are judged on all chains. Fills r with the full evaluation, or zeroes. */
static double score_of(struct finder *f, double P, int cls, struct result *r)
{
    /* Where a target catches a random detour so often that chains through random ones are as
     * regular as any source could be (and hold most detours), no chains can tell: judge()
     * refuses whatever they find, so they are not followed (through every detour, at a cost). */
    uint64_t eligible_n = eligible_count(f, cls);
    double p = 2 * tolerance(0.9 * P) * (double)eligible_n / (double)f->span;
    if (random_regularity(p) + OVER_RANDOM > 1 &&
        CHANCE_FACTOR * random_members(p, eligible_n) > (double)eligible_n) {
        memset(r, 0, sizeof(*r));
        return 0;
    }
    evaluate_every(f, P, cls, SCREEN, r);
    if (judge_every(f, r, cls, SCREEN) <= 0) {
        memset(r, 0, sizeof(*r));
        return 0;
    }
    evaluate(f, P, cls, r);
    return judge(f, r, cls);
}

/* The null test: chains at periods that are no simple ratio of P must be clearly less regular
 * or find far fewer detours, or the "period" only reflects how dense the detours are. */
static bool stands_out(struct finder *f, const struct result *best, int cls)
{
    static const double off[] = {0.77, 1.29};
    /* Without the candidate's own detours: other sources on the CPU make chains at any period
     * that links their lattices, which says nothing about this one. */
    for (uint64_t k = 0; k < f->nbest; k++)
        f->alive[f->best[k]] = false;
    bool out = true;
    for (unsigned i = 0; i < sizeof(off) / sizeof(off[0]) && out; i++) {
        struct result r;
        double P = best->period_ns * off[i];
        evaluate(f, P, cls, &r);
        /* Chains that drifted to another period followed another source: no evidence. */
        if (fabs(r.period_ns - P) > tolerance(P))
            continue;
        if (r.members >= MIN_DETOURS && 4 * r.members >= best->members &&
            regularity(&r) + CONTRAST > regularity(best))
            out = false;
    }
    for (uint64_t k = 0; k < f->nbest; k++)
        f->alive[f->best[k]] = true;
    return out;
}

/* log10(x) for x > 0, to ~1e-8: the exponent from the bits, then the series of
 * ln m = 2 atanh((m - 1) / (m + 1)) for the mantissa m in [0.707, 1.414). The lag histograms
 * take a logarithm per pair of detours, which libm made a tenth of the analysis. */
static double fast_log10(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double m;
    memcpy(&m, &bits, sizeof(m));
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1) / (m + 1), s2 = s * s;
    double ln = 2 * s * (1 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 / 9))));
    return (ln + e * 0.6931471805599453) * 0.4342944819032518;
}

/* log10 of the lags, to 1e-4 (a 50th of a bin): the exponent from the bits plus a table of
 * log10 of the top LOG_BITS of the mantissa. The lag histograms take one per pair of detours. */
#define LOG_BITS 12

struct lag_hist {
    double *h;
    unsigned nb;
    double lo;
    float tab[1u << LOG_BITS];
    double weight[SUCCESSORS + 1]; /* 1/k */
};

static void lag_hist_init(struct lag_hist *lh)
{
    for (unsigned j = 0; j < (1u << LOG_BITS); j++)
        lh->tab[j] = (float)log10(1 + (j + 0.5) / (1u << LOG_BITS));
    for (unsigned k = 1; k <= SUCCESSORS; k++)
        lh->weight[k] = 1.0 / k;
}

static void bin_lag(const struct lag_hist *lh, unsigned g, double lag, unsigned k)
{
    if (lag < MIN_PERIOD_NS)
        return;
    uint64_t bits;
    memcpy(&bits, &lag, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    double l =
        e * 0.30102999566398120 + lh->tab[(bits >> (52 - LOG_BITS)) & ((1u << LOG_BITS) - 1)];
    double b = (l - lh->lo) * BINS_PER_DECADE;
    if (b < lh->nb)
        lh->h[(size_t)g * lh->nb + (unsigned)b] += lh->weight[k];
}

/* Lag histograms over the alive detours; writes up to max candidates (period, class). */
static unsigned candidates(const struct finder *f, double *per, int *cls, unsigned max)
{
    double lo = log10(MIN_PERIOD_NS), hi = log10((double)f->span / 3);
    if (hi <= lo)
        return 0;
    unsigned nb = (unsigned)ceil((hi - lo) * BINS_PER_DECADE) + 1;
    double *h = calloc((size_t)(NCLASS + 1) * nb, sizeof(double));
    uint64_t *ring = calloc((size_t)NCLASS * SUCCESSORS, sizeof(uint64_t));
    uint64_t *count = calloc(NCLASS, sizeof(uint64_t));
    struct lag_hist *lh = malloc(sizeof(*lh));
    unsigned out = 0;
    if (!h || !ring || !count || !lh)
        goto done;
    lag_hist_init(lh);
    lh->h = h;
    lh->nb = nb;
    lh->lo = lo;

    /* Global: each detour with its next SUCCESSORS alive detours. Per class: with the previous
     * SUCCESSORS detours of its own class (a ring of indexes per class). */
    for (uint64_t i = 0; i < f->n; i++) {
        if (!f->alive[i])
            continue;
        double ti = (double)f->d[i].start_ns;
        unsigned k = 0;
        for (uint64_t j = i + 1; j < f->n && k < SUCCESSORS; j++)
            if (f->alive[j])
                bin_lag(lh, 0, (double)f->d[j].start_ns - ti, ++k);
        unsigned c = f->cls_of[i];
        uint64_t *r = ring + (size_t)c * SUCCESSORS;
        uint64_t seen = count[c] < SUCCESSORS ? count[c] : SUCCESSORS;
        for (uint64_t back = 1; back <= seen; back++) {
            uint64_t prev = r[(count[c] - back) % SUCCESSORS];
            bin_lag(lh, c + 1, ti - (double)f->d[prev].start_ns, (unsigned)back);
        }
        r[count[c] % SUCCESSORS] = i;
        count[c]++;
    }

    for (unsigned g = 0; g <= NCLASS && out < max; g++) {
        if (g > 0 && count[g - 1] < MIN_DETOURS)
            continue;
        const double *hg = h + (size_t)g * nb;
        /* Smoothed over three bins; the highest local maxima become candidates. */
        double ceiling = INFINITY;
        for (unsigned picked = 0; picked < PEAKS_PER_HIST && out < max; picked++) {
            double best = 0;
            unsigned best_b = 0;
            for (unsigned b = 1; b + 1 < nb; b++) {
                double s = hg[b - 1] + hg[b] + hg[b + 1];
                if (s < 2 || s >= ceiling || hg[b] < hg[b - 1] || hg[b] < hg[b + 1])
                    continue;
                if (s > best) {
                    best = s;
                    best_b = b;
                }
            }
            if (best <= 0)
                break;
            ceiling = best;
            /* Centre of mass of the three bins. */
            double b = best_b + (hg[best_b + 1] - hg[best_b - 1]) / best + 0.5;
            per[out] = pow(10, lo + b / BINS_PER_DECADE);
            cls[out] = g == 0 ? -1 : (int)g - 1;
            out++;
            /* Where the next shorter class holds more detours than this one (a source of 8 us
             * among many random ones of 1-4 us), the same period is also tried without it. */
            int c = (int)g - 1;
            if (c >= 1 && c + 1 < NCLASS && f->in_cls[c - 1] > f->in_cls[c] && out < max) {
                per[out] = per[out - 1];
                cls[out] = c + 1;
                out++;
            }
        }
    }
done:
    free(lh);
    free(h);
    free(ring);
    free(count);
    return out;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_time(const void *a, const void *b)
{
    const struct zn_signature *x = a, *y = b;
    return x->detour_ns < y->detour_ns ? 1 : x->detour_ns > y->detour_ns ? -1 : 0;
}

/* Evaluates candidate (P, cls) and keeps it in *best when it scores higher. */
static void consider(struct finder *f, double P, int cls, struct result *best, int *best_cls)
{
    if (P < MIN_PERIOD_NS)
        return;
    struct result r;
    r.score = score_of(f, P, cls, &r);
    if (r.score > best->score) {
        *best = r;
        *best_cls = cls;
        memcpy(f->best, f->sel, f->nsel * sizeof(uint64_t));
        f->nbest = f->nsel;
    }
}

/* Per round: alive detours per length class and alive residuals per owner. */
static void count_alive(struct finder *f)
{
    memset(f->in_cls, 0, sizeof(f->in_cls));
    memset(f->res_alive, 0, sizeof(f->res_alive));
    for (uint64_t i = 0; i < f->n; i++) {
        if (!f->alive[i])
            continue;
        f->in_cls[f->cls_of[i]]++;
        if (f->owner[i] >= 0)
            f->res_alive[f->owner[i]]++;
    }
}

static void set_length(struct finder *f, uint64_t i, uint64_t len)
{
    f->len[i] = len ? len : 1;
    f->cls_of[i] = (uint8_t)length_class(f->len[i]);
    f->loglen[i] = (float)(fast_log10((double)f->len[i]) * 2.302585092994046);
}

/* The chosen chains' detours become the signature s. Those far shorter than the typical one
 * only began with the source's: they stay for the next signatures. Those clearly longer than
 * the source's own length (its 10th percentile: more than half of a tick's detours can hold
 * another source's) by half of it or three times the spread of the short ones are the source's
 * detour merged with another source's that fell on it (a tick and an injected detour): the
 * signature takes its own length of them, and the rest, the residual, stays alive at the same
 * start for the next signatures. The length reported is the median of what it took. */
static void take(struct finder *f, struct zn_signature *s, uint64_t *lens, int id)
{
    uint64_t n = f->nbest;
    for (uint64_t k = 0; k < n; k++)
        lens[k] = f->len[f->best[k]];
    qsort(lens, n, sizeof(uint64_t), cmp_u64);
    uint64_t typical = lens[n / 2], own = lens[n / 10], spread = lens[n * 3 / 10] - own;
    uint64_t margin = own / 2 > 3 * spread ? own / 2 : 3 * spread;
    uint64_t taken = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t i = f->best[k], len = f->len[i];
        if (len * LENGTH_SPREAD < typical)
            continue;
        s->detours++;
        if (len > own + margin && id >= 0) {
            lens[taken++] = own;
            set_length(f, i, len - own);
            f->owner[i] = (int8_t)id;
        } else {
            lens[taken++] = len;
            f->alive[i] = false;
        }
        s->detour_ns += lens[taken - 1];
    }
    qsort(lens, taken, sizeof(uint64_t), cmp_u64);
    s->length_ns = taken ? lens[taken / 2] : typical;
}

unsigned zn_find_signatures(const struct zn_detour *d, uint64_t n, uint64_t span_ns,
                            struct zn_signature *out, unsigned max)
{
    enum { MAXCAND = (2 * NCLASS + 1) * PEAKS_PER_HIST };
    struct finder f = {.d = d, .n = n, .span = span_ns};
    unsigned nsig = 0;
    if (n < MIN_DETOURS || !span_ns || !max)
        return 0;
    f.alive = malloc(n * sizeof(bool));
    f.used = malloc(n * sizeof(bool));
    f.members = malloc(n * sizeof(uint64_t));
    f.cyc = malloc(n * sizeof(uint64_t));
    f.chains = malloc(n * sizeof(struct chain));
    f.order = malloc(n * sizeof(uint64_t));
    f.kept = malloc(n * sizeof(uint64_t));
    f.sel = malloc(n * sizeof(uint64_t));
    f.best = malloc(n * sizeof(uint64_t));
    f.len = malloc(n * sizeof(uint64_t));
    f.cls_of = malloc(n);
    f.loglen = malloc(n * sizeof(float));
    f.owner = malloc(n);
    uint64_t *lens = malloc(n * sizeof(uint64_t));
    if (!f.alive || !f.used || !f.members || !f.cyc || !f.chains || !f.order || !f.kept || !f.sel ||
        !f.best || !f.len || !f.cls_of || !f.loglen || !f.owner || !lens)
        goto done;
    memset(f.alive, 1, n * sizeof(bool));
    memset(f.owner, -1, n);
    uint64_t total_ns = 0;
    for (uint64_t i = 0; i < n; i++) {
        total_ns += d[i].duration_ns;
        set_length(&f, i, d[i].duration_ns);
    }

    while (nsig < max) {
        double per[MAXCAND], score[MAXCAND];
        int cls[MAXCAND];
        count_alive(&f);
        unsigned nc = candidates(&f, per, cls, MAXCAND);
        for (unsigned c = 0; c < nc; c++) {
            struct result r;
            score[c] = score_of(&f, per[c], cls[c], &r);
        }
        /* The best candidate that, with its fractions, passes the null test. */
        struct result best = {0};
        int best_cls = -1;
        for (;;) {
            unsigned top = nc;
            for (unsigned c = 0; c < nc; c++)
                if (score[c] > 0 && (top == nc || score[c] > score[top]))
                    top = c;
            if (top == nc)
                break;
            score[top] = 0;
            memset(&best, 0, sizeof(best));
            consider(&f, per[top], cls[top], &best, &best_cls);
            /* The histograms can favour a multiple of the period: try its fractions. */
            double P = best.period_ns;
            for (unsigned k = 2; k <= MAX_DIVISOR; k++)
                consider(&f, P / k, best_cls, &best, &best_cls);
            if (best.score > 0 && stands_out(&f, &best, best_cls))
                break;
            best.score = 0;
        }
        if (best.score <= 0)
            break;

        struct zn_signature *s = &out[nsig];
        memset(s, 0, sizeof(*s));
        s->period_ns = best.period_ns;
        s->regularity = regularity(&best);
        int id = f.nfound < ZN_MAX_SIGNATURES ? (int)f.nfound : -1;
        take(&f, s, lens, id);
        if (id >= 0)
            f.found[f.nfound++] = (struct found){best.period_ns, s->detours};
        s->noise_share = total_ns ? (double)s->detour_ns / (double)total_ns : 0;
        nsig++;
    }
    qsort(out, nsig, sizeof(*out), cmp_time);
done:
    free(f.alive);
    free(f.used);
    free(f.members);
    free(f.cyc);
    free(f.chains);
    free(f.order);
    free(f.kept);
    free(f.sel);
    free(f.best);
    free(f.len);
    free(f.cls_of);
    free(f.loglen);
    free(f.owner);
    free(lens);
    return nsig;
}
