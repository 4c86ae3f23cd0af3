/*
 * Interposed calls on descriptors themselves: dup, dup2, dup3, fcntl, flock, close_range and
 * closefrom.
 *
 * A duplicate of a forwarded descriptor is a second handle on the same open file description in
 * the daemon (zp_dup: shared offset and flags) at the kernel descriptor the call would give
 * (a dup of the reserved one, so the number and the close-on-exec flag are the kernel's). A
 * descriptor a dup2 or dup3 replaces is closed at the daemon. Record locks go to the daemon as
 * open-file-description locks, so that processes on different nodes exclude each other.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"

ZPL_REAL_DECL(dup);
ZPL_REAL_DECL(dup2);
ZPL_REAL_DECL(dup3);
ZPL_REAL_DECL(fcntl);
ZPL_REAL_DECL(close);
ZPL_REAL_DECL(flock);
ZPL_REAL_DECL(close_range);

/* A second handle of e at kernel descriptor kfd (already made by the caller). */
static int install_dup(struct zpl_fd *e, int kfd)
{
    zpl_flush(e);
    int h = zpl_fd_handle(e), h2 = -1;
    if (h >= 0) {
        ZP_CALL(h2, zp_dup(h));
        if (h2 < -1 || (h2 >= 0 && zpl_handle_used(h2))) /* a daemon's bad answer */
            h2 = -1, errno = EPROTO;
        if (h2 < 0)
            zpl_fail();
    }
    struct zpl_fd *n = h2 < 0 ? NULL : zpl_fd_new(h2, e->oflags, e->path);
    if (n)
        zpl_fd_share_wb(n, e);
    if (!n || zpl_fd_install(kfd, n)) {
        int err = h2 < 0 ? errno : ENOMEM;
        if (n)
            zpl_fd_put(n);
        /* The kernel descriptor goes: a dup that half happened would be worse. */
        struct zpl_fd *v = zpl_fd_take(kfd);
        if (v)
            zpl_fd_release(v);
        REAL(close)(kfd);
        errno = err;
        return -1;
    }
    return kfd;
}

ZPL_API int dup(int fd)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(dup)(fd);
    int k = REAL(dup)(fd);
    int rc = k < 0 ? -1 : install_dup(e, k);
    zpl_fd_put(e);
    zpl_std_after(rc);
    return rc;
}

static int dup_to(int old, int new, int flags, bool three)
{
    if (new >= 0 && (new == zpl_conn_fd() || zpl_is_lent(new)) && old != new) {
        /* the connection or a lent descriptor lives there (Linux's answer for a busy slot) */
        errno = EBUSY;
        return -1;
    }
    if (old != new)
        zpl_std_before(new);
    struct zpl_fd *e = zpl_fd_get(old);
    if (!e) {
        int rc = three ? REAL(dup3)(old, new, flags) : REAL(dup2)(old, new);
        if (rc >= 0 && old != new) {
            struct zpl_fd *v = zpl_fd_take(new);
            if (v)
                zpl_fd_release(v);
            zpl_std_after(new);
        }
        return rc;
    }
    int rc;
    if (old == new) {
        /* dup2 of a descriptor onto itself does nothing; dup3 refuses. */
        rc = three ? (errno = EINVAL, -1) : new;
        zpl_fd_put(e);
        return rc;
    }
    int k = three ? REAL(dup3)(old, new, flags) : REAL(dup2)(old, new);
    /* install_dup replaces (and closes at the daemon) the entry `new` had. */
    rc = k < 0 ? -1 : install_dup(e, k);
    zpl_fd_put(e);
    zpl_std_after(new);
    return rc;
}

ZPL_API int dup2(int old, int new)
{
    return dup_to(old, new, 0, false);
}

ZPL_API int dup3(int old, int new, int flags)
{
    return dup_to(old, new, flags, true);
}

/* ---- fcntl -------------------------------------------------------------------------------- */

/* The daemon never blocks a worker on a lock for long: a waiting F_SETLKW or flock comes back
 * with EINTR after a while, and is asked again. Signals are blocked during each ask and
 * delivered between them, so a handler runs and the wait goes on (as with SA_RESTART). */
static int retry_lock(int h, int cmd, struct flock *fl, int op, bool wait)
{
    int rc;
    for (;;) {
        ZP_CALL(rc, fl ? zp_lock(h, cmd, fl) : zp_flock(h, op));
        if (!rc || errno != EINTR || !wait)
            break;
    }
    return rc ? zpl_fail() : 0;
}

