/*
 * The zp_* functions of zposix.h on sessions and descriptors: what the generated dispatch calls
 * for session, open, close, dup, read, write, seek, sync, truncate, allocate, fcntl, locks,
 * directory listing and fstatfs. Each runs under the caller's identity in the caller's session
 * (zp__enter / zp__leave) and returns like the system call it forwards: -1 + errno.
 *
 * Opens never wait for another party (open_now: FIFOs, terminals, leases).
 *
 * Blocking locks (F_SETLKW, flock without LOCK_NB) must not hold a worker thread for long: with
 * few workers, waiters would keep the holder's unlock from running. The daemon tries for a
 * while (LOCK_WAIT_MS) and then returns EINTR, as a signal would; the client stubs' callers
 * retry, as they do for a signal (docs/zoid-posix.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "coalesce.h"
#include "zp_impl.h"
#include "zposix_server.h"

#define LOCK_WAIT_MS 200

/* ---- sessions ---- */

int zp_session_new(uint32_t version, uint64_t *id, uint8_t *secret, uint32_t secret_len)
{
    struct zp_ctx x = {.call = zposix_zoid_current()};
    if (!x.call) {
        errno = EPROTO;
        return -1;
    }
    if (version != ZP_VERSION) {
        errno = EPROTONOSUPPORT;
        return -1;
    }
    if (secret_len != ZP_SECRET_BYTES) {
        errno = EINVAL;
        return -1;
    }
    if (zp__session_new(&x, id, secret))
        return -1;
    return zoid_call_host(x.call)->consistency;
}

int zp_session_attach(uint64_t id, const uint8_t *secret, uint32_t secret_len)
{
    struct zp_ctx x = {.call = zposix_zoid_current()};
    if (!x.call) {
        errno = EPROTO;
        return -1;
    }
    return zp__session_attach(&x, id, secret, secret_len);
}

/* ---- descriptors ---- */

/* Sleeps a little more each time: 1, 2, 4 ... 32 ms; false once LOCK_WAIT_MS are spent. */
static bool backoff(unsigned *spent_ms, unsigned *step_ms)
{
    if (*spent_ms >= LOCK_WAIT_MS)
        return false;
    struct timespec ts = {0, (long)*step_ms * 1000000};
    nanosleep(&ts, NULL);
    *spent_ms += *step_ms;
    if (*step_ms < 32)
        *step_ms *= 2;
    return true;
}

/* open(2) that never waits for another party: always O_NONBLOCK, so that a FIFO does not wait
 * for its other end (a reader opens at once, a writer without a reader gets ENXIO), a terminal
 * not for its carrier, a file under a lease not for the lease's break (EWOULDBLOCK). The flag is
 * then taken off again unless the client asked for it, so that reads and writes on what was
 * opened block as the client expects (bounded by the daemon's call timeout). A lease still held
 * after the lock wait (LOCK_WAIT_MS) gives EWOULDBLOCK. */
