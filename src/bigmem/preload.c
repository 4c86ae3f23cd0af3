/*
 * libzepto-bigmem.so: preloaded by `zepto bigmem run`, it serves the program's whole malloc
 * family from one big-memory region.
 *
 * The region is reserved on the first call into the malloc family or in the constructor,
 * whichever comes first (lazily, under a guard): read the ZEPTO_BIGMEM_* settings and the
 * machine's pools, plan, map, pre-fault and optionally pin the region, and hand it to mimalloc as
 * an arena with mi_option_limit_os_alloc set, so that mimalloc takes no memory from anywhere else.
 * With an explicit size (ZEPTO_BIGMEM_SIZE) the whole region is mapped and pre-faulted at start.
 * By default only the address space of the planned size is reserved, and the region grows by
 * pre-faulted chunks (zbm_chunk_next: 32 MiB first, doubling, at most 1 GiB) each time mimalloc
 * finds no room; each chunk becomes one more arena. So memory follows use: a shell pipeline of ten
 * small programs commits ten first chunks, not ten halves of the machine.
 * mimalloc is told the region is "large" OS memory, and its decommit and reset options are off:
 * freed memory is never given back to the kernel, so it never faults in again.
 *
 * Allocations made while the region is being set up (the dynamic loader, stdio in our own
 * messages) come from a small static bump area and are never freed. When the region is full:
 * with ZEPTO_BIGMEM_STRICT, allocation fails with ENOMEM; otherwise mimalloc is allowed to take
 * ordinary memory from the kernel from then on, and that is said once. Every block other than
 * the bump area's is mimalloc's, so free and realloc need no other allocator. (An earlier version
 * fell back to glibc's malloc; glibc aborts at thread exit when its arenas are used that way.)
 *
 * Messages go to stderr with write(2): nothing here may allocate before the region exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <mimalloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/parse.h"
#include "base/settings.h"
#include "zepto/bigmem.h"

#define EXPORT    __attribute__((visibility("default")))
#define BOOT_SIZE (512u << 10) /* allocations before the region exists */

enum { UNSET, STARTING, READY, NO_REGION };

/* Process-wide state: the preload has no caller to hand it to. */
static _Atomic int state = UNSET;
static _Atomic pid_t starter; /* the thread setting the region up */
static struct zbm_region region;
static struct zbm_plan plan;
static enum zbm_pages asked = ZBM_AUTO;
static bool strict, verbose;
static _Atomic uint64_t in_use, peak;
static _Atomic int fallback_said;
static int err_fd = STDERR_FILENO; /* our own copy of stderr, for the line at exit */
static uint64_t faults_at_start;
static bool growing;                /* default size: grow by chunks on demand */
static _Atomic pid_t grow_lock;     /* pid of the process adding a chunk, or 0 */
static _Atomic unsigned generation; /* chunks added; a failed allocation retries if it moved */

static struct zbm_static statics; /* the static segments moved before main */

static _Alignas(64) unsigned char boot[BOOT_SIZE];
static _Atomic size_t boot_used;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[768];
    int n = snprintf(buf, sizeof(buf), "zepto bigmem: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    ssize_t w = write(err_fd, buf, (size_t)n);
    (void)w;
}

static bool in_boot(const void *p)
{
    return (uintptr_t)p - (uintptr_t)boot < sizeof(boot);
}

/* Bump allocation with the size in the 16 bytes before the block; never freed. */
static void *boot_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    for (;;) {
        size_t used = atomic_load(&boot_used);
        size_t start = (used + 16 + align - 1) & ~(align - 1);
        if (start + size > sizeof(boot) || start + size < start)
            return NULL;
        if (atomic_compare_exchange_weak(&boot_used, &used, start + size)) {
            memcpy(boot + start - sizeof(size_t), &size, sizeof(size_t));
            return boot + start;
        }
    }
}

