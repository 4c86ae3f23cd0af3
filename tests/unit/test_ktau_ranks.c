/*
 * The cross-rank summary of `zepto ktau show` (include/zepto/ktau_ranks.h) on synthetic profiles:
 * per routine mean / min / max over the ranks (a rank's threads summed, a rank without the
 * routine counting 0), kernel time (syscalls, interrupts, softirqs, exceptions; not scheduling,
 * not call paths), the rank with the most and the median; and TAU's userevents written and read
 * back with the Hostname metadata.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ktau/profile.h"
#include "zepto/ktau_ranks.h"

static void add(struct ktau_pthread *t, const char *name, const char *group, double calls,
                double excl)
{
    assert_int_equal(ktau_pthread_add(t, name, group, calls, 0, excl, excl), 0);
}

/* Rank r: "solve" r+1 ms in thread 0 (and 1 ms more in a thread 1 of rank 0), sys_read
 * kernel[r] us, "blocked" 1 s (scheduling: not kernel time), a call path 1 s (not counted). */
static void make(struct ktau_pthread *t, int node, int thread, const char *host, double solve,
                 double sysread)
{
    memset(t, 0, sizeof(*t));
    t->node = node;
    t->thread = thread;
    snprintf(t->host, sizeof(t->host), "%s", host);
    add(t, "solve", "TAU_USER", 1, solve);
    if (sysread > 0)
        add(t, "sys_read", "KTAU_SYSCALL", 10, sysread);
    add(t, "blocked", "KTAU_SCHEDULE", 1, 1e6);
    add(t, "solve => sys_read", "KTAU_SYSCALL | TAU_CALLPATH", 10, 1e6);
}

static void test_summary(void **state)
{
    (void)state;
    struct ktau_pthread t[5];
    make(&t[0], 2, 0, "zn2", 3000, 400);
    make(&t[1], 0, 0, "zn1", 1000, 100);
    make(&t[2], 0, 1, "zn1", 1000, 50);
    make(&t[3], 1, 0, "zn1", 2000, 0);
    make(&t[4], 3, 0, "zn2", 4000, 120);
    struct ktau_rank_summary s;
    assert_int_equal(ktau_rank_summary(t, 5, &s), 0);
    assert_int_equal(s.nranks, 4);
    for (int r = 0; r < 4; r++)
        assert_int_equal(s.ranks[r].rank, r);
    assert_int_equal(s.ranks[0].threads, 2);
    assert_string_equal(s.ranks[2].host, "zn2");
    assert_true(s.ranks[0].kernel_us == 150 && s.ranks[1].kernel_us == 0);
    assert_true(s.ranks[2].kernel_us == 400 && s.ranks[3].kernel_us == 120);
    assert_int_equal(s.ranks[s.flagged].rank, 2);
    assert_true(s.median_kernel_us == 135); /* (120 + 150) / 2 */
    const struct ktau_rank_row *w = NULL, *k = NULL;
    for (size_t i = 0; i < s.nrows; i++) {
        if (!strcmp(s.rows[i].name, "solve"))
            w = &s.rows[i];
        if (!strcmp(s.rows[i].name, "sys_read"))
            k = &s.rows[i];
        assert_null(strstr(s.rows[i].name, " => "));
    }
    assert_non_null(w);
    assert_true(w->excl_mean == 2750); /* (2000 + 2000 + 3000 + 4000) / 4 */
    assert_true(w->excl_min == 2000 && w->excl_max == 4000);
    assert_int_equal(w->rank_max, 3);
    assert_true(w->calls_mean == 1.25);
    assert_non_null(k);
    assert_true(k->excl_min == 0 && k->rank_min == 1); /* rank 1 has none: 0 */
    assert_string_equal(s.rows[0].name, "blocked");    /* largest mean first */
    ktau_rank_summary_free(&s);
    for (int i = 0; i < 5; i++)
        ktau_pthread_free(&t[i]);
}

static void test_userevents_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ktau_ranks.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct ktau_pthread t;
    make(&t, 1, 0, "zn7", 10, 5);
    assert_int_equal(ktau_pthread_add_event(&t, "Message size sent to node 0", 3, 64, 8, 40, 5248),
                     0);
    assert_int_equal(ktau_pthread_add_event(&t, "a \"quoted\" name", 1, 0.5, 0.5, 0.5, 0.25), 0);
    struct zepto_err err = {0};
    assert_int_equal(ktau_tau_write(dir, &t, &err), 0);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/profile.1.0.0", dir);
    struct ktau_pthread r;
    assert_int_equal(ktau_tau_read(path, &r, &err), 0);
    assert_string_equal(r.host, "zn7");
    assert_int_equal(r.nue, 2);
    long i = ktau_pthread_find_event(&r, "Message size sent to node 0");
    assert_true(i >= 0);
    assert_true(r.ue[i].n == 3 && r.ue[i].max == 64 && r.ue[i].min == 8 && r.ue[i].mean == 40 &&
                r.ue[i].sumsqr == 5248);
    assert_true(ktau_pthread_find_event(&r, "a \"quoted\" name") >= 0);
    ktau_pthread_free(&r);
    ktau_pthread_free(&t);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_userevents_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
