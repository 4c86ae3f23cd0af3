/*
 * Interposed calls on names: access, unlink, mkdir, rmdir, mknod, rename, link, symlink,
 * readlink, chmod, chown, utimes, truncate, and the extended attributes (which the protocol does
 * not carry: reads find none, writes fail with ENOTSUP, as on a file system without them).
 *
 * Each resolves its path (path.c); a forwarded one goes to the daemon relative to ZP_ROOT or to
 * a forwarded directory handle, after any buffered writes are sent (so that a rename or a stat
 * sees what the program wrote). Calls that take two paths fail with EXDEV when one is forwarded
 * and the other is not, as across two file systems (mv then copies).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "zoid/preload/zpl.h"

ZPL_REAL_DECL(access);
ZPL_REAL_DECL(faccessat);
ZPL_REAL_DECL(eaccess);
ZPL_REAL_DECL(euidaccess);
ZPL_REAL_DECL(unlink);
ZPL_REAL_DECL(unlinkat);
ZPL_REAL_DECL(rmdir);
ZPL_REAL_DECL(mkdir);
ZPL_REAL_DECL(mkdirat);
ZPL_REAL_DECL(mknod);
ZPL_REAL_DECL(mknodat);
ZPL_REAL_DECL(mkfifo);
ZPL_REAL_DECL(mkfifoat);
ZPL_REAL_DECL(rename);
ZPL_REAL_DECL(renameat);
ZPL_REAL_DECL(renameat2);
ZPL_REAL_DECL(link);
ZPL_REAL_DECL(linkat);
ZPL_REAL_DECL(symlink);
ZPL_REAL_DECL(symlinkat);
ZPL_REAL_DECL(readlink);
ZPL_REAL_DECL(readlinkat);
ZPL_REAL_DECL(chmod);
ZPL_REAL_DECL(lchmod);
ZPL_REAL_DECL(fchmod);
ZPL_REAL_DECL(fchmodat);
ZPL_REAL_DECL(chown);
ZPL_REAL_DECL(lchown);
ZPL_REAL_DECL(fchown);
ZPL_REAL_DECL(fchownat);
ZPL_REAL_DECL(utimensat);
ZPL_REAL_DECL(futimens);
ZPL_REAL_DECL(utimes);
ZPL_REAL_DECL(lutimes);
ZPL_REAL_DECL(futimes);
ZPL_REAL_DECL(futimesat);
ZPL_REAL_DECL(utime);
ZPL_REAL_DECL(truncate);
ZPL_REAL_DECL(truncate64);

int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev);
int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev);
ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen);
ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t n, size_t buflen);

/* A call on one path: FWD with p (struct zpl_path) when forwarded, LOCAL with lp (the path for
 * libc) otherwise. The function returns what the expression gives. FLUSH goes first: the
 * program's writes are sent (the call must see them); what is read ahead and the positions stay,
 * except before a truncate, which changes what a read ahead holds (zpl_flush_all drains). */
#define PATH_CALL(T, dirfd, path, FWD, LOCAL)                                                      \
    PATH_CALL_FLUSH(T, dirfd, path, FWD, LOCAL, zpl_flush_writes_all())
#define PATH_CALL_FLUSH(T, dirfd, path, FWD, LOCAL, FLUSH)                                         \
    do {                                                                                           \
        struct zpl_path p;                                                                         \
        int rc_ = zpl_resolve(dirfd, path, &p);                                                    \
        if (rc_ < 0)                                                                               \
            return -1;                                                                             \
        if (rc_ != 1) {                                                                            \
            const char *lp = ZPL_LOCAL(rc_, p, path);                                              \
            (void)lp;                                                                              \
            return LOCAL;                                                                          \
        }                                                                                          \
        FLUSH;                                                                                     \
        T r_ = -1;                                                                                 \
        if (!zpl_conn()) {                                                                         \
            ZP_CALL(r_, FWD);                                                                      \
            if (r_ < 0)                                                                            \
                zpl_fail();                                                                        \
        }                                                                                          \
        zpl_path_done(&p);                                                                         \
        return r_;                                                                                 \
    } while (0)

