/*
 * The player: injects detours into whatever runs on a set of CPUs.
 *
 * One injector thread per CPU, pinned there at SCHED_FIFO (when the process may), with the
 * minimal timer slack. For each detour of its pattern it sleeps until the detour is due
 * (pthread_cond_clockwait on CLOCK_MONOTONIC: an absolute hrtimer like clock_nanosleep, but one
 * that zn_player_finish can cut short) and then spins on the clock for the detour's length,
 * keeping the CPU from everything of lower priority. The length is kept even when the wake-up
 * comes late; a detour whose successor is already due when the thread wakes (the thread was kept
 * from its CPU) is skipped and counted, so that detours are not bunched.
 *
 * What the application loses per detour is the spin plus the preemption around it (the timer
 * interrupt, two context switches: ~45 us on the project's VM, see docs/BENCHMARKS.md); the
 * report gives what the player controls: how late each spin began and how far its length was off.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/cpuset.h"
#include "base/rand.h"
#include "base/sysinfo.h"
#include "zepto/noise.h"

#define RESERVOIR     65536 /* lateness and error samples kept per CPU for the quantiles */
#define FIFO_PRIORITY 90    /* above threaded IRQs (50) and most RT tasks */
#define SYNC_SEED     0x5a45505430ull /* synthetic jitter in sync phase: the same in every process */

struct injector {
    struct zn_player *pl;
    int cpu;
    struct zn_pattern pattern;
    struct zn_cursor cursor;
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* under mu */

    bool realtime;  /* got SCHED_FIFO */
    int fifo_error; /* errno when it did not */
    int nice;       /* the nice value it ran at otherwise */
    int err;        /* setup failed */

    uint64_t detours, skipped, injected_ns, seen;
    uint64_t late_max;
    int64_t error_max;
    uint64_t *late; /* reservoir */
    int64_t *error; /* reservoir */
    uint64_t rng;
    struct zn_injection *log;
    uint64_t nlog, caplog;
};

struct zn_player {
    struct zn_play_opts opts;
    unsigned n;
    struct injector *inj;
    uint64_t t0, end; /* CLOCK_MONOTONIC; end 0: until stopped */
    _Atomic unsigned ready, finished;
    char notes[512];
    struct zn_injection *log; /* merged at finish */
    uint64_t nlog;
};

static void reservoir_add(struct injector *in, uint64_t late, int64_t error)
{
    uint64_t slot = in->seen < RESERVOIR ? in->seen : zb_rand_below(&in->rng, in->seen + 1);
    if (slot < RESERVOIR) {
        in->late[slot] = late;
        in->error[slot] = error;
    }
    in->seen++;
    in->late_max = late > in->late_max ? late : in->late_max;
    in->error_max = error > in->error_max ? error : in->error_max;
}

static void keep(struct injector *in, uint64_t due, uint64_t start, uint64_t end, uint64_t want)
{
    if (in->nlog == in->caplog) {
        uint64_t cap = in->caplog ? 2 * in->caplog : 1024;
        struct zn_injection *l = realloc(in->log, cap * sizeof(*l));
        if (!l)
            return; /* the log is best effort; the counts stay exact */
        in->log = l;
        in->caplog = cap;
    }
    in->log[in->nlog++] = (struct zn_injection){(uint32_t)in->cpu, due, start, end, want};
}

static void take_priority(struct injector *in)
{
    struct sched_param sp = {.sched_priority = FIFO_PRIORITY};
    int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (!rc) {
        in->realtime = true;
        return;
    }
    in->fifo_error = rc;
    /* The best a normal thread can get: the lowest nice value allowed. */
    for (int nice = -20; nice <= 0; nice++)
        if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice) == 0) {
            in->nice = nice;
            return;
        }
}