static size_t boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - sizeof(size_t), sizeof(size_t));
    return size;
}

static uint64_t faults_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

static bool flag(enum zbm_setting s)
{
    const char *v = zbm_setting(s, "0");
    return v[0] && strcmp(v, "0");
}

static void report_at_exit(void)
{
    if (!verbose)
        return;
    char size[32], peak_s[32], pages[96];
    double huge = 0;
    for (unsigned i = 0; i < statics.n; i++) {
        char line[400];
        zbm_static_describe(&statics.seg[i], line, sizeof(line), &huge);
        say("static %s", line);
    }
    if (atomic_load(&state) != READY) {
        say("no region; the program ran on ordinary memory");
        return;
    }
    zbm_region_check(&region, pages, sizeof(pages), &huge);
    char grown[96] = "";
    if (growing) {
        char cap[32];
        snprintf(grown, sizeof(grown), " (grown on demand in %u chunks, of at most %s)",
                 region.chunks, zb_fmt_size(region.capacity, cap, sizeof(cap)));
    }
    say("pages %s (asked %s), region %s%s at %p%s, peak in use %s, page faults after start-up "
        "%llu, set up in %.1f ms%s",
        pages, zbm_pages_name(asked), zb_fmt_size(region.size, size, sizeof(size)), grown,
        region.base, region.pinned ? " pinned" : "",
        zb_fmt_size(atomic_load(&peak), peak_s, sizeof(peak_s)),
        (unsigned long long)(faults_now() - faults_at_start), (double)region.map_ns / 1e6,
        atomic_load(&fallback_said) ? "; ran out and used ordinary memory too" : "");
}

/* A forked child counts its faults from 0 (getrusage's are its own): its line says those. */
static void faults_restart(void)
{
    faults_at_start = 0;
}

static void set_up(void)
{
    struct zepto_err err = {0};
    struct zbm_system sys;
    enum zbm_pages want = ZBM_AUTO;
    uint64_t size = 0;

    strict = flag(ZBM_SET_STRICT);
    verbose = flag(ZBM_SET_VERBOSE);
    const char *v = zbm_setting(ZBM_SET_PAGES, NULL);
    if (v && zbm_pages_parse(v, &want, &err))
        goto fail;
    asked = want;
    v = zbm_setting(ZBM_SET_SIZE, NULL);
    if (v && zb_parse_size(v, &size, &err))
        goto fail;
    growing = size == 0;
    /* Static data and code first: their needs are exact, the heap takes what pool is left. */
    if (flag(ZBM_SET_STATIC) || flag(ZBM_SET_TEXT)) {
        struct zbm_static_opts so = {.pages = want,
                                     .data = flag(ZBM_SET_STATIC),
                                     .libs = flag(ZBM_SET_LIBS),
                                     .text = flag(ZBM_SET_TEXT),
                                     .strict = strict};
        char note[300];
        if (zbm_static_move(&so, &statics, note, sizeof(note), &err))
            goto fail;
        if (note[0])
            say("%s", note);
    }
    if (zbm_system_read(&sys, zb_setting(ZB_SET_SYSROOT, ""), &err) ||
        zbm_plan_make(&sys, want, size, strict, &plan, &err))
        goto fail;
    if (growing ? zbm_region_reserve(&plan, flag(ZBM_SET_PIN), &region, &err) ||
                      zbm_region_grow(&region,
                                      zbm_chunk_next(0, region.capacity, region.page_size, 0), &err)
                : zbm_region_map(&plan, flag(ZBM_SET_PIN), &region, &err))
        goto fail;
    if (plan.fell_back)
        say("%s", plan.why);

    /* mimalloc: only this region, never decommitted or reset. */
    mi_option_set(mi_option_allow_decommit, 0);
    mi_option_set(mi_option_page_reset, 0);
    mi_option_set(mi_option_abandoned_page_decommit, 0);
    mi_option_set(mi_option_limit_os_alloc, 1);
    /* A thread's first segments are "eagerly delayed" and may not use large-page arenas, which
     * would send every new thread to the kernel: no delay. */
    mi_option_set(mi_option_eager_commit_delay, 0);
    if (!mi_manage_os_memory_ex(region.base, region.size, true, true, true, -1, false, NULL)) {
        zepto_fail(&err, EINVAL, "mimalloc refused the region");
        zbm_region_unmap(&region);
        goto fail;
    }
    faults_at_start = faults_now();
    pthread_atfork(NULL, NULL, faults_restart);
    if (verbose) {
        /* Programs may close stderr in their own exit handlers (gnulib's close_stdout does),
         * which run before ours: keep a copy. */
        int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        if (fd >= 0)
            err_fd = fd;
        atexit(report_at_exit);
    }
    atomic_store(&state, READY);
    return;
fail:
    if (strict) {
        say("%s (strict: not running the program)", err.msg);
        _exit(1);
    }
    say("%s; running on ordinary memory", err.msg);
    atomic_store(&state, NO_REGION);
}

