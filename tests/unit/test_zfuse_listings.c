/*
 * The relaxed mount's listings of directories (src/zoid/fuse/zfuse_listings.c): a name is
 * answered absent only from a complete, fresh reading of its directory; names made through the
 * mount while the reading runs are kept; a clear drops a reading in flight; a directory too big,
 * or a daemon that repeats its names, is not kept and not read again soon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zoid/fuse/zfuse_listings.h"

static void name(struct zf_listing_fetch *f, const char *n)
{
    zf_listing_fetch_name(f, n, strlen(n));
}

static int setup(void **state)
{
    (void)state;
    zf_listings_enable(true);
    zf_listings_clear();
    return 0;
}

/* Two misses in /d read it; the listing then answers for the names it lacks only. */
static void second_miss_reads(void **state)
{
    (void)state;
    struct zf_listing_fetch f;
    assert_false(zf_listing_absent("/d/x"));
    assert_false(zf_listing_missed("/d/x", &f)); /* the first: not worth a reading yet */
    assert_true(zf_listing_missed("/d/y", &f));
    assert_string_equal(f.dir, "/d");
    name(&f, ".");
    name(&f, "a");
    assert_false(zf_listing_absent("/d/x")); /* not before the reading is complete */
    zf_listing_fetch_done(&f, true);
    assert_true(zf_listing_absent("/d/x"));
    assert_false(zf_listing_absent("/d/a"));
    assert_false(zf_listing_absent("/e/x"));     /* another directory */
    assert_false(zf_listing_absent("/d/a/x"));   /* beneath a name, not in /d */
    assert_false(zf_listing_missed("/d/x", &f)); /* fresh: no second reading */
    char longname[300] = "/d/";
    memset(longname + 3, 'n', 256);
    assert_false(zf_listing_absent(longname)); /* ENAMETOOLONG is the daemon's to say */
    longname[3 + 255] = '\0';
    assert_true(zf_listing_absent(longname));
}

/* A name made through the mount, before or while the directory is read, is never absent. */
static void adds_kept(void **state)
{
    (void)state;
    struct zf_listing_fetch f;
    zf_listing_missed("/r/x", &f);
    assert_true(zf_listing_missed("/r/y", &f));
    name(&f, "old");
    zf_listing_add("/r/made-meanwhile");
    zf_listing_fetch_done(&f, true);
    assert_false(zf_listing_absent("/r/made-meanwhile"));
    assert_false(zf_listing_absent("/r/old"));
    zf_listing_add("/r/made-after");
    assert_false(zf_listing_absent("/r/made-after"));
    assert_true(zf_listing_absent("/r/other"));
    /* the root directory too */
    zf_listing_missed("/x", &f);
    assert_true(zf_listing_missed("/y", &f));
    assert_string_equal(f.dir, "/");
    zf_listing_fetch_done(&f, true);
    assert_true(zf_listing_absent("/x"));
    zf_listing_add("/x");
    assert_false(zf_listing_absent("/x"));
}

/* A rename or link clears everything, also a reading in flight (it may miss the moved name). */
static void clear_drops_reading(void **state)
{
    (void)state;
    struct zf_listing_fetch f;
    zf_listing_missed("/c/x", &f);
    assert_true(zf_listing_missed("/c/y", &f));
    zf_listings_clear();
    zf_listing_fetch_done(&f, true);
    assert_false(zf_listing_absent("/c/x"));
}

/* Incomplete, too many names, or names repeated without end: nothing kept, no new reading. */
static void not_kept(void **state)
{
    (void)state;
    struct zf_listing_fetch f;
    zf_listing_missed("/i/x", &f);
    assert_true(zf_listing_missed("/i/y", &f));
    zf_listing_fetch_done(&f, false);
    assert_false(zf_listing_absent("/i/x"));
    assert_false(zf_listing_missed("/i/x", &f));
    assert_false(zf_listing_missed("/i/y", &f));

    zf_listing_missed("/big/x", &f);
    assert_true(zf_listing_missed("/big/y", &f));
    char n[32];
    for (int i = 0; i <= ZF_LISTING_NAMES_MAX; i++) {
        snprintf(n, sizeof(n), "n%d", i);
        name(&f, n);
    }
    assert_true(f.too_big);
    zf_listing_fetch_done(&f, true);
    assert_false(zf_listing_absent("/big/x"));
    assert_false(zf_listing_missed("/big/z", &f));

    zf_listing_missed("/rep/x", &f);
    assert_true(zf_listing_missed("/rep/y", &f));
    for (int i = 0; i <= 2 * ZF_LISTING_NAMES_MAX && !f.too_big; i++)
        name(&f, "same");
    assert_true(f.too_big); /* a daemon that repeats itself cannot keep the reading going */
    zf_listing_fetch_done(&f, true);
    assert_false(zf_listing_absent("/rep/x"));
}

/* Off (strict mounts): nothing read, nothing answered. */
static void disabled(void **state)
{
    (void)state;
    struct zf_listing_fetch f;
    zf_listings_enable(false);
    assert_false(zf_listing_missed("/s/x", &f));
    assert_false(zf_listing_missed("/s/y", &f));
    assert_false(zf_listing_absent("/s/x"));
}

/* More directories than slots: the oldest go, none answers wrongly. */
static void many_dirs(void **state)
{
    (void)state;
    struct zf_listing_fetch f;
    char a[64], b[64];
    for (int i = 0; i < 3 * ZF_LISTING_DIRS; i++) {
        snprintf(a, sizeof(a), "/m%d/x", i);
        snprintf(b, sizeof(b), "/m%d/y", i);
        zf_listing_missed(a, &f);
        if (zf_listing_missed(b, &f))
            zf_listing_fetch_done(&f, true);
    }
    snprintf(a, sizeof(a), "/m%d/x", 3 * ZF_LISTING_DIRS - 1);
    assert_true(zf_listing_absent(a));
    zf_listing_add(a);
    assert_false(zf_listing_absent(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(second_miss_reads, setup),
        cmocka_unit_test_setup(adds_kept, setup),
        cmocka_unit_test_setup(clear_drops_reading, setup),
        cmocka_unit_test_setup(not_kept, setup),
        cmocka_unit_test_setup(disabled, setup),
        cmocka_unit_test_setup(many_dirs, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
