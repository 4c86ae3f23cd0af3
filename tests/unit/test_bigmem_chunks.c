/*
 * Proves the growth of bigmem's default region (zbm_chunk_next in src/bigmem/plan.c, used by the
 * preload) and its mapping (zbm_region_reserve/zbm_region_grow): a first chunk of 32 MiB, then
 * doubling, at most 1 GiB a chunk, a chunk large enough for the allocation that needs it, whole
 * pages, never past the capacity; a reserved region maps nothing until it grows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "zepto/bigmem.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static void doubles_then_caps(void **state)
{
    (void)state;
    uint64_t size = 0, cap = 64 * GIB;
    const uint64_t want[] = {32 * MIB,  32 * MIB, 64 * MIB, 128 * MIB, 256 * MIB,
                             512 * MIB, 1 * GIB,  1 * GIB,  1 * GIB};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t c = zbm_chunk_next(size, cap, 2 * MIB, 0);
        assert_int_equal(c, want[i]);
        size += c;
    }
}

static void fits_the_allocation(void **state)
{
    (void)state;
    /* 200 MiB in a 64 MiB region: 200 MiB plus a block, in whole blocks. */
    assert_int_equal(zbm_chunk_next(64 * MIB, 8 * GIB, 2 * MIB, 200 * MIB), 256 * MIB);
    /* A small allocation takes the doubling chunk. */
    assert_int_equal(zbm_chunk_next(64 * MIB, 8 * GIB, 2 * MIB, 100), 64 * MIB);
    /* 1 GiB pages: whole pages. */
    assert_int_equal(zbm_chunk_next(0, 8 * GIB, GIB, 0), GIB);
}

static void never_past_capacity(void **state)
{
    (void)state;
    assert_int_equal(zbm_chunk_next(96 * MIB, 128 * MIB, 2 * MIB, 0), 32 * MIB);
    assert_int_equal(zbm_chunk_next(128 * MIB, 128 * MIB, 2 * MIB, 0), 0);
    assert_int_equal(zbm_chunk_next(0, 16 * MIB, 2 * MIB, 0), 0); /* less than a block */
}

static void reserve_then_grow(void **state)
{
    (void)state;
    struct zbm_plan plan = {.pages = ZBM_4K, .page_size = 4096, .size = 256 * MIB};
    struct zbm_region r;
    struct zepto_err err = {0};
    assert_int_equal(zbm_region_reserve(&plan, false, &r, &err), 0);
    assert_int_equal(r.size, 0);
    assert_int_equal(r.capacity, 256 * MIB);
    assert_int_equal((uintptr_t)r.base % ZBM_ALIGN, 0);
    assert_int_equal(zbm_region_grow(&r, 32 * MIB, &err), 0);
    ((volatile char *)r.base)[32 * MIB - 1] = 1;
    assert_int_equal(zbm_region_grow(&r, 224 * MIB, &err), 0);
    assert_int_equal(r.size, 256 * MIB);
    assert_int_equal(r.chunks, 2);
    assert_true(zbm_region_grow(&r, 32 * MIB, &err) < 0); /* full */
    zbm_region_unmap(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doubles_then_caps),
        cmocka_unit_test(fits_the_allocation),
        cmocka_unit_test(never_past_capacity),
        cmocka_unit_test(reserve_then_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
