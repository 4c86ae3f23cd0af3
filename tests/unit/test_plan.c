/*
 * Proves the bigmem plan (src/bigmem/plan.c) on machines described by hand: auto takes the
 * largest page size whose pool has room, then THP, then 4 KiB; a page size asked for falls back
 * (said) or, with strict, fails with what to change; default sizes come from the pool's total
 * divided among the node's ranks (at most what is free) or from half of the memory; sizes are
 * rounded up to whole 32 MiB blocks and whole pages; a size above the memory is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "zepto/bigmem.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static struct zbm_system machine(uint64_t free1g, uint64_t free2m, const char *thp)
{
    struct zbm_system s = {.npools = 2,
                           .pool = {{GIB, 8, free1g, 0, 0}, {2 * MIB, 4096, free2m, 0, 0}},
                           .thp_size = 2 * MIB,
                           .mem_total = 64 * GIB,
                           .mem_available = 60 * GIB,
                           .memlock = UINT64_MAX,
                           .local_ranks = 1};
    strcpy(s.thp_enabled, thp);
    return s;
}

static void auto_takes_the_largest_pool_with_room(void **state)
{
    (void)state;
    struct zbm_plan p;
    struct zbm_system s = machine(4, 4096, "madvise");
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 0, false, &p, NULL), 0);
    assert_int_equal(p.pages, ZBM_1G);
    assert_int_equal(p.size, 4 * GIB); /* min(total 8 / 1 rank, free 4) */
    assert_false(p.fell_back);

    s = machine(0, 1000, "madvise");
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 0, false, &p, NULL), 0);
    assert_int_equal(p.pages, ZBM_2M);
    assert_int_equal(p.size, 1000 * 2 * MIB / ZBM_BLOCK * ZBM_BLOCK);

    s = machine(0, 0, "madvise");
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 0, false, &p, NULL), 0);
    assert_int_equal(p.pages, ZBM_THP);
    assert_int_equal(p.size, 30 * GIB); /* min(64/2, 60/2) */

    s = machine(0, 0, "never");
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 0, false, &p, NULL), 0);
    assert_int_equal(p.pages, ZBM_4K);
    assert_int_equal(p.page_size, 4096);
}

static void ranks_share_the_pool(void **state)
{
    (void)state;
    struct zbm_plan p;
    struct zbm_system s = machine(8, 0, "never");
    s.local_ranks = 4;
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 0, false, &p, NULL), 0);
    assert_int_equal(p.pages, ZBM_1G);
    assert_int_equal(p.size, 2 * GIB);
    /* The fourth rank finds 2 pages free: its share still fits. */
    s.pool[0].free = 2;
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 0, false, &p, NULL), 0);
    assert_int_equal(p.size, 2 * GIB);
    s.pool[0].free = 1; /* less than a share: what is free */
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 0, false, &p, NULL), 0);
    assert_int_equal(p.size, 1 * GIB);
    /* Memory regions are shared too: half of the memory over 4 ranks. */
    s = machine(0, 0, "always");
    s.local_ranks = 4;
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 0, false, &p, NULL), 0);
    assert_int_equal(p.size, 8 * GIB);
}

static void sizes_round_up_to_blocks_and_pages(void **state)
{
    (void)state;
    struct zbm_plan p;
    struct zbm_system s = machine(8, 4096, "madvise");
    assert_int_equal(zbm_plan_make(&s, ZBM_2M, 100 * MIB, false, &p, NULL), 0);
    assert_int_equal(p.size, 128 * MIB);
    assert_int_equal(zbm_plan_make(&s, ZBM_1G, 100 * MIB, false, &p, NULL), 0);
    assert_int_equal(p.size, 1 * GIB);
    assert_int_equal(zbm_plan_make(&s, ZBM_4K, 1, false, &p, NULL), 0);
    assert_int_equal(p.size, ZBM_BLOCK);
}

static void strict_says_what_to_change(void **state)
{
    (void)state;
    struct zbm_plan p;
    struct zepto_err err = {0};
    struct zbm_system s = machine(0, 10, "madvise");
    assert_int_equal(zbm_plan_make(&s, ZBM_2M, 64 * MIB, true, &p, &err), -ENOMEM);
    assert_non_null(strstr(err.msg, "needs 32 pages of 2.0 MiB, the pool has 10 free of 4096"));
    assert_non_null(strstr(err.msg, "nr_hugepages"));
    assert_non_null(strstr(err.msg, "hugeadm --pool-pages-min 2MB:"));

    s.npools = 1; /* no 2 MiB pool at all */
    s.pool[0].page_size = GIB;
    memset(&err, 0, sizeof(err));
    assert_int_equal(zbm_plan_make(&s, ZBM_2M, 0, true, &p, &err), -ENOMEM);
    assert_non_null(strstr(err.msg, "no 2 MiB hugetlb pool (boot with hugepagesz=2M"));

    s = machine(0, 0, "never");
    memset(&err, 0, sizeof(err));
    assert_int_equal(zbm_plan_make(&s, ZBM_THP, 0, true, &p, &err), -ENOMEM);
    assert_non_null(strstr(err.msg, "transparent huge pages are 'never'"));
}

static void without_strict_the_fallback_is_said(void **state)
{
    (void)state;
    struct zbm_plan p;
    struct zbm_system s = machine(0, 0, "madvise");
    assert_int_equal(zbm_plan_make(&s, ZBM_1G, 2 * GIB, false, &p, NULL), 0);
    assert_int_equal(p.pages, ZBM_THP);
    assert_true(p.fell_back);
    assert_non_null(strstr(p.why, "1G pages cannot be had"));
    assert_non_null(strstr(p.why, "using thp"));
}

static void sizes_above_memory_are_refused(void **state)
{
    (void)state;
    struct zbm_plan p;
    struct zepto_err err = {0};
    struct zbm_system s = machine(0, 0, "madvise");
    assert_int_equal(zbm_plan_make(&s, ZBM_AUTO, 65 * GIB, false, &p, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "more than this machine's memory"));
    /* Within the memory but above what is available: not even 4 KiB pages. */
    memset(&err, 0, sizeof(err));
    assert_int_equal(zbm_plan_make(&s, ZBM_4K, 62 * GIB, false, &p, &err), -ENOMEM);
    assert_non_null(strstr(err.msg, "more than the"));
}

static void page_names_parse(void **state)
{
    (void)state;
    enum zbm_pages p;
    const char *names[] = {"auto", "1G", "2M", "thp", "4K"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(zbm_pages_parse(names[i], &p, NULL), 0);
        assert_int_equal(p, i);
        assert_string_equal(zbm_pages_name(p), names[i]);
    }
    struct zepto_err err = {0};
    assert_int_equal(zbm_pages_parse("3M", &p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "'3M'"));
    assert_int_equal(zbm_pages_parse(NULL, &p, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auto_takes_the_largest_pool_with_room),
        cmocka_unit_test(ranks_share_the_pool),
        cmocka_unit_test(sizes_round_up_to_blocks_and_pages),
        cmocka_unit_test(strict_says_what_to_change),
        cmocka_unit_test(without_strict_the_fallback_is_said),
        cmocka_unit_test(sizes_above_memory_are_refused),
        cmocka_unit_test(page_names_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
