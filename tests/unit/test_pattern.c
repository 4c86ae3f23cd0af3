/*
 * Proves the noise sources of src/noise/spec.c and pattern.c: synthetic specs are parsed with
 * every error named; patterns drawn from a spec or a trace CPU have the right loop, starts and
 * scaled lengths; the trace record chosen for a CPU; cursors that walk a pattern across its loop
 * from any offset; the noise fraction; the phase names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zepto/noise.h"

static void assert_contains(const char *msg, const char *needle)
{
    if (!strstr(msg, needle)) {
        print_error("message '%s' does not contain '%s'\n", msg, needle);
        fail();
    }
}

/* ---- synthetic specs ------------------------------------------------------------------------ */

static void synthetic_specs_parse(void **state)
{
    (void)state;
    struct zn_synthetic s;
    struct zepto_err err = {0};
    assert_int_equal(zn_synthetic_parse("period=1ms,duration=50us", &s, &err), 0);
    assert_int_equal(s.period_ns, 1000000);
    assert_int_equal(s.duration_ns, 50000);
    assert_int_equal(s.jitter_ns, 0);
    assert_int_equal(zn_synthetic_parse("duration=2.5us,jitter=10us,period=100us", &s, &err), 0);
    assert_int_equal(s.period_ns, 100000);
    assert_int_equal(s.duration_ns, 2500);
    assert_int_equal(s.jitter_ns, 10000);
    /* duration + jitter may fill the period exactly: detours then touch but never overlap. */
    assert_int_equal(zn_synthetic_parse("period=1ms,duration=600us,jitter=400us", &s, &err), 0);
}

static void synthetic_spec_errors_are_named(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"period=0s,duration=1us", "the period must be longer than zero"},
        {"period=1ms,duration=0us", "the duration must be longer than zero"},
        {"period=1ms,duration=1ms", "the duration must be shorter than the period"},
        {"period=1ms,duration=2ms", "the duration must be shorter than the period"},
        {"period=1ms,duration=600us,jitter=401us", "duration + jitter exceed the period"},
        {"period=1ms,duration=1us,width=3us", "unknown key 'width'"},
        {"period=1ms,period=2ms,duration=1us", "period given twice"},
        {"period=1ms", "needs period= and duration="},
        {"duration=1us", "needs period= and duration="},
        {"period=often,duration=1us", "period 'often': not a duration"},
        {"period=1ms,duration=5x", "duration '5x': unknown unit"},
        {"period=1ms,duration", "'duration' is not key=value"},
        {"", "empty noise spec"},
        {"period=1ms,duration=1us,", "trailing comma"},
        {"period=1ms,,duration=1us", "empty or overlong item"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct zn_synthetic s = {1, 1, 1};
        struct zepto_err err = {0};
        assert_int_equal(zn_synthetic_parse(bad[i].spec, &s, &err), -EINVAL);
        assert_contains(err.msg, bad[i].msg);
        if (*bad[i].spec)
            assert_contains(err.msg, bad[i].spec); /* names the input */
        assert_int_equal(s.period_ns, 0);          /* nothing half-filled */
    }
    struct zn_synthetic s;
    assert_int_equal(zn_synthetic_parse(NULL, &s, NULL), -EINVAL);
}

/* ---- patterns ------------------------------------------------------------------------------- */

static void synthetic_pattern_without_jitter_is_one_period(void **state)
{
    (void)state;
    struct zn_synthetic s = {.period_ns = 1000000, .duration_ns = 50000};
    struct zn_pattern p;
    assert_int_equal(zn_pattern_from_synthetic(&s, 2.0, 1, &p, NULL), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.loop_ns, 1000000);
    assert_int_equal(p.start_ns[0], 0);
    assert_int_equal(p.len_ns[0], 100000);
    zn_pattern_free(&p);
    assert_null(p.start_ns);
    /* A scale that rounds a length to nothing keeps 1 ns: a detour never vanishes. */
    assert_int_equal(zn_pattern_from_synthetic(&s, 1e-9, 1, &p, NULL), 0);
    assert_int_equal(p.len_ns[0], 1);
    zn_pattern_free(&p);
}