/* A call on a descriptor: FWD with h (its handle) when forwarded, LOCAL otherwise. */
#define FD_CALL(T, fd, FWD, LOCAL)                                                                 \
    do {                                                                                           \
        struct zpl_fd *e = zpl_fd_get(fd);                                                         \
        if (!e)                                                                                    \
            return LOCAL;                                                                          \
        zpl_flush(e);                                                                              \
        T r_ = -1;                                                                                 \
        int h = zpl_fd_handle(e);                                                                  \
        if (h >= 0) {                                                                              \
            ZP_CALL(r_, FWD);                                                                      \
            if (r_ < 0)                                                                            \
                zpl_fail();                                                                        \
        }                                                                                          \
        zpl_fd_put(e);                                                                             \
        return r_;                                                                                 \
    } while (0)

/* ---- access ------------------------------------------------------------------------------- */

ZPL_API int access(const char *path, int mode)
{
    PATH_CALL(int, AT_FDCWD, path, zp_faccessat(p.dirh, p.rel, mode, 0), REAL(access)(lp, mode));
}

ZPL_API int faccessat(int dirfd, const char *path, int mode, int flags)
{
    PATH_CALL(int, dirfd, path, zp_faccessat(p.dirh, p.rel, mode, flags),
              REAL(faccessat)(dirfd, lp, mode, flags));
}

ZPL_API int eaccess(const char *path, int mode)
{
    PATH_CALL(int, AT_FDCWD, path, zp_faccessat(p.dirh, p.rel, mode, AT_EACCESS),
              REAL(eaccess)(lp, mode));
}

ZPL_API int euidaccess(const char *path, int mode)
{
    PATH_CALL(int, AT_FDCWD, path, zp_faccessat(p.dirh, p.rel, mode, AT_EACCESS),
              REAL(euidaccess)(lp, mode));
}

/* ---- names -------------------------------------------------------------------------------- */

ZPL_API int unlink(const char *path)
{
    PATH_CALL(int, AT_FDCWD, path, zp_unlinkat(p.dirh, p.rel, 0), REAL(unlink)(lp));
}

ZPL_API int unlinkat(int dirfd, const char *path, int flags)
{
    PATH_CALL(int, dirfd, path, zp_unlinkat(p.dirh, p.rel, flags),
              REAL(unlinkat)(dirfd, lp, flags));
}

ZPL_API int rmdir(const char *path)
{
    PATH_CALL(int, AT_FDCWD, path, zp_unlinkat(p.dirh, p.rel, AT_REMOVEDIR), REAL(rmdir)(lp));
}

ZPL_API int mkdir(const char *path, mode_t mode)
{
    PATH_CALL(int, AT_FDCWD, path, zp_mkdirat(p.dirh, p.rel, mode & ~zpl_umask()),
              REAL(mkdir)(lp, mode));
}

ZPL_API int mkdirat(int dirfd, const char *path, mode_t mode)
{
    PATH_CALL(int, dirfd, path, zp_mkdirat(p.dirh, p.rel, mode & ~zpl_umask()),
              REAL(mkdirat)(dirfd, lp, mode));
}

ZPL_API int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
    PATH_CALL(int, dirfd, path,
              zp_mknodat(p.dirh, p.rel, (mode & S_IFMT) | (mode & ~S_IFMT & ~zpl_umask()), dev),
              REAL(mknodat)(dirfd, lp, mode, dev));
}

ZPL_API int mknod(const char *path, mode_t mode, dev_t dev)
{
    if (!zpl_on())
        return REAL(mknod)(path, mode, dev);
    return mknodat(AT_FDCWD, path, mode, dev);
}

ZPL_API int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev)
{
    (void)ver;
    return mknodat(AT_FDCWD, path, mode, *dev);
}

ZPL_API int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev)
{
    (void)ver;
    return mknodat(dirfd, path, mode, *dev);
}

