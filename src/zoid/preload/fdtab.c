/*
 * The table of forwarded descriptors: kernel descriptor number -> the daemon's handle, and the
 * write-behind buffer of relaxed consistency.
 *
 * Each forwarded descriptor holds a real kernel descriptor (/dev/null opened O_PATH) so that its
 * number is the kernel's to give and never collides with a descriptor the kernel hands out
 * later. The table is an array indexed by that number: a lookup of a descriptor that is not
 * forwarded (almost every call of a program, and every call of the client library on its socket)
 * is one atomic load, without a lock. Entries are reference counted so that a thread closing a
 * descriptor cannot free an entry another thread is reading through. An entry leaves the table
 * before its kernel descriptor is closed, so that the number, once the kernel reuses it, is not
 * taken for a forwarded one.
 *
 * Relaxed consistency: writes under 64 KiB are copied into the descriptor's buffer and
 * acknowledged at once; contiguous ones (appends at the file position, or pwrites each
 * following the last) coalesce up to 1 MiB and go to the daemon as one write. The buffer is
 * sent before anything else touches the descriptor (see fdio.c) and before any path call
 * (zpl_flush_all). A failed send is kept and returned by the next write, fsync or close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"
#include "zoid/preload/zpl_async.h"

#define WB_SMALL (64u << 10) /* writes below this are buffered when relaxed */
#define WB_MAX   (1u << 20)  /* a buffer is sent when it would grow past this */

ZPL_REAL_DECL(open);
ZPL_REAL_DECL(fstat);

static _Atomic(struct zpl_fd *) *tab; /* indexed by kernel descriptor */
static int tab_cap;
static atomic_int tab_high; /* highest index used, plus one */
static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int dirty; /* entries with buffered writes */
atomic_bool zpl_exiting; /* exit has begun: writes are no longer buffered */
/* Device and inode of the placeholders: [0] /dev/null, [1] / (when /dev/null cannot be opened). */
static _Atomic(dev_t) ph_dev[2];
static _Atomic(ino_t) ph_ino[2];

static void tab_init(void)
{
    struct rlimit rl;
    rlim_t n = 1u << 16;
    if (!getrlimit(RLIMIT_NOFILE, &rl))
        n = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20) : rl.rlim_max;
    if (n < 1024)
        n = 1024;
    /* mmap, not malloc: pages are touched only where descriptors are. */
    void *p =
        mmap(NULL, n * sizeof(*tab), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        tab = p;
        tab_cap = (int)n;
    }
}

static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

int zpl_fd_limit(void)
{
    pthread_once(&tab_once, tab_init);
    return tab_cap;
}

bool zpl_fd_is(int fd)
{
    return tab && fd >= 0 && fd < tab_cap && atomic_load_explicit(&tab[fd], memory_order_acquire);
}

struct zpl_fd *zpl_fd_get(int fd)
{
    if (!zpl_fd_is(fd))
        return NULL;
    pthread_mutex_lock(&tab_mu);
    struct zpl_fd *e = atomic_load(&tab[fd]);
    if (e)
        atomic_fetch_add(&e->refs, 1);
    pthread_mutex_unlock(&tab_mu);
    return e;
}

static void wb_put(struct zpl_wb *wb)
{
    if (!wb || atomic_fetch_sub(&wb->refs, 1) != 1)
        return;
    if (wb->len)
        atomic_fetch_sub(&dirty, 1);
    zpl_lend_drop(wb);
    zpl_as_free(wb->as);
    free(wb->buf);
    pthread_mutex_destroy(&wb->mu);
    free(wb);
}

void zpl_fd_put(struct zpl_fd *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    wb_put(e->wb);
    free(e->path);
    free(e);
}

void zpl_fd_share_wb(struct zpl_fd *n, struct zpl_fd *e)
{
    atomic_fetch_add(&e->wb->refs, 1);
    wb_put(n->wb);
    n->wb = e->wb;
}

