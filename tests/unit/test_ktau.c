/*
 * libktau's timers: the cost of a start/stop pair, inclusive and exclusive time, calls and child
 * calls, recursion, the scoped region, mismatched stops (reported once per name, repaired), and
 * the per-thread files written at thread exit and by ktau_write, read back with the reader.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ktau/raw.h"
#include "zepto/ktau.h"

static char dir[256];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void spin_ns(uint64_t ns)
{
    uint64_t t0 = now_ns();
    while (now_ns() - t0 < ns)
        ;
}

/* Writes this process's profiles and reads back the calling thread's file. */
static void snapshot(struct ktau_raw_thread *t)
{
    assert_int_equal(ktau_write(dir), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/ktau.%d.%d.bin", dir, (int)getpid(), (int)syscall(SYS_gettid));
    struct zepto_err err = {0};
    int rc = ktau_raw_read(path, t, &err);
    if (rc)
        fail_msg("%s", err.msg);
}

static long routine(const struct ktau_raw_thread *t, const char *name)
{
    for (uint32_t i = 0; i < t->h.nroutines; i++)
        if (!strcmp(t->names[i], name))
            return i;
    return -1;
}

/* Two bare TSC reads, 10,000 times: the floor of a pair (on a busy or oversubscribed VM it
 * rises), per pair in ns. */
static double bare_batch_ns(void)
{
    uint64_t t0 = now_ns();
    for (int i = 0; i < 10000; i++) {
        __asm__ volatile("rdtsc" ::: "rax", "rdx");
        __asm__ volatile("rdtsc" ::: "rax", "rdx");
    }
    return (double)(now_ns() - t0) / 10000;
}

static double pair_batch_ns(void)
{
    uint64_t t0 = now_ns();
    for (int i = 0; i < 10000; i++) {
        ktau_start("pair");
        ktau_stop("pair");
    }
    return (double)(now_ns() - t0) / 10000;
}

/* The sanitizers' instrumentation is inside every start and stop: their cost is not ktau's. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif

/* The minimum over many short batches (so that preemption by other work is left out), pairs and
 * bare reads alternating so that both see the same machine. The target, 30 ns, holds on this
 * 2-vCPU VM when it is quiet; when two bare clock reads alone cost more than 15 ns (the host is
 * taking the CPU), the pair may cost what they cost plus 12 ns. A machine that changed under one
 * measurement gets two more (a CI run once measured 31.0 ns against a bare 16.4 measured after).
 * Measured in a thread of its own: its millions of events fill that thread's log, not the one
 * the next tests read (three attempts once filled it, and the next tests found no events). */
static void *measure_pairs(void *arg)
{
    bool *ok = arg;
    ktau_start("pair outer");
    for (int attempt = 0; attempt < 3 && !*ok; attempt++) {
        double best = 1e9, bare = 1e9;
        for (int b = 0; b < 200; b++) {
            double p = pair_batch_ns(), r = bare_batch_ns();
            best = p < best ? p : best;
            bare = r < bare ? r : bare;
        }
        printf("start/stop pair: %.1f ns (best of 200 batches); two bare TSC reads: %.1f ns\n",
               best, bare);
        *ok = best <= 30.0 || (bare > 15.0 && best <= bare + 12.0);
    }
    ktau_stop("pair outer");
    return NULL;
}

static void pair_costs_at_most_30_ns(void **state)
{
    (void)state;
    bool ok = false;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, measure_pairs, &ok), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
#ifdef SANITIZED
    if (!ok) {
        printf("skipped: the 30 ns bound in a sanitizer build (its instrumentation is in the "
               "pair)\n");
        skip();
    }
#endif
    assert_true(ok);
}