static int open_now(const struct zp_dir *d, const char *path, int flags, mode_t mode)
{
    if (flags & O_PATH) /* opens nothing (and openat2 refuses O_NONBLOCK with it) */
        return zp__open(d, path, flags, mode);
    int fd = zp__open(d, path, flags | O_NONBLOCK, mode);
    /* A lease being broken: its holder has lease-break-time (45 s) to let go; wait a little. */
    unsigned spent = 0, step = 1;
    while (fd < 0 && errno == EWOULDBLOCK && !(flags & O_NONBLOCK) && backoff(&spent, &step))
        fd = zp__open(d, path, flags | O_NONBLOCK, mode);
    if (fd < 0 || (flags & O_NONBLOCK))
        return fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- opens shared (coalesce_meta.c): one lookup, then each caller's own open ---- */

/* Flags whose open may share its lookup: plain opens of an existing file (nothing created,
 * truncated or waited for). */
#define SHARED_OPEN_FLAGS (O_ACCMODE | O_CLOEXEC | O_LARGEFILE | O_NOFOLLOW)

struct shared_open {
    struct zp_ctx *x;
    const char *path;
    int flags;
    int fd; /* the caller's new descriptor, or -1 (errno in err) */
    int err;
    bool fallback; /* not a regular file: the caller opens it the usual way */
};

/* The lookup (leader only): an O_PATH descriptor of the path, beneath the export. */
static void open_lookup(void *arg, struct zpc_meta_res *res)
{
    struct shared_open *o = arg;
    struct zp_dir d;
    res->fd = -1;
    res->rc = -1;
    res->err = EBADF;
    if (zp__dir_get(o->x->s, ZP_ROOT, &d))
        return;
    int fd = zp__open(&d, o->path, O_PATH | (o->flags & O_NOFOLLOW), 0);
    res->err = errno;
    zp__dir_put(&d);
    if (fd < 0)
        return;
    if (fstat(fd, &res->st)) {
        res->err = errno;
        close(fd);
        return;
    }
    res->rc = 0;
    res->fd = fd;
}

/* Every caller: its own open file description of what the lookup found, opened through
 * /proc/self/fd as the caller (the kernel checks its permission), never waiting for a lease
 * (as open_now). */
static void open_use(void *arg, struct zpc_meta_res *res)
{
    struct shared_open *o = arg;
    o->fd = -1;
    if (res->rc) {
        o->err = res->err;
        return;
    }
    if (!S_ISREG(res->st.st_mode)) {
        o->fallback = true;
        return;
    }
    char p[40];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", res->fd);
    int fl = (o->flags & ~(O_NOFOLLOW | O_CLOEXEC)) | O_NONBLOCK;
    int fd = open(p, fl);
    unsigned spent = 0, step = 1;
    while (fd < 0 && errno == EWOULDBLOCK && backoff(&spent, &step))
        fd = open(p, fl);
    if (fd >= 0) {
        int cur = fcntl(fd, F_GETFL);
        if (cur < 0 || fcntl(fd, F_SETFL, cur & ~O_NONBLOCK) < 0) {
            close(fd);
            fd = -1;
        }
    }
    o->fd = fd;
    o->err = fd < 0 ? errno : 0;
}

/* An open of (ZP_ROOT, path) that shares its lookup: 1 (done: the handle or -1 + errno in *rc),
 * or 0 when the caller must open the usual way. */
static int open_shared(struct zp_ctx *x, const char *path, int flags, int *rc)
{
    if (!zpc_cfg.reads || (flags & ~SHARED_OPEN_FLAGS) || !path[0])
        return 0;
    struct shared_open o = {.x = x, .path = path, .flags = flags, .fd = -1};
    struct zpc_meta_res res;
    zpc_meta_open(x->call, path, flags & ~O_CLOEXEC, open_lookup, &o, open_use, &o, &res);
    if (o.fallback)
        return 0;
    if (o.fd < 0) {
        errno = o.err;
        *rc = -1;
    } else {
        *rc = zp__install(x->s, o.fd);
    }
    return 1;
}

int zp_openat(int dirh, const char *path, int flags, uint32_t mode)
{
    ZP_ENTER(x);
    struct zp_dir d;
    int rc = -1;
    if (dirh == ZP_ROOT && open_shared(&x, path, flags, &rc))
        return (int)zp__leave(&x, rc);
    if (!zp__dir_get(x.s, dirh, &d)) {
        /* Gathered writes must not land after a truncating open (rare: all files go out). */
        if ((flags & O_TRUNC) && zpc_pending())
            zpc_flush_all();
        int fd = open_now(&d, path, flags & ~O_CLOEXEC, (mode_t)mode);
        zp__dir_put(&d);
        if (fd >= 0)
            rc = zp__install(x.s, fd);
        if (flags & (O_CREAT | O_TRUNC)) {
            zpc_changed();
            struct zp_file *f = rc >= 0 && (flags & O_TRUNC) ? zp__get(x.s, rc) : NULL;
            if (f)
                zpc_invalidate(f->dev, f->ino);
            zp__put(f);
        }
    }
    return (int)zp__leave(&x, rc);
}

int zp_close(int h)
{
    ZP_ENTER(x);
    /* The last writer's close sends what was gathered for the file; its error is this close's. */
    int flushed = 0;
    if (zpc_pending()) {
        struct zp_file *f = zp__get(x.s, h);
        if (f)
            flushed = zpc_close(f);
        zp__put(f);
    }
    int e = errno;
    int rc = zp__close(x.s, h);
    if (!rc && flushed) {
        errno = e;
        rc = -1;
    }
    return (int)zp__leave(&x, rc);
}

int zp_dup(int h)
{
    ZP_ENTER(x);
    return (int)zp__leave(&x, zp__dup(x.s, h));
}

ssize_t zp_pread(int h, void *buf, size_t n, int64_t off)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    ssize_t rc = zpc_flush(f->dev, f->ino);
    if (!rc && off != ZP_CUR) {
        rc = zpc_pread(x.call, f, buf, n, off);
    } else if (!rc) {
        zpc_add(ZPC_read_calls, 1);
        zpc_add(ZPC_read_bytes_asked, n);
        rc = zpc_read_direct(x.call, f, buf, n, ZP_CUR);
    }
    zp__put(f);
    return zp__leave(&x, rc);
}

