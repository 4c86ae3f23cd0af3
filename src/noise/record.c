/*
 * The noise recorder: one thread per CPU, pinned, in a loop that reads the clock and compares.
 *
 * Each thread allocates and touches its detour buffer, calibrates the loop, and waits; the
 * controlling thread picks the threshold, sets one start and one end time on the common clock
 * and lets all threads go. In the loop there is no allocation, lock, system call or I/O: a gap
 * above the threshold is counted, added to the total and, while the buffer has room, stored as
 * (start, length) in ticks. Times are converted to nanoseconds after the loop.
 *
 * The end time is an atomic that the loop reads every iteration (a load from a line no one writes,
 * so it costs nothing next to the clock read); zn_recorder_stop() sets it to zero, which ends every
 * loop at its next iteration.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/cpuset.h"
#include "base/sysinfo.h"
#include "noise/calibrate.h"
#include "zepto/noise.h"

#define CALIBRATION_NS  200000000ull /* loop calibration per CPU, before recording */
#define START_MARGIN_NS 2000000ull   /* common start this far after the go signal */
#define DEFAULT_RATE    50000ull     /* detours per second the default buffer holds */
#define MIN_BUFFER      65536ull
#define MAX_BUFFER      (1ull << 22)

struct cpu_ctx {
    struct zn_recorder *rec;
    int cpu;
    pthread_t thread;
    bool started; /* pthread_create succeeded */

    int tid;               /* the thread's id, for the kernel's records */
    struct zn_detour *buf; /* in ticks until converted */
    uint64_t cap;
    struct zn_calib calib;
    uint64_t auto_thr; /* ticks */

    /* results, in ticks */
    uint64_t last; /* clock at the end of the loop */
    uint64_t loops, detours, total, min, max, stored, full_at;
    bool full;

    int err;
    char msg[160];
} __attribute__((aligned(64)));

struct zn_recorder {
    struct zn_record_opts opts;
    int *cpus;
    struct zb_clock clk;
    struct cpu_ctx *ctx;

    _Atomic unsigned ready;            /* threads that finished setting up */
    _Atomic int go;                    /* 1: record; -1: give up */
    uint64_t thr;                      /* ticks; written before go */
    uint64_t start;                    /* ticks; written before go */
    uint64_t start_mono;               /* the same instant on CLOCK_MONOTONIC */
    uint64_t start_unix;               /* and on CLOCK_REALTIME */
    uint64_t end_tick, end_mono;       /* a pair read after the loops, for zn_recorder_mono_ns */
    _Alignas(64) _Atomic uint64_t end; /* ticks; lowered to 0 by zn_recorder_stop */
    _Atomic int stopped;
    char pad[64 - sizeof(_Atomic int)];

    struct zn_trace *trace;
};

/* The measuring loop, specialised per clock by the constant `kind`. */
static inline __attribute__((always_inline)) void measure(struct cpu_ctx *c,
                                                          enum zb_clock_kind kind)
{
    struct zn_recorder *rec = c->rec;
    const uint64_t thr = rec->thr, start = rec->start, cap = c->cap;
    struct zn_detour *const buf = c->buf;
    uint64_t loops = 0, detours = 0, total = 0, max = 0, min = UINT64_MAX, n = 0, full_at = 0;
    bool full = false;

    uint64_t now = kind == ZB_CLOCK_TSC ? zb_tsc_read() : zb_mono_read();
    while (now < start)
        now = kind == ZB_CLOCK_TSC ? zb_tsc_read() : zb_mono_read();
    uint64_t prev = start;
    for (;;) {
        now = kind == ZB_CLOCK_TSC ? zb_tsc_read() : zb_mono_read();
        uint64_t d = now - prev;
        loops++;
        if (__builtin_expect(d > thr, 0)) {
            detours++;
            total += d;
            max = d > max ? d : max;
            min = d < min ? d : min;
            if (n < cap) {
                buf[n].start_ns = prev - start;
                buf[n].duration_ns = d;
                n++;
            } else if (!full) {
                full = true;
                full_at = prev - start;
            }
        }
        if (now >= atomic_load_explicit(&rec->end, memory_order_relaxed))
            break;
        prev = now;
    }
    c->last = now;
    c->loops = loops;
    c->detours = detours;
    c->total = total;
    c->max = max;
    c->min = detours ? min : 0;
    c->stored = n;
    c->full = full;
    c->full_at = full_at;
}

static void measure_tsc(struct cpu_ctx *c)
{
    measure(c, ZB_CLOCK_TSC);
}

static void measure_mono(struct cpu_ctx *c)
{
    measure(c, ZB_CLOCK_MONOTONIC);
}

