/*
 * Proves the collective simulator of src/noise/simulate.c: without noise every iteration takes
 * the closed form (hand-computed values for each algorithm, powers of two and not, back to back
 * and in a window); a detour costs exactly what the model says (inside an overhead, running
 * into it, during a wait, still running when a message arrives); unsynchronised noise hurts more
 * as ranks are added while synchronised noise does not; seeds repeat; bad options are refused.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zepto/noise.h"

static const enum zn_sim_algo algos[] = {ZN_ALGO_RECURSIVE_DOUBLING, ZN_ALGO_BINOMIAL,
                                         ZN_ALGO_DISSEMINATION};

static struct zn_sim_opts opts(uint64_t ranks, enum zn_sim_algo algo)
{
    return (struct zn_sim_opts){.ranks = ranks,
                                .algo = algo,
                                .iters = 5,
                                .latency_ns = 1000,
                                .overhead_ns = 200,
                                .phase = ZN_PHASE_RANDOM,
                                .seed = 1};
}

static void assert_close(double got, double want, const char *what)
{
    if (fabs(got - want) > 1e-6 * fmax(fabs(want), 1)) {
        print_error("%s: got %.6f, want %.6f\n", what, got, want);
        fail();
    }
}

/* The closed forms as derived by hand in the comment at the top of simulate.c. */
static double formula(enum zn_sim_algo algo, uint64_t n, double L, double o, double W)
{
    double D = 2 * o + L;
    unsigned lo = 0, hi = 0; /* floor and ceil of log2 n */
    while ((2ull << lo) <= n)
        lo++;
    while ((1ull << hi) < n)
        hi++;
    switch (algo) {
    case ZN_ALGO_RECURSIVE_DOUBLING: {
        uint64_t e = n - (1ull << lo);
        if (!e)
            return W + lo * D;
        unsigned p = 0; /* bit length of e - 1 */
        while ((e - 1) >> p)
            p++;
        return W + (lo + 1) * D + fmax(0, 2 * o - ((double)lo - p - 1) * L);
    }
    case ZN_ALGO_BINOMIAL:
        return (1ull << hi) == n ? W + 2.0 * hi * D : W + 2.0 * (hi - 1) * D + 2 * o;
    case ZN_ALGO_DISSEMINATION: return W + hi * D;
    }
    return NAN;
}

/* Noiseless times worked out by hand, for two settings: one where latency dominates (every
 * round of recursive doubling at full price at 1000 ranks), one where overhead does (the
 * non-power-of-two cases pay 2o instead of a latency). */
struct expect {
    uint64_t n;
    double rd, bi, di;
};

static void check_closed_forms(double L, double o, double W, const struct expect *ex, size_t nex)
{
    for (size_t i = 0; i < nex; i++) {
        const double want[3] = {ex[i].rd, ex[i].bi, ex[i].di};
        for (unsigned a = 0; a < 3; a++) {
            struct zn_sim_opts so = opts(ex[i].n, algos[a]);
            so.latency_ns = L;
            so.overhead_ns = o;
            so.compute_ns = W;
            char what[96];
            snprintf(what, sizeof(what), "%s at %llu ranks", zn_sim_algo_name(algos[a]),
                     (unsigned long long)ex[i].n);
            assert_close(zn_sim_closed_form_ns(&so), want[a], what);
            assert_close(formula(algos[a], ex[i].n, L, o, W), want[a], what);

            struct zn_sim_result r;
            struct zepto_err err = {0};
            assert_int_equal(zn_simulate(&so, &r, &err), 0);
            assert_close(r.noiseless_ns, want[a], what);
            assert_close(r.mean_ns, want[a], what);
            assert_close(r.median_ns, want[a], what);
            assert_close(r.p99_ns, want[a], what);
            assert_close(r.max_ns, want[a], what);
            assert_close(r.slowdown, 1, what);
        }
    }
}

static void noiseless_iterations_take_the_closed_form(void **state)
{
    (void)state;
    /* L 1 us, o 200 ns, W 300 ns: D = 1400 ns. */
    static const struct expect a[] = {
        {1, 300, 300, 300},          {2, 1700, 3100, 1700},       {3, 3500, 3500, 3100},
        {4, 3100, 5900, 3100},       {9, 5900, 9100, 5900},       {12, 6300, 9100, 5900},
        {1000, 15700, 25900, 14300}, {1024, 14300, 28300, 14300}, {1025, 15700, 28700, 15700},
        {4096, 17100, 33900, 17100},
    };
    check_closed_forms(1000, 200, 300, a, sizeof(a) / sizeof(a[0]));
    /* L 100 ns, o 1 us, W 0: D = 2100 ns. */
    static const struct expect b[] = {
        {1, 0, 0, 0},
        {2, 2100, 4200, 2100},
        {3, 6200, 6200, 4200},
        {4, 4200, 8400, 4200},
        {9, 10200, 14600, 8400},
        {12, 10400, 14600, 8400},
        {1000, 23100, 39800, 21000},
        {1024, 21000, 42000, 21000},
        {1025, 24200, 44000, 23100},
        {4096, 25200, 50400, 25200},
    };
    check_closed_forms(100, 1000, 0, b, sizeof(b) / sizeof(b[0]));
}

