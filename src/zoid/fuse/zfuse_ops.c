/*
 * `zepto zoid mount`, the operations on open files and directories, and the table of operations
 * given to libfuse. Open files and directories keep their remote handle in fi->fh (with the
 * connection's generation: zfuse_int.h), so that I/O, fstat, fchmod, locks and listings act on
 * what was opened, even after a rename. Each open counts in its user's share of the session's
 * handles (zfuse_share.h), and every count, offset and record the daemon replies is checked
 * (zfuse_check.h): a lie is EIO.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "zfuse_attrs.h"
#include "zfuse_behind.h"
#include "zfuse_lend.h"
#include "zfuse_pt.h"
#include "zfuse_listings.h"
#include "zfuse_handles.h"
#include "zfuse_may.h"
#include "zfuse_ops.h"
#include "zfuse_share.h"
#include "zposix.h"
#include "zposix_client.h" /* the zf_ stubs */

/* A directory being listed: its handle and a buffer of linux_dirent64 records. */
struct zf_dir {
    struct zf_open o;   /* first: fi->fh points to either */
    pthread_mutex_t mu; /* readdir calls on one open directory do not overlap */
    int64_t remote;     /* offset of the handle after the last getdents (-1: unknown) */
    size_t len, pos;    /* the records in buf, and the next one to hand out */
    int64_t pos_off;    /* the directory offset of the record at pos */
    bool plus;          /* buf holds zp_getdents_stat records (each with its struct stat) */
    _Alignas(8) char buf[32768]; /* records are read in place: 8-byte aligned */
};

/* ---- files --------------------------------------------------------------------------------- */

/* The flags of the remote open. O_DIRECT stays here (the daemon's buffers are not aligned for
 * it; the kernel already bypasses its own cache). With the writeback cache the kernel writes
 * whole pages at offsets it chose: it needs to read what it does not overwrite (write-only
 * becomes read-write) and appends itself (no O_APPEND). */
static int remote_flags(int flags)
{
    flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT | O_CLOEXEC);
    if (zf_state.consistency == ZP_RELAXED) {
        flags &= ~O_APPEND;
        if ((flags & O_ACCMODE) == O_WRONLY)
            flags = (flags & ~O_ACCMODE) | O_RDWR;
    }
    return flags;
}

/* Whether the daemon has zp_openat_stat (a daemon from before it says ENOSYS). */
static atomic_bool openat_stat_ok = true;

/* The attributes a create reply carried: for libfuse's getattr of the same request (both modes),
 * and in the cache (relaxed) for the next getattr of the file and of its directory. Only what
 * passes the checks a getattr reply would; anything else is asked again. */
static void keep_create_attrs(const char *path, const struct stat *st, const struct stat *dst)
{
    if (!zf_check_stat(st, 0))
        return;
    zf_attrs_handoff(path, st);
    zf_attrs_put(path, st);
    if (dst->st_mode == 0 || !zf_check_stat(dst, S_IFDIR))
        return;
    const char *slash = strrchr(path, '/');
    size_t n = slash && slash > path ? (size_t)(slash - path) : 1;
    char parent[4096];
    if (n >= sizeof(parent))
        return;
    memcpy(parent, path, n);
    parent[n] = '\0';
    zf_attrs_put(parent, dst);
}

/* Whether an open that failed O_RDWR (for a backing, zfuse_pt.c) may succeed as asked: refused
 * for the access mode, not for the name. */
static bool may_as_asked(int e)
{
    return e == EACCES || e == EPERM || e == EROFS || e == ETXTBSY || e == EISDIR;
}

/* Sets O_APPEND on f's remote handle (opened flags, without it): 0 or -errno. */
static int append_as_asked(struct zf_open *f, int flags)
{
    uint32_t g = zf_enter();
    long r = g == f->gen ? zf_zp_fcntl(f->h, F_SETFL, flags | O_APPEND) : (errno = ESTALE, -1L);
    return (int)zf_leave(g, r);
}