ZPL_API int mkfifo(const char *path, mode_t mode)
{
    if (!zpl_on())
        return REAL(mkfifo)(path, mode);
    return mknodat(AT_FDCWD, path, S_IFIFO | (mode & ~S_IFMT), 0);
}

ZPL_API int mkfifoat(int dirfd, const char *path, mode_t mode)
{
    if (!zpl_on())
        return REAL(mkfifoat)(dirfd, path, mode);
    return mknodat(dirfd, path, S_IFIFO | (mode & ~S_IFMT), 0);
}

/* Resolves both paths of a two-path call: 1 both forwarded, 0 both local (lp1, lp2 set), -1
 * with errno (EXDEV when they differ). Release with zpl_path_done on 1. */
static int two(int d1, const char *p1, int d2, const char *p2, struct zpl_path *a,
               struct zpl_path *b, const char **lp1, const char **lp2)
{
    int ra = zpl_resolve(d1, p1, a);
    if (ra < 0)
        return -1;
    int rb = zpl_resolve(d2, p2, b);
    if (rb < 0) {
        if (ra == 1)
            zpl_path_done(a);
        return -1;
    }
    if ((ra == 1) != (rb == 1)) {
        if (ra == 1)
            zpl_path_done(a);
        if (rb == 1)
            zpl_path_done(b);
        errno = !p1 || !p2 ? EFAULT : EXDEV; /* a NULL path is the kernel's EFAULT first */
        return -1;
    }
    if (ra == 1) {
        zpl_flush_writes_all(); /* names change, no data: what is read ahead stays */
        if (zpl_conn()) {
            zpl_path_done(a);
            zpl_path_done(b);
            return -1;
        }
        return 1;
    }
    *lp1 = ZPL_LOCAL(ra, *a, p1);
    *lp2 = ZPL_LOCAL(rb, *b, p2);
    return 0;
}

static int two_done(struct zpl_path *a, struct zpl_path *b, int r)
{
    zpl_path_done(a);
    zpl_path_done(b);
    return r < 0 ? zpl_fail() : r;
}

ZPL_API int renameat2(int d1, const char *p1, int d2, const char *p2, unsigned int flags)
{
    struct zpl_path a, b;
    const char *l1, *l2;
    int rc = two(d1, p1, d2, p2, &a, &b, &l1, &l2);
    if (rc <= 0)
        return rc ? -1 : REAL(renameat2)(d1, l1, d2, l2, flags);
    ZP_CALL(rc, zp_renameat2(a.dirh, a.rel, b.dirh, b.rel, flags));
    return two_done(&a, &b, rc);
}

ZPL_API int renameat(int d1, const char *p1, int d2, const char *p2)
{
    if (!zpl_on())
        return REAL(renameat)(d1, p1, d2, p2);
    return renameat2(d1, p1, d2, p2, 0);
}

ZPL_API int rename(const char *p1, const char *p2)
{
    if (!zpl_on())
        return REAL(rename)(p1, p2);
    return renameat2(AT_FDCWD, p1, AT_FDCWD, p2, 0);
}

ZPL_API int linkat(int d1, const char *p1, int d2, const char *p2, int flags)
{
    struct zpl_path a, b;
    const char *l1, *l2;
    int rc = two(d1, p1, d2, p2, &a, &b, &l1, &l2);
    if (rc <= 0)
        return rc ? -1 : REAL(linkat)(d1, l1, d2, l2, flags);
    ZP_CALL(rc, zp_linkat(a.dirh, a.rel, b.dirh, b.rel, flags));
    return two_done(&a, &b, rc);
}

ZPL_API int link(const char *p1, const char *p2)
{
    if (!zpl_on())
        return REAL(link)(p1, p2);
    return linkat(AT_FDCWD, p1, AT_FDCWD, p2, 0);
}

/* The target of a symbolic link is only a string: what matters is where the link goes. */
ZPL_API int symlinkat(const char *target, int dirfd, const char *path)
{
    if (zpl_on() && !zpl_readable(target)) {
        errno = EFAULT; /* the daemon would be sent a string that cannot be read */
        return -1;
    }
    PATH_CALL(int, dirfd, path, zp_symlinkat(target, p.dirh, p.rel),
              REAL(symlinkat)(target, dirfd, lp));
}