static void *cpu_main(void *arg)
{
    struct cpu_ctx *c = arg;
    struct zn_recorder *rec = c->rec;
    struct zepto_err err = {0};

    c->tid = (int)gettid();
    if (zb_pin_self(c->cpu, &err)) {
        c->err = err.code;
        snprintf(c->msg, sizeof(c->msg), "%s", err.msg);
    } else if (!(c->buf = malloc(c->cap * sizeof(*c->buf)))) {
        c->err = ENOMEM;
        snprintf(c->msg, sizeof(c->msg),
                 "CPU %d: cannot allocate a buffer for %llu detours (lower --buffer)", c->cpu,
                 (unsigned long long)c->cap);
    } else {
        /* Write every page now, on this CPU, so the loop takes no page fault when it stores.
         * Not memset(0): the compiler turns malloc + memset(0) into calloc, which leaves fresh
         * pages unmapped (`record --explain` showed the loop faulting once per 256 detours). */
        volatile unsigned char *bytes = (volatile unsigned char *)c->buf;
        for (size_t off = 0; off < c->cap * sizeof(*c->buf); off += 4096)
            bytes[off] = 1;
        /* A calibration that lost its CPU tells no tail: try again (see calibrate.h). */
        for (int i = 0; i < ZN_AUTO_TRIES; i++) {
            zn_calibrate_loop(&rec->clk, zb_clock_from_ns(&rec->clk, CALIBRATION_NS), &c->calib);
            if (c->calib.tail_ticks)
                break;
        }
        c->auto_thr = zn_auto_threshold_ticks(&rec->clk, &c->calib);
    }
    atomic_fetch_add_explicit(&rec->ready, 1, memory_order_release);

    int go;
    while ((go = atomic_load_explicit(&rec->go, memory_order_acquire)) == 0)
        zb_cpu_relax();
    if (go < 0 || c->err)
        return NULL;
    if (rec->clk.kind == ZB_CLOCK_TSC)
        measure_tsc(c);
    else
        measure_mono(c);
    return NULL;
}

int zn_recorder_new(const struct zn_record_opts *opts, struct zn_recorder **out,
                    struct zepto_err *err)
{
    *out = NULL;
    if (!opts->ncpu || !opts->cpus)
        return zepto_fail(err, EINVAL, "no CPUs to record on");
    if (!opts->duration_ns)
        return zepto_fail(err, EINVAL, "the duration must be longer than zero");

    struct zn_recorder *rec = calloc(1, sizeof(*rec));
    if (!rec)
        return zepto_fail(err, ENOMEM, "out of memory");
    rec->opts = *opts;
    rec->cpus = calloc(opts->ncpu, sizeof(int));
    rec->ctx = aligned_alloc(64, sizeof(*rec->ctx) * opts->ncpu);
    if (!rec->cpus || !rec->ctx) {
        zn_recorder_free(rec);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    memcpy(rec->cpus, opts->cpus, opts->ncpu * sizeof(int));
    rec->opts.cpus = rec->cpus;
    memset(rec->ctx, 0, sizeof(*rec->ctx) * opts->ncpu);

    int rc = zb_clock_init(&rec->clk, (enum zb_clock_kind)opts->clock, 0, err);
    if (rc) {
        zn_recorder_free(rec);
        return rc;
    }
    uint64_t cap = opts->buffer_detours;
    if (!cap) {
        cap = opts->duration_ns / 1000000000u * DEFAULT_RATE;
        cap = cap < MIN_BUFFER ? MIN_BUFFER : cap > MAX_BUFFER ? MAX_BUFFER : cap;
    }
    for (unsigned i = 0; i < opts->ncpu; i++) {
        rec->ctx[i].rec = rec;
        rec->ctx[i].cpu = opts->cpus[i];
        rec->ctx[i].cap = cap;
    }
    atomic_store(&rec->end, UINT64_MAX);
    *out = rec;
    return 0;
}

const char *zn_recorder_clock_note(const struct zn_recorder *rec)
{
    return rec->clk.why;
}

void zn_recorder_stop(struct zn_recorder *rec)
{
    if (!rec)
        return;
    atomic_store_explicit(&rec->stopped, 1, memory_order_relaxed);
    atomic_store_explicit(&rec->end, 0, memory_order_relaxed);
}

/* The clock and CLOCK_MONOTONIC at one instant: of a few tries, the one whose clock reads around
 * the monotonic read were closest (an interrupt between the reads spoils a try), the clock
 * taken at the middle. */
static void read_pair(const struct zb_clock *clk, uint64_t *tick, uint64_t *mono)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 8; i++) {
        uint64_t a = zb_clock_read(clk), m = zb_mono_read(), b = zb_clock_read(clk);
        if (b - a < best) {
            best = b - a;
            *tick = a + (b - a) / 2;
            *mono = m;
        }
    }
}

int zn_recorder_thread_id(const struct zn_recorder *rec, unsigned index)
{
    return index < rec->opts.ncpu ? rec->ctx[index].tid : 0;
}

