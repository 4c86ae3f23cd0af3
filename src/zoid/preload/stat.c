/*
 * Interposed stat family (every name glibc has had: stat, lstat, fstat, fstatat and their *64
 * twins, which glibc 2.33 made real symbols, the older __xstat family that binaries built before
 * it still call, and statx), statfs and statvfs, and the working directory: chdir, fchdir,
 * getcwd, realpath.
 *
 * On x86-64 `struct stat` and `struct stat64` (and statfs and statfs64) have the same layout,
 * which the protocol carries as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"

_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat64 is stat on this ABI");
_Static_assert(sizeof(struct statfs) == sizeof(struct statfs64), "statfs64 is statfs");

ZPL_REAL_DECL(stat);
ZPL_REAL_DECL(lstat);
ZPL_REAL_DECL(fstat);
ZPL_REAL_DECL(fstatat);
ZPL_REAL_DECL(stat64);
ZPL_REAL_DECL(lstat64);
ZPL_REAL_DECL(fstat64);
ZPL_REAL_DECL(fstatat64);
ZPL_REAL_DECL(statx);
ZPL_REAL_DECL(statfs);
ZPL_REAL_DECL(statfs64);
ZPL_REAL_DECL(fstatfs);
ZPL_REAL_DECL(fstatfs64);
ZPL_REAL_DECL(statvfs);
ZPL_REAL_DECL(statvfs64);
ZPL_REAL_DECL(fstatvfs);
ZPL_REAL_DECL(fstatvfs64);
ZPL_REAL_DECL(chdir);
ZPL_REAL_DECL(fchdir);
ZPL_REAL_DECL(getcwd);
ZPL_REAL_DECL(get_current_dir_name);
ZPL_REAL_DECL(realpath);
ZPL_REAL_DECL(canonicalize_file_name);

int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __xstat64(int ver, const char *path, struct stat64 *st);
int __lxstat64(int ver, const char *path, struct stat64 *st);
int __fxstat64(int ver, int fd, struct stat64 *st);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
char *__getcwd_chk(char *buf, size_t size, size_t buflen);
char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);

/* A daemon's stat is believed only when it is one the kernel could give: a known file type, no
 * negative size or block count, a block size a program can allocate (cat does). Else EIO. */
static int stat_check(int r, struct stat *st)
{
    if (r < 0)
        return r;
    mode_t t = st->st_mode & S_IFMT;
    bool type_ok = t == S_IFREG || t == S_IFDIR || t == S_IFLNK || t == S_IFCHR || t == S_IFBLK ||
                   t == S_IFIFO || t == S_IFSOCK;
    if (!type_ok || st->st_size < 0 || st->st_blocks < 0 || st->st_blksize < 0 ||
        st->st_blksize > (1l << 30)) {
        memset(st, 0, sizeof(*st));
        errno = EIO;
        return -1;
    }
    return r;
}

/* The same for statx (a field counts when stx_mask says it was filled). */
static bool statx_ok(const struct statx *x)
{
    mode_t t = x->stx_mode & S_IFMT;
    bool type_ok = t == S_IFREG || t == S_IFDIR || t == S_IFLNK || t == S_IFCHR || t == S_IFBLK ||
                   t == S_IFIFO || t == S_IFSOCK;
    return (!(x->stx_mask & STATX_TYPE) || type_ok) && x->stx_size <= INT64_MAX &&
           x->stx_blocks <= INT64_MAX && x->stx_blksize <= (1u << 30);
}

/* The one implementation: fstatat(dirfd, path, st, flags), forwarded or local (libc's fstatat
 * serves every local variant: the old __xstat ones exist only as compatibility symbols). */
static int any_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    struct zpl_path p;
    int rc = zpl_resolve(dirfd, path, &p);
    if (rc < 0)
        return -1;
    if (rc != 1)
        return REAL(fstatat)(dirfd, ZPL_LOCAL(rc, p, path), st, flags);
    zpl_flush_writes_all(); /* it must see the writes; reads ahead stay */
    int r = -1;
    if (!zpl_mem_ok(st, sizeof(*st), true))
        errno = EFAULT;
    else if (!zpl_conn()) {
        ZP_CALL(r, zp_fstatat(p.dirh, p.rel, st, flags));
        if (r < 0)
            zpl_fail();
        r = stat_check(r, st);
    }
    zpl_path_done(&p);
    return r;
}

