/*
 * Proves the value parsers of src/base/parse.c: durations and sizes are exact integers for every
 * unit and suffix, every malformed or out-of-range input is refused with -EINVAL or -ERANGE and a
 * message that quotes it, and the formatters switch units where the rounded figure would reach
 * the next unit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/parse.h"

static void expect_duration(const char *s, uint64_t want)
{
    struct zepto_err err = {0};
    uint64_t ns = 0;
    int rc = zb_parse_duration_ns(s, &ns, &err);
    if (rc)
        fail_msg("'%s': rc %d (%s), expected %llu ns", s, rc, err.msg, (unsigned long long)want);
    if (ns != want)
        fail_msg("'%s': %llu ns, expected %llu", s, (unsigned long long)ns,
                 (unsigned long long)want);
}

/* The failure carries the errno both as return value and in err, and the message quotes s. */
static void check_error(const char *what, const char *s, int rc, int code,
                        const struct zepto_err *err)
{
    if (rc != -code)
        fail_msg("%s '%s': rc %d, expected %d (msg: %s)", what, s, rc, -code, err->msg);
    assert_int_equal(err->code, code);
    if (!strstr(err->msg, s))
        fail_msg("%s '%s': message '%s' does not quote the input", what, s, err->msg);
}

static void expect_duration_error(const char *s, int code)
{
    struct zepto_err err = {0};
    uint64_t ns = 0;
    check_error("duration", s, zb_parse_duration_ns(s, &ns, &err), code, &err);
}

static void expect_size(const char *s, uint64_t want)
{
    struct zepto_err err = {0};
    uint64_t b = 0;
    int rc = zb_parse_size(s, &b, &err);
    if (rc)
        fail_msg("'%s': rc %d (%s), expected %llu bytes", s, rc, err.msg, (unsigned long long)want);
    if (b != want)
        fail_msg("'%s': %llu bytes, expected %llu", s, (unsigned long long)b,
                 (unsigned long long)want);
}

static void expect_size_error(const char *s, int code)
{
    struct zepto_err err = {0};
    uint64_t b = 0;
    check_error("size", s, zb_parse_size(s, &b, &err), code, &err);
}

static void duration_every_unit_is_exact(void **state)
{
    (void)state;
    expect_duration("1ns", 1);
    expect_duration("7us", 7 * 1000ull);
    expect_duration("300us", 300 * 1000ull);
    expect_duration("500ms", 500 * 1000000ull);
    expect_duration("10s", 10 * 1000000000ull);
    expect_duration("0s", 0);
    expect_duration("0ns", 0);
    expect_duration("10", 10 * 1000000000ull); /* bare number: seconds, as rtla's -d 10 */
    expect_duration("1.5", 1500 * 1000000ull);
    expect_duration("2m", 120 * 1000000000ull);
    expect_duration("1h", 3600 * 1000000000ull);
}

static void duration_decimals_are_exact(void **state)
{
    (void)state;
    expect_duration("2.5ms", 2500000);
    expect_duration("0.000000001s", 1);
    expect_duration("1.5us", 1500);
    expect_duration("0.25s", 250000000);
    expect_duration("2.000ns", 2);
    /* The largest whole-second value below INT64_MAX ns still fits. */
    expect_duration("9223372036s", 9223372036ull * 1000000000ull);
}

