/*
 * Proves the values of src/tune/values.c: hex cpumasks in the kernel's form (32-bit words,
 * commas) parsed and formatted, choice files read for their selected word, and values compared
 * by meaning (a mask "3" equals "00000003", a list "0-1" equals "0,1", but not "0").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tune/tune_int.h"

static void mask_parse(void **state)
{
    (void)state;
    struct zb_cpuset s;
    assert_int_equal(zt_mask_parse("3", &s), 0);
    assert_int_equal(zb_cpuset_count(&s), 2);
    assert_true(zb_cpuset_has(&s, 0) && zb_cpuset_has(&s, 1));
    assert_int_equal(zt_mask_parse("f,00000000", &s), 0);
    assert_int_equal(zb_cpuset_count(&s), 4);
    assert_true(zb_cpuset_has(&s, 32) && zb_cpuset_has(&s, 35) && !zb_cpuset_has(&s, 0));
    assert_int_equal(zt_mask_parse("00000001,80000000\n", &s), 0);
    assert_true(zb_cpuset_has(&s, 31) && zb_cpuset_has(&s, 32));
    assert_int_equal(zt_mask_parse("", &s), -EINVAL);
    assert_int_equal(zt_mask_parse("3g", &s), -EINVAL);
}

static void mask_format(void **state)
{
    (void)state;
    struct zb_cpuset s, back;
    char buf[64];
    zb_cpuset_clear(&s);
    zb_cpuset_add(&s, 0);
    assert_string_equal(zt_mask_format(&s, buf, sizeof(buf)), "1");
    zb_cpuset_add(&s, 33);
    assert_string_equal(zt_mask_format(&s, buf, sizeof(buf)), "2,00000001");
    assert_int_equal(zt_mask_parse(buf, &back), 0);
    assert_memory_equal(&s, &back, sizeof(s));
    zb_cpuset_clear(&s);
    assert_string_equal(zt_mask_format(&s, buf, sizeof(buf)), "0");
}

static void choice(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(zt_choice_selected("always [madvise] never", buf, sizeof(buf)), "madvise");
    assert_string_equal(zt_choice_selected("[always] madvise never", buf, sizeof(buf)), "always");
    assert_string_equal(zt_choice_selected("plain", buf, sizeof(buf)), "plain");
}

static void equal(void **state)
{
    (void)state;
    assert_true(zt_value_equal(ZT_VALUE_CPUMASK, "00000003", "3"));
    assert_false(zt_value_equal(ZT_VALUE_CPUMASK, "1", "3"));
    assert_true(zt_value_equal(ZT_VALUE_CPULIST, "0,1", "0-1"));
    assert_false(zt_value_equal(ZT_VALUE_CPULIST, "0", "0-1"));
    assert_true(zt_value_equal(ZT_VALUE_CHOICE, "always [madvise] never", "madvise"));
    assert_false(zt_value_equal(ZT_VALUE_CHOICE, "[always] madvise never", "madvise"));
    assert_true(zt_value_equal(ZT_VALUE_TEXT, "10", "10"));
    assert_false(zt_value_equal(ZT_VALUE_TEXT, "10", "010"));
    assert_false(zt_value_equal(ZT_VALUE_CPUMASK, "zz", "zz")); /* unparsable never equals */
    assert_true(zt_value_equal(ZT_VALUE_CPULIST, "", ""));      /* v2: inherits */
    assert_false(zt_value_equal(ZT_VALUE_CPULIST, "", "0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mask_parse),
        cmocka_unit_test(mask_format),
        cmocka_unit_test(choice),
        cmocka_unit_test(equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
