/*
 * libktau's life cycle: the settings read once (constructor or first timer), the clock chosen and
 * its conversion to CLOCK_MONOTONIC, the write-out of each thread's file at the thread's exit and
 * of the rest at process exit, and the reset of the forking thread's state in a child process.
 *
 * Settings (environment, read once through ktau's table, settings.c): KTAU_DIR (where files go;
 * unset: nothing is written), KTAU_EXCLUDE (glob,glob: instrumented functions not timed),
 * KTAU_CLOCK (tsc | monotonic), KTAU_LOG_MAX (bytes of event log per thread, K/M/G suffixes); the
 * launcher's rank (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, SLURM_PROCID: the first set), until
 * MPI_Init tells the real one through ktau_set_rank.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/parse.h"
#include "base/sysinfo.h"
#include "ktau/rt.h"
#include "zepto/ktau.h"
#include "zepto/ktau_run.h"

#define EXPORT __attribute__((visibility("default")))
#define NOINST __attribute__((no_instrument_function))

struct kt_global kt_g = {.log_max = KT_LOG_MAX_DEF, .rank = -1};
struct kt_thread *_Atomic kt_threads;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool have_key;

extern char *program_invocation_short_name;

/* Whether /proc/cpuinfo promises a TSC at a constant rate through sleep states (base's check
 * of the first flags line, read here without stdio: this may run in the constructor). */
static NOINST bool tsc_usable(void)
{
    char buf[16384], why[160];
    int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    char *flags = strstr(buf, "\nflags");
    char *colon = flags ? strchr(flags, ':') : NULL;
    if (!colon)
        return false;
    char *eol = strchr(colon, '\n');
    if (eol)
        *eol = 0;
    return zb_tsc_flags_usable(colon + 1, why, sizeof(why));
}

/* KTAU_LOG_MAX: a size (base's syntax: 64M, 1G...); unset, bad or zero: the default. */
static NOINST uint64_t log_max(const char *s)
{
    uint64_t v;
    return zb_parse_size(s, &v, NULL) || !v ? KT_LOG_MAX_DEF : v;
}

static NOINST void thread_exit(void *p)
{
    struct kt_thread *t = p;
    if (kt_g.dir[0] && !atomic_exchange(&t->written, 1))
        kt__write_thread(t, kt_g.dir);
}

static NOINST void after_fork_child(void);

static NOINST void init_once_fn(void)
{
    const char *v;
    if ((v = ktau_setting(KTAU_SET_DIR, NULL)))
        snprintf(kt_g.dir, sizeof(kt_g.dir), "%s", v);
    if ((v = ktau_setting(KTAU_SET_EXCLUDE, NULL))) {
        snprintf(kt_g.exclude, sizeof(kt_g.exclude), "%s", v);
        kt_g.have_exclude = true;
    }
    if ((v = ktau_setting(KTAU_SET_LOG_MAX, NULL)))
        kt_g.log_max = log_max(v);
    else if (!kt_g.dir[0])
        kt_g.log_max = 0; /* no KTAU_DIR: no merge will read a log, so none is kept */
    v = ktau_setting(KTAU_SET_CLOCK, NULL);
    kt_g.use_tsc = (!v || strcmp(v, "monotonic")) && tsc_usable();
    if (kt_g.use_tsc)
        zb_clock_pair(&kt_g.tsc0, &kt_g.mono0);
    snprintf(kt_g.comm, sizeof(kt_g.comm), "%s",
             program_invocation_short_name && *program_invocation_short_name
                 ? program_invocation_short_name
                 : "main");
    atomic_store(&kt_g.rank, zb_launcher_rank());
    have_key = pthread_key_create(&exit_key, thread_exit) == 0;
    pthread_atfork(NULL, NULL, after_fork_child);
}

void kt__init(void)
{
    pthread_once(&init_once, init_once_fn);
}

void kt__thread_registered(struct kt_thread *t)
{
    if (have_key && !t->is_main)
        pthread_setspecific(exit_key, t);
}

void kt__conv_now(struct kt_conv *c)
{
    c->tsc = kt_g.use_tsc;
    if (!c->tsc)
        return;
    uint64_t tsc1, mono1;
    /* Below a millisecond the two pairs are too close for a good rate: wait for one. */
    do
        zb_clock_pair(&tsc1, &mono1);
    while (mono1 - kt_g.mono0 < 1000000);
    c->tsc0 = kt_g.tsc0;
    c->mono0 = kt_g.mono0;
    c->scale = (long double)(mono1 - kt_g.mono0) / (long double)(tsc1 - kt_g.tsc0);
}