/* Undoes an open that cannot be kept: as its release, without the answer. */
static void forget_open(struct zf_open *f)
{
    zf_lend_drop(f);
    zf_pt_release(f);
    zf_handle_drop(f->gen, f->h);
    uint32_t g = zf_enter();
    zf_leave(g, g == f->gen ? zf_zp_close(f->h) : 0);
    zf_share_release(f);
    free(f);
}

/* The file a root mount opened (handle h of generation g) for another user, checked against
 * that user on its own attributes (st, or asked for): 0, or -EACCES (the handle closed) or the
 * fstat's error. */
static int check_opened(const char *path, int flags, struct zf_who *who, uint32_t g, long h,
                        const struct stat *st)
{
    struct stat own;
    if (!st) {
        uint32_t now = zf_enter();
        long r = now == g ? zf_leave(now, zf_zp_fstatat((int)h, "", &own, AT_EMPTY_PATH))
                          : zf_leave(now, (errno = ESTALE, -1L));
        if (r < 0) {
            now = zf_enter();
            zf_leave(now, now == g ? zf_zp_close((int)h) : 0);
            return (int)r;
        }
        st = &own;
    }
    if (zf_may_open(st, flags, who))
        return 0;
    uint32_t now = zf_enter();
    zf_leave(now, now == g ? zf_zp_close((int)h) : 0);
    zf_attrs_drop(path, false); /* what the kernel was told of the path is stale */
    return -EACCES;
}

/* The O_TRUNC of an open checked by check_opened, made once the check passed: 0, or the error
 * (the handle closed). */
static int truncate_opened(uint32_t g, long h)
{
    uint32_t now = zf_enter();
    long r =
        now == g ? zf_leave(now, zf_zp_ftruncate((int)h, 0)) : zf_leave(now, (errno = ESTALE, -1L));
    if (r < 0) {
        now = zf_enter();
        zf_leave(now, now == g ? zf_zp_close((int)h) : 0);
    }
    return (int)r;
}