ZPL_API int symlink(const char *target, const char *path)
{
    if (zpl_on() && !zpl_readable(target)) {
        errno = EFAULT;
        return -1;
    }
    PATH_CALL(int, AT_FDCWD, path, zp_symlinkat(target, p.dirh, p.rel), REAL(symlink)(target, lp));
}

/* A forwarded readlink into the program's buffer (EFAULT when it cannot be written). */
static ssize_t readlink_fwd(int dirh, const char *rel, char *buf, size_t n)
{
    if (!zpl_mem_ok(buf, n, true)) {
        errno = EFAULT;
        return -1;
    }
    return zp_readlinkat(dirh, rel, buf, n);
}

ZPL_API ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
    PATH_CALL(ssize_t, dirfd, path, readlink_fwd(p.dirh, p.rel, buf, n),
              REAL(readlinkat)(dirfd, lp, buf, n));
}

ZPL_API ssize_t readlink(const char *path, char *buf, size_t n)
{
    PATH_CALL(ssize_t, AT_FDCWD, path, readlink_fwd(p.dirh, p.rel, buf, n),
              REAL(readlink)(lp, buf, n));
}

ZPL_API ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen)
{
    (void)buflen;
    return readlink(path, buf, n < buflen ? n : buflen);
}

ZPL_API ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t n, size_t buflen)
{
    return readlinkat(dirfd, path, buf, n < buflen ? n : buflen);
}

/* ---- permissions, owners, times, size ----------------------------------------------------- */

ZPL_API int chmod(const char *path, mode_t mode)
{
    PATH_CALL(int, AT_FDCWD, path, zp_fchmodat(p.dirh, p.rel, mode, 0), REAL(chmod)(lp, mode));
}

ZPL_API int lchmod(const char *path, mode_t mode)
{
    PATH_CALL(int, AT_FDCWD, path, zp_fchmodat(p.dirh, p.rel, mode, AT_SYMLINK_NOFOLLOW),
              REAL(lchmod)(lp, mode));
}

ZPL_API int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
    PATH_CALL(int, dirfd, path, zp_fchmodat(p.dirh, p.rel, mode, flags),
              REAL(fchmodat)(dirfd, lp, mode, flags));
}

ZPL_API int fchmod(int fd, mode_t mode)
{
    FD_CALL(int, fd, zp_fchmodat(h, "", mode, AT_EMPTY_PATH), REAL(fchmod)(fd, mode));
}

ZPL_API int chown(const char *path, uid_t uid, gid_t gid)
{
    PATH_CALL(int, AT_FDCWD, path, zp_fchownat(p.dirh, p.rel, uid, gid, 0),
              REAL(chown)(lp, uid, gid));
}

ZPL_API int lchown(const char *path, uid_t uid, gid_t gid)
{
    PATH_CALL(int, AT_FDCWD, path, zp_fchownat(p.dirh, p.rel, uid, gid, AT_SYMLINK_NOFOLLOW),
              REAL(lchown)(lp, uid, gid));
}

ZPL_API int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
    PATH_CALL(int, dirfd, path, zp_fchownat(p.dirh, p.rel, uid, gid, flags),
              REAL(fchownat)(dirfd, lp, uid, gid, flags));
}

ZPL_API int fchown(int fd, uid_t uid, gid_t gid)
{
    FD_CALL(int, fd, zp_fchownat(h, "", uid, gid, AT_EMPTY_PATH), REAL(fchown)(fd, uid, gid));
}

/* struct timespec[2] (or NULL) as the protocol's four integers. */
static const int64_t *ts4(const struct timespec *ts, int64_t t[4])
{
    if (!ts)
        return NULL;
    t[0] = ts[0].tv_sec;
    t[1] = ts[0].tv_nsec;
    t[2] = ts[1].tv_sec;
    t[3] = ts[1].tv_nsec;
    return t;
}

