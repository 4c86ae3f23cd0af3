/*
 * Proves the common start of a cluster-wide recording (src/noise/rendezvous.c): registrations
 * written and read back, refused when malformed; the plan's turns (4 nodes on 2 CPUs of one
 * machine: 2 turns; other machines never wait for each other), the common start after the last
 * registration, names for tasks of one host; the list of a recording's traces; and a real
 * rendezvous of two threads in a directory, and its bounded wait when a task never comes.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "zepto/noise_rendezvous.h"

static struct zn_rv_task task(unsigned rank, const char *host, const char *boot, unsigned cpu,
                              uint64_t t)
{
    struct zn_rv_task k = {.rank = rank, .t_ns = t};
    snprintf(k.host, sizeof k.host, "%s", host);
    snprintf(k.boot, sizeof k.boot, "%s", boot);
    k.cpus[cpu / 64] |= 1ull << (cpu % 64);
    return k;
}

static void line_round_trip(void **state)
{
    (void)state;
    struct zn_rv_task a = task(3, "zn4", "b00t", 1, 1234567890123ull), b;
    a.cpus[0] |= 1ull << 2 | 1ull << 3;
    a.cpus[15] |= 1ull << 63; /* CPU 1023 */
    char line[1536];
    struct zepto_err err = {0};
    assert_int_equal(zn_rv_format(&a, line, sizeof line), 0);
    assert_string_equal(line, "zepto-noise-sync 1 rank=3 host=zn4 boot=b00t cpus=1-3,1023 "
                              "t=1234567890123\n");
    assert_int_equal(zn_rv_parse(line, strlen(line), &b, &err), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(zn_rv_format(&a, line, 20), -ENAMETOOLONG);
}

static void bad_lines_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "zepto-noise-sync 1 rank=0 host=a boot=b cpus=0 t=1",   /* no newline */
        "zepto-noise-sync 2 rank=0 host=a boot=b cpus=0 t=1\n", /* version */
        "zepto-noise-sync 1 rank=x host=a boot=b cpus=0 t=1\n", /* rank */
        "zepto-noise-sync 1 rank=4096 host=a boot=b cpus=0 t=1\n",
        "zepto-noise-sync 1 rank=0 host= boot=b cpus=0 t=1\n", /* empty host */
        "zepto-noise-sync 1 rank=0 host=a boot=b cpus=all t=1\n",
        "zepto-noise-sync 1 rank=0 host=a boot=b cpus=1024 t=1\n",
        "zepto-noise-sync 1 rank=0 host=a boot=b cpus=3-1 t=1\n",
        "zepto-noise-sync 1 rank=0 host=a boot=b cpus=0 t=99999999999999999999\n",
        "zepto-noise-sync 1 rank=0 host=a boot=b cpus=0 t=1 more\n",
        "zepto-noise-sync 1 host=a rank=0 boot=b cpus=0 t=1\n", /* order */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct zepto_err err = {0};
        struct zn_rv_task t;
        if (zn_rv_parse(bad[i], strlen(bad[i]), &t, &err) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_non_null(strstr(err.msg, "registration"));
    }
}

static void four_nodes_on_two_cpus_take_two_turns(void **state)
{
    (void)state;
    /* zn1..zn4 of the namespace cluster: node I on CPU (I-1) mod 2 of one machine. */
    struct zn_rv_task t[4] = {task(0, "zn1", "m", 0, 100), task(1, "zn2", "m", 1, 400),
                              task(2, "zn3", "m", 0, 200), task(3, "zn4", "m", 1, 300)};
    const uint64_t d = 10000000000ull, len = ZN_RV_CALIB_NS + d + ZN_RV_GAP_NS;
    const uint64_t t0 = 400 + ZN_RV_LEAD_NS; /* after the last registration */
    const unsigned want_slot[4] = {0, 0, 1, 1};
    for (unsigned i = 0; i < 4; i++) {
        struct zn_rv_plan p;
        zn_rv_plan(t, 4, i, d, &p);
        assert_int_equal(p.nslots, 2);
        assert_int_equal(p.slot, want_slot[i]);
        assert_int_equal(p.begin_unix_ns, t0 + want_slot[i] * len);
        assert_int_equal(p.start_unix_ns, p.begin_unix_ns + ZN_RV_CALIB_NS);
        assert_int_equal(p.end_all_unix_ns, t0 + 2 * len - ZN_RV_GAP_NS);
        assert_false(p.dup_host);
        char want[16];
        snprintf(want, sizeof want, "zn%u.znt", i + 1);
        assert_string_equal(p.name, want);
    }
    /* The same four on four machines: no turns. */
    const char *boots[4] = {"a", "b", "c", "d"};
    for (unsigned i = 0; i < 4; i++)
        snprintf(t[i].boot, sizeof t[i].boot, "%s", boots[i]);
    struct zn_rv_plan p;
    zn_rv_plan(t, 4, 2, d, &p);
    assert_int_equal(p.nslots, 1);
    assert_int_equal(p.slot, 0);
}

