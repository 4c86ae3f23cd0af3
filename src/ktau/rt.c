/*
 * libktau's timers: ktau_start/ktau_stop and the -finstrument-functions hooks, on a per-thread
 * stack with no locks and no allocation on the hot path.
 *
 * A start finds the routine by the address of its name (or of its function) in an open-addressing
 * table, reads the clock, pushes a frame and appends an event to the log; a stop pops the frame and
 * adds its time to the routine (inclusive time only for the outermost instance of a recursive
 * routine) and to its parent's child time. A pair costs two clock reads (the TSC, ~10 ns each on
 * x86-64) and a few stores: bench/ktau_pair.c measures it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ktau/rt.h"
#include "zepto/ktau.h"

#define EXPORT __attribute__((visibility("default")))
#define NOINST __attribute__((no_instrument_function))

__thread struct kt_thread *kt_self __attribute__((tls_model("initial-exec")));

static NOINST inline uint32_t hash_slot(uintptr_t key)
{
    return (uint32_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> (64 - 14));
}

/* The message for a mismatched stop, once per name, straight to stderr (write(2): this may run
 * inside a program in any state). */
static NOINST void warn_mismatch(struct kt_thread *t, struct kt_routine *r, const char *running)
{
    if (r->warned)
        return;
    r->warned = 1;
    if (r->kind == KT_KEY_FUNC && !r->resolved)
        kt__resolve(r);
    char buf[512];
    const char *name = r->name ? r->name : r->sym[0] ? r->sym : "(function)";
    int n;
    if (running)
        n = snprintf(buf, sizeof(buf),
                     "ktau: thread %d: stop of '%s' while '%s' is running (stopping both; "
                     "reported once per name)\n",
                     (int)t->tid, name, running);
    else
        n = snprintf(buf, sizeof(buf),
                     "ktau: thread %d: stop of '%s', which is not running (ignored; reported once "
                     "per name)\n",
                     (int)t->tid, name);
    if (n > 0)
        (void)!write(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Slow path of the lookup: a key not seen on this thread. Named timers with the same text under
 * another address share the routine. */
static NOINST uint32_t add_routine(struct kt_thread *t, uint32_t slot, uintptr_t key, int kind)
{
    uint32_t rid = UINT32_MAX;
    if (kind == KT_KEY_NAME) {
        for (uint32_t i = 1; i < t->nroutines; i++)
            if (t->routines[i].kind == KT_KEY_NAME && !strcmp(t->routines[i].name, (char *)key)) {
                rid = i;
                break;
            }
    }
    if (rid == UINT32_MAX) {
        if (t->nroutines >= KT_MAX_ROUTINES - 1) {
            rid = KT_MAX_ROUTINES - 1; /* the overflow routine */
            struct kt_routine *r = &t->routines[rid];
            if (!r->name) {
                r->name = "[ktau: too many routines]";
                r->kind = KT_KEY_NAME;
                r->key = (uintptr_t)r->name;
            }
        } else {
            rid = t->nroutines++;
            struct kt_routine *r = &t->routines[rid];
            r->key = key;
            r->kind = (uint8_t)kind;
            if (kind == KT_KEY_NAME) {
                r->name = (const char *)key;
            } else if (kt_g.have_exclude) {
                kt__resolve(r);
                r->excluded = kt__excluded(kt_g.exclude, r->sym);
            }
        }
    }
    if (t->nkeys >= KT_HASH_SIZE / 4 * 3)
        return rid; /* table full: this key takes the slow path every time */
    t->nkeys++;
    t->hash[slot].key = key;
    t->hash[slot].kind = (uint32_t)kind;
    t->hash[slot].rid1 = rid + 1;
    return rid;
}

static NOINST inline uint32_t lookup(struct kt_thread *t, uintptr_t key, int kind)
{
    uint32_t slot = hash_slot(key);
    for (;;) {
        struct kt_slot *s = &t->hash[slot];
        if (KT_LIKELY(s->key == key && s->kind == (uint32_t)kind && s->rid1))
            return s->rid1 - 1;
        if (!s->rid1)
            return add_routine(t, slot, key, kind);
        slot = (slot + 1) & (KT_HASH_SIZE - 1);
    }
}

static NOINST inline void log_event(struct kt_thread *t, uint64_t now, uint32_t rid_dir)
{
    if (KT_UNLIKELY(t->log_cur == t->log_end) && !kt__log_grow(t))
        return;
    t->log_cur->t = now;
    t->log_cur->rid_dir = rid_dir;
    t->log_cur++;
}

static NOINST inline void start(uintptr_t key, int kind)
{
    struct kt_thread *t = kt_self;
    if (KT_UNLIKELY(!t) && !(t = kt__thread_new()))
        return;
    uint32_t rid = lookup(t, key, kind);
    struct kt_routine *r = &t->routines[rid];
    if (KT_UNLIKELY(r->excluded))
        return;
    if (KT_UNLIKELY(t->depth >= KT_MAX_DEPTH)) {
        t->overflow++;
        return;
    }
    uint64_t now = kt_now();
    t->routines[t->stack[t->depth - 1].rid].subrs++;
    struct kt_frame *f = &t->stack[t->depth++];
    f->start = now;
    f->child = 0;
    f->rid = rid;
    r->active++;
    r->calls++;
    log_event(t, now, rid << 1);
}

/* Pops the top frame at `now`. */
static NOINST inline void pop(struct kt_thread *t, uint64_t now)
{
    struct kt_frame *f = &t->stack[--t->depth];
    struct kt_routine *r = &t->routines[f->rid];
    uint64_t d = now - f->start;
    r->excl += d - f->child;
    if (--r->active == 0)
        r->incl += d;
    t->stack[t->depth - 1].child += d;
    log_event(t, now, f->rid << 1 | 1);
}

/* A stop that does not match the top of the stack: stop everything down to the routine if it is
 * running, else ignore the stop. */
static NOINST void stop_mismatched(struct kt_thread *t, uint32_t rid, uint64_t now)
{
    struct kt_routine *r = &t->routines[rid];
    uint32_t at = 0;
    for (uint32_t i = t->depth; i-- > 1;)
        if (t->stack[i].rid == rid) {
            at = i;
            break;
        }
    struct kt_routine *top = &t->routines[t->stack[t->depth - 1].rid];
    if (top->kind == KT_KEY_FUNC && !top->resolved)
        kt__resolve(top);
    if (!at) {
        warn_mismatch(t, r, NULL);
        return;
    }
    warn_mismatch(t, r, top->name ? top->name : top->sym[0] ? top->sym : "(function)");
    while (t->depth > at)
        pop(t, now);
}

static NOINST inline void stop(uintptr_t key, int kind)
{
    struct kt_thread *t = kt_self;
    if (KT_UNLIKELY(!t))
        return;
    if (KT_UNLIKELY(t->overflow)) {
        t->overflow--;
        return;
    }
    uint64_t now = kt_now();
    struct kt_frame *f = &t->stack[t->depth - 1];
    struct kt_routine *r = &t->routines[f->rid];
    if (KT_LIKELY(r->key == key && r->kind == kind && t->depth > 1)) {
        pop(t, now);
        return;
    }
    uint32_t rid = lookup(t, key, kind);
    if (t->routines[rid].excluded)
        return;
    if (rid == f->rid && t->depth > 1)
        pop(t, now);
    else
        stop_mismatched(t, rid, now);
}

EXPORT NOINST void ktau_start(const char *name)
{
    start((uintptr_t)name, KT_KEY_NAME);
}

EXPORT NOINST void ktau_stop(const char *name)
{
    stop((uintptr_t)name, KT_KEY_NAME);
}

EXPORT NOINST void __cyg_profile_func_enter(void *fn, void *site);
EXPORT NOINST void __cyg_profile_func_exit(void *fn, void *site);

void __cyg_profile_func_enter(void *fn, void *site)
{
    (void)site;
    start((uintptr_t)fn, KT_KEY_FUNC);
}

void __cyg_profile_func_exit(void *fn, void *site)
{
    (void)site;
    stop((uintptr_t)fn, KT_KEY_FUNC);
}

/* A 2 MiB chunk on a 2 MiB boundary, as one huge page where THP allows, touched now. */
static NOINST struct kt_chunk *chunk_map(void)
{
    size_t len = KT_CHUNK_EVENTS * sizeof(struct kt_event);
    char *m = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)m + len - 1) & ~(uintptr_t)(len - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    if (a + len < m + 2 * len)
        munmap(a + len, (size_t)(m + 2 * len - (a + len)));
    madvise(a, len, MADV_HUGEPAGE);
    for (size_t off = 0; off < len; off += 4096)
        ((volatile char *)a)[off] = 0;
    return (struct kt_chunk *)a;
}

bool kt__log_grow(struct kt_thread *t)
{
    size_t len = KT_CHUNK_EVENTS * sizeof(struct kt_event);
    struct kt_chunk *c = t->log_bytes + len > kt_g.log_max ? NULL : chunk_map();
    if (!c) {
        t->dropped++;
        return false;
    }
    c->next = NULL;
    if (t->last)
        t->last->next = c;
    else
        t->first = c;
    t->last = c;
    t->log_bytes += len;
    t->log_cur = c->ev;
    t->log_end = c->ev + (KT_CHUNK_EVENTS - 1);
    return true;
}

struct kt_thread *kt__thread_new(void)
{
    kt__init();
    struct kt_thread *t =
        mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        return NULL;
    t->pid = getpid();
    t->tid = (pid_t)syscall(SYS_gettid);
    t->is_main = t->pid == t->tid;
    /* The root routine: the thread's outermost frame, never popped. */
    t->nroutines = 1;
    t->routines[0].kind = KT_KEY_ROOT;
    t->routines[0].name = kt_g.comm;
    t->routines[0].calls = 1;
    t->routines[0].active = 1;
    t->start_ticks = kt_now();
    t->stack[0].start = t->start_ticks;
    t->stack[0].rid = 0;
    t->depth = 1;
    kt__log_grow(t);
    log_event(t, t->start_ticks, 0);
    kt_self = t;
    /* Registered for the write-out at exit; lock-free push. */
    struct kt_thread *head = atomic_load(&kt_threads);
    do
        t->next = head;
    while (!atomic_compare_exchange_weak(&kt_threads, &head, t));
    kt__thread_registered(t);
    return t;
}