static void rounds_are_counted(void **state)
{
    (void)state;
    static const struct {
        uint64_t n;
        uint64_t rd, bi, di;
    } cases[] = {{1, 0, 0, 0}, {2, 1, 2, 1}, {3, 3, 4, 2}, {1000, 11, 20, 10}, {1024, 10, 20, 10}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint64_t want[3] = {cases[i].rd, cases[i].bi, cases[i].di};
        for (unsigned a = 0; a < 3; a++) {
            struct zn_sim_opts so = opts(cases[i].n, algos[a]);
            struct zn_sim_result r;
            assert_int_equal(zn_simulate(&so, &r, NULL), 0);
            assert_int_equal(r.rounds, want[a]);
        }
    }
}

static void window_without_noise_is_the_closed_form(void **state)
{
    (void)state;
    static const uint64_t ns[] = {3, 1000, 1024};
    for (unsigned a = 0; a < 3; a++) {
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
            struct zn_sim_opts so = opts(ns[i], algos[a]);
            so.compute_ns = 500;
            so.window_ns = 100000; /* longer than any iteration here: every rank is idle */
            so.iters = 20;
            struct zn_sim_result r;
            assert_int_equal(zn_simulate(&so, &r, NULL), 0);
            double want = formula(algos[a], ns[i], 1000, 200, 500);
            assert_close(r.mean_ns, want, zn_sim_algo_name(algos[a]));
            assert_close(r.median_ns, want, zn_sim_algo_name(algos[a]));
            assert_close(r.max_ns, want, zn_sim_algo_name(algos[a]));
        }
    }
}

/* ---- single detours at known times ---------------------------------------------------------- */

/* A pattern with one detour at position start of length len, looping every second. */
static struct zn_pattern one_detour(uint64_t *start, uint64_t *len)
{
    return (struct zn_pattern){.loop_ns = 1000000000, .n = 1, .start_ns = start, .len_ns = len};
}

/* Two ranks, recursive doubling, sync phase: rank 0 has no noise, rank 1 has one detour at
 * position `at` lasting `len`. Returns the one iteration's time. Without noise: both send in
 * [0, 200), the messages arrive at 1200, both receive in [1200, 1400). */
static double two_ranks_one_detour(uint64_t at, uint64_t len)
{
    uint64_t start = at, length = len;
    struct zn_pattern pats[2] = {{.loop_ns = 1000000000}, one_detour(&start, &length)};
    struct zn_sim_opts so = opts(2, ZN_ALGO_RECURSIVE_DOUBLING);
    so.iters = 1;
    so.phase = ZN_PHASE_SYNC;
    so.patterns = pats;
    so.npatterns = 2;
    struct zn_sim_result r;
    struct zepto_err err = {0};
    assert_int_equal(zn_simulate(&so, &r, &err), 0);
    assert_close(r.noiseless_ns, 1400, "noiseless");
    return r.max_ns;
}

static void a_detour_costs_its_overlap_with_cpu_time(void **state)
{
    (void)state;
    /* Inside rank 1's send: the send ends at 250, its message reaches rank 0 at 1250, rank 0's
     * receive ends at 1450. */
    assert_close(two_ranks_one_detour(100, 50), 1450, "detour inside the send");
    /* Begun 10 ns before time 0 (the end of the loop, wrapped) and running into the send:
     * the send starts at 50. */
    assert_close(two_ranks_one_detour(1000000000 - 10, 60), 1450, "detour running at the start");
    /* Straddling the end of the send: 150 ns of send, 100 ns away, 50 ns of send: ends at 300,
     * rank 0 receives from 1300 to 1500. */
    assert_close(two_ranks_one_detour(150, 100), 1500, "detour across the end of the send");
    /* During the wait for rank 0's message (200..1200) and over by its arrival: free. */
    assert_close(two_ranks_one_detour(400, 500), 1400, "detour during a wait");
    /* Still running when the message arrives at 1200: the receive starts at 1500. */
    assert_close(two_ranks_one_detour(1000, 500), 1700, "detour across the arrival");
    /* Inside rank 1's receive (1200..1400): stretched by its length. */
    assert_close(two_ranks_one_detour(1300, 50), 1450, "detour inside the receive");
    /* After the iteration: nothing. */
    assert_close(two_ranks_one_detour(5000, 50), 1400, "detour after the iteration");
}

