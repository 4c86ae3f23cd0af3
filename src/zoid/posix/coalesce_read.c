/*
 * Read coalescing: callers that pread the same range (offset and length) of the same file (device
 * and inode) at about the same time get the bytes of one backend pread(2) — the "every rank reads
 * the input deck" pattern.
 *
 * A read first looks for a read of that range in flight: it waits for it and copies its result
 * ("joined"). Otherwise it looks for a completed one that some caller took less than
 * ZOID_COALESCE_RETAIN_MS ago (the leader, or a late caller before it: an entry lives while
 * stragglers keep coming, within the memory bound) whose file has not changed since (no write,
 * truncate or fallocate through the daemon invalidated it; the caller's fstat of its own descriptor
 * gives the same size, mtime and ctime): it copies that. While files are lent to clients
 * (zpc_lent_files: written without the daemon), only a read whose leader has not begun is shared.
 * ("retained"). Otherwise it becomes the leader: when the file's previous read had company, it
 * waits up to ZOID_COALESCE_WINDOW_US (at most 500 us) for as many callers as that one had, then
 * reads. A file read by one caller alone never waits.
 *
 * Who may share: a caller shares only through a descriptor of its own that it opened for reading:
 * the kernel checked, as that caller, that it may read the file (open(2) with the caller's fs
 * ids). The bytes it gets are bytes it could have read itself. A caller that could not open the
 * file has no descriptor and never gets here.
 *
 * Memory: entries in flight and retained hold at most MAX_HELD bytes; beyond, a read is not
 * shared (plain pread). Retained entries go first, the least recently taken first. One mutex guards
 * the table: its work is a few compares per call, never I/O, and never a walk over the entries:
 * they are found by file and range (a reader of one file in small blocks leaves thousands of them;
 * a walk of those per read made 4 KiB reads ~30x slower), aged out in the order they were last
 * taken, and made stale all at once by a file's generation (a word per file hash, bumped by every
 * change through the daemon: two files that share it only lose company sooner).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coalesce.h"

#define NBUCKETS  4096         /* entries by file and range */
#define NFILES    4096         /* generation and latest company, by file hash */
#define MAX_LEN   (16u << 20)  /* larger reads are not shared */
#define MAX_HELD  (128u << 20) /* bytes in entries, in flight and retained */
#define MAX_ALONE 5            /* s a follower waits for its leader before reading alone */
/* Smaller reads are copied: below this, the pipe's two extra system calls cost more. */
#define SPLICE_MIN  (64u << 10)
#define NOT_SPLICED (-2)

struct rd {
    uint64_t dev, ino;
    int64_t off;
    size_t len;
    unsigned file; /* its slot in files[] */
    uint64_t gen;  /* files[file].gen when it began: a change since makes it stale */
    bool done;     /* the leader's result is in */
    bool running;  /* the leader's pread has begun */
    bool stale;    /* the file changed: no new company */
    bool in_table; /* in its bucket (and, done, in the age list) */
    unsigned refs; /* the leader and the followers copying */
    unsigned joined;
    unsigned expect; /* company the leader waits for */
    ssize_t got;
    int err;
    struct timespec mtim, ctim; /* the file after the read */
    off_t size;
    uint64_t done_ns; /* when the leader's read completed */
    uint64_t used_ns; /* and when a caller last took it: retention runs from here */
    unsigned char *buf;
    pthread_cond_t lead_cv, done_cv;
    struct rd *next;                /* in its bucket */
    struct rd *age_prev, *age_next; /* completed entries, the least recently taken first */
};

/* Per file hash: bumped by every change (zpc_invalidate), and the company of the file's latest
 * read (the file that last completed one in this slot). */
