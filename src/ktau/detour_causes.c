/*
 * The detour explainer of include/zepto/ktau_explain.h (what caused each detour of `zepto noise
 * record --explain`): the system-wide capture of capture.c on the recorded CPUs, drained by a
 * thread that sleeps in poll(2), then sorted by CPU and time so that each detour costs a binary
 * search and a walk over the few records inside it.
 *
 * The walk replays the CPU's timeline inside the window: a base context (the recorder thread,
 * another thread after a switch, or a page fault of the recorder) with interrupts and softirqs
 * nested on top of it; every stretch between two records is charged to what is on top, so each
 * component's time is exclusive of what interrupted it. Time charged to the recorder itself
 * inside a detour is time the guest kernel did not trace: the hypervisor, or kernel code
 * between tracepoints (entry and exit paths).
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ktau/capture.h"
#include "ktau/merge.h"
#include "zepto/ktau_explain.h"

#define DEFAULT_SLACK_NS 2000u
#define MAX_DEPTH        8  /* interrupts nested in a window; deeper ones are not charged */
#define MAX_COMPONENTS   16 /* distinct components in one window; more are folded in the last */
#define RAW_RESERVE      (16u << 20) /* bytes of drained records faulted in before the recording */

struct ktau_explain {
    struct ktau_capture c;
    int wake; /* eventfd that ends the pump */
    _Atomic int halted;
    bool stopped;
    uint64_t slack_ns;
    size_t *first; /* first record of each CPU (c.recs sorted by CPU), ncpu + 1 entries */
    int ncpu;      /* CPUs indexed by first */
    struct ktau_explain_stats st;
};

struct ktau_capture *ktau_explain_capture(struct ktau_explain *x)
{
    return &x->c;
}

const char *ktau_cause_kind_name(int kind)
{
    static const char *const names[KTAU_CAUSE_KINDS] = {"unknown (host)", "irq", "softirq",
                                                        "thread", "page fault"};
    return kind >= 0 && kind < KTAU_CAUSE_KINDS ? names[kind] : "?";
}