static void one_host_twice_gets_rank_names(void **state)
{
    (void)state;
    struct zn_rv_task t[3] = {task(0, "vm", "m", 0, 1), task(1, "vm", "m", 1, 1),
                              task(2, "zn9", "m", 0, 1)};
    struct zn_rv_plan p;
    zn_rv_plan(t, 3, 1, 1000, &p);
    assert_true(p.dup_host);
    assert_string_equal(p.name, "vm.r1.znt");
    assert_int_equal(p.slot, 0); /* CPU 1 is free in turn 1 */
    zn_rv_plan(t, 3, 2, 1000, &p);
    assert_false(p.dup_host);
    assert_string_equal(p.name, "zn9.znt");
    assert_int_equal(p.slot, 1); /* CPU 0 is rank 0's in turn 1 */
    assert_int_equal(p.nslots, 2);
}

static void manifest_parse(void **state)
{
    (void)state;
    static const char ok[] = "zepto-noise-nodes 1 job=slurm-5.0 tasks=2\nzn1.znt\nvm.r1.znt\n";
    struct zn_rv_manifest m;
    struct zepto_err err = {0};
    assert_int_equal(zn_rv_manifest_parse(ok, strlen(ok), &m, &err), 0);
    assert_string_equal(m.key, "slurm-5.0");
    assert_int_equal(m.ntasks, 2);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.name[1], "vm.r1.znt");
    zn_rv_manifest_free(&m);
    static const char *const bad[] = {
        "zepto-noise-nodes 1 job=k tasks=2\nzn1.znt\n",           /* too few */
        "zepto-noise-nodes 1 job=k tasks=1\nzn1.znt\nzn2.znt\n",  /* too many */
        "zepto-noise-nodes 1 job=k tasks=1\n../etc/passwd.znt\n", /* a path */
        "zepto-noise-nodes 1 job=k tasks=1\n.hidden.znt\n",
        "zepto-noise-nodes 1 job=k tasks=1\nzn1.txt\n",
        "zepto-noise-nodes 1 job=k tasks=1\nzn1.znt", /* no newline */
        "zepto-noise-nodes 1 job=k tasks=0\n",
        "zepto-noise-nodes 1 job=k tasks=5000\n",
        "zepto-noise-nodes 2 job=k tasks=1\nzn1.znt\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = (struct zepto_err){0};
        if (zn_rv_manifest_parse(bad[i], strlen(bad[i]), &m, &err) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_null(m.name);
    }
}

struct racer {
    char dir[256];
    unsigned rank, size;
    uint64_t timeout_ns;
    int rc;
    struct zn_rv_plan plan;
    struct zepto_err err;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct zn_rv_task self = task(r->rank, "host", "m", 0, 0);
    struct zn_rv_opts o = {.dir = r->dir,
                           .key = "k.1",
                           .rank = r->rank,
                           .size = r->size,
                           .self = &self,
                           .duration_ns = 1000000,
                           .timeout_ns = r->timeout_ns};
    r->rc = zn_rendezvous(&o, &r->plan, &r->err);
    return NULL;
}

static void two_tasks_meet_in_a_directory(void **state)
{
    (void)state;
    char dir[] = "/tmp/zepto-rv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct racer r[2];
    pthread_t th[2];
    for (unsigned i = 0; i < 2; i++) {
        r[i] = (struct racer){.rank = i, .size = 2, .timeout_ns = 10000000000ull};
        snprintf(r[i].dir, sizeof r[i].dir, "%s", dir);
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (unsigned i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(r[i].rc, 0);
    /* Same CPU of one machine: one after the other, agreed by both. */
    assert_int_equal(r[0].plan.slot + r[1].plan.slot, 1);
    assert_int_equal(r[0].plan.end_all_unix_ns, r[1].plan.end_all_unix_ns);
    assert_string_equal(r[1].plan.name, "host.r1.znt");
    char path[512];
    snprintf(path, sizeof path, "%s/" ZN_RV_MANIFEST, dir);
    assert_int_equal(access(path, R_OK), 0);
    zn_rendezvous_cleanup(dir, "k.1");
    snprintf(path, sizeof path, "%s/.zepto-sync-k.1", dir);
    assert_int_not_equal(access(path, F_OK), 0);

    /* Alone of two: a bounded wait, the reason, and nothing left. */
    struct racer one = {.rank = 1, .size = 2, .timeout_ns = 50000000};
    snprintf(one.dir, sizeof one.dir, "%s", dir);
    race(&one);
    assert_int_equal(one.rc, -ETIMEDOUT);
    assert_non_null(
        strstr(one.err.msg, "1 of 2 tasks registered within 0.1 s (rank 0 never came)"));
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/" ZN_RV_MANIFEST, dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(line_round_trip),
        cmocka_unit_test(bad_lines_refused),
        cmocka_unit_test(four_nodes_on_two_cpus_take_two_turns),
        cmocka_unit_test(one_host_twice_gets_rank_names),
        cmocka_unit_test(manifest_parse),
        cmocka_unit_test(two_tasks_meet_in_a_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