static void synthetic_pattern_with_jitter_spans_ten_seconds(void **state)
{
    (void)state;
    /* 1 ms periods: 10 s is 10,000 of them; every start within [k P, k P + J). */
    struct zn_synthetic s = {.period_ns = 1000000, .duration_ns = 50000, .jitter_ns = 30000};
    struct zn_pattern p, q, other;
    assert_int_equal(zn_pattern_from_synthetic(&s, 0.5, 42, &p, NULL), 0);
    assert_int_equal(p.n, 10000);
    assert_int_equal(p.loop_ns, 10000ull * 1000000);
    uint64_t moved = 0;
    for (uint64_t k = 0; k < p.n; k++) {
        assert_true(p.start_ns[k] >= k * s.period_ns);
        assert_true(p.start_ns[k] < k * s.period_ns + s.jitter_ns);
        assert_int_equal(p.len_ns[k], 25000);
        moved += p.start_ns[k] != k * s.period_ns;
    }
    assert_true(moved > p.n / 2); /* the jitter is used */
    /* The same seed draws the same pattern; another seed another. */
    assert_int_equal(zn_pattern_from_synthetic(&s, 0.5, 42, &q, NULL), 0);
    assert_memory_equal(p.start_ns, q.start_ns, p.n * sizeof(uint64_t));
    assert_int_equal(zn_pattern_from_synthetic(&s, 0.5, 43, &other, NULL), 0);
    assert_memory_not_equal(p.start_ns, other.start_ns, p.n * sizeof(uint64_t));
    zn_pattern_free(&p);
    zn_pattern_free(&q);
    zn_pattern_free(&other);

    /* Long periods still draw at least 64 of them; short ones at most 10^6. */
    struct zn_synthetic slow = {.period_ns = 1000000000, .duration_ns = 1000, .jitter_ns = 10};
    assert_int_equal(zn_pattern_from_synthetic(&slow, 1, 1, &p, NULL), 0);
    assert_int_equal(p.n, 64);
    assert_int_equal(p.loop_ns, 64ull * 1000000000);
    zn_pattern_free(&p);
    struct zn_synthetic fast = {.period_ns = 1000, .duration_ns = 10, .jitter_ns = 10};
    assert_int_equal(zn_pattern_from_synthetic(&fast, 1, 1, &p, NULL), 0);
    assert_int_equal(p.n, 1000000);
    assert_int_equal(p.loop_ns, 1000000000);
    zn_pattern_free(&p);

    struct zn_synthetic zero = {0};
    struct zepto_err err = {0};
    assert_int_equal(zn_pattern_from_synthetic(&zero, 1, 1, &p, &err), -EINVAL);
    assert_contains(err.msg, "zero period");
}

/* Two CPU records: CPU 2 measured 1 ms with detours at 100 and 500,000; CPU 7 filled its buffer
 * at 300 ns, with detours stored at 100, 299, 300 and 400. */
static struct zn_trace *sample_trace(void)
{
    struct zn_trace *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->ncpu = 2;
    t->cpu = calloc(2, sizeof(*t->cpu));
    assert_non_null(t->cpu);
    struct zn_cpu_trace *a = &t->cpu[0], *b = &t->cpu[1];
    a->cpu = 2;
    a->measured_ns = 1000000;
    a->detours = a->stored = 2;
    a->d = malloc(2 * sizeof(*a->d));
    assert_non_null(a->d);
    a->d[0] = (struct zn_detour){100, 10};
    a->d[1] = (struct zn_detour){500000, 21};
    b->cpu = 7;
    b->flags = ZN_CPU_TRUNCATED;
    b->measured_ns = 1000000;
    b->truncated_at_ns = 300;
    b->detours = 9;
    b->stored = 4;
    b->d = malloc(4 * sizeof(*b->d));
    assert_non_null(b->d);
    b->d[0] = (struct zn_detour){100, 5};
    b->d[1] = (struct zn_detour){299, 5};
    b->d[2] = (struct zn_detour){300, 5};
    b->d[3] = (struct zn_detour){400, 5};
    return t;
}

static void trace_patterns_loop_over_what_was_measured(void **state)
{
    (void)state;
    struct zn_trace *t = sample_trace();
    struct zn_pattern p;
    struct zepto_err err = {0};
    assert_int_equal(zn_pattern_from_trace(t, 0, 3.0, &p, &err), 0);
    assert_int_equal(p.loop_ns, 1000000);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.start_ns[0], 100);
    assert_int_equal(p.len_ns[0], 30);
    assert_int_equal(p.start_ns[1], 500000);
    assert_int_equal(p.len_ns[1], 63);
    zn_pattern_free(&p);
    /* Truncated: the loop ends where the buffer filled; detours at or past it are dropped. */
    assert_int_equal(zn_pattern_from_trace(t, 1, 1.0, &p, &err), 0);
    assert_int_equal(p.loop_ns, 300);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.start_ns[1], 299);
    zn_pattern_free(&p);

    assert_int_equal(zn_pattern_from_trace(t, 2, 1.0, &p, &err), -EINVAL);
    assert_contains(err.msg, "no CPU record 2");
    t->cpu[0].measured_ns = 0;
    assert_int_equal(zn_pattern_from_trace(t, 0, 1.0, &p, &err), -EINVAL);
    assert_contains(err.msg, "CPU 2");
    zn_trace_free(t);
}

