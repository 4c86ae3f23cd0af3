/*
 * Collective buffering of writes: the writes of relaxed sessions (zp_consistency) to one file
 * are copied into stripes of STRIPE bytes aligned on STRIPE in the file, shared by every session
 * writing that file (an N-to-1 checkpoint: each rank writes its own disjoint blocks). A stripe
 * that is whole goes out as one aligned pwrite(2) at once; the rest go out, one pwrite per
 * contiguous run, when the file is flushed: on fsync, on the close of the last descriptor that
 * wrote to it (a collective close: the other writers' closes do not scatter half-filled stripes
 * into small writes), on a read, stat, truncate or fallocate of it, a strict session's write to
 * it, or by the flusher thread once nothing was written to the file for ZOID_COALESCE_FLUSH_MS. A
 * client killed after its write was answered therefore loses nothing: its bytes are in the daemon
 * and go out with the next flush.
 *
 * The stripes are written through a descriptor of the first writer (referenced until the file's
 * buffer is empty): a write on a descriptor needs no permission check beyond the one its open
 * made, and every contributor has such a descriptor of its own, opened for writing as itself.
 * Strict sessions, O_APPEND, O_DIRECT and O_SYNC/O_DSYNC descriptors and writes at the file
 * position (ZP_CUR) are never buffered.
 *
 * Large aligned writes (DIRECT_MIN bytes or more, offset and length multiples of DIRECT_ALIGN)
 * are not buffered either: they are already the large backend writes buffering would make, and
 * copying them into stripes only costs (a 1 MiB FUSE write was copied into a fresh stripe).
 * Such a write goes straight to the backend, after the held bytes it overlaps have gone out and
 * the stripe writes in progress for the file have ended (so that nothing answered before it can
 * land on top of it later); the rest of what is held for the file stays held.
 *
 * Errors: a stripe write that fails fails the call that filled it; a run written at a flush that
 * fails makes that flush fail (fsync, close: their caller sees it), and is kept as the file's
 * error for its next fsync or close if the flush was the flusher's.
 *
 * Bounds: MAX_STRIPES per file (the oldest goes out beyond), MAX_BUFFERED bytes in all; a write
 * that does not fit flushes its file and goes straight to the backend.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coalesce.h"

#define STRIPE       (4u << 20)
#define MAX_STRIPES  64
#define MAX_BUFFERED (256u << 20)
#define MAX_RUNS     4096 /* runs in one stripe: beyond, the stripe goes out first */
#define MAX_WRITE    (16u << 20)
#define DIRECT_MIN   (1u << 20) /* a write this large and aligned is not buffered */
#define DIRECT_ALIGN 4096u

struct run {
    uint32_t a, b; /* [a, b) within the stripe */
};

struct stripe {
    int64_t base;
    unsigned char *buf;
    struct run *runs;
    int nruns, cap;
    struct stripe *next;
};

struct agg {
    uint64_t dev, ino;
    struct zp_file *f; /* referenced */
    struct stripe *stripes;
    int nstripes;
    int writing; /* stripes being written outside the lock */
    int err;     /* of a flush nobody was told about */
    uint64_t last_ns;
    unsigned users;           /* calls using it outside the table's lock */
    struct zp_file **writers; /* the descriptors that wrote to it and are not closed yet */
    int nwriters, capwriters;
    pthread_cond_t cv;
    struct agg *next;
};

/* One lock for the table and every buffer: a write holds it only to copy its bytes. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct agg *aggs;
static size_t buffered;
static _Atomic int npending;

static pthread_t flusher;
static bool flusher_on, stopping;
static pthread_cond_t stop_cv;

bool zpc_pending(void)
{
    return atomic_load_explicit(&npending, memory_order_acquire) > 0;
}

static void stripe_free(struct stripe *s)
{
    free(s->buf);
    free(s->runs);
    free(s);
    buffered -= STRIPE;
}

/* Adds [a, b) to s's runs, merging (mu held); -1 when the run list cannot grow. */
static int run_add(struct stripe *s, uint32_t a, uint32_t b)
{
    int i = 0;
    while (i < s->nruns && s->runs[i].b < a)
        i++;
    int j = i;
    while (j < s->nruns && s->runs[j].a <= b) {
        if (s->runs[j].a < a)
            a = s->runs[j].a;
        if (s->runs[j].b > b)
            b = s->runs[j].b;
        j++;
    }
    if (i == j) {
        if (s->nruns == s->cap) {
            int cap = s->cap ? s->cap * 2 : 8;
            struct run *n = realloc(s->runs, (size_t)cap * sizeof(*n));
            if (!n)
                return -1;
            s->runs = n;
            s->cap = cap;
        }
        memmove(s->runs + i + 1, s->runs + i, (size_t)(s->nruns - i) * sizeof(*s->runs));
        s->nruns++;
    } else {
        memmove(s->runs + i + 1, s->runs + j, (size_t)(s->nruns - j) * sizeof(*s->runs));
        s->nruns -= j - i - 1;
    }
    s->runs[i] = (struct run){a, b};
    return 0;
}

