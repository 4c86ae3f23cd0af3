/*
 * Proves the real recorder of src/noise/record.c in short runs on CPU 0: a 300 ms recording
 * measures 300 ms, keeps every detour above the threshold in time order and passes the trace
 * reader's own checks; zn_recorder_stop() from another thread ends a 20 s recording at once and
 * marks it interrupted; bad options and a CPU that does not exist are refused with a message.
 *
 * `test_record truncated` runs only the full-buffer case (3 detours kept at a 200 ns threshold);
 * it exits 77 (skipped) on a machine so quiet that it saw no more than 3 detours.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "zepto/noise.h"

#define MS 1000000ull

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool may_use_cpu0(void)
{
    cpu_set_t mask;
    return !sched_getaffinity(0, sizeof(mask), &mask) && CPU_ISSET(0, &mask);
}

/* Records on CPU 0 and returns the trace (the recorder is freed). */
static struct zn_trace *record_cpu0(uint64_t duration_ns, uint64_t threshold_ns, uint64_t buffer,
                                    int clock)
{
    static const int cpu0[] = {0};
    struct zn_record_opts o = {.cpus = cpu0,
                               .ncpu = 1,
                               .duration_ns = duration_ns,
                               .threshold_ns = threshold_ns,
                               .buffer_detours = buffer,
                               .clock = clock};
    struct zn_recorder *rec;
    struct zepto_err err = {0};
    if (zn_recorder_new(&o, &rec, &err))
        fail_msg("zn_recorder_new: %s", err.msg);
    assert_true(zn_recorder_clock_note(rec)[0] != 0);
    assert_null(zn_recorder_take_trace(rec)); /* nothing before a run */
    if (zn_recorder_run(rec, NULL, NULL, &err))
        fail_msg("zn_recorder_run: %s", err.msg);
    struct zn_trace *t = zn_recorder_take_trace(rec);
    assert_non_null(t);
    assert_null(zn_recorder_take_trace(rec)); /* taken once */
    zn_recorder_free(rec);
    return t;
}

/* What every recorded CPU promises: detours in order, each above the threshold (equal after
 * rounding to whole ns: a gap of threshold + 1 tick may read as the threshold), inside the
 * recording, and adding up to the exact totals. */
static void check_cpu_trace(const struct zn_trace *t, const struct zn_cpu_trace *c)
{
    uint64_t sum = 0, min = UINT64_MAX, max = 0;
    for (uint64_t k = 0; k < c->stored; k++) {
        const struct zn_detour *d = &c->d[k];
        if (d->duration_ns < t->threshold_ns)
            fail_msg("detour %llu: %llu ns, below the threshold of %llu ns", (unsigned long long)k,
                     (unsigned long long)d->duration_ns, (unsigned long long)t->threshold_ns);
        if (k && d->start_ns < c->d[k - 1].start_ns)
            fail_msg("detour %llu starts before the one before it", (unsigned long long)k);
        assert_true(d->start_ns + d->duration_ns <= c->measured_ns + 1);
        sum += d->duration_ns;
        min = d->duration_ns < min ? d->duration_ns : min;
        max = d->duration_ns > max ? d->duration_ns : max;
    }
    assert_true(c->stored <= c->detours);
    if (c->stored == c->detours) {
        /* Each length was rounded on its own: 1 ns each. */
        assert_true(sum <= c->detour_ns + c->stored && c->detour_ns <= sum + c->stored);
        if (c->stored) {
            assert_true(min == c->detour_min_ns);
            assert_true(max == c->detour_max_ns);
        }
    }
    assert_true(c->detour_ns <= c->measured_ns + c->detours);
}

/* The trace passes the reader's validation after a write. */
static void check_readable(const struct zn_trace *t)
{
    char dir[] = "/tmp/zepto-test-record-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.znt", dir);
    struct zepto_err err = {0};
    struct zn_trace *back = NULL;
    if (zn_trace_write(t, path, &err))
        fail_msg("zn_trace_write: %s", err.msg);
    int rc = zn_trace_read(path, &back, &err);
    unlink(path);
    rmdir(dir);
    if (rc)
        fail_msg("the recorded trace does not read back: %s", err.msg);
    assert_int_equal(back->cpu[0].stored, t->cpu[0].stored);
    zn_trace_free(back);
}

