/*
 * The zp_* functions of zposix.h on paths (dirh + path): stat, statx, access, truncate, unlink,
 * mkdir, mknod, rename, link, symlink, readlink, chmod, chown, utimens, statfs. Calls on an
 * existing object open it O_PATH beneath the export and act on that descriptor; calls that make
 * or remove a name act on the parent directory with the last component (resolve.c says why).
 * Where the kernel has no descriptor form of a call (truncate, chmod before fchmodat2, link
 * with AT_SYMLINK_FOLLOW), /proc/self/fd/N of the O_PATH descriptor names the object.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coalesce.h"
#include "zp_impl.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* The object of (dirh, path) for one call: obj.fd, or -1 + errno. */
struct obj {
    struct zp_dir d;
    int fd;
    bool own;
};

static int obj_get(struct zp_ctx *x, int dirh, const char *path, bool nofollow, bool empty_ok,
                   struct obj *o)
{
    o->fd = -1;
    o->own = false;
    if (zp__dir_get(x->s, dirh, &o->d))
        return -1;
    o->fd = zp__object(&o->d, path, nofollow, empty_ok, &o->own);
    if (o->fd < 0) {
        int e = errno;
        zp__dir_put(&o->d);
        errno = e;
        return -1;
    }
    return 0;
}

static void obj_put(struct obj *o)
{
    int e = errno;
    if (o->own)
        close(o->fd);
    zp__dir_put(&o->d);
    errno = e;
}

/* The parent of (dirh, path) for one call. */
struct parent {
    struct zp_dir d;
    int fd;
    bool own;
    const char *name;
    char buf[PATH_MAX];
};

static int parent_get(struct zp_ctx *x, int dirh, const char *path, struct parent *p)
{
    p->own = false;
    if (zp__dir_get(x->s, dirh, &p->d))
        return -1;
    if (zp__parent(&p->d, path, p->buf, &p->fd, &p->own, &p->name)) {
        int e = errno;
        zp__dir_put(&p->d);
        errno = e;
        return -1;
    }
    return 0;
}

static void parent_put(struct parent *p)
{
    int e = errno;
    if (p->own)
        close(p->fd);
    zp__dir_put(&p->d);
    errno = e;
}