/* A write of the file f of session s: gathered (relaxed), else one backend write after what
 * was gathered for the file. */
static ssize_t write_buf(struct zp_session *s, struct zp_file *f, const void *buf, size_t n,
                         int64_t off)
{
    ssize_t rc;
    if (!zpc_pwrite(s, f, buf, n, off, &rc)) {
        /* One backend write, after what was gathered for the file (order). */
        rc = zpc_flush(f->dev, f->ino);
        if (!rc) {
            rc = off == ZP_CUR ? write(f->fd, buf, n) : pwrite(f->fd, buf, n, (off_t)off);
            zpc_add(ZPC_write_backend_ops, 1);
            if (rc > 0)
                zpc_add(ZPC_write_backend_bytes, (uint64_t)rc);
        }
        zpc_invalidate(f->dev, f->ino);
    }
    zpc_changed();
    return rc;
}

ssize_t zp_pwrite(int h, const void *buf, size_t n, int64_t off)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    zpc_add(ZPC_write_calls, 1);
    zpc_add(ZPC_write_messages, 1);
    zpc_add(ZPC_write_bytes_asked, n);
    ssize_t rc = write_buf(x.s, f, buf, n, off);
    zp__put(f);
    return zp__leave(&x, rc);
}

/* The call's bytes still in the socket into fd (counted): the count, or -1 + errno. */
static ssize_t splice_to(struct zoid_call *call, int fd, size_t n, int64_t off)
{
    ssize_t k = zoid_call_payload_to_file(call, fd, off == ZP_CUR ? -1 : off, n);
    zpc_add(ZPC_write_backend_ops, 1);
    if (k > 0) {
        zpc_add(ZPC_write_backend_bytes, (uint64_t)k);
        zpc_add(ZPC_write_spliced_bytes, (uint64_t)k);
    }
    if (k < 0)
        errno = (int)-k;
    return k >= 0 ? k : -1;
}

static int splice_out(void *call, int fd, size_t n, int64_t off)
{
    ssize_t k = splice_to(call, fd, n, off);
    return k == (ssize_t)n ? 0 : k < 0 ? errno : EIO;
}

ssize_t zp__pwrite_tail(struct zoid_call *call, int h, size_t n, int64_t off)
{
    struct zp_ctx x;
    if (zp__enter_call(&x, call))
        return -1;
    ZP_FILE_OR_FAIL(x, h, f);
    zpc_add(ZPC_write_calls, 1);
    zpc_add(ZPC_write_messages, 1);
    zpc_add(ZPC_write_bytes_asked, n);
    int fl = atomic_load(&f->flags);
    bool spliced = zpc_cfg.splice && f->reg && (off >= 0 || off == ZP_CUR) && !(fl & O_APPEND);
    bool gather = zpc_may_gather(x.s, f);
    ssize_t rc;
    if (spliced && gather && zpc_direct_ok(n, off) &&
        zpc_pwrite_out(x.s, f, n, off, splice_out, call, &rc)) {
        zpc_changed(); /* in order with the relaxed session's gathered writes */
    } else if (!spliced || (gather && !zpc_direct_ok(n, off))) {
        /* Into memory, and as any write. */
        void *buf = malloc(n ? n : 1);
        ssize_t got = buf ? zoid_call_payload_read(call, buf, n) : -ENOMEM;
        rc = got == (ssize_t)n ? write_buf(x.s, f, buf, n, off)
                               : (errno = got < 0 ? (int)-got : EPROTO, -1);
        free(buf);
    } else {
        rc = zpc_flush(f->dev, f->ino);
        if (!rc)
            rc = splice_to(call, f->fd, n, off);
        zpc_invalidate(f->dev, f->ino);
        zpc_changed();
    }
    zp__put(f);
    return zp__leave(&x, rc);
}

int64_t zp_lseek(int h, int64_t off, int whence)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    off_t rc = whence == SEEK_SET || whence == SEEK_CUR ? 0 : zpc_flush(f->dev, f->ino);
    if (!rc)
        rc = lseek(f->fd, (off_t)off, whence);
    zp__put(f);
    return zp__leave(&x, rc);
}