static void duration_errors_quote_the_input(void **state)
{
    (void)state;
    static const char *const invalid[] = {"",    "abc", "10x",  "10mn",  "10 s", " 10s", "-1s",
                                          "1.s", ".5s", "1e3s", "1.5ns", "s",    "10sx", "1..5s"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        expect_duration_error(invalid[i], EINVAL);
    expect_duration_error("99999999999999999999s", ERANGE); /* > UINT64_MAX before the unit */
    expect_duration_error("10000000000s", ERANGE);          /* > INT64_MAX nanoseconds */
    expect_duration_error("9223372036.854775808s", ERANGE); /* INT64_MAX + 1 ns exactly */
}

static void duration_null_is_an_error(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    uint64_t ns;
    assert_int_equal(zb_parse_duration_ns(NULL, &ns, &err), -EINVAL);
    assert_int_equal(err.code, EINVAL);
}

static void size_suffixes_are_powers_of_two(void **state)
{
    (void)state;
    expect_size("4096", 4096);
    expect_size("0", 0);
    expect_size("4K", 4ull << 10);
    expect_size("4k", 4ull << 10);
    expect_size("64M", 64ull << 20);
    expect_size("1G", 1ull << 30);
    expect_size("1g", 1ull << 30);
    expect_size("1T", 1ull << 40);
    expect_size("2KiB", 2ull << 10);
    expect_size("2KB", 2ull << 10);
    expect_size("512B", 512);
    expect_size("1.5K", 1536);
    expect_size("0.5G", 1ull << 29);
}

static void size_errors_quote_the_input(void **state)
{
    (void)state;
    static const char *const invalid[] = {"1Z",   "1.3B",  "-1K", "",   "K",
                                          "1KB2", "1KiBB", "4 K", "1.5"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        expect_size_error(invalid[i], EINVAL);
    expect_size_error("20000000T", ERANGE);
    expect_size_error("99999999999999999999", ERANGE);
}

static void u64_checks_range_and_junk(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    uint64_t v = 0;
    assert_int_equal(zb_parse_u64("42", 1, 100, &v, &err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(zb_parse_u64("1", 1, 100, &v, &err), 0); /* both bounds are inclusive */
    assert_int_equal(v, 1);
    assert_int_equal(zb_parse_u64("100", 1, 100, &v, &err), 0);
    assert_int_equal(v, 100);
    assert_int_equal(zb_parse_u64("18446744073709551615", 0, UINT64_MAX, &v, &err), 0);
    assert_true(v == UINT64_MAX);

    check_error("u64", "0", zb_parse_u64("0", 1, 100, &v, &err), ERANGE, &err);
    check_error("u64", "101", zb_parse_u64("101", 1, 100, &v, &err), ERANGE, &err);
    check_error("u64", "18446744073709551616",
                zb_parse_u64("18446744073709551616", 0, UINT64_MAX, &v, &err), ERANGE, &err);
    check_error("u64", "12x", zb_parse_u64("12x", 0, 100, &v, &err), EINVAL, &err);
    check_error("u64", "-1", zb_parse_u64("-1", 0, 100, &v, &err), EINVAL, &err);
    check_error("u64", "1.5", zb_parse_u64("1.5", 0, 100, &v, &err), EINVAL, &err);
    check_error("u64", " 1", zb_parse_u64(" 1", 0, 100, &v, &err), EINVAL, &err);
    assert_int_equal(zb_parse_u64("", 0, 100, &v, &err), -EINVAL);
}

static void double_accepts_decimals_only(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    double v = 0;
    assert_int_equal(zb_parse_double("0.25", 0, 1, &v, &err), 0);
    assert_true(v == 0.25);
    assert_int_equal(zb_parse_double("-1.5", -2, 2, &v, &err), 0);
    assert_true(v == -1.5);
    assert_int_equal(zb_parse_double("+3", 0, 10, &v, &err), 0);
    assert_true(v == 3.0);
    assert_int_equal(zb_parse_double("1", 1, 1, &v, &err), 0);

    check_error("double", "1.5", zb_parse_double("1.5", 0, 1, &v, &err), ERANGE, &err);
    check_error("double", "-0.1", zb_parse_double("-0.1", 0, 1, &v, &err), ERANGE, &err);
    static const char *const invalid[] = {"1e3", "inf", "nan", "0x10", "1.",
                                          ".5",  "abc", "1,5", " 1",   "--1"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        check_error("double", invalid[i], zb_parse_double(invalid[i], -1e9, 1e9, &v, &err), EINVAL,
                    &err);
    assert_int_equal(zb_parse_double("", 0, 1, &v, &err), -EINVAL);
}

static void expect_fmt_duration(uint64_t ns, const char *want)
{
    char buf[32];
    const char *got = zb_fmt_duration(ns, buf, sizeof(buf));
    assert_ptr_equal(got, buf);
    if (strcmp(got, want))
        fail_msg("%llu ns: '%s', expected '%s'", (unsigned long long)ns, got, want);
}

/* A duration that is a whole number of its unit: the figure may be printed with or without
 * decimals ("4 us" or "4.00 us"), but it must read as exactly `value` `unit`. */
static void expect_fmt_duration_whole(uint64_t ns, double value, const char *unit)
{
    char buf[32], name[8];
    double got;
    zb_fmt_duration(ns, buf, sizeof(buf));
    if (sscanf(buf, "%lf %7s", &got, name) != 2 || got != value || strcmp(name, unit))
        fail_msg("%llu ns: '%s', expected %g %s", (unsigned long long)ns, buf, value, unit);
}

static void fmt_duration_switches_units_at_rounding(void **state)
{
    (void)state;
    expect_fmt_duration(0, "0 ns");
    expect_fmt_duration(999, "999 ns");
    expect_fmt_duration_whole(1000, 1, "us");
    expect_fmt_duration_whole(4000, 4, "us");
    expect_fmt_duration(4500, "4.50 us");
    expect_fmt_duration(999994, "999.99 us");
    expect_fmt_duration(999999, "1.00 ms"); /* not "1000.00 us" */
    expect_fmt_duration_whole(1000000, 1, "ms");
    expect_fmt_duration(3990000, "3.99 ms");
    expect_fmt_duration(999999999, "1.000 s"); /* not "1000.00 ms" */
    expect_fmt_duration(1002000000, "1.002 s");
    expect_fmt_duration_whole(3000000000u, 3, "s");
}

static void expect_fmt_size(uint64_t bytes, const char *want)
{
    char buf[32];
    const char *got = zb_fmt_size(bytes, buf, sizeof(buf));
    assert_ptr_equal(got, buf);
    if (strcmp(got, want))
        fail_msg("%llu bytes: '%s', expected '%s'", (unsigned long long)bytes, got, want);
}

static void fmt_size_uses_binary_units(void **state)
{
    (void)state;
    expect_fmt_size(0, "0 B");
    expect_fmt_size(512, "512 B");
    expect_fmt_size(1023, "1023 B");
    expect_fmt_size(1024, "1.0 KiB");
    expect_fmt_size(4096, "4.0 KiB");
    expect_fmt_size(1536ull << 20, "1.5 GiB");
    expect_fmt_size((1ull << 20) - 1, "1.0 MiB"); /* not "1024.0 KiB" */
    expect_fmt_size(UINT64_MAX, "16.0 EiB");
}

static void printable_replaces_control_bytes(void **state)
{
    (void)state;
    char s[] = "ev\nil\x1b[7m\tx\x7f\r caf\xc3\xa9";
    assert_ptr_equal(zb_printable(s), s);
    assert_string_equal(s, "ev?il?[7m?x?? caf\xc3\xa9"); /* UTF-8 kept */
    char empty[] = "";
    assert_string_equal(zb_printable(empty), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duration_every_unit_is_exact),
        cmocka_unit_test(duration_decimals_are_exact),
        cmocka_unit_test(duration_errors_quote_the_input),
        cmocka_unit_test(duration_null_is_an_error),
        cmocka_unit_test(size_suffixes_are_powers_of_two),
        cmocka_unit_test(size_errors_quote_the_input),
        cmocka_unit_test(u64_checks_range_and_junk),
        cmocka_unit_test(double_accepts_decimals_only),
        cmocka_unit_test(fmt_duration_switches_units_at_rounding),
        cmocka_unit_test(fmt_size_uses_binary_units),
        cmocka_unit_test(printable_replaces_control_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