static int any_fstat(int fd, struct stat *st)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(fstat)(fd, st);
    zpl_flush(e);
    int h = zpl_fd_handle(e), r = -1;
    if (!zpl_mem_ok(st, sizeof(*st), true))
        errno = EFAULT;
    else if (h >= 0) {
        ZP_CALL(r, zp_fstatat(h, "", st, AT_EMPTY_PATH));
        if (r < 0)
            zpl_fail();
        r = stat_check(r, st);
    }
    zpl_fd_put(e);
    return r;
}

ZPL_API int stat(const char *path, struct stat *st)
{
    return zpl_on() ? any_fstatat(AT_FDCWD, path, st, 0) : REAL(stat)(path, st);
}

ZPL_API int lstat(const char *path, struct stat *st)
{
    return zpl_on() ? any_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW) : REAL(lstat)(path, st);
}

ZPL_API int fstat(int fd, struct stat *st)
{
    return any_fstat(fd, st);
}

ZPL_API int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    return any_fstatat(dirfd, path, st, flags);
}

ZPL_API int stat64(const char *path, struct stat64 *st)
{
    return zpl_on() ? any_fstatat(AT_FDCWD, path, (struct stat *)st, 0) : REAL(stat64)(path, st);
}

ZPL_API int lstat64(const char *path, struct stat64 *st)
{
    return zpl_on() ? any_fstatat(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW)
                    : REAL(lstat64)(path, st);
}

ZPL_API int fstat64(int fd, struct stat64 *st)
{
    return any_fstat(fd, (struct stat *)st);
}

ZPL_API int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
    return any_fstatat(dirfd, path, (struct stat *)st, flags);
}

/* The pre-2.33 entry points; `ver` is _STAT_VER (1 on x86-64), whose layout is struct stat. */
ZPL_API int __xstat(int ver, const char *path, struct stat *st)
{
    (void)ver;
    return any_fstatat(AT_FDCWD, path, st, 0);
}

ZPL_API int __lxstat(int ver, const char *path, struct stat *st)
{
    (void)ver;
    return any_fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

ZPL_API int __fxstat(int ver, int fd, struct stat *st)
{
    (void)ver;
    return any_fstat(fd, st);
}

ZPL_API int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    (void)ver;
    return any_fstatat(dirfd, path, st, flags);
}

ZPL_API int __xstat64(int ver, const char *path, struct stat64 *st)
{
    (void)ver;
    return any_fstatat(AT_FDCWD, path, (struct stat *)st, 0);
}

ZPL_API int __lxstat64(int ver, const char *path, struct stat64 *st)
{
    (void)ver;
    return any_fstatat(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}

ZPL_API int __fxstat64(int ver, int fd, struct stat64 *st)
{
    (void)ver;
    return any_fstat(fd, (struct stat *)st);
}

ZPL_API int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
    (void)ver;
    return any_fstatat(dirfd, path, (struct stat *)st, flags);
}

ZPL_API int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx)
{
    struct zpl_path p;
    int rc = zpl_resolve(dirfd, path, &p);
    if (rc < 0)
        return -1;
    if (rc != 1)
        return REAL(statx)(dirfd, ZPL_LOCAL(rc, p, path), flags, mask, stx);
    if (p.dir && !p.rel[0])
        zpl_flush(p.dir);
    else
        zpl_flush_writes_all();
    int r = -1;
    if (!zpl_mem_ok(stx, sizeof(*stx), true))
        errno = EFAULT;
    else if (!zpl_conn()) {
        ZP_CALL(r, zp_statx(p.dirh, p.rel, flags, mask, stx));
        if (r < 0)
            zpl_fail();
        else if (!statx_ok(stx)) {
            memset(stx, 0, sizeof(*stx));
            errno = EIO;
            r = -1;
        }
    }
    zpl_path_done(&p);
    return r;
}

/* ---- statfs and statvfs ------------------------------------------------------------------- */

static int any_statfs(const char *path, struct statfs *st)
{
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc < 0)
        return -1;
    if (rc != 1)
        return REAL(statfs)(ZPL_LOCAL(rc, p, path), st);
    int r = -1;
    if (!zpl_mem_ok(st, sizeof(*st), true))
        errno = EFAULT;
    else if (!zpl_conn()) {
        ZP_CALL(r, zp_statfs(p.dirh, p.rel, st));
        if (r < 0)
            zpl_fail();
    }
    zpl_path_done(&p);
    return r;
}

static int any_fstatfs(int fd, struct statfs *st)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(fstatfs)(fd, st);
    int h = zpl_fd_handle(e), r = -1;
    if (!zpl_mem_ok(st, sizeof(*st), true))
        errno = EFAULT;
    else if (h >= 0) {
        ZP_CALL(r, zp_fstatfs(h, st));
        if (r < 0)
            zpl_fail();
    }
    zpl_fd_put(e);
    return r;
}