static void nested_timers_split_inclusive_and_exclusive(void **state)
{
    (void)state;
    ktau_start("outer");
    spin_ns(1000000);
    for (int i = 0; i < 3; i++) {
        ktau_start("inner");
        spin_ns(1000000);
        ktau_stop("inner");
    }
    ktau_stop("outer");
    struct ktau_raw_thread t;
    snapshot(&t);
    long o = routine(&t, "outer"), in = routine(&t, "inner");
    assert_true(o > 0 && in > 0);
    const struct ktau_raw_routine *ro = &t.routines[o], *ri = &t.routines[in];
    assert_int_equal(ro->calls, 1);
    assert_int_equal(ro->subrs, 3);
    assert_int_equal(ri->calls, 3);
    assert_int_equal(ri->subrs, 0);
    /* Wall time: on a busy machine preemption adds to it, so only what nesting implies. */
    assert_true(ri->incl_ns >= 3000000 && ri->incl_ns <= ro->incl_ns);
    assert_true(ri->excl_ns == ri->incl_ns);
    assert_true(ro->incl_ns >= 4000000);
    /* Exclusive = inclusive - children, to within the rounding of the conversion. */
    int64_t d = (int64_t)ro->excl_ns - (int64_t)(ro->incl_ns - ri->incl_ns);
    assert_true(d > -100 && d < 100);
    /* The log holds the enters and exits in order, with increasing times. */
    int enters = 0, exits = 0;
    for (uint64_t i = 0; i < t.h.nevents; i++) {
        if (i)
            assert_true(t.events[i].t_ns >= t.events[i - 1].t_ns);
        if ((long)(t.events[i].rid_dir >> 1) == in)
            (t.events[i].rid_dir & 1) ? exits++ : enters++;
    }
    assert_int_equal(enters, 3);
    assert_int_equal(exits, 3);
    assert_true(t.h.start_ns <= t.events[0].t_ns && t.h.end_ns >= t.events[t.h.nevents - 1].t_ns);
    ktau_raw_free(&t);
}

static void recursion_counts_inclusive_time_once(void **state)
{
    (void)state;
    uint64_t t0 = now_ns();
    ktau_start("rec");
    spin_ns(500000);
    ktau_start("rec");
    spin_ns(500000);
    ktau_stop("rec");
    ktau_stop("rec");
    uint64_t wall = now_ns() - t0;
    struct ktau_raw_thread t;
    snapshot(&t);
    long r = routine(&t, "rec");
    assert_true(r > 0);
    assert_int_equal(t.routines[r].calls, 2);
    assert_true(t.routines[r].incl_ns <= wall + 1000);
    assert_true(t.routines[r].incl_ns >= 1000000);
    ktau_raw_free(&t);
}

static void region_stops_at_end_of_block(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        KTAU_REGION("scoped");
        spin_ns(1000);
    }
    struct ktau_raw_thread t;
    snapshot(&t);
    long r = routine(&t, "scoped");
    assert_true(r > 0);
    assert_int_equal(t.routines[r].calls, 2);
    ktau_raw_free(&t);
}

static void same_text_at_two_addresses_is_one_routine(void **state)
{
    (void)state;
    static char a[] = "dup", b[] = "dup"; /* names must outlive the thread */
    ktau_start(a);
    ktau_stop(b);
    ktau_start(b);
    ktau_stop(a);
    struct ktau_raw_thread t;
    snapshot(&t);
    long r = routine(&t, "dup");
    assert_true(r > 0);
    assert_int_equal(t.routines[r].calls, 2);
    ktau_raw_free(&t);
}

