/*
 * The posix plugin's calls that answer a metadata operation and the attributes it changed in one
 * reply (zposix.h, "metadata in one round trip"): an open that creates, with the stat of the new
 * file and of its directory, for `zepto zoid mount`'s create.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coalesce.h"
#include "zp_impl.h"
#include "zposix_server.h"

/* The directory holding path's last component, beneath dirh: 0 and *dst, or -1. */
static int parent_stat(struct zp_session *s, int dirh, const char *path, struct stat *dst)
{
    struct zp_dir d;
    if (zp__dir_get(s, dirh, &d))
        return -1;
    char buf[PATH_MAX];
    const char *name;
    int pfd;
    bool own = false;
    int rc = zp__parent(&d, path, buf, &pfd, &own, &name);
    if (!rc) {
        rc = fstat(pfd, dst);
        if (own)
            close(pfd);
    }
    zp__dir_put(&d);
    return rc;
}

int zp_openat_stat(int dirh, const char *path, int flags, uint32_t mode, struct stat *st,
                   struct stat *dst)
{
    memset(st, 0, sizeof(*st));
    memset(dst, 0, sizeof(*dst));
    int h = zp_openat(dirh, path, flags, mode);
    if (h < 0)
        return -1;
    struct zp_ctx x;
    if (zp__enter(&x))
        goto fail;
    struct zp_file *f = zp__get(x.s, h);
    int rc = f ? fstat(f->fd, st) : -1;
    /* Writes gathered for this file (relaxed sessions) go out first: its size is theirs. */
    if (!rc && zpc_pending() && zpc_has((uint64_t)st->st_dev, (uint64_t)st->st_ino)) {
        zpc_flush((uint64_t)st->st_dev, (uint64_t)st->st_ino);
        rc = fstat(f->fd, st);
    }
    zp__put(f);
    if (rc) {
        zp__leave(&x, -1);
        goto fail;
    }
    if (parent_stat(x.s, dirh, path, dst))
        memset(dst, 0, sizeof(*dst));
    return (int)zp__leave(&x, h);
fail:;
    /* The handle exists but its attributes do not: not a half answer, close it. */
    int e = errno;
    zp_close(h);
    memset(st, 0, sizeof(*st));
    errno = e;
    return -1;
}