static const int64_t *tv4(const struct timeval *tv, int64_t t[4])
{
    if (!tv)
        return NULL;
    t[0] = tv[0].tv_sec;
    t[1] = tv[0].tv_usec * 1000;
    t[2] = tv[1].tv_sec;
    t[3] = tv[1].tv_usec * 1000;
    return t;
}

/* A forwarded utimensat of the program's times (EFAULT when they cannot be read). */
static int utimens_fwd(int dirh, const char *rel, const struct timespec *ts, int flags)
{
    int64_t t[4];
    if (ts && !zpl_mem_ok(ts, 2 * sizeof(*ts), false)) {
        errno = EFAULT;
        return -1;
    }
    return zp_utimensat(dirh, rel, ts4(ts, t), ts ? 4 : 0, flags);
}

ZPL_API int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
    /* glibc declares path nonnull, but the kernel takes NULL (futimens): keep the test. */
    const char *given = path;
    __asm__("" : "+r"(given));
    if (!given) { /* utimensat(fd, NULL, ...) is futimens */
        FD_CALL(int, dirfd, utimens_fwd(h, "", ts, AT_EMPTY_PATH),
                REAL(utimensat)(dirfd, path, ts, flags));
    }
    PATH_CALL(int, dirfd, path, utimens_fwd(p.dirh, p.rel, ts, flags),
              REAL(utimensat)(dirfd, lp, ts, flags));
}

ZPL_API int futimens(int fd, const struct timespec ts[2])
{
    FD_CALL(int, fd, utimens_fwd(h, "", ts, AT_EMPTY_PATH), REAL(futimens)(fd, ts));
}

ZPL_API int utimes(const char *path, const struct timeval tv[2])
{
    int64_t t[4];
    PATH_CALL(int, AT_FDCWD, path, zp_utimensat(p.dirh, p.rel, tv4(tv, t), tv ? 4 : 0, 0),
              REAL(utimes)(lp, tv));
}

ZPL_API int lutimes(const char *path, const struct timeval tv[2])
{
    int64_t t[4];
    PATH_CALL(int, AT_FDCWD, path,
              zp_utimensat(p.dirh, p.rel, tv4(tv, t), tv ? 4 : 0, AT_SYMLINK_NOFOLLOW),
              REAL(lutimes)(lp, tv));
}

ZPL_API int futimes(int fd, const struct timeval tv[2])
{
    int64_t t[4];
    FD_CALL(int, fd, zp_utimensat(h, "", tv4(tv, t), tv ? 4 : 0, AT_EMPTY_PATH),
            REAL(futimes)(fd, tv));
}

ZPL_API int futimesat(int dirfd, const char *path, const struct timeval tv[2])
{
    int64_t t[4];
    if (!path)
        return futimes(dirfd, tv);
    PATH_CALL(int, dirfd, path, zp_utimensat(p.dirh, p.rel, tv4(tv, t), tv ? 4 : 0, 0),
              REAL(futimesat)(dirfd, lp, tv));
}

ZPL_API int utime(const char *path, const struct utimbuf *u)
{
    int64_t t[4] = {u ? u->actime : 0, 0, u ? u->modtime : 0, 0};
    PATH_CALL(int, AT_FDCWD, path, zp_utimensat(p.dirh, p.rel, u ? t : NULL, u ? 4 : 0, 0),
              REAL(utime)(lp, u));
}

ZPL_API int truncate(const char *path, off_t len)
{
    PATH_CALL_FLUSH(int, AT_FDCWD, path, zp_truncate(p.dirh, p.rel, len), REAL(truncate)(lp, len),
                    zpl_flush_all());
}

ZPL_API int truncate64(const char *path, off64_t len)
{
    PATH_CALL_FLUSH(int, AT_FDCWD, path, zp_truncate(p.dirh, p.rel, len), REAL(truncate64)(lp, len),
                    zpl_flush_all());
}

/* ---- extended attributes: none on forwarded files ----------------------------------------- */

