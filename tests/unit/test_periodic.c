/*
 * Proves the periodic-signature finder of src/noise/periodic.c on synthetic detour series from a
 * fixed-seed PRNG: a jittered train is found under Poisson background with its period, count and
 * length; two trains at different periods are told apart without a phantom at their ratio; pure
 * Poisson noise yields nothing; a train with missing cycles is found with the right regularity;
 * a rare daemon and a dense tick are both found; too few detours and `max` are respected.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zepto/noise.h"

#define MS  1000000ull
#define US  1000ull
#define SEC 1000000000ull

/* ---- deterministic random numbers (xorshift64*) ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

/* Uniform integer in [lo, hi]. */
static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
    return lo + rng_next() % (hi - lo + 1);
}

/* ---- synthetic series ---- */

struct series {
    struct zn_detour *d;
    int *source; /* which generator made each detour: 0 background, 1.. trains */
    uint64_t n, cap;
    uint64_t span;
};

static void series_init(struct series *s, uint64_t span)
{
    memset(s, 0, sizeof(*s));
    s->span = span;
}

static void series_add(struct series *s, uint64_t start, uint64_t len, int source)
{
    if (start >= s->span)
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->d = realloc(s->d, s->cap * sizeof(*s->d));
        s->source = realloc(s->source, s->cap * sizeof(*s->source));
        assert_non_null(s->d);
        assert_non_null(s->source);
    }
    s->d[s->n] = (struct zn_detour){start, len};
    s->source[s->n] = source;
    s->n++;
}

/* A train: one detour every period from phase, jittered by +-jitter, of len +- len_jitter;
 * each cycle is present with probability keep. Returns how many were added. */
static uint64_t add_train(struct series *s, uint64_t period, uint64_t phase, uint64_t jitter,
                          uint64_t len, uint64_t len_jitter, double keep, int source)
{
    uint64_t added = 0;
    for (uint64_t t = phase; t < s->span; t += period) {
        uint64_t start = t + rng_range(0, 2 * jitter) - jitter;
        uint64_t l = len + rng_range(0, 2 * len_jitter) - len_jitter;
        if (keep < 1 && rng_unit() >= keep)
            continue;
        if (start + l > s->span)
            break;
        series_add(s, start, l, source);
        added++;
    }
    return added;
}

/* Poisson background: rate per second, lengths uniform in [lo, hi]. */
static void add_poisson(struct series *s, double rate, uint64_t lo, uint64_t hi)
{
    double t = 0;
    for (;;) {
        t += -log(1 - rng_unit()) / rate * 1e9;
        if (t >= (double)s->span)
            break;
        series_add(s, (uint64_t)t, rng_range(lo, hi), 0);
    }
}

static struct series *sort_arg;

static int by_start(const void *a, const void *b)
{
    uint64_t x = sort_arg->d[*(const uint64_t *)a].start_ns;
    uint64_t y = sort_arg->d[*(const uint64_t *)b].start_ns;
    return x < y ? -1 : x > y;
}

/* Sorts by start and removes overlaps as a real recorder would never see them: a train's detour
 * wins over background, otherwise the earlier one stays. Returns the count kept per source. */
static void series_finish(struct series *s, uint64_t *kept, int nsource)
{
    uint64_t *idx = malloc(s->n * sizeof(*idx));
    struct zn_detour *d = malloc(s->n * sizeof(*d));
    int *src = malloc(s->n * sizeof(*src));
    assert_true(idx && d && src);
    for (uint64_t i = 0; i < s->n; i++)
        idx[i] = i;
    sort_arg = s;
    qsort(idx, s->n, sizeof(*idx), by_start);
    uint64_t m = 0;
    for (uint64_t k = 0; k < s->n; k++) {
        struct zn_detour cur = s->d[idx[k]];
        int cs = s->source[idx[k]];
        if (m && cur.start_ns < d[m - 1].start_ns + d[m - 1].duration_ns) {
            if (cs && !src[m - 1]) {
                d[m - 1] = cur; /* the train's detour replaces background */
                src[m - 1] = cs;
            }
            continue;
        }
        d[m] = cur;
        src[m] = cs;
        m++;
    }
    free(idx);
    free(s->d);
    free(s->source);
    s->d = d;
    s->source = src;
    s->n = m;
    for (int i = 0; i < nsource; i++)
        kept[i] = 0;
    for (uint64_t k = 0; k < m; k++)
        if (src[k] < nsource)
            kept[src[k]]++;
}

static void series_free(struct series *s)
{
    free(s->d);
    free(s->source);
}

static uint64_t series_total_ns(const struct series *s, int source)
{
    uint64_t sum = 0;
    for (uint64_t k = 0; k < s->n; k++)
        if (source < 0 || s->source[k] == source)
            sum += s->d[k].duration_ns;
    return sum;
}

/* The signature whose period is within rel of period, or NULL. */
static const struct zn_signature *find_period(const struct zn_signature *sig, unsigned n,
                                              double period, double rel)
{
    for (unsigned i = 0; i < n; i++)
        if (fabs(sig[i].period_ns - period) <= rel * period)
            return &sig[i];
    return NULL;
}