/* The child of a fork has one thread, the one that forked: its state starts again (empty
 * profile and log, the frames it is inside restarted now); the other threads' states are not the
 * child's and are forgotten. */
static NOINST void after_fork_child(void)
{
    struct kt_thread *t = kt_self;
    atomic_store(&kt_threads, t);
    if (!t)
        return;
    t->next = NULL;
    t->pid = getpid();
    t->tid = (pid_t)syscall(SYS_gettid);
    t->is_main = 1;
    atomic_store(&t->written, 0);
    for (uint32_t i = 0; i < t->nroutines; i++) {
        struct kt_routine *r = &t->routines[i];
        r->calls = r->subrs = r->incl = r->excl = 0;
        r->active = 0;
    }
    for (struct kt_chunk *c = t->first ? t->first->next : NULL, *n; c; c = n) {
        n = c->next;
        munmap(c, KT_CHUNK_EVENTS * sizeof(struct kt_event));
    }
    t->dropped = 0;
    for (uint32_t i = 0; i < t->nuev; i++) {
        struct kt_uevent *e = &t->uev[i];
        e->n = 0;
        e->min = e->max = e->sum = e->sumsq = 0;
    }
    t->uev_dropped = 0;
    if (t->first) {
        t->first->next = NULL;
        t->last = t->first;
        t->log_bytes = KT_CHUNK_EVENTS * sizeof(struct kt_event);
        t->log_cur = t->first->ev;
        t->log_end = t->first->ev + (KT_CHUNK_EVENTS - 1);
    }
    uint64_t now = kt_now();
    t->start_ticks = now;
    for (uint32_t i = 0; i < t->depth; i++) {
        struct kt_frame *f = &t->stack[i];
        f->start = now;
        f->child = 0;
        t->routines[f->rid].active++;
        t->routines[f->rid].calls++;
        if (i)
            t->routines[t->stack[i - 1].rid].subrs++;
        if (t->log_cur == t->log_end && !kt__log_grow(t))
            continue;
        t->log_cur->t = now;
        t->log_cur->rid_dir = f->rid << 1;
        t->log_cur++;
    }
}

/* Writes all of buf or fails. */
static NOINST int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The atomic events, after the event log (raw.h): a count, then each record and its name. */
static NOINST int write_uevents(int fd, const struct kt_thread *t)
{
    static const char zeros[8];
    uint64_t n = t->nuev;
    int rc = write_all(fd, &n, sizeof(n));
    for (uint32_t i = 0; i < t->nuev && !rc; i++) {
        const struct kt_uevent *e = &t->uev[i];
        size_t len = strlen(e->name);
        struct ktau_raw_uevent r = {.n = e->n,
                                    .min = e->min,
                                    .max = e->max,
                                    .sum = e->sum,
                                    .sumsq = e->sumsq,
                                    .name_len = (uint32_t)len};
        rc = write_all(fd, &r, sizeof(r));
        if (!rc)
            rc = write_all(fd, e->name, len);
        if (!rc && len % 8)
            rc = write_all(fd, zeros, 8 - len % 8);
    }
    return rc;
}

