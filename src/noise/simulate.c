/*
 * The effect of OS noise on collectives at scale, by simulation: N ranks (to 10^6 and beyond)
 * run a collective's message schedule again and again, each rank replaying a detour pattern.
 *
 * THE MODEL (LogGOP in spirit; everything below is what the code does)
 *
 * Time. Every rank has a local time t (double, ns), 0 at the start. Messages carry no size.
 * Sending costs the sender o of CPU time; the message then needs L to arrive; receiving costs the
 * receiver o of CPU time, started once the message has arrived and the receiver is free.
 *
 * CPU time and noise. CPU work w (o, or the compute W) started at t finishes at the first time u
 * by which w ns of CPU have passed outside detours: u = min{u >= t : |[t, u] \ detours| >= w}. A
 * detour that started before t but is still running delays the start; work of zero length is
 * done at t. Waiting for a message is not CPU time: a detour during a wait costs nothing unless
 * it is still running when the message arrives (then the receive starts when it ends).
 *
 * Detours. Rank r replays patterns[r % npatterns], looping forever. Phase sync: every rank is at
 * pattern position 0 at time 0. Phase random: rank r is at a position drawn uniformly from
 * [0, loop) (whole ns) from the seed, independently for every rank. A detour of the pattern that
 * began before the rank's position and is still running at time 0 counts. No patterns: no noise.
 * The detours of a pattern may overlap (a scaled trace); they then act as their union. A pattern
 * whose detours take the whole loop (zn_pattern_fraction >= 1) is refused: no work would end.
 *
 * An iteration. Every rank computes W, then runs the collective:
 *   recursive doubling (allreduce): N' = the largest power of two <= N. If N > N', ranks
 *     N'..N-1 first send to rank r - N' (which receives); then ranks 0..N'-1 do log2 N' rounds,
 *     in round k rank i exchanging with i XOR 2^k: each sends, s = busy(t, o), the message reaches
 *     the partner at s + L, and each then receives, t = busy(max(s, partner's s + L), o). Then,
 *     if N > N', ranks 0..N-N'-1 send the result back to r + N'.
 *   binomial (reduce to rank 0, broadcast from rank 0): m = ceil(log2 N); reduce rounds
 *     k = 0..m-1: rank i with i % 2^(k+1) == 0 receives from i + 2^k (if < N); broadcast rounds
 *     k = m-1..0: such a rank i sends to i + 2^k (if < N), a sender doing its sends one after
 *     another.
 *   dissemination (barrier): m = ceil(log2 N) rounds; in round k rank i sends to (i + 2^k) mod N
 *     and receives from (i - 2^k) mod N.
 *
 * Iterations. Back to back (window 0): rank r starts iteration k when it finished iteration
 * k - 1; the time of iteration k is F_k - F_{k-1}, F_k the latest finish over ranks in k and
 * F_{-1} = 0. With a window W > 0: iteration k starts on every rank at a common time s_k,
 * s_0 = 0, s_{k+1} = s_k + W x U(1, 1.5) (seeded), but a rank still busy from the previous
 * iteration starts when it is done; the time of iteration k is max over ranks of finish - s_k.
 * This is the barrier-free window method of `zepto noise collective`.
 *
 * THE CLOSED FORM (no noise; D = 2o + L)
 *
 * Without noise every step is t + w or max(t, arrival) + o, so a rank's finish is the longest
 * path to it through the message graph from the start times (max-plus). Let T1 be the latest
 * finish when all ranks start at 0, i.e. the longest path. Back to back, every rank starts
 * iteration k at its finish of k - 1 <= F_{k-1}, so F_k <= F_{k-1} + T1; and if a longest path
 * starts at a rank x that finished last in k - 1 and ends at a rank that again starts a longest
 * path, then F_k = F_{k-1} + T1 for every k. So each iteration takes T1 when each algorithm has
 * such a cycle of longest paths, shown below. In a window W >= T1 every rank is idle at s_k and
 * each iteration is T1 from a common start.
 *
 *   dissemination: W + m D. The schedule is the same from every rank (i -> i + 1 mod N maps it
 *     onto itself), so from equal start times every rank has the same time after each round, and
 *     a round from equal times takes max(t + o, t + o + L) + o - t = D. All ranks finish last
 *     together: the symmetry of start times carries to the next iteration.
 *   recursive doubling, N = 2^m: W + m D by the same argument (i -> i XOR c maps the schedule
 *     onto itself).
 *   recursive doubling, N' < N (m = log2 N', e = N - N', P = the bit length of e - 1):
 *       W + (m + 1) D + max(0, 2o - (m - P - 1) L),
 *     which is W + (m + 2) D (all m + 2 rounds at full price) when 2e > N' (then P = m). After
 *     the first step ranks c < e are at W + D, the rest of 0..N'-1 at W. An exchange turns
 *     (t_a, t_b) into max(t_a + 2o, t_b + D): a path that follows the partner's message in round
 *     k costs D and flips bit k, one that stays costs 2o, so after the rounds rank a is at
 *     W + 2om + max over c of (D [c < e] + L popcount(a XOR c)). The maximum over all a is
 *     W + (m + 1) D (c = 0, a = N' - 1). For i < e the maximum is W + 2om + max(D + P L, m L):
 *     P is the largest distance between two ranks below e (e - 1 and its complement in P bits),
 *     m L comes from c = N' - 1 - i >= e. The last step adds D for i + N'; the larger of the two
 *     gives the form. Cycle: when D + P L >= m L, extra ranks c + N' and i + N' (i, c < e at
 *     distance P) each start a longest path that ends at the other; else extra rank i + N'
 *     starts one ending at N' - 1 - i, which starts one ending at i + N'.
 *   binomial, N = 2^m: W + 2 m D. Reduce: a full subtree of 2^j ranks is reduced at W + j D (its
 *     root is done with the lower half at W + (j-1) D, when the upper half's message arrives at
 *     W + (j-1) D + o + L). Broadcast: a rank that receives in round k at R has k sends ahead and
 *     its j-th reaches its target done at R + j o + L + o; a path through rounds
 *     m > k_1 > .. > k_p costs (m - k_p) o + p (L + o) <= m D, equal for the chain of first
 *     sends 0 -> N/2 -> .. -> N - 1. Cycle: rank N - 1 starts the reduce chain
 *     N-1 -> N-2 -> N-4 -> .. -> 0 and ends the broadcast chain.
 *   binomial, 2^(m-1) < N < 2^m: W + 2 (m - 1) D + 2o = W + 2 m D - 2L. By induction on m: a
 *     binomial tree of fewer than 2^j ranks reduces and broadcasts within (j - 1) D + o each.
 *     Rank 0's lower half (a full 2^(m-1) tree) is reduced at W + (m-1) D; the upper part
 *     (< 2^(m-1) ranks) is reduced by W + (m-2) D + o, so its message has arrived when rank 0
 *     turns to it and costs only the receive: W + (m-1) D + o. Rank 0's first send serves the
 *     upper part (D + at most (m-2) D + o); its other m - 1 sends are a full broadcast of the
 *     lower half delayed by o: (m-1) D + o. Cycle: rank 2^(m-1) - 1 starts the lower half's
 *     reduce chain and ends the broadcast chain 0 -> 2^(m-2) -> .. -> 2^(m-1) - 1.
 *   N = 1: W for every algorithm (no rounds).
 *
 * COST. State is three flat arrays of N (time, next detour start, index into the pattern) and,
 * for dissemination, a fourth; nothing per rank on the heap. Almost every CPU step takes the
 * fast path, one compare (the next detour starts after the work ends). Recursive doubling does
 * its first BLOCK_LOG rounds block by block (2^BLOCK_LOG ranks, 256 KiB of state, stay in cache)
 * and only the higher rounds as sweeps over all ranks.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/rand.h"
#include "zepto/noise.h"

#define BLOCK_LOG       14                    /* recursive doubling: rounds done block by block */
#define MAX_RANKS       (1ull << 32)          /* the CLI's limit too */
#define WINDOW_SEED_MIX 0xa0761d6478bd642full /* the window's random stream, apart from phases */

