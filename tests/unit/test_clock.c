/*
 * Proves the clock of src/base/clock.c: the CPU-flag test takes whole flag names only, clock
 * names parse, tick/nanosecond conversions are exact to 1 ns, and the real clock, once
 * calibrated, agrees with CLOCK_MONOTONIC over 200 ms to 0.1 %.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/sysinfo.h"

static void expect_flags(const char *flags, bool usable, const char *why_part)
{
    char why[160] = "";
    bool got = zb_tsc_flags_usable(flags, why, sizeof(why));
    if (got != usable)
        fail_msg("'%s': usable %d, expected %d (why: %s)", flags ? flags : "(null)", got, usable,
                 why);
    if (!strstr(why, why_part))
        fail_msg("'%s': why '%s' does not mention '%s'", flags ? flags : "(null)", why, why_part);
}

static void tsc_flags_need_all_three(void **state)
{
    (void)state;
    expect_flags("fpu vme msr pae", false, "no TSC");
    expect_flags("", false, "no TSC");
    expect_flags(NULL, false, "no TSC");
    expect_flags("fpu tsc msr", false, "constant_tsc");
    expect_flags("tsc constant_tsc", false, "nonstop_tsc");
    expect_flags("tsc nonstop_tsc", false, "constant_tsc");
    expect_flags("fpu tsc msr constant_tsc nonstop_tsc", true, "constant_tsc and nonstop_tsc");
    expect_flags("nonstop_tsc\tconstant_tsc\ttsc\n", true, "nonstop_tsc");
    expect_flags("tsc constant_tsc nonstop_tsc tsc_reliable", true, "tsc_reliable");
    /* Without the tsc flag itself, the others promise nothing. */
    expect_flags("constant_tsc nonstop_tsc", false, "no TSC");
}

static void tsc_flags_match_whole_names_only(void **state)
{
    (void)state;
    expect_flags("constant_tsc_x nonstop_tscy tsc", false, "constant_tsc");
    expect_flags("constant_tsc nonstop_tscy tsc", false, "nonstop_tsc");
    expect_flags("xconstant_tsc nonstop_tsc tsc", false, "constant_tsc");
    expect_flags("rdtscp constant_tsc nonstop_tsc", false, "no TSC");
    /* The name found as a substring first and as a whole word later still counts. */
    expect_flags("constant_tsc_x tsc nonstop_tsc constant_tsc", true, "constant_tsc");
}

static void clock_kind_parses(void **state)
{
    (void)state;
    enum zb_clock_kind k = ZB_CLOCK_TSC;
    struct zepto_err err = {0};
    assert_int_equal(zb_clock_parse_kind("auto", &k, &err), 0);
    assert_int_equal(k, ZB_CLOCK_AUTO);
    assert_int_equal(zb_clock_parse_kind("tsc", &k, &err), 0);
    assert_int_equal(k, ZB_CLOCK_TSC);
    assert_int_equal(zb_clock_parse_kind("monotonic", &k, &err), 0);
    assert_int_equal(k, ZB_CLOCK_MONOTONIC);

    static const char *const bad[] = {"", "TSC", "mono", "tsc ", "realtime"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(zb_clock_parse_kind(bad[i], &k, &err), -EINVAL);
        assert_int_equal(err.code, EINVAL);
        if (!strstr(err.msg, bad[i]))
            fail_msg("'%s': message '%s' does not quote it", bad[i], err.msg);
    }
    assert_int_equal(zb_clock_parse_kind(NULL, &k, &err), -EINVAL);
}

static void conversions_round_trip_within_1ns(void **state)
{
    (void)state;
    struct zb_clock c = {.kind = ZB_CLOCK_TSC, .hz = 2100000000u};
    static const uint64_t xs[] = {0,
                                  1,
                                  2,
                                  3,
                                  999,
                                  1000,
                                  123457,
                                  1000000,
                                  999999999,
                                  1000000000,
                                  7777777777,
                                  86400000000ull,
                                  999999999999ull,
                                  1000000000000ull};
    for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
        uint64_t back = zb_clock_to_ns(&c, zb_clock_from_ns(&c, xs[i]));
        uint64_t diff = back > xs[i] ? back - xs[i] : xs[i] - back;
        if (diff > 1)
            fail_msg("%llu ns comes back as %llu", (unsigned long long)xs[i],
                     (unsigned long long)back);
    }
    assert_true(zb_clock_from_ns(&c, 1000000000u) == c.hz);
    assert_true(zb_clock_to_ns(&c, c.hz) == 1000000000u);
    assert_true(zb_clock_to_ns(&c, 21) == 10);

    /* Large tick counts do not overflow: compare with long double arithmetic. */
    uint64_t big = 1ull << 62;
    long double want = (long double)big * 1e9L / 2.1e9L;
    long double got = (long double)zb_clock_to_ns(&c, big);
    assert_true(got - want <= 1 && want - got <= 1);
}