static void the_next_iteration_starts_where_the_last_ended(void **state)
{
    (void)state;
    /* Back to back, a detour in the second iteration (1400..2800) delays only that one: rank 1
     * sends in [1400, 1600); a detour at 1500 for 30 ns makes the second iteration 1430. */
    uint64_t start = 1500, len = 30;
    struct zn_pattern pats[2] = {{.loop_ns = 1000000000}, one_detour(&start, &len)};
    struct zn_sim_opts so = opts(2, ZN_ALGO_RECURSIVE_DOUBLING);
    so.iters = 3;
    so.phase = ZN_PHASE_SYNC;
    so.patterns = pats;
    so.npatterns = 2;
    struct zn_sim_result r;
    assert_int_equal(zn_simulate(&so, &r, NULL), 0);
    assert_close(r.max_ns, 1430, "max");
    assert_close(r.median_ns, 1400, "median");
    assert_close(r.mean_ns, (1400 + 1430 + 1400) / 3.0, "mean");
}

/* ---- noise at scale ------------------------------------------------------------------------- */

static void synthetic(const char *spec, struct zn_pattern *p)
{
    struct zn_synthetic s;
    struct zepto_err err = {0};
    assert_int_equal(zn_synthetic_parse(spec, &s, &err), 0);
    assert_int_equal(zn_pattern_from_synthetic(&s, 1, 1, p, &err), 0);
}

/* Slowdowns at 2, 64, 4096 and 65536 ranks of recursive doubling under a 2 % noise of 20 us
 * detours, each run over the same simulated span (4 ms, four periods) so that every size sees
 * the same number of periods. */
static void slowdowns(enum zn_phase phase, double out[4])
{
    static const uint64_t ns[] = {2, 64, 4096, 65536};
    struct zn_pattern p;
    synthetic("period=1ms,duration=20us", &p);
    for (int i = 0; i < 4; i++) {
        struct zn_sim_opts so = opts(ns[i], ZN_ALGO_RECURSIVE_DOUBLING);
        so.phase = phase;
        so.patterns = &p;
        so.npatterns = 1;
        so.iters = (unsigned)ceil(4e6 / zn_sim_closed_form_ns(&so));
        struct zn_sim_result r;
        struct zepto_err err = {0};
        assert_int_equal(zn_simulate(&so, &r, &err), 0);
        out[i] = r.slowdown;
        print_message("%s phase, %llu ranks, %u iterations: slowdown %.4f\n",
                      phase == ZN_PHASE_SYNC ? "sync" : "random", (unsigned long long)ns[i],
                      so.iters, r.slowdown);
    }
    zn_pattern_free(&p);
}

/* Unsynchronised, a detour on any rank delays everyone who depends on it: the more ranks, the
 * more detours land on the critical path of every iteration. At two ranks each rank's 2 % adds
 * up to about 4 %. */
static void random_phase_hurts_more_with_more_ranks(void **state)
{
    (void)state;
    double s[4];
    slowdowns(ZN_PHASE_RANDOM, s);
    assert_true(s[0] > 1.02 && s[0] < 1.06);
    for (int i = 1; i < 4; i++)
        assert_true(s[i] >= s[i - 1]);
    assert_true(s[3] > 1.5 * s[0]);
}

/* Synchronised, every rank takes its detours at the same moments: they all wait together, so a
 * detour costs the collective one detour at any size, and the slowdown is the single rank's
 * (about 1 + 2 %: five detours in the 4 ms). */
static void sync_phase_is_flat(void **state)
{
    (void)state;
    double s[4];
    slowdowns(ZN_PHASE_SYNC, s);
    double lo = s[0], hi = s[0];
    for (int i = 1; i < 4; i++) {
        lo = fmin(lo, s[i]);
        hi = fmax(hi, s[i]);
    }
    assert_true(lo > 1.01);
    assert_true(hi < 1.04);
    assert_true(hi / lo < 1.02);
}

static void seeds_repeat_and_differ(void **state)
{
    (void)state;
    struct zn_pattern p;
    synthetic("period=1ms,duration=20us", &p);
    struct zn_sim_result r[3];
    const uint64_t seeds[3] = {7, 7, 8};
    for (int i = 0; i < 3; i++) {
        struct zn_sim_opts so = opts(64, ZN_ALGO_RECURSIVE_DOUBLING);
        so.iters = 200;
        so.patterns = &p;
        so.npatterns = 1;
        so.seed = seeds[i];
        assert_int_equal(zn_simulate(&so, &r[i], NULL), 0);
    }
    assert_true(r[0].mean_ns == r[1].mean_ns && r[0].median_ns == r[1].median_ns &&
                r[0].p99_ns == r[1].p99_ns && r[0].max_ns == r[1].max_ns);
    assert_true(r[0].mean_ns != r[2].mean_ns);
    zn_pattern_free(&p);
}