static const char *const algo_names[] = {"recursive-doubling", "binomial", "dissemination"};

int zn_sim_algo_parse(const char *s, enum zn_sim_algo *algo, struct zepto_err *err)
{
    for (unsigned i = 0; i < sizeof(algo_names) / sizeof(algo_names[0]); i++) {
        if (s && !strcmp(s, algo_names[i])) {
            *algo = (enum zn_sim_algo)i;
            return 0;
        }
    }
    return zepto_fail(err, EINVAL, "'%s': use recursive-doubling, binomial or dissemination",
                      s ? s : "");
}

const char *zn_sim_algo_name(enum zn_sim_algo algo)
{
    return (unsigned)algo < sizeof(algo_names) / sizeof(algo_names[0]) ? algo_names[algo]
                                                                       : "unknown";
}

/* floor(log2 n) for n >= 1. */
static unsigned floor_log2(uint64_t n)
{
    unsigned m = 0;
    while (n >>= 1)
        m++;
    return m;
}

/* ceil(log2 n) for n >= 1. */
static unsigned ceil_log2(uint64_t n)
{
    unsigned m = floor_log2(n);
    return (1ull << m) < n ? m + 1 : m;
}

/* Message rounds per iteration (the pre- and post-steps of recursive doubling count). */
static uint64_t rounds_of(enum zn_sim_algo algo, uint64_t n)
{
    switch (algo) {
    case ZN_ALGO_RECURSIVE_DOUBLING: {
        unsigned m = floor_log2(n);
        return m + ((1ull << m) < n ? 2 : 0);
    }
    case ZN_ALGO_BINOMIAL: return 2ull * ceil_log2(n);
    case ZN_ALGO_DISSEMINATION: return ceil_log2(n);
    }
    return 0;
}