/* Waits until CLOCK_MONOTONIC reaches `due` or the player stops; true when stopped. */
static bool wait_until(struct injector *in, uint64_t due)
{
    struct timespec ts = {(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
    bool stop;
    pthread_mutex_lock(&in->mu);
    while (!in->stop && zb_mono_read() < due)
        pthread_cond_clockwait(&in->cv, &in->mu, CLOCK_MONOTONIC, &ts);
    stop = in->stop;
    pthread_mutex_unlock(&in->mu);
    return stop;
}

static void *inject(void *arg)
{
    struct injector *in = arg;
    struct zn_player *pl = in->pl;
    struct zepto_err err = {0};

    if (zb_pin_self(in->cpu, &err))
        in->err = err.code ? err.code : EINVAL;
    else
        take_priority(in);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    atomic_fetch_add(&pl->ready, 1);
    if (in->err)
        goto out;

    for (;;) {
        uint64_t len, due = zn_cursor_next(&in->cursor, &len);
        if (due == UINT64_MAX || (pl->end && due >= pl->end)) {
            if (pl->end)
                wait_until(in, pl->end);
            else
                wait_until(in, UINT64_MAX / 2);
            break;
        }
        if (wait_until(in, due))
            break;
        uint64_t start = zb_mono_read();
        /* Behind by a whole detour (the next one is due already: the thread was kept from its
         * CPU): skip this one rather than bunch detours together. */
        struct zn_cursor peek = in->cursor;
        uint64_t next_len;
        zn_cursor_advance(&peek);
        if (start >= zn_cursor_next(&peek, &next_len)) {
            in->skipped++;
            zn_cursor_advance(&in->cursor);
            continue;
        }
        uint64_t now = start;
        while (now - start < len)
            now = zb_mono_read();
        in->detours++;
        in->injected_ns += now - start;
        reservoir_add(in, start - due, (int64_t)(now - start) - (int64_t)len);
        if (pl->opts.keep_log)
            keep(in, due, start, now, len);
        zn_cursor_advance(&in->cursor);
    }
out:
    atomic_fetch_add(&pl->finished, 1);
    return NULL;
}

/* RT throttling: SCHED_FIFO threads may take at most runtime/period of a CPU. */
static void check_throttling(struct zn_player *pl)
{
    char rt[32], per[32];
    if (zb_sysinfo_read_line("/proc/sys/kernel/sched_rt_runtime_us", rt, sizeof(rt)) ||
        zb_sysinfo_read_line("/proc/sys/kernel/sched_rt_period_us", per, sizeof(per)))
        return;
    long runtime = atol(rt), period = atol(per);
    if (runtime < 0 || period <= 0)
        return; /* -1: no throttling */
    double cap = (double)runtime / (double)period;
    for (unsigned i = 0; i < pl->n; i++) {
        double f = zn_pattern_fraction(&pl->inj[i].pattern);
        if (f > cap) {
            size_t used = strlen(pl->notes);
            snprintf(
                pl->notes + used, sizeof(pl->notes) - used,
                "%sCPU %d: the noise asked for takes %.1f %% of the CPU, but RT throttling "
                "(sched_rt_runtime_us=%ld of sched_rt_period_us=%ld) lets SCHED_FIFO "
                "threads take at most %.1f %% when other tasks want the CPU: the rest may not be "
                "injected",
                used ? "\n" : "", pl->inj[i].cpu, 100 * f, runtime, period, 100 * cap);
            return;
        }
    }
}

static void priority_note(struct zn_player *pl)
{
    struct injector *in = &pl->inj[0];
    if (in->realtime)
        return;
    size_t used = strlen(pl->notes);
    snprintf(pl->notes + used, sizeof(pl->notes) - used,
             "%sSCHED_FIFO refused (%s): injecting at nice %d, so detours start late and can be "
             "cut short when the CPU is busy (see the lateness in the report)",
             used ? "\n" : "", strerror(in->fifo_error), in->nice);
}

static int setup(struct zn_player *pl, struct zepto_err *err)
{
    const struct zn_play_opts *o = &pl->opts;
    uint64_t seed = o->seed ? o->seed : zb_rand_seed();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t wall_ns = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec;
    pl->t0 = zb_mono_read();
    pl->end = o->duration_ns ? pl->t0 + o->duration_ns : 0;

    for (unsigned i = 0; i < pl->n; i++) {
        struct injector *in = &pl->inj[i];
        in->pl = pl;
        in->cpu = o->cpus[i];
        in->rng = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
        pthread_mutex_init(&in->mu, NULL);
        pthread_cond_init(&in->cv, NULL);
        in->late = malloc(RESERVOIR * sizeof(*in->late));
        in->error = malloc(RESERVOIR * sizeof(*in->error));
        if (!in->late || !in->error)
            return zepto_fail(err, ENOMEM, "out of memory");
        int rc;
        if (o->trace)
            rc = zn_pattern_from_trace(o->trace, zn_trace_record_for(o->trace, in->cpu, i),
                                       o->scale, &in->pattern, err);
        else
            rc = zn_pattern_from_synthetic(
                o->synthetic, o->scale,
                o->phase == ZN_PHASE_SYNC ? SYNC_SEED : zb_rand_next(&in->rng), &in->pattern, err);
        if (rc)
            return rc;
        /* Sync: the position is a function of the shared clock, the same in every process. */
        uint64_t shared = o->have_epoch ? pl->t0 - o->epoch_mono_ns : wall_ns;
        uint64_t offset = o->phase == ZN_PHASE_SYNC ? shared % in->pattern.loop_ns
                                                    : zb_rand_below(&in->rng, in->pattern.loop_ns);
        zn_cursor_init(&in->cursor, &in->pattern, offset, pl->t0);
    }
    return 0;
}

int zn_player_start(const struct zn_play_opts *o, struct zn_player **out, struct zepto_err *err)
{
    *out = NULL;
    if (!o->ncpu || !o->cpus)
        return zepto_fail(err, EINVAL, "no CPUs to inject on");
    if (!o->trace && !o->synthetic)
        return zepto_fail(err, EINVAL, "nothing to play: no trace and no synthetic spec");
    if (!(o->scale > 0) || o->scale > 1e6)
        return zepto_fail(err, EINVAL, "scale %g: must be above 0 (and at most 1e6)", o->scale);
    for (unsigned i = 0; i < o->ncpu; i++)
        if (o->cpus[i] < 0 || o->cpus[i] >= ZB_CPU_MAX)
            return zepto_fail(err, EINVAL, "CPU %d out of range", o->cpus[i]);

    struct zn_player *pl = calloc(1, sizeof(*pl));
    if (!pl || !(pl->inj = calloc(o->ncpu, sizeof(*pl->inj)))) {
        free(pl);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    pl->opts = *o;
    pl->n = o->ncpu;
    int rc = setup(pl, err);
    if (rc) {
        zn_player_free(pl);
        return rc;
    }
    for (unsigned i = 0; i < pl->n; i++) {
        int e = pthread_create(&pl->inj[i].thread, NULL, inject, &pl->inj[i]);
        if (e) {
            struct zn_play_report rep;
            zn_player_finish(pl, &rep, NULL);
            zn_play_report_free(&rep);
            zn_player_free(pl);
            return zepto_fail(err, e, "creating the injector for CPU %d: %s", o->cpus[i],
                              strerror(e));
        }
        pl->inj[i].started = true;
    }
    /* Wait (briefly: pinning and the scheduler call) until every injector is set up. */
    while (atomic_load(&pl->ready) < pl->n)
        sched_yield();
    for (unsigned i = 0; i < pl->n; i++)
        if (pl->inj[i].err) {
            int code = pl->inj[i].err, cpu = pl->inj[i].cpu;
            struct zn_play_report rep;
            zn_player_finish(pl, &rep, NULL);
            zn_play_report_free(&rep);
            zn_player_free(pl);
            return zepto_fail(err, code, "CPU %d: cannot pin an injector there: %s", cpu,
                              strerror(code));
        }
    priority_note(pl);
    check_throttling(pl);
    *out = pl;
    return 0;
}

const char *zn_player_notes(const struct zn_player *pl)
{
    return pl->notes;
}

bool zn_player_done(const struct zn_player *pl)
{
    return atomic_load(&((struct zn_player *)pl)->finished) == pl->n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Fills the quantiles of r from n samples (sorted in place). */
static void quantiles(struct zn_play_cpu *r, uint64_t *late, int64_t *error, uint64_t n)
{
    if (!n)
        return;
    qsort(late, n, sizeof(*late), cmp_u64);
    qsort(error, n, sizeof(*error), cmp_i64);
    r->late_median_ns = late[n / 2];
    r->late_p99_ns = late[(n * 99) / 100];
    r->error_median_ns = error[n / 2];
    r->error_p99_ns = error[(n * 99) / 100];
}

static int cmp_injection(const void *a, const void *b)
{
    const struct zn_injection *x = a, *y = b;
    return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

int zn_player_finish(struct zn_player *pl, struct zn_play_report *rep, struct zepto_err *err)
{
    memset(rep, 0, sizeof(*rep));
    for (unsigned i = 0; i < pl->n; i++) {
        struct injector *in = &pl->inj[i];
        pthread_mutex_lock(&in->mu);
        in->stop = true;
        pthread_cond_signal(&in->cv);
        pthread_mutex_unlock(&in->mu);
    }
    for (unsigned i = 0; i < pl->n; i++)
        if (pl->inj[i].started) {
            pthread_join(pl->inj[i].thread, NULL);
            pl->inj[i].started = false;
        }
    uint64_t now = zb_mono_read();
    rep->ran_ns = (pl->end && now > pl->end ? pl->end : now) - pl->t0;
    rep->ncpu = pl->n;
    rep->realtime = pl->n && pl->inj[0].realtime;
    if (rep->realtime)
        snprintf(rep->priority, sizeof(rep->priority), "SCHED_FIFO %d", FIFO_PRIORITY);
    else if (pl->n)
        snprintf(rep->priority, sizeof(rep->priority), "nice %d (SCHED_FIFO refused: %s)",
                 pl->inj[0].nice, strerror(pl->inj[0].fifo_error));
    rep->cpu = calloc(pl->n ? pl->n : 1, sizeof(*rep->cpu));
    uint64_t total = 0, nlog = 0;
    for (unsigned i = 0; i < pl->n; i++) {
        total += pl->inj[i].seen < RESERVOIR ? pl->inj[i].seen : RESERVOIR;
        nlog += pl->inj[i].nlog;
    }
    uint64_t *late = malloc((total ? total : 1) * sizeof(*late));
    int64_t *error = malloc((total ? total : 1) * sizeof(*error));
    if (!rep->cpu || !late || !error) {
        free(late);
        free(error);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    struct zn_play_cpu *all = &rep->all;
    all->cpu = -1;
    uint64_t at = 0;
    for (unsigned i = 0; i < pl->n; i++) {
        struct injector *in = &pl->inj[i];
        struct zn_play_cpu *r = &rep->cpu[i];
        uint64_t k = in->seen < RESERVOIR ? in->seen : RESERVOIR;
        r->cpu = in->cpu;
        r->detours = in->detours;
        r->injected_ns = in->injected_ns;
        r->late_max_ns = in->late_max;
        r->error_max_ns = in->error_max;
        memcpy(late + at, in->late, k * sizeof(*late));
        memcpy(error + at, in->error, k * sizeof(*error));
        quantiles(r, in->late, in->error, k);
        at += k;
        all->detours += r->detours;
        all->injected_ns += r->injected_ns;
        all->late_max_ns = r->late_max_ns > all->late_max_ns ? r->late_max_ns : all->late_max_ns;
        all->error_max_ns =
            r->error_max_ns > all->error_max_ns ? r->error_max_ns : all->error_max_ns;
    }
    quantiles(all, late, error, at);
    free(late);
    free(error);

    if (pl->opts.keep_log && nlog) {
        pl->log = malloc(nlog * sizeof(*pl->log));
        if (pl->log) {
            for (unsigned i = 0; i < pl->n; i++) {
                memcpy(pl->log + pl->nlog, pl->inj[i].log, pl->inj[i].nlog * sizeof(*pl->log));
                pl->nlog += pl->inj[i].nlog;
            }
            qsort(pl->log, pl->nlog, sizeof(*pl->log), cmp_injection);
        }
    }
    return 0;
}

const struct zn_injection *zn_player_log(const struct zn_player *pl, uint64_t *n)
{
    *n = pl->nlog;
    return pl->log;
}

void zn_play_report_free(struct zn_play_report *rep)
{
    free(rep->cpu);
    rep->cpu = NULL;
}

void zn_player_free(struct zn_player *pl)
{
    if (!pl)
        return;
    for (unsigned i = 0; pl->inj && i < pl->n; i++) {
        struct injector *in = &pl->inj[i];
        zn_pattern_free(&in->pattern);
        free(in->late);
        free(in->error);
        free(in->log);
        pthread_mutex_destroy(&in->mu);
        pthread_cond_destroy(&in->cv);
    }
    free(pl->inj);
    free(pl->log);
    free(pl);
}