static void noise_never_speeds_up(void **state)
{
    (void)state;
    struct zn_pattern p;
    synthetic("period=100us,duration=5us,jitter=20us", &p);
    for (unsigned a = 0; a < 3; a++) {
        for (uint64_t n = 1; n <= 40; n += 13) {
            struct zn_sim_opts so = opts(n, algos[a]);
            so.compute_ns = 3000;
            so.iters = 50;
            so.patterns = &p;
            so.npatterns = 1;
            struct zn_sim_result r;
            assert_int_equal(zn_simulate(&so, &r, NULL), 0);
            assert_true(r.median_ns >= r.noiseless_ns - 1e-6);
            assert_true(r.mean_ns >= r.noiseless_ns - 1e-6);
            assert_true(r.max_ns >= r.p99_ns && r.p99_ns >= r.median_ns);
        }
    }
    zn_pattern_free(&p);
}

/* ---- the library's own checks --------------------------------------------------------------- */

static void expect_einval(const struct zn_sim_opts *so, const char *needle)
{
    struct zn_sim_result r;
    struct zepto_err err = {0};
    assert_int_equal(zn_simulate(so, &r, &err), -EINVAL);
    assert_int_equal(err.code, EINVAL);
    if (!strstr(err.msg, needle)) {
        print_error("message '%s' does not name '%s'\n", err.msg, needle);
        fail();
    }
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    struct zn_sim_opts so = opts(0, ZN_ALGO_RECURSIVE_DOUBLING);
    expect_einval(&so, "ranks 0");
    so = opts((1ull << 32) + 1, ZN_ALGO_BINOMIAL);
    expect_einval(&so, "ranks 4294967297");
    so = opts(4, ZN_ALGO_DISSEMINATION);
    so.iters = 0;
    expect_einval(&so, "iterations 0");
    so = opts(4, ZN_ALGO_RECURSIVE_DOUBLING);
    so.latency_ns = -1;
    expect_einval(&so, "latency -1");
    so = opts(4, ZN_ALGO_RECURSIVE_DOUBLING);
    so.overhead_ns = NAN;
    expect_einval(&so, "overhead");
    so = opts(4, ZN_ALGO_RECURSIVE_DOUBLING);
    so.window_ns = INFINITY;
    expect_einval(&so, "window");
    so = opts(4, (enum zn_sim_algo)7);
    expect_einval(&so, "algorithm 7");
    so = opts(4, ZN_ALGO_RECURSIVE_DOUBLING);
    so.npatterns = 1;
    expect_einval(&so, "patterns");
    /* Detours over the whole loop: no work would ever end. */
    uint64_t start = 0, len = 1000;
    struct zn_pattern full = {.loop_ns = 1000, .n = 1, .start_ns = &start, .len_ns = &len};
    so.patterns = &full;
    expect_einval(&so, "pattern 0");
    struct zn_pattern none = {.loop_ns = 0};
    so.patterns = &none;
    expect_einval(&so, "pattern 0");
}

static void algorithm_names(void **state)
{
    (void)state;
    for (unsigned a = 0; a < 3; a++) {
        enum zn_sim_algo got;
        assert_int_equal(zn_sim_algo_parse(zn_sim_algo_name(algos[a]), &got, NULL), 0);
        assert_int_equal(got, algos[a]);
    }
    assert_string_equal(zn_sim_algo_name(ZN_ALGO_RECURSIVE_DOUBLING), "recursive-doubling");
    enum zn_sim_algo got;
    struct zepto_err err = {0};
    assert_int_equal(zn_sim_algo_parse("ring", &got, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "'ring'"));
    assert_int_equal(zn_sim_algo_parse(NULL, &got, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(noiseless_iterations_take_the_closed_form),
        cmocka_unit_test(rounds_are_counted),
        cmocka_unit_test(window_without_noise_is_the_closed_form),
        cmocka_unit_test(a_detour_costs_its_overlap_with_cpu_time),
        cmocka_unit_test(the_next_iteration_starts_where_the_last_ended),
        cmocka_unit_test(random_phase_hurts_more_with_more_ranks),
        cmocka_unit_test(sync_phase_is_flat),
        cmocka_unit_test(seeds_repeat_and_differ),
        cmocka_unit_test(noise_never_speeds_up),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(algorithm_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