static void records_300ms_on_cpu0(void **state)
{
    (void)state;
    if (!may_use_cpu0())
        skip();
    struct zn_trace *t = record_cpu0(300 * MS, 0, 1u << 20, 0);
    assert_int_equal(t->ncpu, 1);
    assert_true(t->duration_ns == 300 * MS);
    assert_true(t->flags & ZN_TRACE_AUTO_THRESHOLD);
    assert_false(t->flags & ZN_TRACE_INTERRUPTED);
    assert_true(t->threshold_ns > 0);
    assert_true(!strcmp(t->clock, "tsc") || !strcmp(t->clock, "monotonic"));
    assert_true(t->clock_hz > 0);
    assert_true(t->start_mono_ns > 0 && t->start_unix_ns > t->start_mono_ns);

    const struct zn_cpu_trace *c = &t->cpu[0];
    assert_int_equal(c->cpu, 0);
    print_message("300 ms on CPU 0 (%s clock): %llu loops, %llu detours above %llu ns\n", t->clock,
                  (unsigned long long)c->loops, (unsigned long long)c->detours,
                  (unsigned long long)t->threshold_ns);
    if (c->measured_ns < 285 * MS || c->measured_ns > 315 * MS)
        fail_msg("measured %llu ns of a 300 ms recording", (unsigned long long)c->measured_ns);
    assert_true(c->loops > 0);
    assert_true(c->loops > c->detours);
    assert_true(c->loop_min_ps > 0);
    assert_false(c->flags & ZN_CPU_TRUNCATED); /* the buffer holds a million */
    assert_true(c->detours == c->stored);
    check_cpu_trace(t, c);
    check_readable(t);
    zn_trace_free(t);
}

/* Set when the truncation test cannot prove anything here; main() then exits 77. */
static const char *skip_reason;

static void full_buffer_truncates(void **state)
{
    (void)state;
    if (!may_use_cpu0()) {
        skip_reason = "this process may not use CPU 0";
        skip();
    }
    struct zn_trace *t = record_cpu0(300 * MS, 200, 3, 0);
    const struct zn_cpu_trace *c = &t->cpu[0];
    if (c->detours <= 3) {
        skip_reason = "CPU 0 saw no more than 3 detours above 200 ns in 300 ms";
        zn_trace_free(t);
        skip();
    }
    assert_false(t->flags & ZN_TRACE_AUTO_THRESHOLD);
    assert_true(t->threshold_ns >= 199 && t->threshold_ns <= 201);
    assert_true(c->flags & ZN_CPU_TRUNCATED);
    assert_true(c->stored == 3);
    assert_true(c->detours > 3);
    assert_true(c->truncated_at_ns > 0);
    assert_true(c->truncated_at_ns >= c->d[2].start_ns); /* it filled after the third */
    assert_true(c->truncated_at_ns <= c->measured_ns);
    assert_true(c->detour_ns >= c->d[0].duration_ns + c->d[1].duration_ns + c->d[2].duration_ns);
    check_cpu_trace(t, c);
    check_readable(t);
    zn_trace_free(t);
}

/* ---- stopping from another thread ---- */

struct stopper {
    struct zn_recorder *rec;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool recording;           /* the progress callback has reported "recording" */
    _Atomic uint64_t stop_at; /* CLOCK_MONOTONIC when zn_recorder_stop was called */
};

static void on_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
    struct stopper *s = arg;
    (void)done;
    (void)total;
    if (strcmp(phase, "recording"))
        return;
    pthread_mutex_lock(&s->lock);
    s->recording = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->recording)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    atomic_store(&s->stop_at, mono_ns());
    zn_recorder_stop(s->rec);
    return NULL;
}

