/*
 * Path resolution of the posix plugin, the one place that turns a client's (dirh, path) into
 * something the kernel acts on, confined beneath the export.
 *
 * Every lookup is an openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (and
 * RESOLVE_NO_SYMLINKS for a session that declared zp_no_symlinks: a FUSE mount) from the export or
 * a directory handle (itself opened that way): absolute paths, ".." above the start, absolute
 * symlinks and /proc magic links fail (EXDEV, ELOOP). Since RESOLVE_BENEATH confines to the
 * starting directory, a path from a directory handle that climbs out of it ("../x") fails with
 * EXDEV even when it stays in the export: that case is retried once from the export, with the
 * handle's path (from /proc/self/fd) in front; the retry is an openat2 beneath the export too,
 * so that a stale or moved handle path can at worst name another file of the export.
 *
 * Three shapes of calls use it:
 * - open: the path itself (zp__open);
 * - calls on an existing object (stat, access, chmod, chown, utimens, truncate, readlink,
 *   statfs): the object opened O_PATH (O_NOFOLLOW when the final symlink is not followed) and
 *   the call made on that descriptor (zp__object); so the last component, ".." included, is
 *   resolved beneath the export like the others;
 * - calls that create or remove a name (mkdir, mknod, unlink, rename, link, symlink): the
 *   parent directory opened O_PATH and the *at call made with the last component (zp__parent).
 *   A last component ".." (or ".") is first resolved in full, so that one that would climb out
 *   fails as an escape; otherwise the kernel refuses those names itself (EEXIST, EBUSY,
 *   ENOTEMPTY, EISDIR, EINVAL) without touching anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zp_impl.h"

/* The open flags openat(2) knows; openat2 refuses others where openat ignores them. */
#define OPEN_FLAGS                                                                                 \
    (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |         \
     O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_SYNC | O_PATH | O_TMPFILE)

int zp__dir_get(struct zp_session *s, int dirh, struct zp_dir *d)
{
    d->f = NULL;
    d->pl = s->pl;
    d->no_symlinks = atomic_load_explicit(&s->no_symlinks, memory_order_relaxed);
    d->root = dirh == ZP_ROOT;
    if (d->root) {
        d->fd = s->pl->export_fd;
        return 0;
    }
    d->f = zp__get(s, dirh);
    if (!d->f)
        return -1;
    d->fd = d->f->fd;
    return 0;
}

void zp__dir_put(struct zp_dir *d)
{
    zp__put(d->f);
    d->f = NULL;
}

static int openat2_(int dirfd, const char *path, int flags, mode_t mode, bool no_symlinks)
{
    struct open_how how = {
        .flags = (uint64_t)((flags & OPEN_FLAGS) | O_CLOEXEC),
        .mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode & 07777) : 0,
        .resolve =
            RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (no_symlinks ? RESOLVE_NO_SYMLINKS : 0),
    };
    /* EAGAIN: a rename raced with the lookup (openat2 asks to try again), or an O_NONBLOCK open
     * of a file under a lease: a few tries, then the caller sees it. */
    long fd;
    int tries = 0;
    do
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN && ++tries < 16);
    return (int)fd;
}

/* path relative to the export, for a path relative to directory dirfd; -1 + errno. */
static int from_export(const struct zp_plugin *pl, int dirfd, const char *path, char *out)
{
    char proc[40], dir[PATH_MAX];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(proc, dir, sizeof(dir) - 1);
    if (n < 0)
        return -1;
    dir[n] = '\0';
    size_t el = strlen(pl->export_real);
    const char *rest;
    if (el == 1)
        rest = dir + 1; /* the export is "/" */
    else if (!strncmp(dir, pl->export_real, el) && (dir[el] == '/' || !dir[el]))
        rest = dir + el + (dir[el] == '/');
    else
        return -1;
    if (snprintf(out, PATH_MAX, "%s%s%s", rest, *rest ? "/" : "", path) >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int zp__open(const struct zp_dir *d, const char *path, int flags, mode_t mode)
{
    int fd = openat2_(d->fd, path, flags, mode, d->no_symlinks);
    if (fd >= 0 || errno != EXDEV || d->root || path[0] == '/')
        return fd;
    char full[PATH_MAX];
    if (from_export(d->pl, d->fd, path, full)) {
        errno = errno == ENAMETOOLONG ? ENAMETOOLONG : EXDEV;
        return -1;
    }
    return openat2_(d->pl->export_fd, full, flags, mode, d->no_symlinks);
}

int zp__object(const struct zp_dir *d, const char *path, bool nofollow, bool empty_ok, bool *own)
{
    *own = false;
    if (!path[0]) {
        if (!empty_ok) {
            errno = ENOENT;
            return -1;
        }
        return d->fd;
    }
    int fd = zp__open(d, path, O_PATH | (nofollow ? O_NOFOLLOW : 0), 0);
    *own = fd >= 0;
    return fd;
}

int zp__parent(const struct zp_dir *d, const char *path, char *buf, int *pfd, bool *own,
               const char **name)
{
    size_t len = strlen(path);
    *own = false;
    if (len >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!len) {
        errno = ENOENT;
        return -1;
    }
    if (path[0] == '/') {
        errno = EXDEV; /* as RESOLVE_BENEATH says of an absolute path */
        return -1;
    }
    memcpy(buf, path, len + 1);
    size_t e = len;
    while (e > 0 && buf[e - 1] == '/')
        e--;
    size_t p = e; /* the slash before the last component, or e when there is none */
    while (p > 0 && buf[p - 1] != '/')
        p--;
    const char *last = buf + p;
    size_t lastlen = e - p;
    if ((lastlen == 2 && !memcmp(last, "..", 2)) || (lastlen == 1 && last[0] == '.')) {
        int fd = zp__open(d, path, O_PATH, 0);
        if (fd < 0)
            return -1;
        close(fd);
    }
    if (p == 0) {
        *pfd = d->fd;
        *name = buf;
        return 0;
    }
    buf[p - 1] = '\0';
    *name = buf + p;
    /* "a//b": the parent "a/" (the empty remainder of "a//" is fine for openat2). */
    int fd = zp__open(d, buf, O_PATH | O_DIRECTORY, 0);
    if (fd < 0)
        return -1;
    *pfd = fd;
    *own = true;
    return 0;
}