static void conversions_at_1ghz_are_identity(void **state)
{
    (void)state;
    struct zb_clock c = {.kind = ZB_CLOCK_MONOTONIC, .hz = 1000000000u};
    static const uint64_t xs[] = {0, 1, 999, 123456789012345ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
        assert_true(zb_clock_to_ns(&c, xs[i]) == xs[i]);
        assert_true(zb_clock_from_ns(&c, xs[i]) == xs[i]);
    }
}

/* A (clock, monotonic) pair read as closely together as the tightest of a few brackets. */
static void read_pair(const struct zb_clock *c, uint64_t *ticks, uint64_t *mono)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 8; i++) {
        uint64_t a = zb_mono_read();
        uint64_t t = zb_clock_read(c);
        uint64_t b = zb_mono_read();
        if (b - a < best) {
            best = b - a;
            *ticks = t;
            *mono = a + (b - a) / 2;
        }
    }
}

static void auto_clock_agrees_with_monotonic(void **state)
{
    (void)state;
    struct zb_clock c;
    struct zepto_err err = {0};
    if (zb_clock_init(&c, ZB_CLOCK_AUTO, 0, &err))
        fail_msg("zb_clock_init(auto): %s", err.msg);
    assert_true(c.kind == ZB_CLOCK_TSC || c.kind == ZB_CLOCK_MONOTONIC);
    assert_true(c.hz > 0);
    assert_true(c.why[0] != 0);
    if (c.kind != ZB_CLOCK_TSC) {
        print_message("auto chose CLOCK_MONOTONIC (%s); nothing to compare\n", c.why);
        assert_true(c.hz == 1000000000u);
        return;
    }

    uint64_t t0, m0, t1, m1;
    read_pair(&c, &t0, &m0);
    struct timespec ts = {0, 200000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
    read_pair(&c, &t1, &m1);
    double clock_ns = (double)zb_clock_to_ns(&c, t1 - t0);
    double mono_ns = (double)(m1 - m0);
    assert_true(mono_ns >= 200e6);
    double rel = (clock_ns - mono_ns) / mono_ns;
    if (rel > 0.001 || rel < -0.001)
        fail_msg("TSC at %llu Hz measured %.0f ns where CLOCK_MONOTONIC measured %.0f ns",
                 (unsigned long long)c.hz, clock_ns, mono_ns);
}

static void forced_monotonic_is_1ghz(void **state)
{
    (void)state;
    struct zb_clock c;
    struct zepto_err err = {0};
    assert_int_equal(zb_clock_init(&c, ZB_CLOCK_MONOTONIC, 0, &err), 0);
    assert_int_equal(c.kind, ZB_CLOCK_MONOTONIC);
    assert_true(c.hz == 1000000000u);
    if (!strstr(c.why, "CLOCK_MONOTONIC"))
        fail_msg("why '%s' does not mention CLOCK_MONOTONIC", c.why);
}

static void forced_tsc_follows_the_flags(void **state)
{
    (void)state;
    char flags[4096], why[160];
    bool usable = ZB_HAVE_TSC && !zb_sysinfo_cpu_flags(flags, sizeof(flags)) &&
                  zb_tsc_flags_usable(flags, why, sizeof(why));
    struct zb_clock c;
    struct zepto_err err = {0};
    int rc = zb_clock_init(&c, ZB_CLOCK_TSC, 20000000, &err);
    if (!usable) {
        assert_int_equal(rc, -ENOTSUP);
        assert_non_null(strstr(err.msg, "tsc"));
        return;
    }
    if (rc)
        fail_msg("zb_clock_init(tsc): %s", err.msg);
    assert_int_equal(c.kind, ZB_CLOCK_TSC);
    assert_true(c.hz > 100000000u); /* any TSC of this century runs above 100 MHz */
    assert_non_null(strstr(c.why, "calibrated"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tsc_flags_need_all_three),
        cmocka_unit_test(tsc_flags_match_whole_names_only),
        cmocka_unit_test(clock_kind_parses),
        cmocka_unit_test(conversions_round_trip_within_1ns),
        cmocka_unit_test(conversions_at_1ghz_are_identity),
        cmocka_unit_test(auto_clock_agrees_with_monotonic),
        cmocka_unit_test(forced_monotonic_is_1ghz),
        cmocka_unit_test(forced_tsc_follows_the_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