int zp_fsync(int h, int datasync)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    int rc = zpc_flush(f->dev, f->ino);
    if (!rc)
        rc = datasync ? fdatasync(f->fd) : fsync(f->fd);
    zp__put(f);
    return (int)zp__leave(&x, rc);
}

int zp_ftruncate(int h, int64_t len)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    int rc = zpc_flush(f->dev, f->ino);
    if (!rc)
        rc = ftruncate(f->fd, (off_t)len);
    zpc_invalidate(f->dev, f->ino);
    zpc_changed();
    zp__put(f);
    return (int)zp__leave(&x, rc);
}

int zp_fallocate(int h, int mode, int64_t off, int64_t len)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    int rc = zpc_flush(f->dev, f->ino);
    if (!rc)
        rc = fallocate(f->fd, mode, (off_t)off, (off_t)len);
    zpc_invalidate(f->dev, f->ino);
    zpc_changed();
    zp__put(f);
    return (int)zp__leave(&x, rc);
}

int zp_fcntl(int h, int cmd, int64_t arg)
{
    ZP_ENTER(x);
    int rc = -1, flags = 0;
    switch (cmd) {
    case F_GETFD:
        if (!zp__fdflags(x.s, h, -1, &flags))
            rc = flags;
        break;
    case F_SETFD: rc = zp__fdflags(x.s, h, arg < 0 ? 0 : (int)(arg & FD_CLOEXEC), NULL); break;
    case F_GETFL:
    case F_SETFL: {
        ZP_FILE_OR_FAIL(x, h, f);
        rc = cmd == F_GETFL ? fcntl(f->fd, F_GETFL) : fcntl(f->fd, F_SETFL, (int)arg);
        if (cmd == F_SETFL && !rc) {
            int fl = fcntl(f->fd, F_GETFL);
            if (fl >= 0) {
                /* O_APPEND or O_DIRECT now: nothing more is gathered; what was goes out. */
                zpc_flush_keep(f->dev, f->ino);
                atomic_store(&f->flags, fl);
            }
        }
        zp__put(f);
        break;
    }
    default: errno = EINVAL;
    }
    return (int)zp__leave(&x, rc);
}

int zp_lock(int h, int cmd, struct flock *fl)
{
    ZP_ENTER(x);
    int ocmd;
    switch (cmd) {
    case F_GETLK:
    case F_OFD_GETLK: ocmd = F_OFD_GETLK; break;
    case F_SETLK:
    case F_OFD_SETLK: ocmd = F_OFD_SETLK; break;
    case F_SETLKW:
    case F_OFD_SETLKW: ocmd = F_OFD_SETLKW; break;
    default: errno = EINVAL; return (int)zp__leave(&x, -1);
    }
    ZP_FILE_OR_FAIL(x, h, f);
    fl->l_pid = 0; /* open file description locks want 0 */
    int rc;
    if (ocmd == F_OFD_SETLKW) {
        unsigned spent = 0, step = 1;
        struct flock try = *fl;
        while ((rc = fcntl(f->fd, F_OFD_SETLK, &try)) && (errno == EAGAIN || errno == EACCES)) {
            if (!backoff(&spent, &step)) {
                errno = EINTR;
                break;
            }
            try = *fl;
        }
    } else {
        rc = fcntl(f->fd, ocmd, fl);
    }
    zp__put(f);
    return (int)zp__leave(&x, rc);
}

int zp_flock(int h, int op)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    int rc;
    if ((op & LOCK_NB) || (op & ~LOCK_NB) == LOCK_UN) {
        rc = flock(f->fd, op);
    } else {
        unsigned spent = 0, step = 1;
        while ((rc = flock(f->fd, op | LOCK_NB)) && errno == EWOULDBLOCK)
            if (!backoff(&spent, &step)) {
                errno = EINTR;
                break;
            }
    }
    zp__put(f);
    return (int)zp__leave(&x, rc);
}

ssize_t zp_getdents(int h, void *buf, size_t n)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    ssize_t rc = syscall(SYS_getdents64, f->fd, buf, n > INT_MAX ? (size_t)INT_MAX : n);
    zp__put(f);
    return zp__leave(&x, rc);
}

int zp_fstatfs(int h, struct statfs *st)
{
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    int rc = fstatfs(f->fd, st);
    zp__put(f);
    return (int)zp__leave(&x, rc);
}