ZPL_REAL_DECL(getxattr);
ZPL_REAL_DECL(lgetxattr);
ZPL_REAL_DECL(fgetxattr);
ZPL_REAL_DECL(setxattr);
ZPL_REAL_DECL(lsetxattr);
ZPL_REAL_DECL(fsetxattr);
ZPL_REAL_DECL(listxattr);
ZPL_REAL_DECL(llistxattr);
ZPL_REAL_DECL(flistxattr);
ZPL_REAL_DECL(removexattr);
ZPL_REAL_DECL(lremovexattr);
ZPL_REAL_DECL(fremovexattr);

/* 1 when path is forwarded (and exists: the error of a missing one is the caller's), 0 local
 * (*lp set), -1 error. */
static int xattr_path(const char *path, bool follow, const char **lp, struct zpl_path *p)
{
    int rc = zpl_resolve(AT_FDCWD, path, p);
    if (rc < 0)
        return -1;
    if (rc != 1) {
        *lp = ZPL_LOCAL(rc, *p, path);
        return 0;
    }
    int r = -1;
    if (!zpl_conn()) {
        ZP_CALL(r, zp_faccessat(p->dirh, p->rel, F_OK, follow ? 0 : AT_SYMLINK_NOFOLLOW));
        if (r < 0)
            zpl_fail();
    }
    zpl_path_done(p);
    if (r < 0)
        return -1;
    errno = ENOTSUP;
    return 1;
}

#define XATTR_PATH(follow, LOCAL, RET)                                                             \
    do {                                                                                           \
        struct zpl_path p;                                                                         \
        const char *lp;                                                                            \
        int rc = xattr_path(path, follow, &lp, &p);                                                \
        if (rc == 0)                                                                               \
            return LOCAL;                                                                          \
        if (rc < 0)                                                                                \
            return -1;                                                                             \
        return RET;                                                                                \
    } while (0)

static ssize_t no_attr(void)
{
    errno = ENODATA;
    return -1;
}

static int no_xattrs(void)
{
    errno = ENOTSUP;
    return -1;
}

ZPL_API ssize_t getxattr(const char *path, const char *name, void *v, size_t n)
{
    XATTR_PATH(true, REAL(getxattr)(lp, name, v, n), no_attr());
}

ZPL_API ssize_t lgetxattr(const char *path, const char *name, void *v, size_t n)
{
    XATTR_PATH(false, REAL(lgetxattr)(lp, name, v, n), no_attr());
}

ZPL_API ssize_t fgetxattr(int fd, const char *name, void *v, size_t n)
{
    return zpl_fd_is(fd) ? no_attr() : REAL(fgetxattr)(fd, name, v, n);
}

ZPL_API int setxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    XATTR_PATH(true, REAL(setxattr)(lp, name, v, n, flags), no_xattrs());
}

ZPL_API int lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    XATTR_PATH(false, REAL(lsetxattr)(lp, name, v, n, flags), no_xattrs());
}

ZPL_API int fsetxattr(int fd, const char *name, const void *v, size_t n, int flags)
{
    return zpl_fd_is(fd) ? no_xattrs() : REAL(fsetxattr)(fd, name, v, n, flags);
}

ZPL_API ssize_t listxattr(const char *path, char *list, size_t n)
{
    XATTR_PATH(true, REAL(listxattr)(lp, list, n), 0);
}

ZPL_API ssize_t llistxattr(const char *path, char *list, size_t n)
{
    XATTR_PATH(false, REAL(llistxattr)(lp, list, n), 0);
}

ZPL_API ssize_t flistxattr(int fd, char *list, size_t n)
{
    return zpl_fd_is(fd) ? 0 : REAL(flistxattr)(fd, list, n);
}

ZPL_API int removexattr(const char *path, const char *name)
{
    XATTR_PATH(true, REAL(removexattr)(lp, name), no_xattrs());
}

ZPL_API int lremovexattr(const char *path, const char *name)
{
    XATTR_PATH(false, REAL(lremovexattr)(lp, name), no_xattrs());
}

ZPL_API int fremovexattr(int fd, const char *name)
{
    return zpl_fd_is(fd) ? no_xattrs() : REAL(fremovexattr)(fd, name);
}