static bool whole(const struct stripe *s)
{
    return s->nruns == 1 && s->runs[0].a == 0 && s->runs[0].b == STRIPE;
}

static int write_all(int fd, const unsigned char *p, size_t n, int64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        zpc_add(ZPC_write_backend_ops, 1);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        zpc_add(ZPC_write_backend_bytes, (uint64_t)w);
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Writes a stripe's runs (outside the lock) and frees it under the lock: 0 or an errno. */
static int stripe_out(struct agg *g, struct stripe *s)
{
    int e = 0;
    for (int i = 0; i < s->nruns && !e; i++)
        e = write_all(g->f->fd, s->buf + s->runs[i].a, s->runs[i].b - s->runs[i].a,
                      s->base + s->runs[i].a);
    zpc_add(ZPC_write_flushes, 1);
    /* The file changed now, not when the bytes were gathered: a stat or read shared before
     * this (taken between the gathering and here, without these bytes) must not be shared
     * after it. A stat that flushed the file and looked again left such a stat for the next
     * caller: its size was short by what it had flushed. */
    zpc_invalidate(g->f->dev, g->f->ino);
    zpc_changed();
    pthread_mutex_lock(&mu);
    stripe_free(s);
    g->writing--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&mu);
    return e;
}

/* Detaches stripe *pp of g for writing (mu held). */
static struct stripe *detach(struct agg *g, struct stripe **pp)
{
    struct stripe *s = *pp;
    *pp = s->next;
    g->nstripes--;
    g->writing++;
    return s;
}

static struct agg *find(uint64_t dev, uint64_t ino)
{
    for (struct agg *g = aggs; g; g = g->next)
        if (g->ino == ino && g->dev == dev)
            return g;
    return NULL;
}