double zn_sim_closed_form_ns(const struct zn_sim_opts *o)
{
    if (!o->ranks || (unsigned)o->algo > ZN_ALGO_DISSEMINATION)
        return NAN;
    double L = o->latency_ns, ov = o->overhead_ns, W = o->compute_ns, D = 2 * ov + L;
    uint64_t n = o->ranks;
    switch (o->algo) {
    case ZN_ALGO_RECURSIVE_DOUBLING: {
        unsigned m = floor_log2(n);
        uint64_t e = n - (1ull << m);
        if (!e)
            return W + m * D;
        unsigned p = e > 1 ? floor_log2(e - 1) + 1 : 0; /* bit length of e - 1 */
        double extra = 2 * ov - ((double)m - p - 1) * L;
        return W + (m + 1) * D + (extra > 0 ? extra : 0);
    }
    case ZN_ALGO_BINOMIAL: {
        unsigned m = ceil_log2(n);
        if ((1ull << m) == n)
            return W + 2.0 * m * D;
        return W + 2.0 * (m - 1) * D + 2 * ov;
    }
    case ZN_ALGO_DISSEMINATION: return W + ceil_log2(n) * D;
    }
    return NAN;
}

/* ---- the ranks' state and their CPU --------------------------------------------------------- */

struct sim {
    uint64_t n;
    double *t;     /* local time of each rank */
    double *nd;    /* start of the rank's next detour not yet behind it; INFINITY: no noise */
    uint32_t *idx; /* that detour's index in the rank's pattern */
    double *s;     /* dissemination: the send times of the round */
    const struct zn_pattern *pat;
    unsigned npat;
    uint64_t **pmaxend; /* per pattern: the latest detour end among detours 0..j */
    double o, L, W;
};

static inline double max2(double a, double b)
{
    return a > b ? a : b;
}

/* A rank that waited long (in a collective, behind a slow partner) has many detours behind it
 * that all ended by t: instead of walking them one by one (ranks x detour rate x simulated time:
 * minutes for a noisy trace at 10^6 ranks), jump to the first detour that ends after t, found by
 * binary search on the pattern's running maximum of detour ends (pmaxend). The detours skipped
 * are exactly those the walk would skip (ended by t), so results do not change. */