/* statvfs from statfs, as glibc derives it. */
static void to_statvfs(const struct statfs *f, struct statvfs *v)
{
    memset(v, 0, sizeof(*v));
    v->f_bsize = (unsigned long)f->f_bsize;
    v->f_frsize = (unsigned long)(f->f_frsize ? f->f_frsize : f->f_bsize);
    v->f_blocks = f->f_blocks;
    v->f_bfree = f->f_bfree;
    v->f_bavail = f->f_bavail;
    v->f_files = f->f_files;
    v->f_ffree = f->f_ffree;
    v->f_favail = f->f_ffree;
    unsigned long id0 = (unsigned)f->f_fsid.__val[0], id1 = (unsigned)f->f_fsid.__val[1];
    v->f_fsid = id0 | id1 << 32;
    v->f_namemax = (unsigned long)f->f_namelen;
    v->f_flag = (unsigned long)f->f_flags & ~(unsigned long)0x0020; /* ST_VALID */
}

ZPL_API int statfs(const char *path, struct statfs *st)
{
    return any_statfs(path, st);
}

ZPL_API int statfs64(const char *path, struct statfs64 *st)
{
    return any_statfs(path, (struct statfs *)st);
}

ZPL_API int fstatfs(int fd, struct statfs *st)
{
    return any_fstatfs(fd, st);
}

ZPL_API int fstatfs64(int fd, struct statfs64 *st)
{
    return any_fstatfs(fd, (struct statfs *)st);
}

ZPL_API int statvfs(const char *path, struct statvfs *v)
{
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc < 0)
        return -1;
    if (rc != 1)
        return REAL(statvfs)(ZPL_LOCAL(rc, p, path), v);
    zpl_path_done(&p);
    struct statfs f;
    if (!zpl_mem_ok(v, sizeof(*v), true)) {
        errno = EFAULT;
        return -1;
    }
    if (any_statfs(path, &f))
        return -1;
    to_statvfs(&f, v);
    return 0;
}

ZPL_API int statvfs64(const char *path, struct statvfs64 *v)
{
    _Static_assert(sizeof(struct statvfs) == sizeof(struct statvfs64), "statvfs64 is statvfs");
    return statvfs(path, (struct statvfs *)v);
}

ZPL_API int fstatvfs(int fd, struct statvfs *v)
{
    if (!zpl_fd_is(fd))
        return REAL(fstatvfs)(fd, v);
    struct statfs f;
    if (!zpl_mem_ok(v, sizeof(*v), true)) {
        errno = EFAULT;
        return -1;
    }
    if (any_fstatfs(fd, &f))
        return -1;
    to_statvfs(&f, v);
    return 0;
}

ZPL_API int fstatvfs64(int fd, struct statvfs64 *v)
{
    return fstatvfs(fd, (struct statvfs *)v);
}

/* ---- the working directory ---------------------------------------------------------------- */

/* Makes the forwarded directory (dirh, rel) the working directory, known beneath the export as
 * `path`: it must be a directory the caller may search. */
static int enter(int dirh, const char *rel, const char *path)
{
    struct stat st;
    int r, fl = rel[0] ? 0 : AT_EMPTY_PATH;
    ZP_CALL(r, zp_fstatat(dirh, rel, &st, fl));
    if (r < 0)
        return zpl_fail();
    if (stat_check(r, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    ZP_CALL(r, zp_faccessat(dirh, rel, X_OK, fl));
    if (r < 0)
        return zpl_fail();
    if (!path) {
        errno = ENOENT;
        return -1;
    }
    zpl_cwd_set(path);
    return 0;
}

ZPL_API int chdir(const char *path)
{
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc < 0)
        return -1;
    if (rc != 1) {
        rc = REAL(chdir)(ZPL_LOCAL(rc, p, path));
        if (!rc && zpl_on())
            zpl_cwd_set(NULL);
        return rc;
    }
    char *rel = zpl_join_rel(&p);
    rc = zpl_conn() ? -1 : enter(p.dirh, p.rel, rel);
    free(rel);
    zpl_path_done(&p);
    return rc;
}

ZPL_API int fchdir(int fd)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e) {
        int rc = REAL(fchdir)(fd);
        if (!rc && zpl_on())
            zpl_cwd_set(NULL);
        return rc;
    }
    int h = zpl_fd_handle(e);
    int rc = h < 0 ? -1 : enter(h, "", e->path);
    zpl_fd_put(e);
    return rc;
}