static int open_common(const char *path, struct fuse_file_info *fi, bool create, mode_t mode)
{
    /* A root mount opening for another user: the daemon opens as root, so the file it opened is
     * checked against the user here (zfuse_may.h), and a create makes a new file or fails: one
     * that exists by the time the daemon comes (the kernel saw none) is opened as an existing
     * file, checked, and not given to the user. */
    struct zf_who who;
    zf_who_current(&who);
    bool for_other = zf_state.fix_owner && who.uid != 0 && who.uid != zf_state.self_uid;
    bool excl_first = create && for_other && !(fi->flags & O_EXCL);
    /* ... and it truncates only after the check: the daemon opens without O_TRUNC. */
    bool trunc_after = for_other && (fi->flags & O_TRUNC);
    int asked = (remote_flags(fi->flags) & ~(trunc_after ? O_TRUNC : 0)) |
                (create ? O_CREAT | (fi->flags & O_EXCL) : 0) | (excl_first ? O_EXCL : 0);
    /* Passed through (zfuse_pt.c): the file's backing is the daemon's O_RDWR open of it. */
    enum zf_pt_plan plan = zf_pt_plan(create);
    int flags = plan == ZF_PT_NEW ? (asked & ~(O_ACCMODE | O_APPEND)) | O_RDWR : asked;
    uid_t uid = fuse_get_context()->uid;
    struct zf_open *f = malloc(sizeof(*f));
    if (!f)
        return -ENOMEM;
    int rc = zf_share_take(uid);
    if (rc) {
        free(f);
        return rc;
    }
    struct zf_at at;
    if ((rc = zf_at_get(path, &at)))
        goto out_share;
    if (create || (flags & O_TRUNC))
        zf_attrs_drop(path, create);
    if (create)
        zf_listing_add(path); /* before it exists: a listing read meanwhile has it too */
    struct stat st, dst;
    bool with_stat = (create || for_other) && atomic_load(&openat_stat_ok);
    uint32_t g = zf_enter();
    bool ok = at.opened < 0 || at.gen == g;
    long h = !ok         ? zf_leave(g, (errno = ESTALE, -1L))
             : with_stat ? zf_leave(g, zf_zp_openat_stat(at.dirh, at.rest, flags, mode, &st, &dst))
                         : zf_leave(g, zf_zp_openat(at.dirh, at.rest, flags, mode));
    if (h == -ENOSYS && with_stat) {
        /* A daemon older than zp_openat_stat: the open alone, from now on. */
        atomic_store(&openat_stat_ok, false);
        with_stat = false;
        g = zf_enter();
        ok = at.opened < 0 || at.gen == g;
        h = ok ? zf_leave(g, zf_zp_openat(at.dirh, at.rest, flags, mode))
               : zf_leave(g, (errno = ESTALE, -1L));
    }
    if (h < 0 && flags != asked && may_as_asked((int)-h)) {
        /* Not O_RDWR (a read-only file, a running program, a daemon that may not write it):
         * as asked, and not passed through. */
        plan = ZF_PT_NONE;
        flags = asked;
        g = zf_enter();
        ok = at.opened < 0 || at.gen == g;
        h = !ok         ? zf_leave(g, (errno = ESTALE, -1L))
            : with_stat ? zf_leave(g, zf_zp_openat_stat(at.dirh, at.rest, flags, mode, &st, &dst))
                        : zf_leave(g, zf_zp_openat(at.dirh, at.rest, flags, mode));
    }
    if (h == -EACCES && zf_state.consistency == ZP_RELAXED && (fi->flags & O_ACCMODE) == O_WRONLY) {
        /* A daemon not running as root may not read a write-only file: open it as asked. */
        flags = (flags & ~O_ACCMODE) | O_WRONLY;
        g = zf_enter();
        ok = at.opened < 0 || at.gen == g;
        h = ok ? zf_leave(g, zf_zp_openat(at.dirh, at.rest, flags, mode))
               : zf_leave(g, (errno = ESTALE, -1L));
        with_stat = false;
    }
    zf_at_put(&at);
    if (h == -EEXIST && excl_first) { /* made meanwhile: opened as an existing file */
        zf_share_put(uid);
        free(f);
        return open_common(path, fi, false, mode);
    }
    if (h >= 0 && for_other && !create &&
        (rc = check_opened(path, fi->flags, &who, g, h, with_stat ? &st : NULL)))
        goto out_share;
    if (h >= 0 && trunc_after && !create && (rc = truncate_opened(g, h)))
        goto out_share;
    if (h >= 0)
        h = zf_handle_claim(g, h); /* a handle already held: not ours to close */
    if (h < 0) {
        rc = (int)h;
        goto out_share;
    }
    *f = (struct zf_open){.h = (int)h, .gen = g, .uid = uid, .dir = false, .lfd = ZF_LFD_NONE};
    fi->fh = (uint64_t)(uintptr_t)f;
    int32_t mine = zf_pt_backing(f, fi->fh, plan);
    /* Opened without O_APPEND for a backing that did not come: served the forwarded way, the
     * daemon's handle appends as asked. */
    bool append = plan == ZF_PT_NEW && (asked & O_APPEND);
    if (append && mine <= 0 && (rc = append_as_asked(f, flags))) {
        zf_handle_drop(f->gen, f->h);
        uint32_t now = zf_enter();
        zf_leave(now, now == f->gen ? zf_zp_close(f->h) : 0);
        goto out_share;
    }
    zf_share_link(f);
    if (!zf_pt_opened(f, mine) && append && mine > 0 && (rc = append_as_asked(f, flags))) {
        /* the file went the cached way meanwhile (another open's backing failed) */
        forget_open(f);
        return rc;
    }
    if (create && zf_give_to_caller(path, (int)h, g))
        with_stat = false; /* its owner changed after the attributes were taken */
    if (create && with_stat)
        keep_create_attrs(path, &st, &dst);
    return 0;
out_share:
    zf_share_put(uid);
    free(f);
    return rc;
}

static int zf_open(const char *path, struct fuse_file_info *fi)
{
    return open_common(path, fi, false, 0);
}

static int zf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    return open_common(path, fi, true, mode);
}