static void print_signatures(const struct zn_signature *sig, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        print_message("  signature %u: period %.1f ns, %llu detours, length %llu ns, share %.3f, "
                      "regularity %.3f\n",
                      i, sig[i].period_ns, (unsigned long long)sig[i].detours,
                      (unsigned long long)sig[i].length_ns, sig[i].noise_share, sig[i].regularity);
}

static void require_period(const struct zn_signature *sig, unsigned n, double period, double rel)
{
    if (!find_period(sig, n, period, rel)) {
        print_signatures(sig, n);
        fail_msg("no signature with period %.0f ns +- %.1f %%", period, rel * 100);
    }
}

/* Signatures come out largest share first. */
static void check_order(const struct zn_signature *sig, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        assert_true(sig[i - 1].detour_ns >= sig[i].detour_ns);
}

/* (a) A 7 ms daemon of 300 us, +-20 us jitter, under 1000/s Poisson detours of 5-50 us. */
static void jittered_train_under_background(void **state)
{
    (void)state;
    struct series s;
    uint64_t kept[2];
    rng_seed(1);
    series_init(&s, 3 * SEC);
    uint64_t injected = add_train(&s, 7 * MS, 5 * MS, 20 * US, 300 * US, 2 * US, 1.0, 1);
    assert_int_equal(injected, 428);
    add_poisson(&s, 1000, 5 * US, 50 * US);
    series_finish(&s, kept, 2);
    assert_int_equal(kept[1], 428);
    assert_true(kept[0] > 2500); /* the background is really there */

    struct zn_signature sig[ZN_MAX_SIGNATURES];
    unsigned n = zn_find_signatures(s.d, s.n, s.span, sig, ZN_MAX_SIGNATURES);
    check_order(sig, n);
    const struct zn_signature *p = find_period(sig, n, 7e6, 0.05e6 / 7e6);
    if (!p) {
        print_signatures(sig, n);
        fail_msg("the 7 ms train was not found");
    }
    if (p->detours < 0.9 * 428 || p->detours > 428 + 20) {
        print_signatures(sig, n);
        fail_msg("7 ms signature holds %llu detours, expected about 428",
                 (unsigned long long)p->detours);
    }
    assert_in_range(p->length_ns, 290 * US, 310 * US);
    assert_true(p->regularity > 0.9 && p->regularity <= 1.0);
    double share = (double)series_total_ns(&s, 1) / (double)series_total_ns(&s, -1);
    if (fabs(p->noise_share - share) > 0.05)
        fail_msg("noise share %.3f, the train is %.3f of the detour time", p->noise_share, share);
    series_free(&s);
}

/* (b) A 1 ms train of 40 us and a 4 ms train of 55 us at another phase, like a VM's tick. */
static void two_trains_no_phantom_ratio(void **state)
{
    (void)state;
    struct series s;
    uint64_t kept[3];
    rng_seed(2);
    series_init(&s, 3 * SEC);
    add_train(&s, 1 * MS, 100 * US, 5 * US, 40 * US, 1 * US, 1.0, 1);
    add_train(&s, 4 * MS, 2470 * US, 5 * US, 55 * US, 1 * US, 1.0, 2);
    series_finish(&s, kept, 3);
    assert_int_equal(kept[1], 3000);
    assert_int_equal(kept[2], 750);

    struct zn_signature sig[ZN_MAX_SIGNATURES];
    unsigned n = zn_find_signatures(s.d, s.n, s.span, sig, ZN_MAX_SIGNATURES);
    check_order(sig, n);
    require_period(sig, n, 1e6, 0.01);
    require_period(sig, n, 4e6, 0.01);
    const struct zn_signature *one = find_period(sig, n, 1e6, 0.01);
    if (one->detours < 0.9 * 3000 || one->detours > 3000) {
        print_signatures(sig, n);
        fail_msg("1 ms signature holds %llu detours, expected about 3000",
                 (unsigned long long)one->detours);
    }
    assert_in_range(one->length_ns, 39 * US, 41 * US); /* the 1 ms train, not the 55 us one */
    const struct zn_signature *four = find_period(sig, n, 4e6, 0.01);
    assert_in_range(four->length_ns, 54 * US, 56 * US);
    assert_true(four->detours >= 0.9 * 750);
    if (find_period(sig, n, 2e6, 0.05)) {
        print_signatures(sig, n);
        fail_msg("a phantom signature at 2 ms");
    }
    series_free(&s);
}

/* (c) Detours at random times have no period. */
static void poisson_background_has_no_signature(void **state)
{
    (void)state;
    for (uint64_t seed = 10; seed < 18; seed++) {
        struct series s;
        uint64_t kept[1];
        rng_seed(seed);
        series_init(&s, 3 * SEC);
        add_poisson(&s, 2000, 5 * US, 50 * US);
        series_finish(&s, kept, 1);
        assert_true(kept[0] > 5000);
        struct zn_signature sig[ZN_MAX_SIGNATURES];
        unsigned n = zn_find_signatures(s.d, s.n, s.span, sig, ZN_MAX_SIGNATURES);
        if (n) {
            print_signatures(sig, n);
            fail_msg("seed %llu: %u signatures in pure Poisson noise", (unsigned long long)seed, n);
        }
        series_free(&s);
    }
}