static void stop_from_another_thread(void **state)
{
    (void)state;
    if (!may_use_cpu0())
        skip();
    static const int cpu0[] = {0};
    /* The monotonic clock here, so that its loop is exercised too. */
    struct zn_record_opts o = {.cpus = cpu0, .ncpu = 1, .duration_ns = 20000 * MS, .clock = 2};
    struct zepto_err err = {0};
    struct stopper s = {.recording = false};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    if (zn_recorder_new(&o, &s.rec, &err))
        fail_msg("zn_recorder_new: %s", err.msg);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper_main, &s), 0);
    uint64_t t0 = mono_ns();
    int rc = zn_recorder_run(s.rec, on_progress, &s, &err);
    uint64_t returned = mono_ns();
    pthread_join(th, NULL);
    if (rc)
        fail_msg("zn_recorder_run: %s", err.msg);
    uint64_t stop_at = atomic_load(&s.stop_at);
    assert_true(stop_at >= t0);
    print_message("run returned %.1f ms after zn_recorder_stop, %.1f ms after it began\n",
                  (double)(returned - stop_at) / 1e6, (double)(returned - t0) / 1e6);
    /* Once stopped, the run returns at once rather than at its next progress report. */
    if (returned - stop_at > 300 * MS)
        fail_msg("zn_recorder_run returned %.0f ms after the stop",
                 (double)(returned - stop_at) / 1e6);

    struct zn_trace *t = zn_recorder_take_trace(s.rec);
    assert_non_null(t);
    assert_true(t->flags & ZN_TRACE_INTERRUPTED);
    assert_string_equal(t->clock, "monotonic");
    assert_true(t->duration_ns == 20000 * MS); /* what was asked for, not what ran */
    assert_true(t->cpu[0].measured_ns < 1000 * MS);
    check_cpu_trace(t, &t->cpu[0]);
    zn_trace_free(t);
    zn_recorder_free(s.rec);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    static const int cpu0[] = {0};
    struct zn_recorder *rec = (struct zn_recorder *)&rec;
    struct zepto_err err = {0};

    struct zn_record_opts no_cpus = {.cpus = cpu0, .ncpu = 0, .duration_ns = MS};
    assert_int_equal(zn_recorder_new(&no_cpus, &rec, &err), -EINVAL);
    assert_null(rec);
    assert_non_null(strstr(err.msg, "CPU"));

    struct zn_record_opts null_cpus = {.cpus = NULL, .ncpu = 1, .duration_ns = MS};
    memset(&err, 0, sizeof(err));
    assert_int_equal(zn_recorder_new(&null_cpus, &rec, &err), -EINVAL);
    assert_true(err.msg[0] != 0);

    struct zn_record_opts no_time = {.cpus = cpu0, .ncpu = 1, .duration_ns = 0};
    memset(&err, 0, sizeof(err));
    assert_int_equal(zn_recorder_new(&no_time, &rec, &err), -EINVAL);
    assert_null(rec);
    assert_non_null(strstr(err.msg, "duration"));

    zn_recorder_stop(NULL); /* harmless */
    zn_recorder_free(NULL);
}

static void missing_cpu_fails_in_run(void **state)
{
    (void)state;
    static const int cpu4000[] = {4000};
    struct zn_record_opts o = {.cpus = cpu4000, .ncpu = 1, .duration_ns = 100 * MS};
    struct zn_recorder *rec;
    struct zepto_err err = {0};
    if (zn_recorder_new(&o, &rec, &err))
        fail_msg("zn_recorder_new: %s", err.msg);
    int rc = zn_recorder_run(rec, NULL, NULL, &err);
    assert_true(rc < 0);
    assert_int_equal(err.code, -rc);
    if (!strstr(err.msg, "4000"))
        fail_msg("message '%s' does not name CPU 4000", err.msg);
    assert_null(zn_recorder_take_trace(rec));
    zn_recorder_free(rec);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "truncated")) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(full_buffer_truncates),
        };
        int failed = cmocka_run_group_tests(tests, NULL, NULL);
        if (!failed && skip_reason) {
            printf("skipped: %s\n", skip_reason);
            return 77;
        }
        return failed;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(records_300ms_on_cpu0),
        cmocka_unit_test(stop_from_another_thread),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(missing_cpu_fails_in_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
