/*
 * Causes for a recording (`zepto noise record --explain`, and the report): ktau's detour
 * explainer (include/zepto/ktau_explain.h) opened on the recorded CPUs before the loops start,
 * drained by a thread of its own while they run, and asked, once they are over, what the kernel
 * did inside each stored detour.
 *
 * The drain thread sleeps in poll(2) and copies the kernel's buffers when one is a quarter full.
 * It is pinned to an allowed CPU that is not recorded when there is one; otherwise its wake-ups
 * are detours on some recorded CPU, and they are named after it ("thread zn-explain").
 * Detour times become CLOCK_MONOTONIC through zn_recorder_mono_ns (good to ~50 ns over 10 s
 * here, against ~20 us between a detour's start and the first kernel record in it).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpuset.h"
#include "zepto/ktau_explain.h"
#include "zepto/noise.h"

_Static_assert((int)ZN_CAUSE_IRQ == (int)KTAU_CAUSE_IRQ &&
                   (int)ZN_CAUSE_SOFTIRQ == (int)KTAU_CAUSE_SOFTIRQ &&
                   (int)ZN_CAUSE_THREAD == (int)KTAU_CAUSE_THREAD &&
                   (int)ZN_CAUSE_FAULT == (int)KTAU_CAUSE_FAULT &&
                   (int)ZN_CAUSE_UNKNOWN == (int)KTAU_CAUSE_UNKNOWN,
               "the cause kinds of noise.h and ktau_explain.h agree");

struct zn_explainer {
    struct ktau_explain *x;
    pthread_t thread;
    bool running; /* the drain thread was started and not joined */
    int cpu;      /* where the drain thread runs, or -1 */
    int rc;       /* the drain thread's result */
    struct zepto_err err;
};

static void *drain_main(void *arg)
{
    struct zn_explainer *e = arg;
    pthread_setname_np(pthread_self(), "zn-explain");
    struct zepto_err ignored;
    if (e->cpu >= 0)
        zb_pin_self(e->cpu, &ignored);
    e->rc = ktau_explain_pump(e->x, &e->err);
    return NULL;
}

int zn_explainer_start(const struct zn_record_opts *opts, struct zn_explainer **out,
                       struct zepto_err *err)
{
    *out = NULL;
    struct zn_explainer *e = calloc(1, sizeof(*e));
    if (!e)
        return zepto_fail(err, ENOMEM, "out of memory");
    e->cpu = -1;
    int rc = ktau_explain_open(&e->x, opts->cpus, opts->ncpu, err);
    if (rc) {
        free(e);
        return rc;
    }
    struct zb_cpuset allowed, recorded;
    zb_cpuset_clear(&recorded);
    for (unsigned i = 0; i < opts->ncpu; i++)
        zb_cpuset_add(&recorded, (unsigned)opts->cpus[i]);
    int all[ZB_CPU_MAX];
    unsigned n = zb_cpuset_allowed(&allowed, NULL) ? 0 : zb_cpuset_list(&allowed, all, ZB_CPU_MAX);
    for (unsigned i = 0; i < n && e->cpu < 0; i++)
        if (!zb_cpuset_has(&recorded, (unsigned)all[i]))
            e->cpu = all[i];
    /* Signals go to the thread that runs the recorder, as for the recorder threads. */
    sigset_t sigs, old;
    sigfillset(&sigs);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    int pe = pthread_create(&e->thread, NULL, drain_main, e);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pe) {
        ktau_explain_free(e->x);
        free(e);
        return zepto_fail(err, pe, "creating the drain thread: %s", strerror(pe));
    }
    e->running = true;
    *out = e;
    return 0;
}

int zn_explainer_drain_cpu(const struct zn_explainer *e)
{
    return e->cpu;
}

/* Stops the capture (once). */
static int stop(struct zn_explainer *e, struct zepto_err *err)
{
    if (!e->running)
        return 0;
    ktau_explain_halt(e->x);
    pthread_join(e->thread, NULL);
    e->running = false;
    if (e->rc) {
        if (err)
            *err = e->err;
        return e->rc;
    }
    return ktau_explain_stop(e->x, err);
}

int zn_explainer_finish(struct zn_explainer *e, const struct zn_recorder *rec, struct zn_trace *t,
                        struct zepto_err *err)
{
    int rc = stop(e, err);
    if (rc || !t)
        return rc;
    for (uint32_t i = 0; !rc && i < t->ncpu; i++) {
        struct zn_cpu_trace *c = &t->cpu[i];
        uint32_t tid = (uint32_t)zn_recorder_thread_id(rec, i);
        if (c->stored && !(c->why = calloc(c->stored, sizeof(*c->why)))) {
            rc = zepto_fail(err, ENOMEM, "out of memory");
            break;
        }
        for (uint64_t k = 0; !rc && k < c->stored; k++) {
            const struct zn_detour *d = &c->d[k];
            struct ktau_why why;
            ktau_explain_classify(e->x, (int)c->cpu, tid, zn_recorder_mono_ns(rec, d->start_ns),
                                  zn_recorder_mono_ns(rec, d->start_ns + d->duration_ns), &why);
            int idx = zn_trace_cause(t, (uint32_t)why.kind, why.name);
            if (idx < 0)
                rc = zepto_fail(err, -idx, "out of memory");
            else
                c->why[k] = (struct zn_detour_cause){(uint32_t)idx, why.traced_ns};
        }
    }
    if (!rc) {
        t->flags |= ZN_TRACE_EXPLAINED;
        return 0;
    }
    for (uint32_t i = 0; i < t->ncpu; i++) {
        free(t->cpu[i].why);
        t->cpu[i].why = NULL;
    }
    return rc;
}

void zn_explainer_stats(const struct zn_explainer *e, struct zn_explain_stats *st)
{
    struct ktau_explain_stats k;
    ktau_explain_stats(e->x, &k);
    *st = (struct zn_explain_stats){.records = k.records,
                                    .lost = k.lost,
                                    .bytes = k.bytes,
                                    .drains = k.drains,
                                    .drain_ns = k.drain_ns};
}

void zn_explainer_free(struct zn_explainer *e)
{
    if (!e)
        return;
    stop(e, NULL);
    ktau_explain_free(e->x);
    free(e);
}