struct rfile {
    uint64_t gen;
    uint64_t dev, ino, done_ns;
    unsigned joined;
    bool shared;     /* a late caller took its bytes (retained) */
    const void *who; /* the client that made it (its state slot) */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct rd *table[NBUCKETS];
static struct rfile files[NFILES];
static struct rd *age_head, *age_tail;
static size_t held;

static uint64_t mix(uint64_t dev, uint64_t ino)
{
    return (dev * 0x9E3779B97F4A7C15u) ^ (ino * 0xC2B2AE3D27D4EB4Fu);
}

static unsigned file_slot(uint64_t dev, uint64_t ino)
{
    return (unsigned)(mix(dev, ino) >> 32) % NFILES;
}

static unsigned bucket(uint64_t dev, uint64_t ino, int64_t off, size_t len)
{
    uint64_t h =
        mix(dev, ino) ^ ((uint64_t)off * 0x165667B19E3779F9u) ^ (len * 0x27D4EB2F165667C5u);
    return (unsigned)(h >> 40) % NBUCKETS;
}

static bool is_stale(const struct rd *e)
{
    return e->stale || files[e->file].gen != e->gen;
}

static void rd_free(struct rd *e)
{
    held -= e->len;
    pthread_cond_destroy(&e->lead_cv);
    pthread_cond_destroy(&e->done_cv);
    free(e->buf);
    free(e);
}

static void age_remove(struct rd *e)
{
    if (e->age_prev)
        e->age_prev->age_next = e->age_next;
    else if (age_head == e)
        age_head = e->age_next;
    if (e->age_next)
        e->age_next->age_prev = e->age_prev;
    else if (age_tail == e)
        age_tail = e->age_prev;
    e->age_prev = e->age_next = NULL;
}

/* e was just taken (or completed): the youngest (mu held). */
static void age_touch(struct rd *e)
{
    age_remove(e);
    e->age_prev = age_tail;
    if (age_tail)
        age_tail->age_next = e;
    else
        age_head = e;
    age_tail = e;
}

/* Takes e out of the table (mu held); its last reference frees it. */
static void unlink_rd(struct rd *e)
{
    if (!e->in_table)
        return;
    for (struct rd **pp = &table[bucket(e->dev, e->ino, e->off, e->len)]; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    if (e->done)
        age_remove(e);
    e->in_table = false;
    if (!e->refs)
        rd_free(e);
}

/* Drops a reference (mu held); the last one of an entry out of the table frees it. */
static void rd_unref(struct rd *e)
{
    if (--e->refs == 0 && !e->in_table)
        rd_free(e);
}

static bool expired(const struct rd *e, uint64_t now)
{
    return e->done && (is_stale(e) || now - e->used_ns > (uint64_t)zpc_cfg.retain_ms * 1000000u);
}

/* Removes retained entries that expired, then the least recently taken ones until need more
 * bytes fit (mu held). Both come first in the age list. */
static void evict(size_t need)
{
    uint64_t now = zpc_now_ns();
    while (age_head && (expired(age_head, now) || held + need > MAX_HELD))
        unlink_rd(age_head);
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ns += (uint64_t)ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

static void cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static ssize_t plain(struct zp_file *f, void *buf, size_t n, int64_t off)
{
    ssize_t r = off == ZP_CUR ? read(f->fd, buf, n) : pread(f->fd, buf, n, (off_t)off);
    zpc_add(ZPC_read_backend_ops, 1);
    if (r > 0)
        zpc_add(ZPC_read_backend_bytes, (uint64_t)r);
    return r;
}

/* n bytes at off sent to the client from the file's pages (zoid_reply_file), buf taking only
 * what that did not: the count, -1 + errno, or NOT_SPLICED (nothing done: the caller reads). */
static ssize_t spliced(struct zoid_call *call, struct zp_file *f, void *buf, size_t n, int64_t off)
{
    if (!zpc_cfg.splice || !call || !f->reg || n < SPLICE_MIN || (off < 0 && off != ZP_CUR))
        return NOT_SPLICED;
    ssize_t k = zoid_reply_file(call, buf, f->fd, off == ZP_CUR ? -1 : off, n);
    if (k < 0)
        return NOT_SPLICED;
    zpc_add(ZPC_read_backend_ops, 1);
    zpc_add(ZPC_read_backend_bytes, (uint64_t)k);
    zpc_add(ZPC_read_spliced_bytes, (uint64_t)k);
    if (k == 0 || (size_t)k == n)
        return k;
    ssize_t r = plain(f, (char *)buf + k, n - (size_t)k, off == ZP_CUR ? ZP_CUR : off + k);
    return r > 0 ? k + r : k; /* an error after some bytes: the next read reports it */
}

ssize_t zpc_read_direct(struct zoid_call *call, struct zp_file *f, void *buf, size_t n, int64_t off)
{
    ssize_t r = spliced(call, f, buf, n, off);
    return r == NOT_SPLICED ? plain(f, buf, n, off) : r;
}

static bool same_file_state(const struct rd *e, const struct stat *st)
{
    return st->st_size == e->size && st->st_mtim.tv_sec == e->mtim.tv_sec &&
           st->st_mtim.tv_nsec == e->mtim.tv_nsec && st->st_ctim.tv_sec == e->ctim.tv_sec &&
           st->st_ctim.tv_nsec == e->ctim.tv_nsec;
}

/* The result of e into buf: the bytes, or -1 + errno. Called with mu held and a reference on
 * e; the copy itself is made without the lock (e's result no longer changes once done). */
static ssize_t copy_out(const struct rd *e, void *buf)
{
    if (e->got < 0) {
        errno = e->err;
        return -1;
    }
    pthread_mutex_unlock(&mu);
    memcpy(buf, e->buf, (size_t)e->got);
    pthread_mutex_lock(&mu);
    return e->got;
}

ssize_t zpc_pread(struct zoid_call *call, struct zp_file *f, void *buf, size_t n, int64_t off)
{
    zpc_add(ZPC_read_calls, 1);
    zpc_add(ZPC_read_bytes_asked, n);
    int acc = atomic_load(&f->flags) & O_ACCMODE;
    if (!zpc_cfg.reads || !f->reg || !f->ino || n == 0 || n > MAX_LEN || off < 0 ||
        acc == O_WRONLY || (atomic_load(&f->flags) & O_DIRECT))
        return zpc_read_direct(call, f, buf, n, off);

    unsigned b = bucket(f->dev, f->ino, off, n);
    struct stat st;
    bool have_st = false;
    /* Files written outside the daemon (zpc_lent_files): only a read not begun is shared. */
    bool outside = atomic_load(&zpc_lent_files) > 0;
    pthread_mutex_lock(&mu);
    for (int pass = 0; pass < 2; pass++) {
        uint64_t now = zpc_now_ns();
        struct rd *e = table[b];
        for (; e; e = e->next)
            if (e->ino == f->ino && e->dev == f->dev && e->off == off && e->len == n &&
                !is_stale(e) && !expired(e, now) && !(outside && (e->done || e->running)))
                break;
        if (!e)
            break;
        if (e->done) {
            /* Retained: valid only if the file is as the leader left it, as the caller sees it
             * through its own descriptor (fstat outside the lock, then look again). */
            if (!have_st) {
                pthread_mutex_unlock(&mu);
                have_st = !fstat(f->fd, &st);
                pthread_mutex_lock(&mu);
                if (!have_st)
                    break;
                continue;
            }
            if (!same_file_state(e, &st)) {
                e->stale = true;
                break;
            }
            e->refs++;
            e->used_ns = now;
            age_touch(e);
            if (files[e->file].dev == e->dev && files[e->file].ino == e->ino)
                files[e->file].shared = true;
            ssize_t r = copy_out(e, buf);
            int err = errno;
            rd_unref(e);
            pthread_mutex_unlock(&mu);
            zpc_add(ZPC_read_retained, 1);
            errno = err;
            return r;
        }
        /* In flight: join it. */
        e->refs++;
        e->joined++;
        pthread_cond_signal(&e->lead_cv);
        struct timespec dl;
        deadline_after(&dl, (uint64_t)MAX_ALONE * 1000000000u);
        while (!e->done) /* a regular file's pread: quick, and bounded by MAX_ALONE here */
            if (pthread_cond_timedwait(&e->done_cv, &mu, &dl) == ETIMEDOUT)
                break;
        bool ok = e->done && !(e->got < 0 && (e->err == EINTR || e->err == ETIMEDOUT));
        ssize_t r = ok ? copy_out(e, buf) : 0;
        int err = errno;
        rd_unref(e);
        pthread_mutex_unlock(&mu);
        if (!ok)
            return plain(f, buf, n, off);
        zpc_add(ZPC_read_joined, 1);
        errno = err;
        return r;
    }

    /* Alone: no other client read this file lately (a client streaming a file of its own).
     * Its bytes go to it straight from the file where its transport can take them so, not
     * through an entry that nobody would share. The next other client to read the file then
     * leads as below, and those after it share. */
    unsigned fs = file_slot(f->dev, f->ino);
    struct rfile *rf = &files[fs];
    const void *me = call ? zoid_call_client_state(call) : NULL;
    bool recent = rf->dev == f->dev && rf->ino == f->ino &&
                  zpc_now_ns() - rf->done_ns <= (uint64_t)zpc_cfg.retain_ms * 1000000u;
    if (!recent || (!rf->joined && !rf->shared && rf->who == me)) {
        *rf = (struct rfile){
            .gen = rf->gen, .dev = f->dev, .ino = f->ino, .done_ns = zpc_now_ns(), .who = me};
        pthread_mutex_unlock(&mu);
        ssize_t r = spliced(call, f, buf, n, off);
        if (r != NOT_SPLICED)
            return r;
        pthread_mutex_lock(&mu);
    }

    /* The leader. */
    evict(n);
    struct rd *e = held + n <= MAX_HELD ? calloc(1, sizeof(*e)) : NULL;
    unsigned char *eb = e ? malloc(n) : NULL;
    if (!eb) {
        free(e);
        pthread_mutex_unlock(&mu);
        return plain(f, buf, n, off);
    }
    /* Company expected: as much as this file's latest read had, if it is recent. */
    unsigned expect = rf->dev == f->dev && rf->ino == f->ino &&
                              zpc_now_ns() - rf->done_ns <= (uint64_t)zpc_cfg.retain_ms * 1000000u
                          ? rf->joined
                          : 0;
    *e = (struct rd){.dev = f->dev,
                     .ino = f->ino,
                     .off = off,
                     .len = n,
                     .file = fs,
                     .gen = rf->gen,
                     .in_table = true,
                     .refs = 1,
                     .expect = expect,
                     .buf = eb,
                     .next = table[b]};
    cond_init(&e->lead_cv);
    cond_init(&e->done_cv);
    table[b] = e;
    held += n;
    if (expect && zpc_cfg.window_us) {
        zpc_add(ZPC_company_waits, 1);
        struct timespec dl;
        deadline_after(&dl, (uint64_t)zpc_cfg.window_us * 1000u);
        while (e->joined < e->expect && !is_stale(e))
            if (pthread_cond_timedwait(&e->lead_cv, &mu, &dl) == ETIMEDOUT)
                break;
    }
    e->running = true;
    pthread_mutex_unlock(&mu);

    ssize_t r = plain(f, eb, n, off);
    int err = errno;
    struct stat after;
    bool known = r >= 0 && !fstat(f->fd, &after);

    pthread_mutex_lock(&mu);
    e->got = r;
    e->err = err;
    if (known) {
        e->size = after.st_size;
        e->mtim = after.st_mtim;
        e->ctim = after.st_ctim;
    } else {
        e->stale = true; /* not retained */
    }
    e->done_ns = e->used_ns = zpc_now_ns();
    e->done = true;
    files[fs] = (struct rfile){.gen = files[fs].gen,
                               .dev = f->dev,
                               .ino = f->ino,
                               .done_ns = e->done_ns,
                               .joined = e->joined,
                               .who = me};
    if (e->in_table)
        age_touch(e);
    pthread_cond_broadcast(&e->done_cv);
    ssize_t out = copy_out(e, buf);
    err = errno;
    if (is_stale(e))
        unlink_rd(e);
    rd_unref(e);
    pthread_mutex_unlock(&mu);
    errno = err;
    return out;
}

/* The file changed through the daemon: nothing read of it before is shared again. */
void zpc_invalidate(uint64_t dev, uint64_t ino)
{
    pthread_mutex_lock(&mu);
    files[file_slot(dev, ino)].gen++;
    pthread_mutex_unlock(&mu);
}