/* A write through a lent descriptor (zfuse_lend.c): all of it, or -errno. Reads stay
 * forwarded: through the kernel's FUSE requests they were faster from the daemon (its retained
 * reads, docs/BENCHMARKS.md) than from the lent descriptor. */
static int lent_write(int l, const char *buf, size_t size, off_t off)
{
    size_t done = 0;
    while (done < size) {
        ssize_t r = pwrite(l, buf + done, size - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return done ? (int)done : -errno;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (int)done;
}

static int zf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    size_t done = 0;
    while (done < size) {
        size_t n = size - done < zf_state.chunk ? size - done : zf_state.chunk;
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        long got = zf_leave(g, zf_zp_pread(h, buf + done, n, off + (off_t)done));
        if (got < 0)
            return done ? (int)done : (int)got;
        if (!zf_check_count(got, n))
            return -EIO; /* more than asked: the kernel must not get bytes beyond it */
        done += (size_t)got;
        if ((size_t)got < n)
            break; /* the end of the file */
    }
    return (int)done;
}

static int zf_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    zf_attrs_drop(path, false);
    struct zf_open *f = (struct zf_open *)(uintptr_t)fi->fh;
    f->written = true;
    int l = zf_lent(f, fi->fh, size);
    if (l >= 0)
        return lent_write(l, buf, size, off);
    int kept = zf_behind_write(f, buf, size, off);
    if (kept)
        return kept;
    size_t done = 0;
    while (done < size) {
        size_t n = size - done < zf_state.chunk ? size - done : zf_state.chunk;
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        long put = zf_leave(g, zf_zp_pwrite(h, buf + done, n, off + (off_t)done));
        if (put < 0)
            return done ? (int)done : (int)put;
        if (!zf_check_count(put, n))
            return -EIO; /* more than given */
        done += (size_t)put;
        if (put == 0)
            break;
    }
    return (int)done;
}

/* Called at every close(2) of a descriptor. The kernel has already written its dirty pages
 * (relaxed) and strict writes were done before they returned. The mount's write-behind is sent
 * here, and a relaxed session's writes may be gathered by the daemon (issue 14) until the
 * writer's close, which comes with the release, after close(2) returned: a seek of the handle
 * sends them to the file first, so that the data is in the export when close returns, and an
 * error of either reaches close(2). Opens that wrote nothing cost nothing here. */
static int zf_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct zf_open *f = (struct zf_open *)(uintptr_t)fi->fh;
    if (zf_state.consistency != ZP_RELAXED || !f->written)
        return 0;
    int e = zf_behind_error(f);
    if (e)
        return e;
    uint32_t g = zf_enter();
    HANDLE(g, fi);
    /* a seek to the end sends what the daemon gathered and, unlike a stat, says when that
     * failed (ENOSPC): close(2) reports it */
    long rc = zf_leave(g, zf_zp_lseek(h, 0, SEEK_END));
    return rc < 0 ? (int)rc : 0;
}

/* The share is given back even when the handle is stale (the daemon restarted: the session that
 * held it is gone). */
static int zf_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct zf_open *f = (struct zf_open *)(uintptr_t)fi->fh;
    zf_lend_drop(f);
    zf_pt_release(f);
    int e = f->written ? zf_behind_error(f) : 0; /* sent before the handle goes */
    zf_handle_drop(f->gen, f->h);
    if (zf_state.consistency == ZP_RELAXED && !f->locked && !f->written) {
        zf_close_defer(f);
        return 0;
    }
    uint32_t g = zf_enter();
    int rc = (int)zf_leave(g, g == f->gen ? zf_zp_close(f->h) : 0);
    zf_share_release(f);
    free(f);
    return e ? e : rc;
}

static int zf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    int e = zf_behind_error((struct zf_open *)(uintptr_t)fi->fh);
    if (e)
        return e;
    uint32_t g = zf_enter();
    HANDLE(g, fi);
    return (int)zf_leave(g, zf_zp_fsync(h, datasync));
}

static int zf_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
    zf_attrs_drop(path, false);
    uint32_t g = zf_enter();
    HANDLE(g, fi);
    return (int)zf_leave(g, zf_zp_fallocate(h, mode, off, len));
}