/* Runs fn with stderr sent to a file; returns the number of lines it printed. */
static int stderr_lines(void (*fn)(void))
{
    char path[512];
    snprintf(path, sizeof(path), "%s/stderr.txt", dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    int lines = 0;
    for (ssize_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    buf[n > 0 ? n : 0] = 0;
    printf("%s", buf);
    return lines;
}

static void mismatches(void)
{
    ktau_start("m1");
    ktau_start("m2");
    ktau_stop("m1"); /* m2 is running: both stop, one message */
    ktau_stop("m1"); /* not running: ignored, already reported */
    ktau_stop("zz"); /* never started: one message */
    ktau_stop("zz");
    ktau_start("after");
    ktau_stop("after");
}

static void mismatched_stop_is_reported_once_and_repaired(void **state)
{
    (void)state;
    assert_int_equal(stderr_lines(mismatches), 2);
    struct ktau_raw_thread t;
    snapshot(&t);
    long m1 = routine(&t, "m1"), m2 = routine(&t, "m2"), after = routine(&t, "after");
    assert_true(m1 > 0 && m2 > 0 && after > 0);
    assert_int_equal(t.routines[m1].calls, 1);
    assert_int_equal(t.routines[m2].calls, 1);
    assert_int_equal(t.routines[after].calls, 1);
    /* m2's exit was logged before m1's, and "after" runs at the root's level. */
    int64_t e1 = -1, e2 = -1;
    for (uint64_t i = 0; i < t.h.nevents; i++) {
        if (t.events[i].rid_dir == ((uint32_t)m1 << 1 | 1))
            e1 = (int64_t)i;
        if (t.events[i].rid_dir == ((uint32_t)m2 << 1 | 1))
            e2 = (int64_t)i;
    }
    assert_true(e2 >= 0 && e1 == e2 + 1);
    ktau_raw_free(&t);
}

static pid_t thread_tid;

static void *thread_body(void *arg)
{
    (void)arg;
    thread_tid = (pid_t)syscall(SYS_gettid);
    ktau_start("in_thread");
    spin_ns(1000);
    ktau_stop("in_thread");
    return NULL;
}

static void thread_writes_its_file_at_exit(void **state)
{
    (void)state;
    const char *env = getenv("KTAU_DIR");
    if (!env || strcmp(env, dir))
        skip();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, thread_body, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/ktau.%d.%d.bin", dir, (int)getpid(), (int)thread_tid);
    struct ktau_raw_thread t;
    struct zepto_err err = {0};
    if (ktau_raw_read(path, &t, &err))
        fail_msg("%s", err.msg);
    assert_false(t.h.flags & KTAU_RAW_MAIN);
    assert_int_equal(t.h.tid, (uint32_t)thread_tid);
    long r = routine(&t, "in_thread");
    assert_true(r > 0);
    assert_int_equal(t.routines[r].calls, 1);
    assert_int_equal(t.routines[0].calls, 1); /* the root */
    ktau_raw_free(&t);
}

static void reader_refuses_damaged_files(void **state)
{
    (void)state;
    struct ktau_raw_thread t;
    snapshot(&t);
    ktau_raw_free(&t);
    char path[512], bad[512];
    snprintf(path, sizeof(path), "%s/ktau.%d.%d.bin", dir, (int)getpid(), (int)syscall(SYS_gettid));
    snprintf(bad, sizeof(bad), "%s/bad.bin", dir);
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), in);
    fclose(in);
    struct zepto_err err = {0};
    /* Cut in the middle of the events, and cut in the header. */
    size_t cuts[] = {n - 8, 40};
    for (int i = 0; i < 2; i++) {
        FILE *out = fopen(bad, "wb");
        assert_non_null(out);
        fwrite(buf, 1, cuts[i], out);
        fclose(out);
        assert_int_equal(ktau_raw_read(bad, &t, &err), -EPROTO);
        assert_non_null(strstr(err.msg, "bad.bin"));
    }
    /* Random damage: refused or read, never a crash or an overrun (the sanitizer build checks). */
    srand(7);
    for (int k = 0; k < 300; k++) {
        static char mut[1 << 20];
        memcpy(mut, buf, n);
        for (int f = 0; f < 4; f++)
            mut[(size_t)rand() % (n < 512 ? n : 512)] = (char)rand();
        FILE *out = fopen(bad, "wb");
        assert_non_null(out);
        fwrite(mut, 1, k % 2 ? n : (size_t)rand() % n, out);
        fclose(out);
        if (!ktau_raw_read(bad, &t, &err))
            ktau_raw_free(&t);
    }
    /* A routine count beyond the file. */
    memcpy(buf + offsetof(struct ktau_raw_header, nroutines), &(uint32_t){1u << 30}, 4);
    FILE *out = fopen(bad, "wb");
    fwrite(buf, 1, n, out);
    fclose(out);
    assert_int_equal(ktau_raw_read(bad, &t, &err), -EPROTO);
}

int main(void)
{
    const char *env = getenv("KTAU_DIR");
    if (env && *env)
        snprintf(dir, sizeof(dir), "%s", env);
    else
        snprintf(dir, sizeof(dir), "/tmp/test_ktau.%d", (int)getpid());
    mkdir(dir, 0755);
    /* The files of earlier runs. */
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, "ktau.", 5) || !strcmp(e->d_name, "bad.bin")) {
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pair_costs_at_most_30_ns),
        cmocka_unit_test(nested_timers_split_inclusive_and_exclusive),
        cmocka_unit_test(recursion_counts_inclusive_time_once),
        cmocka_unit_test(region_stops_at_end_of_block),
        cmocka_unit_test(same_text_at_two_addresses_is_one_routine),
        cmocka_unit_test(mismatched_stop_is_reported_once_and_repaired),
        cmocka_unit_test(thread_writes_its_file_at_exit),
        cmocka_unit_test(reader_refuses_damaged_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