/* True when the region (or the decision not to have one) is settled; false inside the set-up,
 * on the thread doing it. */
static bool ready(void)
{
    int s = atomic_load_explicit(&state, memory_order_acquire);
    if (s >= READY)
        return true;
    pid_t me = gettid();
    if (s == STARTING && atomic_load(&starter) == me)
        return false;
    int expected = UNSET;
    if (atomic_compare_exchange_strong(&state, &expected, STARTING)) {
        atomic_store(&starter, me);
        set_up();
        return true;
    }
    while (atomic_load_explicit(&state, memory_order_acquire) == STARTING)
        sched_yield();
    return true;
}

__attribute__((constructor)) static void bigmem_init(void)
{
    ready();
}

static void account(void *p, bool add)
{
    uint64_t n = mi_usable_size(p);
    if (add) {
        uint64_t now = atomic_fetch_add_explicit(&in_use, n, memory_order_relaxed) + n;
        uint64_t old = atomic_load_explicit(&peak, memory_order_relaxed);
        while (now > old && !atomic_compare_exchange_weak_explicit(
                                &peak, &old, now, memory_order_relaxed, memory_order_relaxed))
            ;
    } else {
        atomic_fetch_sub_explicit(&in_use, n, memory_order_relaxed);
    }
}

/* Adds the next chunk of a growing region as one more arena, for an allocation of `need` bytes
 * that found no room after `seen` chunks. True: try again (also when another thread added a
 * chunk meanwhile). */
static bool add_chunk(size_t need, unsigned seen)
{
    /* A lock copied by fork from a parent that was growing is stale: the child takes it. */
    pid_t me = getpid(), held = 0;
    while (!atomic_compare_exchange_weak_explicit(&grow_lock, &held, me, memory_order_acquire,
                                                  memory_order_relaxed)) {
        if (held && held != me && atomic_compare_exchange_strong(&grow_lock, &held, me))
            break;
        held = 0;
        sched_yield();
    }
    bool ok = atomic_load(&generation) != seen;
    if (!ok) {
        uint64_t before = region.size;
        uint64_t chunk = zbm_chunk_next(before, region.capacity, region.page_size, need);
        struct zepto_err err = {0};
        /* A chunk enlarged for one large allocation: its huge pages come when touched (a
         * program may touch little of what it asks: GNU sort's buffer is sized from the
         * machine's memory). A chunk of the usual size, shared by many allocations, is
         * pre-faulted. */
        uint64_t usual = zbm_chunk_next(before, region.capacity, region.page_size, 0);
        uint64_t prefault = chunk > usual ? 0 : chunk;
        if (chunk && !zbm_region_grow_part(&region, chunk, prefault, &err)) {
            ok = mi_manage_os_memory_ex((char *)region.base + before, chunk, true, true, true, -1,
                                        false, NULL);
            if (ok)
                atomic_fetch_add(&generation, 1);
            /* else: mimalloc has no arena slot left; the chunk stays mapped, unused. */
        } else if (chunk && verbose) {
            say("could not grow the region: %s", err.msg);
        }
    }
    atomic_store_explicit(&grow_lock, 0, memory_order_release);
    return ok;
}