/* Only SEEK_DATA and SEEK_HOLE reach here (the kernel does the rest). The result is checked
 * against the file's size, one more call: these seeks are rare (cp, tar on sparse files). A file
 * shrunk between the two calls gives EIO, as a lie would. */
static off_t zf_lseek(const char *path, off_t off, int whence, struct fuse_file_info *fi)
{
    (void)path;
    uint32_t g = zf_enter();
    HANDLE(g, fi);
    off_t res = (off_t)zf_leave(g, zf_zp_lseek(h, off, whence));
    if (res < 0)
        return res;
    struct stat st;
    g = zf_enter();
    h = zf_fh_handle(fi->fh, g);
    long rc = zf_leave(g, h < 0 ? (errno = -h, -1) : zf_zp_fstatat(h, "", &st, AT_EMPTY_PATH));
    if (rc < 0)
        return rc;
    if (!zf_check_stat(&st, S_IFREG) || !zf_check_seek(res, off, whence, st.st_size))
        return -EIO;
    return res;
}

/* ---- locks --------------------------------------------------------------------------------- */

/* Blocking waits are polled with non-blocking attempts, so that no daemon worker thread sleeps
 * for a client, and so that an interrupted waiter (a signal, a killed process) is let go. */
static int lock_wait(int attempt, int *delay_us)
{
    (void)attempt;
    if (fuse_interrupted())
        return -EINTR;
    struct timespec ts = {0, (long)*delay_us * 1000};
    nanosleep(&ts, NULL);
    if (*delay_us < 50000)
        *delay_us *= 2;
    return 0;
}

/* POSIX record locks become open-file-description locks on the daemon (zp_lock): one per open
 * of the file through this mount. */
static int zf_lock(const char *path, struct fuse_file_info *fi, int cmd, struct flock *fl)
{
    (void)path;
    bool wait = cmd == F_SETLKW;
    int delay = 1000;
    fl->l_pid = 0;
    /* libfuse unlocks at every close (flush) of every open file: an open that never locked holds
     * nothing to release, and keeps its release deferred (relaxed) rather than closed at once. */
    if (cmd != F_GETLK && fl->l_type == F_UNLCK && !((struct zf_open *)(uintptr_t)fi->fh)->locked)
        return 0;
    for (int attempt = 0;; attempt++) {
        struct flock try = *fl;
        ((struct zf_open *)(uintptr_t)fi->fh)->locked = true;
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        int rc = (int)zf_leave(g, zf_zp_lock(h, wait ? F_SETLK : cmd, &try));
        if (rc == 0 && cmd == F_GETLK) {
            if (!zf_check_flock(&try))
                return -EIO;
            *fl = try;
        }
        if (!wait || (rc != -EAGAIN && rc != -EACCES))
            return rc;
        if ((rc = lock_wait(attempt, &delay)))
            return rc;
    }
}

static int zf_flock(const char *path, struct fuse_file_info *fi, int op)
{
    (void)path;
    bool wait = !(op & LOCK_NB) && !(op & LOCK_UN);
    int delay = 1000;
    ((struct zf_open *)(uintptr_t)fi->fh)->locked = true;
    for (int attempt = 0;; attempt++) {
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        int rc = (int)zf_leave(g, zf_zp_flock(h, op | (wait ? LOCK_NB : 0)));
        if (!wait || rc != -EWOULDBLOCK)
            return rc;
        if ((rc = lock_wait(attempt, &delay)))
            return rc;
    }
}

/* ---- directories --------------------------------------------------------------------------- */