static int bad_flags(int flags, int allowed)
{
    if (flags & ~allowed) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

static void proc_path(char *out, size_t n, int fd)
{
    snprintf(out, n, "/proc/self/fd/%d", fd);
}

/* ---- on an object ---- */

/* A stat or access check of a path, as a coalescable lookup (coalesce_meta.c). */
struct lookup {
    struct zp_ctx *x;
    int dirh;
    const char *path;
    int flags, mode;
};

static void do_stat(void *arg, struct zpc_meta_res *res)
{
    struct lookup *l = arg;
    struct obj o;
    res->rc = -1;
    if (!obj_get(l->x, l->dirh, l->path, l->flags & AT_SYMLINK_NOFOLLOW, l->flags & AT_EMPTY_PATH,
                 &o)) {
        res->rc = fstat(o.fd, &res->st);
        obj_put(&o);
    }
    res->err = res->rc ? errno : 0;
}

static void do_access(void *arg, struct zpc_meta_res *res)
{
    struct lookup *l = arg;
    struct obj o;
    res->rc = -1;
    if (!obj_get(l->x, l->dirh, l->path, l->flags & AT_SYMLINK_NOFOLLOW, l->flags & AT_EMPTY_PATH,
                 &o)) {
        /* AT_EACCESS always: the thread's fs ids are the caller's (its real ids the daemon's). */
        res->rc = (int)syscall(SYS_faccessat2, o.fd, "", l->mode, AT_EMPTY_PATH | AT_EACCESS);
        obj_put(&o);
    }
    res->err = res->rc ? errno : 0;
}

/* Runs a lookup, shared with other callers of the same identity when it names a path beneath
 * the export (not a handle: handles are per session). */
static void lookup(struct zp_ctx *x, char kind, struct lookup *l, zpc_meta_fn fn,
                   struct zpc_meta_res *res)
{
    if (l->dirh == ZP_ROOT && l->path[0] && !(l->flags & AT_EMPTY_PATH))
        zpc_meta(x->call, kind, l->path, kind == 'a' ? l->flags | l->mode << 16 : l->flags, fn, l,
                 res);
    else
        fn(l, res);
}

int zp_fstatat(int dirh, const char *path, struct stat *st, int flags)
{
    ZP_ENTER(x);
    int rc = -1;
    if (!bad_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) {
        struct lookup l = {.x = &x, .dirh = dirh, .path = path, .flags = flags};
        struct zpc_meta_res res;
        lookup(&x, 's', &l, do_stat, &res);
        /* Writes gathered for this file (relaxed sessions) go out first: its size is theirs. */
        if (!res.rc && zpc_pending() && zpc_has(res.st.st_dev, res.st.st_ino)) {
            zpc_flush_keep(res.st.st_dev, res.st.st_ino);
            do_stat(&l, &res);
        }
        rc = res.rc;
        if (rc)
            errno = res.err;
        else
            *st = res.st;
    }
    return (int)zp__leave(&x, rc);
}

int zp_statx(int dirh, const char *path, int flags, uint32_t mask, struct statx *stx)
{
    ZP_ENTER(x);
    struct obj o;
    int rc = -1;
    if (!bad_flags(flags,
                   AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) &&
        !obj_get(&x, dirh, path, flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH, &o)) {
        rc = statx(o.fd, "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), mask, stx);
        /* Writes gathered for this file (relaxed sessions) go out first: its size is theirs. */
        uint64_t dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
        if (!rc && zpc_pending() && zpc_has(dev, stx->stx_ino)) {
            zpc_flush_keep(dev, stx->stx_ino);
            rc = statx(o.fd, "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), mask, stx);
        }
        obj_put(&o);
    }
    return (int)zp__leave(&x, rc);
}

int zp_faccessat(int dirh, const char *path, int mode, int flags)
{
    ZP_ENTER(x);
    int rc = -1;
    if (mode & ~(R_OK | W_OK | X_OK)) {
        errno = EINVAL;
    } else if (!bad_flags(flags, AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
        struct lookup l = {.x = &x, .dirh = dirh, .path = path, .flags = flags, .mode = mode};
        struct zpc_meta_res res;
        lookup(&x, 'a', &l, do_access, &res);
        rc = res.rc;
        if (rc)
            errno = res.err;
    }
    return (int)zp__leave(&x, rc);
}

int zp_truncate(int dirh, const char *path, int64_t len)
{
    ZP_ENTER(x);
    struct obj o;
    int rc = -1;
    if (!obj_get(&x, dirh, path, false, false, &o)) {
        char p[40];
        proc_path(p, sizeof(p), o.fd);
        /* Gathered writes go first (they must not land beyond the new end afterwards), and
         * reads of the file shared before are forgotten. */
        struct stat st;
        bool known = !fstat(o.fd, &st);
        if (known)
            zpc_flush_keep(st.st_dev, st.st_ino);
        rc = truncate(p, (off_t)len);
        if (known)
            zpc_invalidate(st.st_dev, st.st_ino);
        obj_put(&o);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

ssize_t zp_readlinkat(int dirh, const char *path, char *buf, size_t n)
{
    ZP_ENTER(x);
    struct obj o;
    ssize_t rc = -1;
    if (!n) {
        errno = EINVAL;
    } else if (!obj_get(&x, dirh, path, true, true, &o)) {
        struct stat st;
        if (fstat(o.fd, &st) == 0 && !S_ISLNK(st.st_mode))
            errno = EINVAL;
        else
            rc = readlinkat(o.fd, "", buf, n);
        obj_put(&o);
    }
    return zp__leave(&x, rc);
}

int zp_fchmodat(int dirh, const char *path, uint32_t mode, int flags)
{
    ZP_ENTER(x);
    struct obj o;
    int rc = -1;
    if (!bad_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) &&
        !obj_get(&x, dirh, path, flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH, &o)) {
        struct stat st;
        if (fstat(o.fd, &st)) {
            rc = -1;
        } else if (S_ISLNK(st.st_mode)) {
            errno = EOPNOTSUPP; /* the mode of a symlink cannot be changed */
        } else {
            rc = (int)syscall(SYS_fchmodat2, o.fd, "", (mode_t)mode, AT_EMPTY_PATH);
            if (rc && errno == ENOSYS) {
                char p[40];
                proc_path(p, sizeof(p), o.fd);
                rc = chmod(p, (mode_t)mode);
            }
        }
        obj_put(&o);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

int zp_fchownat(int dirh, const char *path, uint32_t uid, uint32_t gid, int flags)
{
    ZP_ENTER(x);
    struct obj o;
    int rc = -1;
    if (!bad_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) &&
        !obj_get(&x, dirh, path, flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH, &o)) {
        rc = fchownat(o.fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
        obj_put(&o);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

int zp_utimensat(int dirh, const char *path, const int64_t *times, uint32_t ntimes, int flags)
{
    ZP_ENTER(x);
    struct obj o;
    int rc = -1;
    struct timespec ts[2];
    if (times && ntimes != 4) {
        errno = EINVAL;
    } else if (!bad_flags(flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) &&
               !obj_get(&x, dirh, path, flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH, &o)) {
        /* Writes still gathered (coalescing) would land after the times are set and move the
         * mtime again (cp -a on a relaxed mount, whose releases come later): they go first. */
        if (zpc_pending())
            zpc_flush_all();
        for (int i = 0; times && i < 2; i++) {
            ts[i].tv_sec = (time_t)times[2 * i];
            ts[i].tv_nsec = (long)times[2 * i + 1];
        }
        rc = utimensat(o.fd, "", times ? ts : NULL, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
        obj_put(&o);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

int zp_statfs(int dirh, const char *path, struct statfs *st)
{
    ZP_ENTER(x);
    struct obj o;
    int rc = -1;
    if (!obj_get(&x, dirh, path, false, false, &o)) {
        rc = fstatfs(o.fd, st);
        obj_put(&o);
    }
    return (int)zp__leave(&x, rc);
}

/* ---- on names ---- */

int zp_unlinkat(int dirh, const char *path, int flags)
{
    ZP_ENTER(x);
    struct parent p;
    int rc = -1;
    if (!bad_flags(flags, AT_REMOVEDIR) && !parent_get(&x, dirh, path, &p)) {
        rc = unlinkat(p.fd, p.name, flags);
        parent_put(&p);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

int zp_mkdirat(int dirh, const char *path, uint32_t mode)
{
    ZP_ENTER(x);
    struct parent p;
    int rc = -1;
    if (!parent_get(&x, dirh, path, &p)) {
        rc = mkdirat(p.fd, p.name, (mode_t)mode);
        parent_put(&p);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

int zp_mknodat(int dirh, const char *path, uint32_t mode, uint64_t dev)
{
    ZP_ENTER(x);
    struct parent p;
    int rc = -1;
    if (!parent_get(&x, dirh, path, &p)) {
        rc = mknodat(p.fd, p.name, (mode_t)mode, (dev_t)dev);
        parent_put(&p);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

int zp_renameat2(int olddirh, const char *oldpath, int newdirh, const char *newpath, uint32_t flags)
{
    ZP_ENTER(x);
    struct parent o, n;
    int rc = -1;
    if (!parent_get(&x, olddirh, oldpath, &o)) {
        if (!parent_get(&x, newdirh, newpath, &n)) {
            rc = (int)syscall(SYS_renameat2, o.fd, o.name, n.fd, n.name, flags);
            parent_put(&n);
        }
        parent_put(&o);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

int zp_linkat(int olddirh, const char *oldpath, int newdirh, const char *newpath, int flags)
{
    ZP_ENTER(x);
    struct parent n, o;
    int rc = -1;
    if (bad_flags(flags, AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) || parent_get(&x, newdirh, newpath, &n))
        return (int)zp__leave(&x, -1);
    if (flags & (AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) {
        /* The object itself, resolved beneath the export, linked through its /proc name (which
         * needs no CAP_DAC_READ_SEARCH, unlike AT_EMPTY_PATH). */
        struct obj ob;
        if (!obj_get(&x, olddirh, oldpath, false, flags & AT_EMPTY_PATH, &ob)) {
            char pp[40];
            proc_path(pp, sizeof(pp), ob.fd);
            rc = linkat(AT_FDCWD, pp, n.fd, n.name, AT_SYMLINK_FOLLOW);
            obj_put(&ob);
        }
    } else if (!parent_get(&x, olddirh, oldpath, &o)) {
        rc = linkat(o.fd, o.name, n.fd, n.name, 0);
        parent_put(&o);
    }
    parent_put(&n);
    zpc_changed();
    return (int)zp__leave(&x, rc);
}

int zp_symlinkat(const char *target, int newdirh, const char *linkpath)
{
    ZP_ENTER(x);
    struct parent p;
    int rc = -1;
    if (!parent_get(&x, newdirh, linkpath, &p)) {
        rc = symlinkat(target, p.fd, p.name);
        parent_put(&p);
    }
    zpc_changed();
    return (int)zp__leave(&x, rc);
}