int ktau_explain_new(struct ktau_explain **out, struct zepto_err *err)
{
    struct ktau_explain *x = calloc(1, sizeof(*x));
    if (!x)
        return zepto_fail(err, ENOMEM, "out of memory");
    x->wake = -1;
    x->slack_ns = DEFAULT_SLACK_NS;
    x->c.names = calloc(1, sizeof(*x->c.names));
    if (!x->c.names || !(x->c.names[0] = strdup(""))) {
        ktau_explain_free(x);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    x->c.nnames = 1;
    *out = x;
    return 0;
}

int ktau_explain_open(struct ktau_explain **out, const int *cpus, unsigned ncpu,
                      struct zepto_err *err)
{
    *out = NULL;
    struct ktau_explain *x = calloc(1, sizeof(*x));
    if (!x)
        return zepto_fail(err, ENOMEM, "out of memory");
    x->slack_ns = DEFAULT_SLACK_NS;
    x->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (x->wake < 0) {
        int e = errno;
        free(x);
        return zepto_fail(err, e, "eventfd: %s", strerror(e));
    }
    int rc = ktau_capture_open_cpus(&x->c, cpus, ncpu, err);
    if (rc) {
        ktau_explain_free(x);
        return rc;
    }
    /* The drains copy into this buffer while the loops run: its pages are faulted in now, or
     * each drain would take a page fault per 4 KiB it copies (~0.8 ms a drain here instead of
     * ~0.1 ms), on a recorded CPU when there is no other. */
    x->c.raw = malloc(RAW_RESERVE);
    if (x->c.raw) {
        for (size_t off = 0; off < RAW_RESERVE; off += 4096)
            ((volatile unsigned char *)x->c.raw)[off] = 0;
        x->c.raw_cap = RAW_RESERVE;
    }
    *out = x;
    return 0;
}

static uint64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One drain, counted. */
static int drain(struct ktau_explain *x, struct zepto_err *err)
{
    uint64_t t0 = mono_now();
    size_t before = x->c.raw_len;
    int rc = ktau_capture_drain(&x->c, err);
    x->st.bytes += x->c.raw_len - before;
    x->st.drains++;
    x->st.drain_ns += mono_now() - t0;
    return rc;
}

int ktau_explain_pump(struct ktau_explain *x, struct zepto_err *err)
{
    int fds[1024];
    struct pollfd pf[1025];
    int n = ktau_capture_poll_fds(&x->c, fds, 1024);
    for (int i = 0; i < n; i++)
        pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    pf[n] = (struct pollfd){.fd = x->wake, .events = POLLIN};
    /* Each wake-up is a detour when the drainer shares a recorded CPU: wake when a buffer is a
     * quarter full, or after 10 s (1 s when the lock limit made the buffers smaller than the
     * watermark was set for). */
    int timeout = x->c.small_buffers ? 1000 : 10000;
    while (!atomic_load(&x->halted)) {
        int r = poll(pf, (nfds_t)n + 1, timeout);
        if (r < 0 && errno != EINTR)
            return zepto_fail(err, errno, "poll on the kernel capture: %s", strerror(errno));
        if (atomic_load(&x->halted))
            break;
        /* On a timeout too: a buffer made smaller by the lock limit wakes later than it fills. */
        int rc = drain(x, err);
        if (rc)
            return rc;
    }
    return 0;
}

void ktau_explain_halt(struct ktau_explain *x)
{
    atomic_store(&x->halted, 1);
    if (x->wake >= 0) {
        uint64_t one = 1;
        ssize_t w = write(x->wake, &one, sizeof(one));
        (void)w;
    }
}

void ktau_explain_set_slack(struct ktau_explain *x, uint64_t ns)
{
    x->slack_ns = ns;
}

static int cmp_cpu(const void *a, const void *b)
{
    const struct ktau_krec *x = a, *y = b;
    if (x->cpu != y->cpu)
        return x->cpu < y->cpu ? -1 : 1;
    if (x->t_ns != y->t_ns)
        return x->t_ns < y->t_ns ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int ktau_explain_stop(struct ktau_explain *x, struct zepto_err *err)
{
    int rc = 0;
    if (x->c.maps) {
        size_t before = x->c.raw_len;
        rc = ktau_capture_drain(&x->c, err);
        x->st.bytes += x->c.raw_len - before;
        if (!rc)
            rc = ktau_capture_stop(&x->c, err);
    }
    if (rc)
        return rc;
    struct ktau_capture *c = &x->c;
    if (c->nrecs)
        qsort(c->recs, c->nrecs, sizeof(*c->recs), cmp_cpu);
    int ncpu = c->nrecs ? c->recs[c->nrecs - 1].cpu + 1 : 0;
    free(x->first);
    x->first = calloc((size_t)ncpu + 1, sizeof(*x->first));
    if (!x->first)
        return zepto_fail(err, ENOMEM, "out of memory");
    /* Sorted by CPU: first[k] = the records of CPUs below k. */
    for (size_t i = 0; i < c->nrecs; i++)
        x->first[c->recs[i].cpu + 1]++;
    for (int k = 0; k < ncpu; k++)
        x->first[k + 1] += x->first[k];
    x->ncpu = ncpu;
    x->stopped = true;
    x->st.records = c->nrecs;
    x->st.lost = c->lost;
    return 0;
}

void ktau_explain_stats(const struct ktau_explain *x, struct ktau_explain_stats *st)
{
    *st = x->st;
    st->records = x->c.nrecs;
    st->lost = x->c.lost;
}

/* ---- classification ---- */

struct frame {
    int kind;    /* enum ktau_cause_kind; UNKNOWN: the recorder itself */
    uint32_t id; /* name index (irq, thread) or vector (softirq) */
};

struct comp {
    struct frame f;
    uint64_t ns;
};

struct walk {
    struct comp comp[MAX_COMPONENTS];
    int ncomp;
};

static void charge(struct walk *w, struct frame f, uint64_t ns)
{
    if (f.kind == KTAU_CAUSE_UNKNOWN || !ns)
        return;
    int i = 0;
    while (i < w->ncomp && (w->comp[i].f.kind != f.kind || w->comp[i].f.id != f.id))
        i++;
    if (i == w->ncomp) {
        if (w->ncomp == MAX_COMPONENTS)
            i = MAX_COMPONENTS - 1;
        else
            w->comp[w->ncomp++] = (struct comp){f, 0};
    }
    w->comp[i].ns += ns;
}

/* The first record of [lo, hi) with t_ns >= t. */
static size_t lower_bound(const struct ktau_krec *r, size_t lo, size_t hi, uint64_t t)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].t_ns < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void ktau_explain_classify(const struct ktau_explain *x, int cpu, uint32_t tid, uint64_t start_ns,
                           uint64_t end_ns, struct ktau_why *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = KTAU_CAUSE_UNKNOWN;
    if (!x->first || cpu < 0 || cpu >= x->ncpu || end_ns < start_ns)
        return;
    const struct ktau_capture *c = &x->c;
    uint64_t lo = start_ns > x->slack_ns ? start_ns - x->slack_ns : 0, hi = end_ns + x->slack_ns;
    size_t end = x->first[cpu + 1];
    size_t i = lower_bound(c->recs, x->first[cpu], end, lo);

    struct walk w = {.ncomp = 0};
    struct frame stack[MAX_DEPTH], base = {KTAU_CAUSE_UNKNOWN, 0};
    int depth = 0, dropped = 0; /* dropped: pushes past MAX_DEPTH, popped first */
    uint64_t last = lo;
    for (; i < end && c->recs[i].t_ns <= hi; i++) {
        const struct ktau_krec *r = &c->recs[i];
        out->events++;
        charge(&w, depth ? stack[depth - 1] : base, r->t_ns - last);
        last = r->t_ns;
        switch (r->kind) {
        case KR_IRQ_ENTRY:
        case KR_SOFTIRQ_ENTRY: {
            struct frame f = r->kind == KR_IRQ_ENTRY
                                 ? (struct frame){KTAU_CAUSE_IRQ, r->name}
                                 : (struct frame){KTAU_CAUSE_SOFTIRQ, (uint32_t)r->arg};
            if (depth < MAX_DEPTH)
                stack[depth++] = f;
            else
                dropped++;
            break;
        }
        case KR_IRQ_EXIT:
        case KR_SOFTIRQ_EXIT: {
            /* An exit whose entry came before the window closes nothing. */
            int kind = r->kind == KR_IRQ_EXIT ? KTAU_CAUSE_IRQ : KTAU_CAUSE_SOFTIRQ;
            if (dropped)
                dropped--;
            else if (depth && stack[depth - 1].kind == kind)
                depth--;
            break;
        }
        case KR_SWITCH_IN:
            depth = dropped = 0;
            base = r->tid == tid ? (struct frame){KTAU_CAUSE_UNKNOWN, 0}
                                 : (struct frame){KTAU_CAUSE_THREAD, r->name};
            break;
        case KR_PAGE_FAULT:
            /* No exit event: the fault is charged until the next switch or the window's end,
             * less what interrupts it. */
            if (r->tid == tid) {
                out->faults++;
                if (base.kind == KTAU_CAUSE_UNKNOWN)
                    base = (struct frame){KTAU_CAUSE_FAULT, 0};
            }
            break;
        default: break;
        }
    }
    /* The tail up to the detour's end (events in the slack after it close what they close). */
    charge(&w, depth ? stack[depth - 1] : base, end_ns > last ? end_ns - last : 0);

    int best = -1;
    uint64_t traced = 0;
    for (int k = 0; k < w.ncomp; k++) {
        traced += w.comp[k].ns;
        if (best < 0 || w.comp[k].ns > w.comp[best].ns)
            best = k;
    }
    out->traced_ns = traced < end_ns - start_ns ? traced : end_ns - start_ns;
    if (best < 0) {
        if (out->faults)
            out->kind = KTAU_CAUSE_FAULT;
        return;
    }
    const struct frame f = w.comp[best].f;
    out->kind = f.kind;
    out->cause_ns = w.comp[best].ns < end_ns - start_ns ? w.comp[best].ns : end_ns - start_ns;
    const char *name = "";
    if (f.kind == KTAU_CAUSE_SOFTIRQ)
        name = ktau_softirq_name((int)f.id);
    else if (f.kind != KTAU_CAUSE_FAULT && f.id < c->nnames)
        name = c->names[f.id];
    snprintf(out->name, sizeof(out->name), "%s", name);
}

void ktau_explain_free(struct ktau_explain *x)
{
    if (!x)
        return;
    ktau_capture_free(&x->c);
    if (x->wake >= 0)
        close(x->wake);
    free(x->first);
    free(x);
}