/* (d) A 4 ms tick that misses 30 % of its cycles. */
static void train_with_missing_cycles(void **state)
{
    (void)state;
    struct series s;
    uint64_t kept[2];
    rng_seed(4);
    series_init(&s, 3 * SEC);
    uint64_t injected = add_train(&s, 4 * MS, 1 * MS, 5 * US, 20 * US, 1 * US, 0.7, 1);
    series_finish(&s, kept, 2);
    assert_in_range(injected, 750 * 6 / 10, 750 * 8 / 10); /* the generator did drop ~30 % */

    struct zn_signature sig[ZN_MAX_SIGNATURES];
    unsigned n = zn_find_signatures(s.d, s.n, s.span, sig, ZN_MAX_SIGNATURES);
    require_period(sig, n, 4e6, 0.01);
    const struct zn_signature *p = find_period(sig, n, 4e6, 0.01);
    if (p->regularity < 0.6 || p->regularity > 0.8) {
        print_signatures(sig, n);
        fail_msg("regularity %.3f, expected 0.6-0.8", p->regularity);
    }
    assert_true(p->detours >= 0.9 * (double)injected);
    series_free(&s);
}

/* (e) A daemon waking once a second and a 4 ms tick, over 10 s. */
static void daemon_and_tick(void **state)
{
    (void)state;
    struct series s;
    uint64_t kept[3];
    rng_seed(5);
    series_init(&s, 10 * SEC);
    add_train(&s, 1 * SEC, 300 * MS, 50 * US, 200 * US, 10 * US, 1.0, 1);
    add_train(&s, 4 * MS, 1 * MS, 3 * US, 10 * US, 1 * US, 1.0, 2);
    series_finish(&s, kept, 3);
    assert_int_equal(kept[1], 10);
    assert_int_equal(kept[2], 2500);

    struct zn_signature sig[ZN_MAX_SIGNATURES];
    unsigned n = zn_find_signatures(s.d, s.n, s.span, sig, ZN_MAX_SIGNATURES);
    require_period(sig, n, 1e9, 0.01);
    require_period(sig, n, 4e6, 0.01);
    const struct zn_signature *daemon = find_period(sig, n, 1e9, 0.01);
    assert_int_equal(daemon->detours, 10);
    assert_in_range(daemon->length_ns, 190 * US, 210 * US);
    series_free(&s);
}

/* (f) Fewer than five detours are never a signature, however regular. */
static void too_few_detours(void **state)
{
    (void)state;
    struct zn_detour d[4];
    for (unsigned k = 0; k < 4; k++)
        d[k] = (struct zn_detour){(k + 1) * 10 * MS, 100 * US};
    struct zn_signature sig[ZN_MAX_SIGNATURES];
    assert_int_equal(zn_find_signatures(d, 4, 50 * MS, sig, ZN_MAX_SIGNATURES), 0);
    assert_int_equal(zn_find_signatures(d, 0, 50 * MS, sig, ZN_MAX_SIGNATURES), 0);
    assert_int_equal(zn_find_signatures(NULL, 0, 0, sig, ZN_MAX_SIGNATURES), 0);
}

/* (g) No more than `max` signatures are written. */
static void max_is_respected(void **state)
{
    (void)state;
    struct series s;
    uint64_t kept[3];
    rng_seed(2);
    series_init(&s, 3 * SEC);
    add_train(&s, 1 * MS, 100 * US, 5 * US, 40 * US, 1 * US, 1.0, 1);
    add_train(&s, 4 * MS, 2470 * US, 5 * US, 55 * US, 1 * US, 1.0, 2);
    series_finish(&s, kept, 3);

    struct zn_signature sig[3];
    memset(sig, 0x5a, sizeof(sig));
    unsigned char canary[sizeof(sig[1])];
    memset(canary, 0x5a, sizeof(canary));
    assert_int_equal(zn_find_signatures(s.d, s.n, s.span, sig, 1), 1);
    assert_memory_equal(&sig[1], canary, sizeof(canary)); /* nothing past max */
    assert_true(fabs(sig[0].period_ns - 1e6) <= 0.01e6);  /* the one with most detours first */
    assert_int_equal(zn_find_signatures(s.d, s.n, s.span, sig + 1, 0), 0);
    assert_memory_equal(&sig[1], canary, sizeof(canary));
    series_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jittered_train_under_background),
        cmocka_unit_test(two_trains_no_phantom_ratio),
        cmocka_unit_test(poisson_background_has_no_signature),
        cmocka_unit_test(train_with_missing_cycles),
        cmocka_unit_test(daemon_and_tick),
        cmocka_unit_test(too_few_detours),
        cmocka_unit_test(max_is_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