static uint64_t first_end_after(const uint64_t *pmaxend, uint64_t n, double x)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((double)pmaxend[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static double skip_behind(const struct zn_pattern *p, const uint64_t *pmaxend, uint32_t *ip,
                          double nd, double t)
{
    uint32_t i = *ip;
    double loop = (double)p->loop_ns;
    /* Only when well behind: a few detours are cheaper to walk than to search. */
    if (t - nd <= 16.0 * loop / (double)p->n)
        return nd;
    double base = nd - (double)p->start_ns[i]; /* where the current copy of the loop starts */
    double x = t - base;
    double copies = floor(x / loop);
    base += copies * loop;
    x -= copies * loop; /* t's position in the copy that holds it */
    uint64_t j;
    if (copies >= 1 && (double)pmaxend[p->n - 1] > x + loop) {
        j = first_end_after(pmaxend, p->n, x + loop); /* one of the copy before runs past t */
        base -= loop;
    } else {
        j = first_end_after(pmaxend, p->n, x);
        if (j == p->n) {
            j = 0;
            base += loop;
        }
    }
    double to = base + (double)p->start_ns[j];
    if (to <= nd) /* never backwards */
        return nd;
    *ip = (uint32_t)j;
    return to;
}

/* The slow path of busy(): some detour starts before the work would end. Walks the rank's
 * detours in start order: one that ended by t is behind the rank (it fell in a wait, or in work
 * already done) and is skipped; one that is running at t moves t to its end; one that starts
 * inside the work ends the first part of it there and the rest resumes at its end. */
static double busy_slow(const struct sim *s, uint64_t r, double *ndp, double t, double w)
{
    if (w <= 0)
        return t;
    unsigned k = s->npat == 1 ? 0 : (unsigned)(r % s->npat);
    const struct zn_pattern *p = &s->pat[k];
    uint32_t i = s->idx[r];
    double nd = *ndp, end = t + w;
    nd = skip_behind(p, s->pmaxend[k], &i, nd, t);
    while (nd < end) {
        double dend = nd + (double)p->len_ns[i];
        if (dend > t) {
            if (nd > t)
                w -= nd - t;
            t = dend;
            end = t + w;
        }
        /* Next detour; the pattern's positions are whole ns, so nd stays exact. */
        if (i + 1 < p->n) {
            nd += (double)(p->start_ns[i + 1] - p->start_ns[i]);
            i++;
        } else {
            nd += (double)(p->loop_ns - p->start_ns[i] + p->start_ns[0]);
            i = 0;
        }
    }
    *ndp = nd;
    s->nd[r] = nd;
    s->idx[r] = i;
    return end;
}

/* When CPU work w started at t on rank r ends; *nd is the rank's next detour (kept in a register
 * by the callers, written back by the slow path). */
static inline double busy(const struct sim *s, uint64_t r, double *nd, double t, double w)
{
    double end = t + w;
    return *nd >= end ? end : busy_slow(s, r, nd, t, w);
}

/* One message from rank `from` to rank `to`, the receiver taking it when it is free. */
static inline void send_recv(struct sim *s, uint64_t from, uint64_t to)
{
    double ndf = s->nd[from], ndt = s->nd[to];
    double sent = busy(s, from, &ndf, s->t[from], s->o);
    s->t[from] = sent;
    s->t[to] = busy(s, to, &ndt, max2(s->t[to], sent + s->L), s->o);
}

/* Recursive doubling's exchange of a and b: both times are read before either is written. */
static inline void exchange(struct sim *s, uint64_t a, uint64_t b)
{
    double *t = s->t;
    double nda = s->nd[a], ndb = s->nd[b];
    double sa = busy(s, a, &nda, t[a], s->o);
    double sb = busy(s, b, &ndb, t[b], s->o);
    t[a] = busy(s, a, &nda, max2(sa, sb + s->L), s->o);
    t[b] = busy(s, b, &ndb, max2(sb, sa + s->L), s->o);
}

/* Rank r begins an iteration: not before `at` (the window's start), then computes W. */
static inline void begin(struct sim *s, uint64_t r, double at)
{
    double t = max2(s->t[r], at);
    if (s->W > 0) {
        double nd = s->nd[r];
        t = busy(s, r, &nd, t, s->W);
    }
    s->t[r] = t;
}

static double latest(const struct sim *s)
{
    double f = 0;
    for (uint64_t r = 0; r < s->n; r++)
        f = max2(f, s->t[r]);
    return f;
}

/* ---- the algorithms: one iteration each, returning the latest finish ------------------------ */

/* Rounds [k0, k1) of the exchanges among ranks [lo, hi) (hi - lo a multiple of 2^k1). */
static void rd_rounds(struct sim *s, uint64_t lo, uint64_t hi, unsigned k0, unsigned k1)
{
    for (unsigned k = k0; k < k1; k++) {
        uint64_t bit = 1ull << k;
        for (uint64_t a = lo; a < hi; a += 2 * bit)
            for (uint64_t j = a; j < a + bit; j++)
                exchange(s, j, j + bit);
    }
}

static double rd_iteration(struct sim *s, double at)
{
    unsigned m = floor_log2(s->n);
    uint64_t np = 1ull << m, e = s->n - np;
    unsigned kb = m < BLOCK_LOG ? m : BLOCK_LOG;
    uint64_t block = 1ull << kb;

    /* Begin, the extra ranks' sends, and the low rounds, one cache-sized block at a time: the
     * low rounds pair ranks inside a block only. */
    for (uint64_t lo = 0; lo < np; lo += block) {
        for (uint64_t r = lo; r < lo + block; r++)
            begin(s, r, at);
        for (uint64_t r = lo; r < lo + block && r < e; r++) {
            begin(s, np + r, at);
            send_recv(s, np + r, r);
        }
        rd_rounds(s, lo, lo + block, 0, kb);
    }
    rd_rounds(s, 0, np, kb, m);
    for (uint64_t r = 0; r < e; r++)
        send_recv(s, r, np + r);
    return latest(s);
}

static double binomial_iteration(struct sim *s, double at)
{
    uint64_t n = s->n;
    unsigned m = ceil_log2(n);
    for (uint64_t r = 0; r < n; r++)
        begin(s, r, at);
    for (unsigned k = 0; k < m; k++) {
        uint64_t step = 1ull << k;
        for (uint64_t i = 0; i + step < n; i += 2 * step)
            send_recv(s, i + step, i);
    }
    for (unsigned k = m; k-- > 0;) {
        uint64_t step = 1ull << k;
        for (uint64_t i = 0; i + step < n; i += 2 * step)
            send_recv(s, i, i + step);
    }
    return latest(s);
}

static double dissemination_iteration(struct sim *s, double at)
{
    uint64_t n = s->n;
    unsigned m = ceil_log2(n);
    double *t = s->t, *snd = s->s;
    for (uint64_t r = 0; r < n; r++)
        begin(s, r, at);
    for (unsigned k = 0; k < m; k++) {
        uint64_t d = 1ull << k;
        /* The ranks whose messages wrap around send first, so that ranks 0..d-1 find them; every
         * rank still sends before it receives. */
        for (uint64_t j = n - d; j < n; j++) {
            double nd = s->nd[j];
            snd[j] = busy(s, j, &nd, t[j], s->o);
        }
        for (uint64_t i = 0; i < n; i++) {
            double nd = s->nd[i];
            if (i < n - d)
                snd[i] = busy(s, i, &nd, t[i], s->o);
            uint64_t src = i >= d ? i - d : i + n - d;
            t[i] = busy(s, i, &nd, max2(snd[i], snd[src] + s->L), s->o);
        }
    }
    return latest(s);
}

/* ---- set-up, checks and the driver ---------------------------------------------------------- */

/* Places rank r's cursor: time 0 is pattern position pos; the first detour kept is the first
 * that could still be running at time 0, i.e. that starts at or after pos - (longest detour). */
static void place(struct sim *s, uint64_t r, const struct zn_pattern *p, uint64_t pos,
                  uint64_t maxlen)
{
    if (!p->n) {
        s->nd[r] = INFINITY;
        s->idx[r] = 0;
        return;
    }
    /* maxlen < loop (the pattern's fraction is below 1), so this is at most one loop back. */
    int64_t copy = 0; /* which copy of the loop, relative to the one that holds pos */
    uint64_t from;
    if (pos >= maxlen) {
        from = pos - maxlen;
    } else {
        from = pos + p->loop_ns - maxlen;
        copy = -1;
    }
    uint64_t lo = 0, hi = p->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (p->start_ns[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->n) {
        lo = 0;
        copy++;
    }
    s->idx[r] = (uint32_t)lo;
    s->nd[r] = (double)p->start_ns[lo] + (double)copy * (double)p->loop_ns - (double)pos;
}

static int check_opts(const struct zn_sim_opts *o, struct zepto_err *err)
{
    if (o->ranks < 1 || o->ranks > MAX_RANKS)
        return zepto_fail(err, EINVAL, "ranks %llu: must be between 1 and %llu",
                          (unsigned long long)o->ranks, (unsigned long long)MAX_RANKS);
    if (o->iters < 1)
        return zepto_fail(err, EINVAL, "iterations 0: must be at least 1");
    if ((unsigned)o->algo > ZN_ALGO_DISSEMINATION)
        return zepto_fail(err, EINVAL, "algorithm %d: unknown", (int)o->algo);
    if (o->phase != ZN_PHASE_SYNC && o->phase != ZN_PHASE_RANDOM)
        return zepto_fail(err, EINVAL, "phase %d: unknown", (int)o->phase);
    const struct {
        const char *name;
        double v;
    } times[] = {{"latency", o->latency_ns},
                 {"overhead", o->overhead_ns},
                 {"compute", o->compute_ns},
                 {"window", o->window_ns}};
    for (unsigned i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        if (!(times[i].v >= 0) || !isfinite(times[i].v))
            return zepto_fail(err, EINVAL, "%s %g ns: must be a finite time >= 0", times[i].name,
                              times[i].v);
    if (o->window_ns > 0 && o->window_ns < zn_sim_closed_form_ns(o))
        return zepto_fail(err, EINVAL,
                          "window %g ns: shorter than one iteration without noise (%g ns)",
                          o->window_ns, zn_sim_closed_form_ns(o));
    if (o->npatterns && !o->patterns)
        return zepto_fail(err, EINVAL, "%u patterns announced but none given", o->npatterns);
    for (unsigned k = 0; k < o->npatterns; k++) {
        const struct zn_pattern *p = &o->patterns[k];
        if (!p->loop_ns)
            return zepto_fail(err, EINVAL, "pattern %u: a loop of 0 ns", k);
        if (p->n >= UINT32_MAX)
            return zepto_fail(err, EINVAL,
                              "pattern %u: %llu detours, more than the simulator "
                              "holds",
                              k, (unsigned long long)p->n);
        for (uint64_t i = 0; i < p->n; i++)
            if (p->start_ns[i] >= p->loop_ns || (i && p->start_ns[i] < p->start_ns[i - 1]))
                return zepto_fail(err, EINVAL,
                                  "pattern %u: detour %llu starts out of order or past the loop", k,
                                  (unsigned long long)i);
        double f = zn_pattern_fraction(p);
        if (f >= 1)
            return zepto_fail(err, EINVAL,
                              "pattern %u: detours take %.0f %% of the time; nothing would run", k,
                              100 * f);
    }
    return 0;
}

static void sim_free(struct sim *s)
{
    free(s->t);
    free(s->nd);
    free(s->idx);
    free(s->s);
    if (s->pmaxend)
        for (unsigned k = 0; k < s->npat; k++)
            free(s->pmaxend[k]);
    free(s->pmaxend);
}

static int sim_init(struct sim *s, const struct zn_sim_opts *o, struct zepto_err *err)
{
    memset(s, 0, sizeof(*s));
    s->n = o->ranks;
    s->pat = o->patterns;
    s->npat = o->npatterns;
    s->o = o->overhead_ns;
    s->L = o->latency_ns;
    s->W = o->compute_ns;

    bool second = o->algo == ZN_ALGO_DISSEMINATION;
    double bytes =
        (double)s->n * (2 * sizeof(double) + sizeof(uint32_t) + (second ? sizeof(double) : 0));
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    /* Refused up front: overcommit would grant it and the OOM killer would end the process. */
    if (pages > 0 && page > 0 && bytes > (double)pages * (double)page)
        return zepto_fail(
            err, ENOMEM, "%llu ranks need %.1f GiB, more than this machine's %.1f GiB",
            (unsigned long long)s->n, bytes / (1 << 30), (double)pages * (double)page / (1 << 30));
    s->t = calloc(s->n, sizeof(double));
    s->nd = malloc(s->n * sizeof(double));
    s->idx = malloc(s->n * sizeof(uint32_t));
    s->s = second ? malloc(s->n * sizeof(double)) : NULL;
    if (!s->t || !s->nd || !s->idx || (second && !s->s)) {
        sim_free(s);
        return zepto_fail(err, ENOMEM, "out of memory for %llu ranks", (unsigned long long)s->n);
    }

    if (!s->npat) {
        for (uint64_t r = 0; r < s->n; r++) {
            s->nd[r] = INFINITY;
            s->idx[r] = 0;
        }
        return 0;
    }
    uint64_t *maxlen = malloc(s->npat * sizeof(uint64_t)); /* each pattern's longest detour */
    s->pmaxend = calloc(s->npat, sizeof(uint64_t *));
    bool ok = maxlen && s->pmaxend;
    for (unsigned k = 0; ok && k < s->npat; k++) {
        uint64_t n = s->pat[k].n;
        s->pmaxend[k] = malloc((n ? n : 1) * sizeof(uint64_t));
        ok = s->pmaxend[k] != NULL;
        for (uint64_t i = 0, m = 0; ok && i < n; i++) {
            uint64_t e = s->pat[k].start_ns[i] + s->pat[k].len_ns[i];
            m = e > m ? e : m;
            s->pmaxend[k][i] = m;
        }
    }
    if (!ok) {
        free(maxlen);
        sim_free(s);
        return zepto_fail(err, ENOMEM, "out of memory for %u patterns", s->npat);
    }
    for (unsigned k = 0; k < s->npat; k++) {
        maxlen[k] = 0;
        for (uint64_t i = 0; i < s->pat[k].n; i++)
            if (s->pat[k].len_ns[i] > maxlen[k])
                maxlen[k] = s->pat[k].len_ns[i];
    }
    uint64_t state = o->seed;
    for (uint64_t r = 0; r < s->n; r++) {
        const struct zn_pattern *p = &s->pat[r % s->npat];
        uint64_t pos = o->phase == ZN_PHASE_RANDOM ? zb_rand_below(&state, p->loop_ns) : 0;
        place(s, r, p, pos, maxlen[r % s->npat]);
    }
    free(maxlen);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of sorted values (as the detour analysis reports them). */
static double quantile(const double *v, unsigned n, double q)
{
    unsigned rank = (unsigned)ceil(q * n);
    return v[rank ? rank - 1 : 0];
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int zn_simulate(const struct zn_sim_opts *o, struct zn_sim_result *r, struct zepto_err *err)
{
    memset(r, 0, sizeof(*r));
    int rc = check_opts(o, err);
    if (rc)
        return rc;
    double *times = malloc(o->iters * sizeof(double));
    if (!times)
        return zepto_fail(err, ENOMEM, "out of memory for %u iterations", o->iters);

    double t0 = now_s();
    struct sim s;
    rc = sim_init(&s, o, err);
    if (rc) {
        free(times);
        return rc;
    }
    double (*iteration)(struct sim *, double) = o->algo == ZN_ALGO_RECURSIVE_DOUBLING ? rd_iteration
                                                : o->algo == ZN_ALGO_BINOMIAL
                                                    ? binomial_iteration
                                                    : dissemination_iteration;
    uint64_t wstate = o->seed ^ WINDOW_SEED_MIX;
    double start = 0, prev = 0;
    for (unsigned k = 0; k < o->iters; k++) {
        double f = iteration(&s, start);
        if (o->window_ns > 0) {
            times[k] = f - start;
            start += o->window_ns * (1 + 0.5 * zb_rand_unit(&wstate));
        } else {
            times[k] = f - prev;
            prev = f;
        }
    }
    sim_free(&s);
    r->seconds = now_s() - t0;

    double sum = 0;
    for (unsigned k = 0; k < o->iters; k++)
        sum += times[k];
    qsort(times, o->iters, sizeof(double), cmp_double);
    r->noiseless_ns = zn_sim_closed_form_ns(o);
    r->mean_ns = sum / o->iters;
    r->median_ns = quantile(times, o->iters, 0.5);
    r->p99_ns = quantile(times, o->iters, 0.99);
    r->max_ns = times[o->iters - 1];
    r->slowdown = r->noiseless_ns > 0 ? r->mean_ns / r->noiseless_ns : 1;
    r->rounds = rounds_of(o->algo, o->ranks);
    free(times);
    return 0;
}