/* mimalloc returned NULL. A growing region first grows. Then, when strict, that is ENOMEM;
 * otherwise say once that the region is full and let mimalloc take ordinary memory from now on
 * (true: try again). */
static bool may_grow(size_t need, unsigned seen)
{
    if (atomic_load(&state) != READY) {
        errno = ENOMEM;
        return false;
    }
    if (growing && atomic_load(&fallback_said) == 0 && add_chunk(need, seen))
        return true;
    if (strict) {
        errno = ENOMEM;
        return false;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&fallback_said, &expected, 1)) {
        char a[32];
        say("the %s region is full; further allocations use ordinary memory",
            zb_fmt_size(region.size, a, sizeof(a)));
        mi_option_set(mi_option_limit_os_alloc, 0);
    }
    return true;
}

static void *counted(void *p)
{
    if (p)
        account(p, true);
    return p;
}

EXPORT void *malloc(size_t size)
{
    if (!ready())
        return boot_alloc(size, 16);
    void *p;
    for (int i = 0; i < 4; i++) {
        unsigned seen = atomic_load(&generation);
        if ((p = mi_malloc(size)) || !may_grow(size, seen))
            break;
    }
    return counted(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (!ready())
        return boot_alloc(total, 16); /* the static area is zero and never reused */
    void *p;
    for (int i = 0; i < 4; i++) {
        unsigned seen = atomic_load(&generation);
        if ((p = mi_calloc(n, size)) || !may_grow(total, seen))
            break;
    }
    return counted(p);
}

static void *aligned(size_t align, size_t size)
{
    if (!ready())
        return boot_alloc(size, align);
    void *p;
    for (int i = 0; i < 4; i++) {
        unsigned seen = atomic_load(&generation);
        if ((p = mi_malloc_aligned(size, align)) || !may_grow(size + align, seen))
            break;
    }
    return counted(p);
}

EXPORT void free(void *p)
{
    if (!p || in_boot(p))
        return;
    account(p, false);
    mi_free(p);
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    return in_boot(p) ? boot_size(p) : mi_usable_size(p);
}

EXPORT void *realloc(void *p, size_t size)
{
    if (!p)
        return malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    if (in_boot(p)) {
        void *q = malloc(size);
        if (q) {
            size_t have = boot_size(p);
            memcpy(q, p, have < size ? have : size);
        }
        return q;
    }
    size_t old = mi_usable_size(p);
    void *q;
    for (int i = 0; i < 4; i++) {
        unsigned seen = atomic_load(&generation);
        if ((q = mi_realloc(p, size)) || !may_grow(size, seen))
            break;
    }
    if (q) {
        atomic_fetch_sub_explicit(&in_use, old, memory_order_relaxed);
        account(q, true);
    }
    return q;
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = aligned(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (!align || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
    if (!align || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, size);
}

static size_t page_size(void)
{
    static size_t ps;
    if (!ps)
        ps = (size_t)sysconf(_SC_PAGESIZE);
    return ps;
}

EXPORT void *valloc(size_t size)
{
    return aligned(page_size(), size);
}

EXPORT void *pvalloc(size_t size)
{
    size_t ps = page_size(), rounded = (size + ps - 1) / ps * ps;
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(ps, rounded ? rounded : ps);
}

EXPORT bool zepto_bigmem_region(void **start, size_t *size)
{
    if (!ready() || atomic_load(&state) != READY)
        return false;
    /* A growing region: the whole reserved range, where every chunk will be. */
    *start = region.base;
    *size = growing ? region.capacity : region.size;
    return true;
}