/* Frees g if it holds nothing and nobody uses it (mu held). */
static void maybe_release(struct agg *g)
{
    if (g->stripes || g->writing || g->users || g->err)
        return;
    for (struct agg **pp = &aggs; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    atomic_fetch_sub(&npending, 1);
    pthread_cond_destroy(&g->cv);
    free(g->writers);
    zp__put(g->f); /* a close(2) at worst: quick for a file already written */
    free(g);
}

/* Writes out everything of g and waits for its writes in progress (mu held on entry and exit,
 * g used by the caller): 0 or an errno. */
static int flush_locked(struct agg *g)
{
    int e = 0;
    while (g->stripes) {
        struct stripe *s = detach(g, &g->stripes);
        pthread_mutex_unlock(&mu);
        int r = stripe_out(g, s);
        if (r && !e)
            e = r;
        pthread_mutex_lock(&mu);
    }
    while (g->writing)
        pthread_cond_wait(&g->cv, &mu);
    return e;
}

int zpc_close(struct zp_file *f)
{
    if (!zpc_pending())
        return 0;
    pthread_mutex_lock(&mu);
    struct agg *g = find(f->dev, f->ino);
    bool last = false;
    if (g) {
        for (int w = 0; w < g->nwriters; w++)
            if (g->writers[w] == f) {
                g->writers[w] = g->writers[--g->nwriters];
                last = g->nwriters == 0;
                break;
            }
    }
    pthread_mutex_unlock(&mu);
    return last ? zpc_flush(f->dev, f->ino) : 0;
}

bool zpc_has(uint64_t dev, uint64_t ino)
{
    if (!zpc_pending())
        return false;
    pthread_mutex_lock(&mu);
    bool has = find(dev, ino) != NULL;
    pthread_mutex_unlock(&mu);
    return has;
}

/* Flushes every file (mu held); errors are kept in each file for its next fsync or close. */
static void flush_every(bool keep_errors)
{
    for (struct agg *g = aggs, *next; g; g = next) {
        g->users++;
        int e = flush_locked(g);
        if (keep_errors && e && !g->err)
            g->err = e;
        if (!keep_errors)
            g->err = 0;
        g->users--;
        next = g->next; /* g stays listed while used; read next before it may go */
        maybe_release(g);
    }
}

void zpc_flush_all(void)
{
    if (!zpc_pending())
        return;
    pthread_mutex_lock(&mu);
    flush_every(true);
    pthread_mutex_unlock(&mu);
}

void zpc_flush_keep(uint64_t dev, uint64_t ino)
{
    if (!zpc_pending())
        return;
    pthread_mutex_lock(&mu);
    struct agg *g = find(dev, ino);
    if (g) {
        g->users++;
        int e = flush_locked(g);
        if (e && !g->err)
            g->err = e;
        g->users--;
        maybe_release(g);
    }
    pthread_mutex_unlock(&mu);
}

int zpc_flush(uint64_t dev, uint64_t ino)
{
    if (!zpc_pending())
        return 0;
    pthread_mutex_lock(&mu);
    struct agg *g = find(dev, ino);
    int e = 0;
    if (g) {
        g->users++;
        e = flush_locked(g);
        if (!e && g->err)
            e = g->err;
        g->err = 0;
        g->users--;
        maybe_release(g);
    }
    pthread_mutex_unlock(&mu);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}

/* A large aligned write, straight to the backend after what it overlaps (see the top), by
 * out (0 or an errno once all n bytes are written): false when nothing is held for the file (the
 * caller writes as for a strict session). */
static bool direct(struct zp_file *f, size_t n, int64_t off, zpc_out_fn out, void *arg,
                   ssize_t *ret)
{
    pthread_mutex_lock(&mu);
    struct agg *g = find(f->dev, f->ino);
    zpc_add(ZPC_write_direct, 1);
    if (!g) {
        pthread_mutex_unlock(&mu);
        return false;
    }
    g->users++;
    int e = 0;
    int64_t end = off + (int64_t)n;
    for (struct stripe **pp = &g->stripes; *pp;) {
        if ((*pp)->base + (int64_t)STRIPE <= off || (*pp)->base >= end) {
            pp = &(*pp)->next;
            continue;
        }
        struct stripe *st = detach(g, pp);
        pthread_mutex_unlock(&mu);
        int r = stripe_out(g, st);
        if (r && !e)
            e = r;
        pthread_mutex_lock(&mu);
        pp = &g->stripes; /* the list may have changed while unlocked */
    }
    while (g->writing)
        pthread_cond_wait(&g->cv, &mu);
    pthread_mutex_unlock(&mu);
    if (!e)
        e = out(arg, f->fd, n, off);
    pthread_mutex_lock(&mu);
    g->users--;
    maybe_release(g);
    pthread_mutex_unlock(&mu);
    zpc_invalidate(f->dev, f->ino);
    errno = e;
    *ret = e ? -1 : (ssize_t)n;
    return true;
}

static int out_buf(void *buf, int fd, size_t n, int64_t off)
{
    return write_all(fd, buf, n, off);
}

bool zpc_direct_ok(size_t n, int64_t off)
{
    return n >= DIRECT_MIN && n <= MAX_WRITE && n % DIRECT_ALIGN == 0 && off >= 0 &&
           off % DIRECT_ALIGN == 0;
}

bool zpc_pwrite_out(struct zp_session *s, struct zp_file *f, size_t n, int64_t off, zpc_out_fn out,
                    void *arg, ssize_t *ret)
{
    return zpc_may_gather(s, f) && zpc_direct_ok(n, off) && direct(f, n, off, out, arg, ret);
}

bool zpc_may_gather(struct zp_session *s, struct zp_file *f)
{
    int fl = atomic_load(&f->flags);
    return zpc_cfg.writes && atomic_load(&s->consistency) == ZP_RELAXED && f->reg && f->ino &&
           (fl & O_ACCMODE) != O_RDONLY && !(fl & (O_APPEND | O_DIRECT | O_SYNC | O_DSYNC));
}

bool zpc_pwrite(struct zp_session *s, struct zp_file *f, const void *buf, size_t n, int64_t off,
                ssize_t *ret)
{
    if (!zpc_may_gather(s, f) || off < 0 || n == 0 || n > MAX_WRITE)
        return false;
    if (zpc_direct_ok(n, off))
        return direct(f, n, off, out_buf, (void *)buf, ret);
    pthread_mutex_lock(&mu);
    struct agg *g = find(f->dev, f->ino);
    size_t need = ((size_t)((off + (int64_t)n - 1) / STRIPE - off / STRIPE) + 1) * STRIPE;
    if (buffered + need > MAX_BUFFERED) {
        pthread_mutex_unlock(&mu);
        return false; /* the caller flushes this file first, then writes */
    }
    if (!g) {
        g = calloc(1, sizeof(*g));
        if (!g) {
            pthread_mutex_unlock(&mu);
            return false;
        }
        g->dev = f->dev;
        g->ino = f->ino;
        g->f = f;
        atomic_fetch_add(&f->refs, 1);
        pthread_cond_init(&g->cv, NULL);
        g->next = aggs;
        aggs = g;
        atomic_fetch_add(&npending, 1);
    }
    g->users++;
    zpc_add(ZPC_write_aggregated, 1);
    int w = 0;
    while (w < g->nwriters && g->writers[w] != f)
        w++;
    if (w == g->nwriters) {
        if (g->nwriters == g->capwriters) {
            int cap = g->capwriters ? g->capwriters * 2 : 8;
            struct zp_file **nw = realloc(g->writers, (size_t)cap * sizeof(*nw));
            if (nw) {
                g->writers = nw;
                g->capwriters = cap;
            }
        }
        if (g->nwriters < g->capwriters)
            g->writers[g->nwriters++] = f;
    }
    struct stripe *out[2 * (MAX_WRITE / STRIPE + 2) + 1]; /* per stripe: the oldest, itself */
    int nout = 0, err = 0;
    const unsigned char *p = buf;
    int64_t at = off, end = off + (int64_t)n;
    while (at < end && !err) {
        int64_t base = at - at % STRIPE;
        struct stripe **pp = &g->stripes;
        while (*pp && (*pp)->base != base)
            pp = &(*pp)->next;
        if (!*pp && g->nstripes >= MAX_STRIPES) {
            /* The oldest (last: new ones go in front) goes out. */
            struct stripe **op = &g->stripes;
            while ((*op)->next)
                op = &(*op)->next;
            out[nout++] = detach(g, op);
            pp = &g->stripes;
            while (*pp && (*pp)->base != base)
                pp = &(*pp)->next;
        }
        if (!*pp) {
            struct stripe *ns = calloc(1, sizeof(*ns));
            unsigned char *nb = ns ? malloc(STRIPE) : NULL;
            if (!nb) {
                free(ns);
                err = -1; /* the rest goes straight to the backend */
                break;
            }
            ns->base = base;
            ns->buf = nb;
            ns->next = g->stripes;
            g->stripes = ns;
            g->nstripes++;
            buffered += STRIPE;
            pp = &g->stripes;
        }
        struct stripe *st = *pp;
        uint32_t a = (uint32_t)(at - base);
        uint32_t b = end - base < (int64_t)STRIPE ? (uint32_t)(end - base) : STRIPE;
        if (st->nruns >= MAX_RUNS || run_add(st, a, b)) {
            /* Too fragmented: this stripe goes out, and the write goes straight after it. */
            out[nout++] = detach(g, pp);
            err = -1;
            break;
        }
        memcpy(st->buf + a, p, b - a);
        p += b - a;
        at = base + b;
        if (whole(st))
            out[nout++] = detach(g, pp);
    }
    g->last_ns = zpc_now_ns();
    pthread_mutex_unlock(&mu);
    zpc_invalidate(f->dev, f->ino);

    int e = 0;
    for (int i = 0; i < nout; i++) {
        int r = stripe_out(g, out[i]);
        if (r && !e)
            e = r;
    }
    pthread_mutex_lock(&mu);
    if (err == -1 && !e) {
        /* The rest of this write goes straight to the backend, after everything buffered for
         * the file (older bytes of its range must not land on top of it later). */
        e = flush_locked(g);
        pthread_mutex_unlock(&mu);
        size_t done = (size_t)(at - off);
        if (!e)
            e = write_all(f->fd, (const unsigned char *)buf + done, n - done, at);
        pthread_mutex_lock(&mu);
    }
    g->users--;
    maybe_release(g);
    pthread_mutex_unlock(&mu);
    if (e) {
        errno = e;
        *ret = -1;
    } else {
        *ret = (ssize_t)n;
    }
    return true;
}

/* ---- the flusher: buffers at rest go out ---- */

static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t step = (uint64_t)zpc_cfg.flush_ms * 1000000u / 2 + 1000000u;
        uint64_t ns = (uint64_t)ts.tv_nsec + step;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&stop_cv, &mu, &ts);
        uint64_t now = zpc_now_ns();
        for (struct agg *g = aggs, *next; g; g = next) {
            bool rest = now - g->last_ns >= (uint64_t)zpc_cfg.flush_ms * 1000000u;
            if (!stopping && (!rest || !g->stripes)) {
                next = g->next;
                continue;
            }
            g->users++;
            int e = flush_locked(g);
            if (e && !g->err)
                g->err = e; /* for the file's next fsync or close */
            g->users--;
            next = g->next; /* g stays listed while used; read next before it may go */
            maybe_release(g);
        }
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

void zpc_write_start(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&stop_cv, &a);
    pthread_condattr_destroy(&a);
    stopping = false;
    /* With every signal blocked: the daemon takes its signals through its own descriptors, and
     * a SIGTERM must not land on this thread (whose default would end the process). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    flusher_on = pthread_create(&flusher, NULL, flusher_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void zpc_write_stop(void)
{
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_signal(&stop_cv);
    pthread_mutex_unlock(&mu);
    if (flusher_on)
        pthread_join(flusher, NULL);
    flusher_on = false;
    /* Whatever is left (the flusher's last round ran with stopping set) goes out here. */
    pthread_mutex_lock(&mu);
    flush_every(false);
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&stop_cv);
}
