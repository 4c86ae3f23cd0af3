/*
 * Proves the loop calibration of src/noise/calibrate.c: the `auto` threshold is the largest of
 * the end of the clock read's tail (ZN_AUTO_UNKNOWN_NS when it is unknown), ZN_AUTO_LOOP_MULT
 * loop times and ZN_AUTO_FLOOR_NS (each made to dominate in turn, expectations computed from the
 * macros of calibrate.h), in ticks of the clock used; and a real 20 ms calibration fills every
 * field consistently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "noise/calibrate.h"

static const struct zb_clock ghz = {.kind = ZB_CLOCK_MONOTONIC, .hz = 1000000000u};

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t m = a > b ? a : b;
    return m > c ? m : c;
}

static void threshold_dominated_by_loop(void **state)
{
    (void)state;
    /* A loop as long as the floor: its multiple beats the floor and a short tail. */
    uint64_t loop = ZN_AUTO_FLOOR_NS;
    struct zn_calib c = {
        .samples = 1000000, .min_ticks = loop, .p9999_ticks = loop, .tail_ticks = loop + 1};
    assert_true(loop * ZN_AUTO_LOOP_MULT > c.tail_ticks);
    assert_int_equal(zn_auto_threshold_ticks(&ghz, &c), loop * ZN_AUTO_LOOP_MULT);
}

static void threshold_dominated_by_tail(void **state)
{
    (void)state;
    /* A tail that ends beyond the loop multiple and the floor. */
    uint64_t tail = 3 * ZN_AUTO_FLOOR_NS * ZN_AUTO_LOOP_MULT + 7;
    struct zn_calib c = {.samples = 1000000,
                         .min_ticks = 2 * ZN_AUTO_FLOOR_NS,
                         .p9999_ticks = tail / ZN_AUTO_TAIL_MULT,
                         .tail_ticks = tail};
    assert_true(tail > c.min_ticks * ZN_AUTO_LOOP_MULT && tail > ZN_AUTO_FLOOR_NS);
    assert_int_equal(zn_auto_threshold_ticks(&ghz, &c), tail);
}

static void threshold_never_below_the_floor(void **state)
{
    (void)state;
    struct zn_calib c = {.samples = 1000000, .min_ticks = 1, .p9999_ticks = 2, .tail_ticks = 3};
    assert_true(1 * ZN_AUTO_LOOP_MULT < ZN_AUTO_FLOOR_NS && c.tail_ticks < ZN_AUTO_FLOOR_NS);
    assert_int_equal(zn_auto_threshold_ticks(&ghz, &c), ZN_AUTO_FLOOR_NS);

    /* No calibration at all, or a tail that could not be told (0): the conservative
     * ZN_AUTO_UNKNOWN_NS, unless the loop multiple is larger. */
    struct zn_calib none = {0};
    assert_int_equal(zn_auto_threshold_ticks(&ghz, &none),
                     max3(0, ZN_AUTO_UNKNOWN_NS, ZN_AUTO_FLOOR_NS));
    struct zn_calib unknown_tail = {.samples = 10, .min_ticks = 20, .p9999_ticks = 4096};
    assert_int_equal(zn_auto_threshold_ticks(&ghz, &unknown_tail),
                     max3(20 * ZN_AUTO_LOOP_MULT, ZN_AUTO_UNKNOWN_NS, ZN_AUTO_FLOOR_NS));
    struct zn_calib slow_loop = {.samples = 10, .min_ticks = 200, .p9999_ticks = 4096};
    assert_int_equal(zn_auto_threshold_ticks(&ghz, &slow_loop), 200 * ZN_AUTO_LOOP_MULT);
}

static void threshold_in_ticks_of_a_faster_clock(void **state)
{
    (void)state;
    /* At 2.5 GHz a nanosecond is 2.5 ticks: the floor converts, the tick counts do not. */
    const struct zb_clock tsc = {.kind = ZB_CLOCK_TSC, .hz = 2500000000u};
    uint64_t floor_ticks = ZN_AUTO_FLOOR_NS * 5 / 2;
    struct zn_calib quiet = {.samples = 1000000, .min_ticks = 1, .p9999_ticks = 2, .tail_ticks = 3};
    assert_int_equal(zn_auto_threshold_ticks(&tsc, &quiet),
                     max3(1 * ZN_AUTO_LOOP_MULT, 3, floor_ticks));
    assert_int_equal(zn_auto_threshold_ticks(&tsc, &quiet), floor_ticks);

    struct zn_calib slow = {
        .samples = 1000000, .min_ticks = floor_ticks, .p9999_ticks = 40, .tail_ticks = 50};
    assert_int_equal(zn_auto_threshold_ticks(&tsc, &slow), floor_ticks * ZN_AUTO_LOOP_MULT);
}

static void check_real_calibration(const struct zb_clock *clk)
{
    struct zn_calib c;
    memset(&c, 0xff, sizeof(c));
    zn_calibrate_loop(clk, zb_clock_from_ns(clk, 20000000), &c);
    print_message("%s: %llu samples, min %llu, p99.99 %llu, tail end %llu ticks\n",
                  zb_clock_name(clk->kind), (unsigned long long)c.samples,
                  (unsigned long long)c.min_ticks, (unsigned long long)c.p9999_ticks,
                  (unsigned long long)c.tail_ticks);
    assert_true(c.samples > 0);
    assert_true(c.min_ticks > 0);
    assert_true(c.p9999_ticks >= c.min_ticks);
    /* 20 ms of reads of a clock that costs at least 1 ns each: at most 20 million samples. */
    assert_true(c.samples <= 20000000);
    if (c.tail_ticks) {
        assert_true(c.tail_ticks >= c.p9999_ticks);
        assert_true(c.tail_ticks >= c.min_ticks);
    } else {
        print_message("the calibration was disturbed: no tail could be told\n");
    }
    uint64_t thr = zn_auto_threshold_ticks(clk, &c);
    assert_true(thr >= zb_clock_from_ns(clk, ZN_AUTO_FLOOR_NS));
    assert_true(thr >= c.min_ticks * ZN_AUTO_LOOP_MULT);
    assert_true(thr >= c.tail_ticks);
}

static void real_calibration_of_each_clock(void **state)
{
    (void)state;
    struct zb_clock clk;
    struct zepto_err err = {0};
    if (zb_clock_init(&clk, ZB_CLOCK_AUTO, 20000000, &err))
        fail_msg("zb_clock_init: %s", err.msg);
    check_real_calibration(&clk);
    if (clk.kind == ZB_CLOCK_TSC) {
        assert_int_equal(zb_clock_init(&clk, ZB_CLOCK_MONOTONIC, 0, &err), 0);
        check_real_calibration(&clk);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threshold_dominated_by_loop),
        cmocka_unit_test(threshold_dominated_by_tail),
        cmocka_unit_test(threshold_never_below_the_floor),
        cmocka_unit_test(threshold_in_ticks_of_a_faster_clock),
        cmocka_unit_test(real_calibration_of_each_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