uint64_t zn_recorder_mono_ns(const struct zn_recorder *rec, uint64_t trace_ns)
{
    /* The trace's times are ticks from rec->start turned into ns with the calibrated frequency;
     * scale them by what CLOCK_MONOTONIC says the whole recording took in those ns. */
    uint64_t ticks = rec->end_tick > rec->start ? rec->end_tick - rec->start : 0;
    uint64_t span = zb_clock_to_ns(&rec->clk, ticks);
    double ratio = span && rec->end_mono > rec->start_mono
                       ? (double)(rec->end_mono - rec->start_mono) / (double)span
                       : 1.0;
    return rec->start_mono + (uint64_t)((double)trace_ns * ratio + 0.5);
}

/* Sleeps until CLOCK_MONOTONIC reaches `until` or a signal arrives. */
static void sleep_until(uint64_t until)
{
    struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static bool stopped(struct zn_recorder *rec)
{
    return atomic_load_explicit(&rec->stopped, memory_order_relaxed);
}

/* Waits for the threads to calibrate, reporting progress once a second. */
static void wait_ready(struct zn_recorder *rec, unsigned started, zn_progress_fn progress,
                       void *arg)
{
    uint64_t t0 = zb_mono_read();
    while (atomic_load_explicit(&rec->ready, memory_order_acquire) < started) {
        uint64_t now = zb_mono_read();
        if (progress)
            progress(arg, "calibrating", now - t0, CALIBRATION_NS);
        sleep_until(now + 10000000u);
    }
}

/* Waits until CLOCK_MONOTONIC reaches `until` or the first recorder thread has ended; true in
 * the second case. Waiting on the thread rather than sleeping makes zn_recorder_stop() end the
 * wait at once also when it is called from another thread (a signal would interrupt a sleep; a
 * call from another thread would not). */
static bool wait_loops(struct zn_recorder *rec, uint64_t until)
{
    struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
    if (pthread_clockjoin_np(rec->ctx[0].thread, NULL, CLOCK_MONOTONIC, &ts))
        return false;
    rec->ctx[0].started = false; /* joined */
    return true;
}

/* Waits through the recording, waking once a second for progress (only when asked: every
 * wake-up of this thread is a detour on some CPU). */
static void wait_end(struct zn_recorder *rec, uint64_t end_mono, uint64_t total_ns,
                     zn_progress_fn progress, void *arg)
{
    uint64_t begin = end_mono - total_ns;
    for (;;) {
        uint64_t now = zb_mono_read();
        if (now >= end_mono || stopped(rec))
            return;
        if (progress)
            progress(arg, "recording", now > begin ? now - begin : 0, total_ns);
        uint64_t next = progress ? now + 1000000000u : end_mono;
        if (wait_loops(rec, next < end_mono ? next : end_mono))
            return;
    }
}

static int build_trace(struct zn_recorder *rec, struct zepto_err *err)
{
    struct zn_trace *t = calloc(1, sizeof(*t));
    if (!t || !(t->cpu = calloc(rec->opts.ncpu, sizeof(*t->cpu)))) {
        free(t);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    struct zb_sysinfo si;
    zb_sysinfo_get(&si);
    memcpy(t->host, si.host, sizeof(t->host));
    memcpy(t->kernel, si.kernel, sizeof(t->kernel));
    memcpy(t->cpu_model, si.cpu_model, sizeof(t->cpu_model));
    snprintf(t->clock, sizeof(t->clock), "%s", zb_clock_name(rec->clk.kind));
    t->clock_hz = rec->clk.hz;
    t->duration_ns = rec->opts.duration_ns;
    t->start_mono_ns = rec->start_mono;
    t->start_unix_ns = rec->start_unix;
    t->threshold_ns = zb_clock_to_ns(&rec->clk, rec->thr);
    t->flags = (stopped(rec) ? ZN_TRACE_INTERRUPTED : 0) |
               (rec->opts.threshold_ns ? 0 : ZN_TRACE_AUTO_THRESHOLD);
    t->ncpu = rec->opts.ncpu;

    const struct zb_clock *clk = &rec->clk;
    for (unsigned i = 0; i < rec->opts.ncpu; i++) {
        struct cpu_ctx *c = &rec->ctx[i];
        struct zn_cpu_trace *ct = &t->cpu[i];
        ct->cpu = (uint32_t)c->cpu;
        ct->flags = c->full ? ZN_CPU_TRUNCATED : 0;
        ct->measured_ns = c->last > rec->start ? zb_clock_to_ns(clk, c->last - rec->start) : 0;
        ct->loops = c->loops;
        ct->loop_min_ps = zb_clock_to_ns(clk, c->calib.min_ticks * 1000);
        ct->loop_tail_ps = zb_clock_to_ns(clk, c->calib.tail_ticks * 1000);
        ct->detours = c->detours;
        ct->detour_ns = zb_clock_to_ns(clk, c->total);
        ct->detour_min_ns = zb_clock_to_ns(clk, c->min);
        ct->detour_max_ns = zb_clock_to_ns(clk, c->max);
        ct->truncated_at_ns = c->full ? zb_clock_to_ns(clk, c->full_at) : 0;
        ct->stored = c->stored;
        for (uint64_t k = 0; k < c->stored; k++) {
            c->buf[k].start_ns = zb_clock_to_ns(clk, c->buf[k].start_ns);
            c->buf[k].duration_ns = zb_clock_to_ns(clk, c->buf[k].duration_ns);
        }
        /* Hand the buffer over, shrunk to what it holds. */
        struct zn_detour *d = c->stored ? realloc(c->buf, c->stored * sizeof(*d)) : NULL;
        if (c->stored && !d)
            d = c->buf;
        else if (!c->stored)
            free(c->buf);
        ct->d = d;
        c->buf = NULL;
    }
    rec->trace = t;
    return 0;
}

int zn_recorder_run(struct zn_recorder *rec, zn_progress_fn progress, void *arg,
                    struct zepto_err *err)
{
    unsigned n = rec->opts.ncpu, started = 0;
    int rc = 0;

    /* Recorder threads take no signals: a handler running on a measuring CPU would be a detour
     * of our own making. The calling thread handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (unsigned i = 0; i < n; i++) {
        int e = pthread_create(&rec->ctx[i].thread, NULL, cpu_main, &rec->ctx[i]);
        if (e) {
            rc = zepto_fail(err, e, "creating the thread for CPU %d: %s", rec->ctx[i].cpu,
                            strerror(e));
            break;
        }
        rec->ctx[i].started = true;
        started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    wait_ready(rec, started, progress, arg);
    for (unsigned i = 0; !rc && i < n; i++)
        if (rec->ctx[i].err)
            rc = zepto_fail(err, rec->ctx[i].err, "%s", rec->ctx[i].msg);
    if (rc) {
        atomic_store_explicit(&rec->go, -1, memory_order_release);
        goto join;
    }

    /* One threshold for all CPUs: the largest of their auto thresholds, or the one asked for. */
    rec->thr = zb_clock_from_ns(&rec->clk, rec->opts.threshold_ns);
    if (!rec->opts.threshold_ns)
        for (unsigned i = 0; i < n; i++)
            if (rec->ctx[i].auto_thr > rec->thr)
                rec->thr = rec->ctx[i].auto_thr;
    uint64_t now_tick, now_mono;
    read_pair(&rec->clk, &now_tick, &now_mono);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t now_unix = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec;
    /* A common start (opts.start_unix_ns) is met on this node's clocks from the offset to now;
     * when calibration overran it, the loops start at once (the trace's start says how late). */
    uint64_t lead = START_MARGIN_NS;
    if (rec->opts.start_unix_ns > now_unix + START_MARGIN_NS)
        lead = rec->opts.start_unix_ns - now_unix;
    rec->start = now_tick + zb_clock_from_ns(&rec->clk, lead);
    rec->start_mono = now_mono + lead;
    rec->start_unix = now_unix + lead;
    uint64_t end = rec->start + zb_clock_from_ns(&rec->clk, rec->opts.duration_ns);
    /* A stop during calibration leaves end at 0: the loops end at their first iteration. */
    uint64_t expected = UINT64_MAX;
    atomic_compare_exchange_strong(&rec->end, &expected, end);
    atomic_store_explicit(&rec->go, 1, memory_order_release);

    wait_end(rec, rec->start_mono + rec->opts.duration_ns, rec->opts.duration_ns, progress, arg);
join:
    for (unsigned i = 0; i < n; i++)
        if (rec->ctx[i].started) {
            pthread_join(rec->ctx[i].thread, NULL);
            rec->ctx[i].started = false;
        }
    if (rc)
        return rc;
    read_pair(&rec->clk, &rec->end_tick, &rec->end_mono);
    if (progress)
        progress(arg, "recording", rec->opts.duration_ns, rec->opts.duration_ns);
    return build_trace(rec, err);
}

struct zn_trace *zn_recorder_take_trace(struct zn_recorder *rec)
{
    struct zn_trace *t = rec->trace;
    rec->trace = NULL;
    return t;
}

void zn_recorder_free(struct zn_recorder *rec)
{
    if (!rec)
        return;
    for (unsigned i = 0; rec->ctx && i < rec->opts.ncpu; i++)
        free(rec->ctx[i].buf);
    free(rec->ctx);
    free(rec->cpus);
    zn_trace_free(rec->trace);
    free(rec);
}