struct zpl_fd *zpl_fd_new(int h, int oflags, const char *path)
{
    struct zpl_fd *e = calloc(1, sizeof(*e));
    struct zpl_wb *wb = calloc(1, sizeof(*wb));
    if (!e || !wb) {
        free(e);
        free(wb);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    atomic_init(&wb->refs, 1);
    atomic_init(&wb->lfd, ZPL_LFD_NONE);
    pthread_mutex_init(&wb->mu, NULL);
    e->wb = wb;
    e->child_h = -1;
    e->h = h;
    e->gen = zpl_gen();
    e->oflags = oflags;
    e->path = path ? strdup(path) : NULL;
    return e;
}

int zpl_fd_install(int kfd, struct zpl_fd *e)
{
    pthread_once(&tab_once, tab_init);
    if (kfd < 0 || kfd >= tab_cap) {
        errno = EMFILE;
        return -1;
    }
    pthread_mutex_lock(&tab_mu);
    /* An entry still there means the kernel descriptor was closed behind our back (close_range,
     * a raw syscall): its handle is dropped. */
    struct zpl_fd *old = atomic_exchange(&tab[kfd], e);
    if (kfd + 1 > atomic_load(&tab_high))
        atomic_store(&tab_high, kfd + 1);
    pthread_mutex_unlock(&tab_mu);
    if (old)
        zpl_fd_release(old);
    return 0;
}

struct zpl_fd *zpl_fd_take(int fd)
{
    if (!zpl_fd_is(fd))
        return NULL;
    pthread_mutex_lock(&tab_mu);
    struct zpl_fd *e = atomic_exchange(&tab[fd], NULL);
    pthread_mutex_unlock(&tab_mu);
    return e;
}

void zpl_fd_each(void (*fn)(int fd, struct zpl_fd *e, void *arg), void *arg)
{
    int high = atomic_load(&tab_high);
    for (int fd = 0; fd < high; fd++) {
        struct zpl_fd *e = zpl_fd_get(fd);
        if (e) {
            fn(fd, e, arg);
            zpl_fd_put(e);
        }
    }
}

/* An O_PATH descriptor: it holds a number and a close-on-exec flag, and a program that reaches
 * the kernel around the library (a static binary that inherited it, a setuid program that
 * ignores LD_PRELOAD, glibc writing inside itself) gets EBADF from read and write, not a
 * silent success on /dev/null. */
int zpl_reserve(int oflags)
{
    int cloexec = oflags & O_CLOEXEC, i = 0;
    int fd = REAL(open)("/dev/null", O_PATH | cloexec);
    if (fd < 0 && errno != EMFILE && errno != ENFILE)
        fd = REAL(open)("/", O_PATH | cloexec), i = 1;
    struct stat st;
    if (fd >= 0 && !atomic_load(&ph_ino[i]) && !REAL(fstat)(fd, &st)) {
        atomic_store(&ph_dev[i], st.st_dev);
        atomic_store(&ph_ino[i], st.st_ino);
    }
    return fd;
}

/* Whether kernel descriptor fd is still a placeholder zpl_reserve made (same device and inode):
 * if not, it was closed behind the library's back (a raw close_range) and its entry is stale. */
static bool placeholder(int fd)
{
    struct stat st;
    if (REAL(fstat)(fd, &st))
        return false;
    for (int i = 0; i < 2; i++)
        if (atomic_load(&ph_ino[i]) == st.st_ino && atomic_load(&ph_dev[i]) == st.st_dev &&
            st.st_ino)
            return true;
    return false;
}

bool zpl_handle_used(int h)
{
    uint64_t gen = zpl_gen();
    int high = atomic_load(&tab_high);
    bool used = false;
    pthread_mutex_lock(&tab_mu);
    for (int fd = 0; fd < high && !used; fd++) {
        struct zpl_fd *e = atomic_load(&tab[fd]);
        used = e && e->gen == gen && e->h == h && placeholder(fd);
    }
    pthread_mutex_unlock(&tab_mu);
    return used;
}

int zpl_fd_handle(struct zpl_fd *e)
{
    if (zpl_conn())
        return -1;
    if (e->h < 0 || e->gen != zpl_gen()) {
        errno = ESTALE;
        return -1;
    }
    return e->h;
}

/* ---- reads and writes split at the payload limit ------------------------------------------ */

ssize_t zpl_pwrite_all(int h, const void *buf, size_t n, int64_t off)
{
    size_t done = 0, chunk = zpl_chunk();
    do {
        size_t want = n - done < chunk ? n - done : chunk;
        sigset_t old;
        zpl_sig_block(&old);
        ssize_t r = zp_pwrite(h, (const char *)buf + done, want,
                              off == ZP_CUR ? ZP_CUR : off + (int64_t)done);
        zpl_sig_restore(&old);
        if (r < 0)
            return done ? (ssize_t)done : zpl_fail();
        if ((size_t)r > want) { /* more than asked: the server lies, buf holds nothing valid */
            errno = EIO;
            return -1;
        }
        done += (size_t)r;
        if ((size_t)r < want)
            break;
    } while (done < n);
    return (ssize_t)done;
}

ssize_t zpl_pread_all(int h, void *buf, size_t n, int64_t off)
{
    size_t done = 0, chunk = zpl_chunk() < ZPL_READ_CALL ? zpl_chunk() : ZPL_READ_CALL;
    do {
        size_t want = n - done < chunk ? n - done : chunk;
        sigset_t old;
        zpl_sig_block(&old);
        ssize_t r =
            zp_pread(h, (char *)buf + done, want, off == ZP_CUR ? ZP_CUR : off + (int64_t)done);
        zpl_sig_restore(&old);
        if (r < 0)
            return done ? (ssize_t)done : zpl_fail();
        if ((size_t)r > want) { /* more than asked: the server lies, buf holds nothing valid */
            memset(buf, 0, n);
            errno = EIO;
            return -1;
        }
        done += (size_t)r;
        if ((size_t)r < want)
            break;
    } while (done < n);
    return (ssize_t)done;
}

/* ---- write-behind ------------------------------------------------------------------------- */

static atomic_bool old_daemon; /* zp_pwrite_many unknown: pieces one by one */

/* Sends a buffer of pieces at several places in one zp_pwrite_many (mu held). */
static void send_scattered(struct zpl_fd *e, int h)
{
    struct zpl_wb *wb = e->wb;
    struct zpl_as *as = wb->as;
    zpl_as_wait_writes(wb);
    ssize_t r = -1;
    if (!atomic_load(&old_daemon)) {
        ZP_CALL(r, zp_pwrite_many(h, as->seg, 2 * as->nseg, wb->buf, wb->len));
        if (r < 0 && errno == ENOSYS)
            atomic_store(&old_daemon, true);
        else if (r < 0)
            zpl_fail();
    }
    if (atomic_load(&old_daemon)) {
        size_t done = 0;
        r = 0;
        for (uint32_t i = 0; i < as->nseg; i++) {
            size_t len = (size_t)as->seg[2 * i + 1];
            ssize_t w = zpl_pwrite_all(h, wb->buf + done, len, as->seg[2 * i]);
            if (w < 0) {
                r = done ? (ssize_t)done : -1;
                break;
            }
            done += (size_t)w;
            r = (ssize_t)done;
            if ((size_t)w < len)
                break;
        }
    }
    if (r < 0 && !wb->err)
        wb->err = errno;
    else if (r >= 0 && (size_t)r < wb->len && !wb->err)
        wb->err = ENOSPC; /* as the kernel's write-back reports a short write */
    else if (r >= 0 && (size_t)r > wb->len && !wb->err)
        wb->err = EIO; /* more than was sent: a daemon that lies */
    as->nseg = 0;
    wb->len = 0;
    atomic_fetch_sub(&dirty, 1);
}

/* Adds a piece at off to a buffer of pieces (mu held); false when it cannot take it. */
static bool scatter_add(struct zpl_fd *e, int64_t off, size_t n)
{
    struct zpl_as *as = zpl_as_get(e->wb);
    if (!as || atomic_load(&old_daemon) || as->nseg >= ZPL_SEG_MAX)
        return false;
    if (!as->nseg) {
        as->seg[0] = e->wb->off;
        as->seg[1] = (int64_t)e->wb->len;
        as->nseg = 1;
    }
    as->seg[2 * as->nseg] = off;
    as->seg[2 * as->nseg + 1] = (int64_t)n;
    as->nseg++;
    return true;
}

/* Sends e's buffer (mu held): a write-behind job when relaxed, else now; a failure goes to
 * e->wb->err. */
static void send_buffer(struct zpl_fd *e)
{
    struct zpl_wb *wb = e->wb;
    if (!wb->len)
        return;
    int h = zpl_fd_handle(e);
    int64_t off = wb->off;
    bool async = h >= 0 && zpl_relaxed() && !atomic_load(&zpl_exiting) && !(e->oflags & O_APPEND);
    if (async && off == ZP_CUR) {
        off = zpl_as_pos(e, h);
        if (off >= 0)
            wb->as->pos += (int64_t)wb->len;
    }
    if (h >= 0 && wb->as && wb->as->nseg > 1) {
        send_scattered(e, h);
        return;
    }
    if (h < 0 || off < ZP_CUR)
        wb->err = wb->err ? wb->err : errno;
    else if (async && off >= 0) {
        if (zpl_wb_submit(e, h, wb->buf, wb->len, off) && !wb->err)
            wb->err = errno;
    } else {
        zpl_as_wait_writes(wb);
        ssize_t r = zpl_pwrite_all(h, wb->buf, wb->len, off);
        if (r < 0)
            wb->err = errno;
        else if ((size_t)r < wb->len)
            wb->err = ENOSPC; /* as the kernel's write-back reports a short write */
    }
    wb->len = 0;
    atomic_fetch_sub(&dirty, 1);
}

/* Everything of e sent and waited for, the daemon's position set (mu held). */
static void flush_locked(struct zpl_fd *e)
{
    send_buffer(e);
    if (e->wb->as && e->wb->as->counted) {
        int h = e->h >= 0 && e->gen == zpl_gen() ? e->h : -1;
        zpl_as_drain(e->wb, h);
    }
}

static bool pending(const struct zpl_wb *wb)
{
    return wb->len || wb->err || (wb->as && wb->as->counted);
}

int zpl_flush(struct zpl_fd *e)
{
    if (!pending(e->wb))
        return 0;
    pthread_mutex_lock(&e->wb->mu);
    flush_locked(e);
    int err = e->wb->err;
    pthread_mutex_unlock(&e->wb->mu);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/* The error a flush left, reported once. */
int zpl_take_error(struct zpl_fd *e)
{
    pthread_mutex_lock(&e->wb->mu);
    flush_locked(e);
    int err = e->wb->err;
    e->wb->err = 0;
    pthread_mutex_unlock(&e->wb->mu);
    return err;
}

static void flush_one(int fd, struct zpl_fd *e, void *arg)
{
    (void)fd;
    (void)arg;
    if (pending(e->wb)) {
        pthread_mutex_lock(&e->wb->mu);
        flush_locked(e);
        pthread_mutex_unlock(&e->wb->mu);
    }
}

static void flush_writes_one(int fd, struct zpl_fd *e, void *arg)
{
    (void)fd;
    (void)arg;
    struct zpl_wb *wb = e->wb;
    if (wb->len || wb->err || (wb->as && (wb->as->nwq || wb->as->nsent))) {
        pthread_mutex_lock(&wb->mu);
        send_buffer(e);
        zpl_as_wait_writes(wb);
        pthread_mutex_unlock(&wb->mu);
    }
}

void zpl_flush_writes_all(void)
{
    if (atomic_load_explicit(&dirty, memory_order_relaxed) ||
        atomic_load_explicit(&zpl_as_active, memory_order_relaxed))
        zpl_fd_each(flush_writes_one, NULL);
}

void zpl_flush_all(void)
{
    if (atomic_load_explicit(&dirty, memory_order_relaxed) ||
        atomic_load_explicit(&zpl_as_active, memory_order_relaxed))
        zpl_fd_each(flush_one, NULL);
}

/* A failure kept for this description (wb->err), reported now and forgotten: -1, or r. */
static ssize_t report_kept(struct zpl_wb *wb, ssize_t r)
{
    if (wb->err) {
        errno = wb->err;
        wb->err = 0;
        return -1;
    }
    return r;
}

/* Large, over TCP: begun from buf in this thread, the replies read later (writestream.c).
 * Earlier write-behind jobs land first. A failure of an earlier write found meanwhile is
 * reported by this write when it wrote nothing, else by the next call. */
static ssize_t write_streamed(struct zpl_wb *wb, int h, const void *buf, size_t n, int64_t off)
{
    for (int i = 0; i < wb->as->nwq; i++)
        zpl_job_wait(wb->as->wq[i]);
    zpl_as_reap_done(wb);
    ssize_t r = wb->err ? -1 : zpl_ws_write(wb, h, buf, n, off);
    return r < 0 ? report_kept(wb, r) : r;
}

/* Large, not streamed: in blocks in flight at once straight from buf, rather than copied into
 * jobs (the copy costs more than the wait on a machine with few cores). */
static ssize_t write_split(struct zpl_wb *wb, int h, const void *buf, size_t n, int64_t off)
{
    zpl_as_wait_writes(wb);
    ssize_t r = wb->err ? -1 : zpl_io_split(ZJ_WRITE, h, (void *)buf, n, off);
    return report_kept(wb, r);
}

/* Relaxed, a write of WB_SMALL or more: streamed, split, or a write-behind job (mu not held). */
static ssize_t write_behind(struct zpl_fd *e, const void *buf, size_t n, int64_t off)
{
    int h = zpl_fd_handle(e);
    if (h < 0)
        return -1;
    pthread_mutex_lock(&e->wb->mu);
    send_buffer(e);
    zpl_as_reap_done(e->wb);
    ssize_t r = -1;
    if (e->wb->err) {
        errno = e->wb->err;
        e->wb->err = 0;
    } else if (off == ZP_CUR && zpl_as_pos(e, h) < 0) {
        if (errno == ESPIPE) { /* a pipe or a socket: written now, at its end */
            zpl_as_wait_writes(e->wb);
            r = zpl_pwrite_all(h, buf, n, ZP_CUR);
        }
    } else {
        bool cur = off == ZP_CUR;
        if (cur)
            off = e->wb->as->pos;
        if (n >= 2 * ZPL_SPLIT_MIN) {
            r = zpl_ws_wanted(n) && zpl_as_get(e->wb) ? write_streamed(e->wb, h, buf, n, off)
                                                      : write_split(e->wb, h, buf, n, off);
            if (r > 0 && cur)
                e->wb->as->pos += r;
        } else if (!zpl_wb_submit(e, h, buf, n, off)) {
            r = (ssize_t)n;
            if (cur)
                e->wb->as->pos += (int64_t)n;
        } else if (cur) {
            zpl_as_drain(e->wb, h); /* the position is unknown now: the daemon's counts */
            e->wb->as->pos_valid = false;
        }
    }
    pthread_mutex_unlock(&e->wb->mu);
    return r;
}

ssize_t zpl_write_at(struct zpl_fd *e, const void *buf, size_t n, int64_t off)
{
    /* What the daemon would refuse is refused now, not at the next flush. */
    if ((e->oflags & O_ACCMODE) == O_RDONLY || (e->oflags & O_PATH)) {
        errno = EBADF;
        return -1;
    }
    atomic_fetch_add(&zpl_wgen, 1);
    atomic_store(&e->wb->wrote, true);
    bool relaxed = zpl_relaxed() && !atomic_load(&zpl_exiting);
    if (relaxed && n >= WB_SMALL && !(e->oflags & O_APPEND) && zpl_as_depth())
        return write_behind(e, buf, n, off);
    if (!relaxed || n >= WB_SMALL) {
        int err = zpl_take_error(e);
        if (err) {
            errno = err;
            return -1;
        }
        int h = zpl_fd_handle(e);
        return h < 0 ? -1 : zpl_io_split(ZJ_WRITE, h, (void *)buf, n, off);
    }
    if (e->h < 0 || e->gen != zpl_gen()) {
        errno = ESTALE;
        return -1;
    }
    pthread_mutex_lock(&e->wb->mu);
    if (e->oflags & O_APPEND)
        flush_locked(e); /* appends go at the daemon's end of file: no position kept here */
    else if (off == ZP_CUR && e->wb->as && e->wb->as->pos_valid) {
        /* The position is kept here: the buffer takes explicit offsets. Bytes buffered before
         * it was (at the daemon's position, a buffer sent meanwhile having taken the position
         * over) start at it: theirs first, or a later write would take their place. */
        struct zpl_wb *wb = e->wb;
        if (wb->len && wb->off == ZP_CUR) {
            wb->off = wb->as->pos;
            wb->as->pos += (int64_t)wb->len;
        }
        off = wb->as->pos;
        wb->as->pos += (int64_t)n;
    }
    zpl_ra_drop(e->wb);
    zpl_as_reap_done(e->wb);
    struct zpl_as *as = e->wb->as;
    uint32_t nseg = as ? as->nseg : 0;
    int64_t end = nseg > 1          ? as->seg[2 * nseg - 2] + as->seg[2 * nseg - 1]
                  : e->wb->off >= 0 ? e->wb->off + (int64_t)e->wb->len
                                    : -1;
    bool follows = (off == ZP_CUR && e->wb->off == ZP_CUR) || (off >= 0 && off == end);
    bool fits = e->wb->len + n <= WB_MAX;
    if (e->wb->len && fits && follows && nseg > 1)
        as->seg[2 * nseg - 1] += (int64_t)n;
    else if (e->wb->len && fits && !follows && off >= 0 && e->wb->off >= 0 &&
             scatter_add(e, off, n))
        ; /* one more piece: sent with the others */
    else if (e->wb->len && (!follows || !fits))
        send_buffer(e);
    if (e->wb->err) {
        errno = e->wb->err;
        e->wb->err = 0;
        pthread_mutex_unlock(&e->wb->mu);
        return -1;
    }
    if (e->wb->len + n > e->wb->cap) {
        size_t cap = e->wb->cap ? e->wb->cap : WB_SMALL;
        while (cap < e->wb->len + n)
            cap *= 2;
        char *nb = realloc(e->wb->buf, cap);
        if (!nb) {
            flush_locked(e);
            pthread_mutex_unlock(&e->wb->mu);
            int h = zpl_fd_handle(e);
            return h < 0 ? -1 : zpl_pwrite_all(h, buf, n, off);
        }
        e->wb->buf = nb;
        e->wb->cap = cap;
    }
    if (!e->wb->len) {
        e->wb->off = off;
        atomic_fetch_add(&dirty, 1);
    }
    memcpy(e->wb->buf + e->wb->len, buf, n);
    e->wb->len += n;
    pthread_mutex_unlock(&e->wb->mu);
    return (ssize_t)n;
}

int zpl_fd_release(struct zpl_fd *e)
{
    int err = zpl_take_error(e);
    /* Relaxed: the close of a description that never wrote goes in the background. */
    bool last = atomic_load(&e->refs) == 1;
    if (last && e->h >= 0 && zpl_relaxed() && zpl_as_depth() && !atomic_load(&zpl_exiting) &&
        !zpl_conn() && e->gen == zpl_gen() && !atomic_load(&e->wb->locked) &&
        !atomic_load(&e->wb->wrote) && zpl_close_defer(e->h)) {
        zpl_fd_put(e);
        return err;
    }
    if (e->h >= 0 && !zpl_conn() && e->gen == zpl_gen()) {
        sigset_t old;
        zpl_sig_block(&old);
        int rc = zp_close(e->h);
        zpl_sig_restore(&old);
        if (rc && !err) {
            zpl_fail();
            err = errno;
        }
    }
    zpl_fd_put(e);
    return err;
}

/* At exit: nothing more is buffered, and what is gets sent (exit handlers and the library's
 * destructor; stdio streams flushed by exit after this write straight through). */
static void flush_at_exit(void)
{
    atomic_store(&zpl_exiting, true);
    zpl_flush_all();
    zpl_aio_quiesce();
}

__attribute__((destructor)) static void zpl_dtor(void)
{
    flush_at_exit();
}

static void drop_one(int fd, struct zpl_fd *e, void *arg)
{
    (void)e;
    (void)arg;
    struct zpl_fd *t = zpl_fd_take(fd);
    if (t)
        zpl_fd_release(t);
}

/* The exit handler: streams and buffers are sent, then, in a process that joined another's
 * session (a forked child, an exec'd image) or is relaxed, and is connected, its handles are
 * closed at the daemon before the process ends (a lock is released before its parent's wait
 * returns). One not connected does not connect for this: its handles belong to the socket it kept,
 * which closes with it, and the daemon closes a gone connection's handles (so does _exit(), later).
 */
bool zpl__conn_live(void);
static void at_exit(void)
{
    if (!zpl_cfg.active)
        return;
    fflush(NULL);
    flush_at_exit();
    /* Relaxed: the daemon may hold this process's writes to gather them with others'; a close
     * sends them, so that they are in the file when the program's exit returns. */
    if ((zpl__conn_joined() || zpl_relaxed()) && zpl__conn_live() && atomic_load(&tab_high))
        zpl_fd_each(drop_one, NULL);
}

__attribute__((constructor)) static void zpl_fdtab_ctor(void)
{
    pthread_once(&tab_once, tab_init);
    atexit(at_exit);
}

/* Fork: the child's buffers belong to the parent's writes (sent before the fork). */
static void child_reset(int fd, struct zpl_fd *e, void *arg)
{
    (void)fd;
    (void)arg;
    pthread_mutex_init(&e->wb->mu, NULL);
    if (e->wb->len)
        atomic_fetch_sub(&dirty, 1);
    e->wb->len = 0;
    if (e->wb->as) { /* drained before the fork: nothing in flight */
        atomic_fetch_sub(&zpl_ws_unended, e->wb->as->nsent); /* the parent's calls */
        e->wb->as->nwq = e->wb->as->nra = e->wb->as->nsent = 0;
        zpl_as_free(e->wb->as);
        e->wb->as = NULL;
    }
}

void zpl__fdtab_child(void);
void zpl__fdtab_child(void)
{
    pthread_mutex_init(&tab_mu, NULL);
    zpl_fd_each(child_reset, NULL);
}
void zpl__fdtab_lock(void);
void zpl__fdtab_unlock(void);
void zpl__fdtab_lock(void)
{
    pthread_mutex_lock(&tab_mu);
}
void zpl__fdtab_unlock(void)
{
    pthread_mutex_unlock(&tab_mu);
}

/* An entry imported at exec, of the session being attached to (generation 1). */
int zpl__fdtab_import(int kfd, int h, int oflags, const char *path);
int zpl__fdtab_import(int kfd, int h, int oflags, const char *path)
{
    struct zpl_fd *e = zpl_fd_new(h, oflags, path);
    if (!e)
        return -1;
    e->gen = 1;
    return zpl_fd_install(kfd, e);
}