/* getcwd's contract: buf NULL allocates (size bytes, or as many as needed when size is 0). */
static char *visible_cwd(char *buf, size_t size, const char *rel)
{
    char vis[PATH_MAX];
    if (zpl_visible_path(rel, vis, sizeof(vis)))
        return NULL;
    size_t need = strlen(vis) + 1;
    if (!buf) {
        if (size && size < need) {
            errno = ERANGE;
            return NULL;
        }
        buf = malloc(size ? size : need);
        if (!buf)
            return NULL;
    } else if (size < need) {
        errno = size ? ERANGE : EINVAL;
        return NULL;
    } else if (!zpl_mem_ok(buf, need, true)) {
        errno = EFAULT;
        return NULL;
    }
    memcpy(buf, vis, need);
    return buf;
}

ZPL_API char *getcwd(char *buf, size_t size)
{
    char rel[PATH_MAX];
    if (!zpl_on() || !zpl_cwd_get(rel, sizeof(rel)))
        return REAL(getcwd)(buf, size);
    return visible_cwd(buf, size, rel);
}

ZPL_API char *__getcwd_chk(char *buf, size_t size, size_t buflen)
{
    if (size > buflen)
        abort();
    return getcwd(buf, size);
}

ZPL_API char *get_current_dir_name(void)
{
    char rel[PATH_MAX];
    if (!zpl_on() || !zpl_cwd_get(rel, sizeof(rel)))
        return REAL(get_current_dir_name)();
    return visible_cwd(NULL, 0, rel);
}

/* realpath over forwarded and local parts alike: each component is looked at with the
 * interposed lstat and readlink, so that symbolic links inside the mount resolve there. */
static char *walk(const char *path, char *resolved)
{
    char todo[PATH_MAX * 2], done[PATH_MAX] = "";
    int links = 0;
    if (path[0] == '/') {
        snprintf(todo, sizeof(todo), "%s", path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return NULL;
        if (snprintf(todo, sizeof(todo), "%s/%s", cwd, path) >= (int)sizeof(todo))
            return errno = ENAMETOOLONG, NULL;
    }
    char *rest = todo;
    while (*rest) {
        while (*rest == '/')
            rest++;
        if (!*rest)
            break;
        char comp[NAME_MAX + 1];
        size_t n = strcspn(rest, "/");
        if (n > NAME_MAX)
            return errno = ENAMETOOLONG, NULL;
        memcpy(comp, rest, n);
        comp[n] = 0;
        rest += n;
        if (!strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            char *s = strrchr(done, '/');
            if (s)
                *s = 0;
            continue;
        }
        size_t dl = strlen(done);
        if (dl + 1 + n >= sizeof(done))
            return errno = ENAMETOOLONG, NULL;
        done[dl] = '/';
        memcpy(done + dl + 1, comp, n + 1);
        struct stat st;
        if (lstat(done, &st))
            return NULL;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t t = readlink(done, target, sizeof(target) - 1);
            if (t < 0)
                return NULL;
            target[t] = 0;
            if (++links > 40)
                return errno = ELOOP, NULL;
            char next[PATH_MAX * 2];
            if (snprintf(next, sizeof(next), "%s/%s", target, rest) >= (int)sizeof(next))
                return errno = ENAMETOOLONG, NULL;
            strcpy(todo, next);
            rest = todo;
            if (target[0] == '/')
                done[0] = 0;
            else
                done[dl] = 0;
        } else if (*rest && !S_ISDIR(st.st_mode)) {
            return errno = ENOTDIR, NULL;
        }
    }
    if (!done[0])
        strcpy(done, "/");
    if (!resolved && !(resolved = malloc(strlen(done) + 1)))
        return NULL;
    strcpy(resolved, done);
    return resolved;
}

/* Whether realpath must walk: the path or the working directory is forwarded. */
static bool walks(const char *path)
{
    if (!path)
        return false;
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc == 1)
        zpl_path_done(&p);
    return rc == 1 || rc == 2;
}

ZPL_API char *realpath(const char *path, char *resolved)
{
    return walks(path) ? walk(path, resolved) : REAL(realpath)(path, resolved);
}

ZPL_API char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
    if (resolved && resolvedlen < PATH_MAX)
        abort();
    return realpath(path, resolved);
}

ZPL_API char *canonicalize_file_name(const char *path)
{
    return walks(path) ? walk(path, NULL) : REAL(canonicalize_file_name)(path);
}
