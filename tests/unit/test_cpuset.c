/*
 * Proves the CPU lists of src/base/cpuset.c: the exact members of parsed lists, the refusal of
 * every malformed list with the right errno, the check against the CPUs allowed, the list form
 * that formatting writes back, ascending listing, and pinning the calling thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/cpuset.h"

/* Asserts that set holds exactly the n CPUs of want. */
static void expect_members(const struct zb_cpuset *set, const unsigned *want, unsigned n)
{
    assert_int_equal(zb_cpuset_count(set), n);
    for (unsigned i = 0; i < n; i++)
        if (!zb_cpuset_has(set, want[i]))
            fail_msg("CPU %u missing", want[i]);
}

static void parse_list_and_ranges(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    struct zb_cpuset set;
    assert_int_equal(zb_cpuset_parse("0-3,6", &set, &err), 0);
    expect_members(&set, (const unsigned[]){0, 1, 2, 3, 6}, 5);
    assert_false(zb_cpuset_has(&set, 4));
    assert_false(zb_cpuset_has(&set, 5));
    assert_false(zb_cpuset_has(&set, 7));

    assert_int_equal(zb_cpuset_parse("5", &set, &err), 0);
    expect_members(&set, (const unsigned[]){5}, 1);

    assert_int_equal(zb_cpuset_parse("0,0", &set, &err), 0);
    expect_members(&set, (const unsigned[]){0}, 1);

    assert_int_equal(zb_cpuset_parse("4095", &set, &err), 0); /* the highest CPU a list may name */
    expect_members(&set, (const unsigned[]){4095}, 1);

    assert_int_equal(zb_cpuset_parse("all", &set, &err), 0);
    assert_int_equal(zb_cpuset_count(&set), ZB_CPU_MAX);
}

static void parse_clears_previous_contents(void **state)
{
    (void)state;
    struct zb_cpuset set;
    zb_cpuset_clear(&set);
    zb_cpuset_add(&set, 9);
    assert_int_equal(zb_cpuset_parse("1", &set, NULL), 0);
    expect_members(&set, (const unsigned[]){1}, 1);
}

static void parse_rejects_malformed_lists(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int code;
    } bad[] = {
        {"", EINVAL},     {",", EINVAL},   {"1,", EINVAL},   {",1", EINVAL},     {"1,,2", EINVAL},
        {"a", EINVAL},    {"-1", EINVAL},  {"1-", EINVAL},   {"3-1", EINVAL},    {"1 ", EINVAL},
        {"0-3x", EINVAL}, {"ALL", EINVAL}, {"4096", ERANGE}, {"0-5000", ERANGE},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct zepto_err err = {0};
        struct zb_cpuset set;
        int rc = zb_cpuset_parse(bad[i].s, &set, &err);
        if (rc != -bad[i].code)
            fail_msg("'%s': rc %d, expected %d", bad[i].s, rc, -bad[i].code);
        assert_int_equal(err.code, bad[i].code);
        if (!strstr(err.msg, bad[i].s))
            fail_msg("'%s': message '%s' does not quote the input", bad[i].s, err.msg);
    }
}

static void parse_allowed_checks_membership(void **state)
{
    (void)state;
    struct zb_cpuset allowed, set;
    struct zepto_err err = {0};
    zb_cpuset_clear(&allowed);
    zb_cpuset_add(&allowed, 0);
    zb_cpuset_add(&allowed, 1);

    assert_int_equal(zb_cpuset_parse_allowed("0-1", &allowed, &set, &err), 0);
    expect_members(&set, (const unsigned[]){0, 1}, 2);

    assert_int_equal(zb_cpuset_parse_allowed("2", &allowed, &set, &err), -ERANGE);
    assert_int_equal(err.code, ERANGE);
    if (!strstr(err.msg, "CPU 2"))
        fail_msg("message '%s' does not name CPU 2", err.msg);

    assert_int_equal(zb_cpuset_parse_allowed("0-2", &allowed, &set, &err), -ERANGE);
    if (!strstr(err.msg, "CPU 2"))
        fail_msg("message '%s' does not name CPU 2", err.msg);

    assert_int_equal(zb_cpuset_parse_allowed("all", &allowed, &set, &err), 0);
    assert_memory_equal(&set, &allowed, sizeof(set));

    /* Syntax errors come through unchanged. */
    assert_int_equal(zb_cpuset_parse_allowed("1,", &allowed, &set, &err), -EINVAL);
}

static void expect_round_trip(const char *s)
{
    struct zb_cpuset set;
    char buf[64];
    assert_int_equal(zb_cpuset_parse(s, &set, NULL), 0);
    zb_cpuset_format(&set, buf, sizeof(buf));
    if (strcmp(buf, s))
        fail_msg("'%s' formats as '%s'", s, buf);
}

static void format_round_trips(void **state)
{
    (void)state;
    expect_round_trip("0-3,6");
    expect_round_trip("1");
    expect_round_trip("0,2,4-5");
    expect_round_trip("4094-4095");
    expect_round_trip("0-4095");

    /* A list written out of order or with overlaps comes back in canonical form. */
    struct zb_cpuset set;
    char buf[64];
    assert_int_equal(zb_cpuset_parse("6,3-5,0,4", &set, NULL), 0);
    assert_string_equal(zb_cpuset_format(&set, buf, sizeof(buf)), "0,3-6");

    zb_cpuset_clear(&set);
    assert_string_equal(zb_cpuset_format(&set, buf, sizeof(buf)), "");
}

static void list_is_ascending_and_bounded(void **state)
{
    (void)state;
    struct zb_cpuset set;
    int cpus[8];
    zb_cpuset_clear(&set);
    zb_cpuset_add(&set, 70);
    zb_cpuset_add(&set, 3);
    zb_cpuset_add(&set, 64);
    zb_cpuset_add(&set, 0);
    zb_cpuset_add(&set, ZB_CPU_MAX); /* out of range: ignored */
    assert_int_equal(zb_cpuset_list(&set, cpus, 8), 4);
    assert_int_equal(cpus[0], 0);
    assert_int_equal(cpus[1], 3);
    assert_int_equal(cpus[2], 64);
    assert_int_equal(cpus[3], 70);

    cpus[2] = -7;
    assert_int_equal(zb_cpuset_list(&set, cpus, 2), 2);
    assert_int_equal(cpus[0], 0);
    assert_int_equal(cpus[1], 3);
    assert_int_equal(cpus[2], -7); /* nothing written past max */
}

static void pin_self_to_cpu0(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    cpu_set_t old;
    assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
    if (!CPU_ISSET(0, &old))
        skip(); /* this process may not use CPU 0 */

    assert_int_equal(zb_pin_self(0, &err), 0);
    cpu_set_t now;
    assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(now), &now), 0);
    assert_int_equal(CPU_COUNT(&now), 1);
    assert_true(CPU_ISSET(0, &now));
    assert_int_equal(sched_getcpu(), 0);
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(old), &old), 0);
}

static void pin_self_refuses_bad_cpu(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    assert_true(zb_pin_self(-1, &err) < 0);
    assert_int_not_equal(err.code, 0);
    assert_non_null(strstr(err.msg, "-1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_list_and_ranges),
        cmocka_unit_test(parse_clears_previous_contents),
        cmocka_unit_test(parse_rejects_malformed_lists),
        cmocka_unit_test(parse_allowed_checks_membership),
        cmocka_unit_test(format_round_trips),
        cmocka_unit_test(list_is_ascending_and_bounded),
        cmocka_unit_test(pin_self_to_cpu0),
        cmocka_unit_test(pin_self_refuses_bad_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