static int zf_opendir(const char *path, struct fuse_file_info *fi)
{
    uid_t uid = fuse_get_context()->uid;
    struct zf_dir *d = malloc(sizeof(*d));
    if (!d)
        return -ENOMEM;
    int rc = zf_share_take(uid);
    if (rc) {
        free(d);
        return rc;
    }
    uint32_t g;
    long h = zf_dir_open(path, &g);
    if (h < 0) {
        zf_share_put(uid);
        free(d);
        return (int)h;
    }
    d->o = (struct zf_open){.h = (int)h, .gen = g, .uid = uid, .dir = true, .lfd = ZF_LFD_NEVER};
    zf_share_link(&d->o);
    pthread_mutex_init(&d->mu, NULL);
    d->remote = 0;
    d->len = d->pos = 0;
    d->pos_off = 0;
    d->plus = false;
    fi->fh = (uint64_t)(uintptr_t)d;
    return 0;
}

/* Whether the daemon has zp_getdents_stat (a daemon from before it says ENOSYS). */
static atomic_bool getdents_stat_ok = true;

/* One refill of d->buf: zp_getdents, or zp_getdents_stat for readdirplus (d->plus). The count
 * of checked bytes, 0 at the end, or -errno. */
static long refill(struct zf_dir *d)
{
    uint32_t g = zf_enter();
    if (g != d->o.gen)
        return zf_leave(g, (errno = ESTALE, -1));
    long n = d->plus ? zf_leave(g, zf_zp_getdents_stat(d->o.h, d->buf, sizeof(d->buf)))
                     : zf_leave(g, zf_zp_getdents(d->o.h, d->buf, sizeof(d->buf)));
    if (n == -ENOSYS && d->plus) {
        atomic_store(&getdents_stat_ok, false); /* plain records from now on */
        d->plus = false;
        return refill(d);
    }
    if (n <= 0)
        return n;
    if (!zf_check_count(n, sizeof(d->buf)) ||
        !(d->plus ? zf_check_dirents_stat(d->buf, (size_t)n) : zf_check_dirents(d->buf, (size_t)n)))
        return -EIO;
    return n;
}

/* Hands out records from offset `off` on, refilling the buffer with getdents, until the kernel's
 * buffer is full (filler returns 1) or the directory ends. Offsets are the daemon's d_off, so
 * that telldir/seekdir and a listing resumed in a later call work. With `plus` (readdirplus, in
 * relaxed mode only: strict mode caches no attributes, the kernel would ask them again), each
 * name comes with its attributes, so that `ls -l` and `find` need no lookup per name. */
static int readdir_locked(struct zf_dir *d, void *buf, fuse_fill_dir_t filler, off_t off, bool plus)
{
    if (off != d->pos_off || d->pos >= d->len || plus != d->plus) {
        /* Not where the buffer is: drop it and read from off. */
        if (off != d->remote) {
            uint32_t g = zf_enter();
            if (g != d->o.gen)
                return (int)zf_leave(g, (errno = ESTALE, -1));
            long rc = zf_leave(g, zf_zp_lseek(d->o.h, off, SEEK_SET));
            if (rc < 0)
                return (int)rc;
            if (!zf_check_seek(rc, off, SEEK_SET, -1))
                return -EIO;
            d->remote = off;
        }
        d->len = d->pos = 0;
        d->pos_off = off;
        d->plus = plus;
    }
    for (;;) {
        if (d->pos >= d->len) {
            long n = refill(d);
            if (n == -EIO)
                d->remote = -1; /* the handle's offset is past records never handed out */
            if (n <= 0)
                return (int)n;
            d->len = (size_t)n;
            d->pos = 0;
            d->remote = -1; /* the offset after the last record, set below */
            for (size_t p = 0; p < d->len;) {
                const struct zf_dirent64 *e = (const void *)(d->buf + p);
                p += e->d_reclen;
                if (p == d->len)
                    d->remote = e->d_off;
            }
        }
        const struct zf_dirent64 *e = (const void *)(d->buf + d->pos);
        struct stat st = {0};
        enum fuse_fill_dir_flags fill = 0;
        if (d->plus)
            memcpy(&st, d->buf + d->pos + zf_dirent_stat_at(e), sizeof(st));
        if (st.st_mode) {
            fill = FUSE_FILL_DIR_PLUS; /* checked: zf_check_dirents_stat */
        } else {
            st.st_ino = e->d_ino;
            st.st_mode = (mode_t)DTTOIF(e->d_type);
        }
        if (filler(buf, e->d_name, &st, e->d_off, fill))
            return 0; /* the kernel's buffer is full: this record goes first next time */
        d->pos += e->d_reclen;
        d->pos_off = e->d_off;
    }
}