static int fwd_lock(struct zpl_fd *e, int cmd, struct flock *fl)
{
    int zcmd = cmd == F_GETLK || cmd == F_OFD_GETLK   ? F_GETLK
               : cmd == F_SETLK || cmd == F_OFD_SETLK ? F_SETLK
                                                      : F_SETLKW;
    if (!zpl_mem_ok(fl, sizeof(*fl), zcmd == F_GETLK)) { /* F_GETLK writes the answer there */
        errno = EFAULT;
        return -1;
    }
    zpl_flush(e);
    int h = zpl_fd_handle(e);
    if (h < 0)
        return -1;
    atomic_store(&e->wb->locked, true); /* its close is not deferred (closebatch.c) */
    return retry_lock(h, zcmd, fl, 0, zcmd == F_SETLKW);
}

static int fwd_fcntl(int fd, struct zpl_fd *e, int cmd, void *arg)
{
    int h, rc = -1;
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        int k = REAL(fcntl)(fd, cmd, arg);
        k = k < 0 ? -1 : install_dup(e, k);
        zpl_std_after(k);
        return k;
    }
    case F_GETFD:
    case F_SETFD: return REAL(fcntl)(fd, cmd, arg);
    case F_GETFL:
    case F_SETFL:
        if (cmd == F_SETFL)
            zpl_flush(e);
        if ((h = zpl_fd_handle(e)) < 0)
            return -1;
        ZP_CALL(rc, zp_fcntl(h, cmd, (int64_t)(intptr_t)arg));
        if (rc < 0)
            return zpl_fail();
        if (cmd == F_SETFL)
            e->oflags = (e->oflags & ~(O_APPEND | O_NONBLOCK)) |
                        ((int)(intptr_t)arg & (O_APPEND | O_NONBLOCK));
        return rc;
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: return fwd_lock(e, cmd, arg);
    default: errno = EINVAL; return -1;
    }
}

static int any_fcntl(int fd, int cmd, void *arg)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(fcntl)(fd, cmd, arg);
    int rc = fwd_fcntl(fd, e, cmd, arg);
    zpl_fd_put(e);
    return rc;
}

/* The third argument is an int or a pointer; on x86-64 both travel in the same register, and
 * glibc itself reads it as a pointer. */
ZPL_API int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return any_fcntl(fd, cmd, arg);
}

ZPL_API int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return any_fcntl(fd, cmd, arg);
}

ZPL_API int flock(int fd, int op)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(flock)(fd, op);
    int h = zpl_fd_handle(e);
    atomic_store(&e->wb->locked, true); /* its close is not deferred (closebatch.c) */
    int rc = h < 0 ? -1 : retry_lock(h, 0, NULL, op, !(op & LOCK_NB) && !(op & LOCK_UN));
    zpl_fd_put(e);
    return rc;
}

/* ---- closing many at once ----------------------------------------------------------------- */

static void drop_range(unsigned first, unsigned last)
{
    int limit = zpl_fd_limit();
    for (unsigned fd = first; fd <= last && fd < (unsigned)limit; fd++) {
        struct zpl_fd *e = zpl_fd_take((int)fd);
        if (e)
            zpl_fd_release(e);
    }
}

/* The next descriptor of [from, last] the program does not know exists: the connection's socket
 * or a lent one (lend.c); -1 when none. */
static int next_kept(unsigned from, unsigned last, int s)
{
    int l = zpl_next_lent(from, last);
    if (s >= 0 && (unsigned)s >= from && (unsigned)s <= last && (l < 0 || s < l))
        return s;
    return l;
}

/* The connection's socket and the lent descriptors are kept out of the range. */
ZPL_API int close_range(unsigned first, unsigned last, int flags)
{
    if (first > last) {
        errno = EINVAL;
        return -1;
    }
    if (!(flags & CLOSE_RANGE_CLOEXEC))
        drop_range(first, last); /* lent descriptors of entries closed here go with them */
    int s = zpl_conn_fd(), rc = 0;
    unsigned from = first;
    for (int k; !rc && (k = next_kept(from, last, s)) >= 0; from = (unsigned)k + 1) {
        if ((unsigned)k > from)
            rc = REAL(close_range)(from, (unsigned)k - 1, flags);
        if ((unsigned)k == last)
            return rc;
    }
    return rc ? rc : REAL(close_range)(from, last, flags);
}

ZPL_API void closefrom(int low)
{
    close_range(low < 0 ? 0 : (unsigned)low, ~0u, 0);
}