static void record_for_a_cpu(void **state)
{
    (void)state;
    struct zn_trace *t = sample_trace();
    assert_int_equal(zn_trace_record_for(t, 7, 0), 1); /* the CPU's own record */
    assert_int_equal(zn_trace_record_for(t, 2, 5), 0);
    assert_int_equal(zn_trace_record_for(t, 3, 4), 0); /* else position % ncpu */
    assert_int_equal(zn_trace_record_for(t, 3, 5), 1);
    zn_trace_free(t);
}

/* ---- cursors -------------------------------------------------------------------------------- */

static uint64_t pstart[] = {100, 600};
static uint64_t plen[] = {10, 20};
static const struct zn_pattern pat = {.loop_ns = 1000, .n = 2, .start_ns = pstart, .len_ns = plen};

static void cursor_walks_across_the_loop(void **state)
{
    (void)state;
    struct zn_cursor c;
    uint64_t len;
    zn_cursor_init(&c, &pat, 0, 5000);
    assert_int_equal(zn_cursor_next(&c, &len), 5100);
    assert_int_equal(len, 10);
    zn_cursor_advance(&c);
    assert_int_equal(zn_cursor_next(&c, &len), 5600);
    assert_int_equal(len, 20);
    zn_cursor_advance(&c); /* into the next loop */
    assert_int_equal(zn_cursor_next(&c, &len), 6100);
    zn_cursor_advance(&c);
    assert_int_equal(zn_cursor_next(&c, &len), 6600);
}

static void cursor_starts_at_any_offset(void **state)
{
    (void)state;
    struct zn_cursor c;
    uint64_t len;
    /* Position 700 at time 5000: the next detour is position 100 of the next loop, 400 later. */
    zn_cursor_init(&c, &pat, 700, 5000);
    assert_int_equal(zn_cursor_next(&c, &len), 5400);
    assert_int_equal(len, 10);
    /* An offset beyond the loop is taken modulo it (2600 -> 600), and a detour at the offset
     * itself is the next one. */
    zn_cursor_init(&c, &pat, 2600, 5000);
    assert_int_equal(zn_cursor_next(&c, &len), 5000);
    assert_int_equal(len, 20);
    zn_cursor_advance(&c);
    assert_int_equal(zn_cursor_next(&c, &len), 5500);
    /* Just past a detour's start: the next one. */
    zn_cursor_init(&c, &pat, 101, 0 + 1000);
    assert_int_equal(zn_cursor_next(&c, &len), 1499);
}

static void empty_pattern_has_no_next_detour(void **state)
{
    (void)state;
    struct zn_pattern empty = {.loop_ns = 1000};
    struct zn_cursor c;
    uint64_t len = 99;
    zn_cursor_init(&c, &empty, 123, 10);
    assert_int_equal(zn_cursor_next(&c, &len), UINT64_MAX);
    assert_int_equal(len, 0);
    zn_cursor_advance(&c);
    assert_int_equal(zn_cursor_next(&c, &len), UINT64_MAX);
}

static void fraction_is_detour_time_over_loop(void **state)
{
    (void)state;
    assert_true(zn_pattern_fraction(&pat) == 30.0 / 1000);
    struct zn_pattern empty = {.loop_ns = 1000};
    assert_true(zn_pattern_fraction(&empty) == 0);
    struct zn_pattern none = {0};
    assert_true(zn_pattern_fraction(&none) == 0);
}

static void phase_names(void **state)
{
    (void)state;
    enum zn_phase ph = ZN_PHASE_RANDOM;
    struct zepto_err err = {0};
    assert_int_equal(zn_phase_parse("sync", &ph, &err), 0);
    assert_int_equal(ph, ZN_PHASE_SYNC);
    assert_int_equal(zn_phase_parse("random", &ph, &err), 0);
    assert_int_equal(ph, ZN_PHASE_RANDOM);
    assert_int_equal(zn_phase_parse("Sync", &ph, &err), -EINVAL);
    assert_contains(err.msg, "'Sync': use sync or random");
    assert_int_equal(zn_phase_parse("", &ph, &err), -EINVAL);
    assert_int_equal(zn_phase_parse(NULL, &ph, &err), -EINVAL);
    assert_int_equal(ph, ZN_PHASE_RANDOM); /* untouched by the failures */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(synthetic_specs_parse),
        cmocka_unit_test(synthetic_spec_errors_are_named),
        cmocka_unit_test(synthetic_pattern_without_jitter_is_one_period),
        cmocka_unit_test(synthetic_pattern_with_jitter_spans_ten_seconds),
        cmocka_unit_test(trace_patterns_loop_over_what_was_measured),
        cmocka_unit_test(record_for_a_cpu),
        cmocka_unit_test(cursor_walks_across_the_loop),
        cmocka_unit_test(cursor_starts_at_any_offset),
        cmocka_unit_test(empty_pattern_has_no_next_detour),
        cmocka_unit_test(fraction_is_detour_time_over_loop),
        cmocka_unit_test(phase_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