static int zf_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)path;
    struct zf_dir *d = (struct zf_dir *)(uintptr_t)fi->fh;
    bool plus = (flags & FUSE_READDIR_PLUS) && zf_state.consistency == ZP_RELAXED &&
                atomic_load(&getdents_stat_ok);
    pthread_mutex_lock(&d->mu);
    int rc = readdir_locked(d, buf, filler, off, plus);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static int zf_releasedir(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct zf_dir *d = (struct zf_dir *)(uintptr_t)fi->fh;
    zf_handle_drop(d->o.gen, d->o.h);
    uint32_t g = zf_enter();
    int rc = g == d->o.gen ? (int)zf_leave(g, zf_zp_close(d->o.h)) : (int)zf_leave(g, 0);
    zf_share_release(&d->o);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return rc;
}

static int zf_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    struct zf_dir *d = (struct zf_dir *)(uintptr_t)fi->fh;
    uint32_t g = zf_enter();
    if (g != d->o.gen)
        return (int)zf_leave(g, (errno = ESTALE, -1));
    return (int)zf_leave(g, zf_zp_fsync(d->o.h, datasync));
}

/* ---- the mount ----------------------------------------------------------------------------- */

/* Caching follows the consistency (docs/zoid-mount.md). Inode numbers are the export's. */
static void *zf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    cfg->use_ino = 1;
    cfg->nullpath_ok = 0;
    zf_attrs_enable(zf_state.consistency == ZP_RELAXED);
    zf_listings_enable(zf_state.consistency == ZP_RELAXED);
    if (zf_state.consistency == ZP_RELAXED) {
        cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 1.0;
        cfg->auto_cache = 1;
        if (conn->capable & FUSE_CAP_WRITEBACK_CACHE)
            conn->want |= FUSE_CAP_WRITEBACK_CACHE;
        /* The kernel's write-back sends pages as background requests, 12 at once by default:
         * more in flight, over the mount's threads, gave 7-10 % more random 4 KiB writes. */
        conn->max_background = 64;
        conn->congestion_threshold = 48;
    } else {
        cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
        cfg->auto_cache = 0;
        conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
        /* Before each read the kernel then compares size and mtime (never cached) with what its
         * pages hold, and drops them when they changed: read-after-write across clients. */
        if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
            conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    }
    cfg->kernel_cache = 0;
    cfg->direct_io = 0;
    /* Large requests: the kernel sends up to 1 MiB per write when allowed. */
    conn->max_write = 1u << 20;
    conn->max_read = 0;
    /* Sequential reads: the kernel reads ahead up to 1 MiB (its default is 128 KiB), so that a
     * 1 MiB read is one request to the daemon rather than several small ones in turn. */
    conn->max_readahead = 1u << 20;
    return NULL;
}

const struct fuse_operations zf_ops = {
    .init = zf_init,
    .getattr = zf_getattr,
    .readlink = zf_readlink,
    .mknod = zf_mknod,
    .mkdir = zf_mkdir,
    .unlink = zf_unlink,
    .rmdir = zf_rmdir,
    .symlink = zf_symlink,
    .rename = zf_rename,
    .link = zf_link,
    .chmod = zf_chmod,
    .chown = zf_chown,
    .truncate = zf_truncate,
    .open = zf_open,
    .read = zf_read,
    .write = zf_write,
    .statfs = zf_statfs,
    .flush = zf_flush,
    .release = zf_release,
    .fsync = zf_fsync,
    .opendir = zf_opendir,
    .readdir = zf_readdir,
    .releasedir = zf_releasedir,
    .fsyncdir = zf_fsyncdir,
    .access = zf_access,
    .create = zf_create,
    .lock = zf_lock,
    .utimens = zf_utimens,
    .flock = zf_flock,
    .fallocate = zf_fallocate,
    .lseek = zf_lseek,
};