int kt__write_thread(struct kt_thread *t, const char *dir)
{
    struct kt_conv conv;
    kt__conv_now(&conv);
    uint64_t end = kt_now();
    uint32_t n = t->nroutines;
    if (t->routines[KT_MAX_ROUTINES - 1].name)
        n = KT_MAX_ROUTINES;

    /* The statistics as if the running frames stopped now (the live ones are left as they are). */
    struct ktau_raw_routine *rr = calloc(n, sizeof(*rr));
    uint64_t *child = calloc(t->depth + 1, sizeof(*child));
    uint32_t *active = calloc(n, sizeof(*active));
    if (!rr || !child || !active) {
        free(rr);
        free(child);
        free(active);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        rr[i].calls = t->routines[i].calls;
        rr[i].subrs = t->routines[i].subrs;
        rr[i].incl_ns = t->routines[i].incl;
        rr[i].excl_ns = t->routines[i].excl;
        rr[i].kind = t->routines[i].kind;
        active[i] = t->routines[i].active;
    }
    for (uint32_t i = 0; i < t->depth; i++)
        child[i] = t->stack[i].child;
    for (uint32_t i = t->depth; i-- > 0;) {
        const struct kt_frame *f = &t->stack[i];
        uint64_t d = end - f->start;
        rr[f->rid].excl_ns += d - child[i];
        if (--active[f->rid] == 0)
            rr[f->rid].incl_ns += d;
        if (i)
            child[i - 1] += d;
    }
    /* Ticks to nanoseconds: durations scale, times convert. */
    long double scale = conv.tsc ? conv.scale : 1.0L;
    for (uint32_t i = 0; i < n; i++) {
        rr[i].incl_ns = (uint64_t)((long double)rr[i].incl_ns * scale);
        rr[i].excl_ns = (uint64_t)((long double)rr[i].excl_ns * scale);
    }

    uint64_t nevents = 0;
    for (struct kt_chunk *c = t->first; c; c = c->next)
        nevents += c == t->last ? (uint64_t)(t->log_cur - c->ev) : KT_CHUNK_EVENTS - 1;

    struct ktau_raw_header h = {.version = KTAU_RAW_VERSION};
    memcpy(h.magic, KTAU_RAW_MAGIC, 8);
    int rank = atomic_load(&kt_g.rank);
    h.flags = (t->is_main ? KTAU_RAW_MAIN : 0) | (t->dropped ? KTAU_RAW_TRUNCATED : 0) |
              (rank >= 0 ? KTAU_RAW_RANK : 0) | (t->nuev ? KTAU_RAW_UEVENTS : 0);
    h.rank = rank >= 0 ? (uint32_t)rank : 0;
    h.pid = (uint32_t)t->pid;
    h.tid = (uint32_t)t->tid;
    h.nroutines = n;
    h.nevents = nevents;
    h.dropped = t->dropped;
    h.start_ns = kt_conv_ns(&conv, t->start_ticks);
    h.end_ns = kt_conv_ns(&conv, end);
    snprintf(h.comm, sizeof(h.comm), "%s", kt_g.comm);

    char path[4200], tmp[4200];
    snprintf(path, sizeof(path), "%s/ktau.%d.%d.bin", dir, (int)t->pid, (int)t->tid);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : write_all(fd, &h, sizeof(h));
    for (uint32_t i = 0; i < n && !rc; i++) {
        struct kt_routine *r = &t->routines[i];
        const char *name = r->name;
        if (r->kind == KT_KEY_FUNC) {
            if (!r->resolved)
                kt__resolve(r);
            name = r->sym;
        }
        if (!name)
            name = "?";
        size_t len = strlen(name);
        rr[i].name_len = (uint32_t)len;
        static const char zeros[8];
        rc = write_all(fd, &rr[i], sizeof(rr[i]));
        if (!rc)
            rc = write_all(fd, name, len);
        if (!rc && len % 8)
            rc = write_all(fd, zeros, 8 - len % 8);
    }
    struct ktau_raw_event buf[1024];
    size_t nb = 0;
    for (struct kt_chunk *c = t->first; c && !rc; c = c->next) {
        const struct kt_event *e = c->ev;
        const struct kt_event *stop = c == t->last ? t->log_cur : c->ev + (KT_CHUNK_EVENTS - 1);
        for (; e < stop && !rc; e++) {
            buf[nb].t_ns = kt_conv_ns(&conv, e->t);
            buf[nb].rid_dir = e->rid_dir;
            buf[nb].pad = 0;
            if (++nb == 1024) {
                rc = write_all(fd, buf, sizeof(buf));
                nb = 0;
            }
        }
    }
    if (!rc && nb)
        rc = write_all(fd, buf, nb * sizeof(buf[0]));
    if (!rc && t->nuev)
        rc = write_uevents(fd, t);
    if (fd >= 0 && close(fd) && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path))
        rc = -errno;
    if (rc && fd >= 0)
        unlink(tmp);
    free(rr);
    free(child);
    free(active);
    return rc;
}

EXPORT NOINST void ktau_set_rank(int rank)
{
    kt__init();
    atomic_store(&kt_g.rank, rank >= 0 ? rank : -1);
}

EXPORT NOINST int ktau_write(const char *dir)
{
    kt__init();
    if (!dir)
        dir = kt_g.dir;
    if (!dir || !*dir)
        return -EINVAL;
    if (!kt_self)
        kt__thread_new();
    int rc = 0;
    for (struct kt_thread *t = atomic_load(&kt_threads); t; t = t->next) {
        int r = kt__write_thread(t, dir);
        if (r && !rc)
            rc = r;
    }
    return rc;
}

/* The main thread's state exists from the start, so that its root routine spans the program. */
__attribute__((constructor)) static NOINST void kt_ctor(void)
{
    kt__init();
    if (!kt_self)
        kt__thread_new();
}

__attribute__((destructor)) static NOINST void kt_dtor(void)
{
    if (!kt_g.dir[0])
        return;
    for (struct kt_thread *t = atomic_load(&kt_threads); t; t = t->next)
        if (!atomic_exchange(&t->written, 1))
            kt__write_thread(t, kt_g.dir);
}
