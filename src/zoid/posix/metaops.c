/*
 * The posix plugin's calls that answer a metadata operation and the attributes it changed in one
 * reply (zposix.h, "metadata in one round trip"): an open that creates, with the stat of the new
 * file and of its directory, for `zepto zoid mount`'s create; directory records with the stat of
 * each name, for its readdirplus.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
        zpc_flush_keep((uint64_t)st->st_dev, (uint64_t)st->st_ino);
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

/* A linux_dirent64 record's header. */
struct dirent64_head {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

#define ALIGN8(x) (((x) + 7) & ~(size_t)7)

/* The attributes of one name in the directory fd ("." and "..": none, st_mode 0). */
static void name_stat(int fd, const char *name, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return; /* ".." of the export is outside it */
    if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW)) {
        memset(st, 0, sizeof(*st));
        return;
    }
    /* Writes gathered for this file (relaxed sessions) go out first: its size is theirs. */
    if (zpc_pending() && zpc_has((uint64_t)st->st_dev, (uint64_t)st->st_ino)) {
        zpc_flush_keep((uint64_t)st->st_dev, (uint64_t)st->st_ino);
        if (fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW))
            memset(st, 0, sizeof(*st));
    }
}

ssize_t zp_getdents_stat(int h, void *buf, size_t n)
{
    const size_t head = offsetof(struct dirent64_head, d_name);
    if (n < ALIGN8(head + 2) + sizeof(struct stat) || n > (1u << 30)) {
        errno = EINVAL;
        return -1;
    }
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    /* Records grow by a struct stat each: read about as many names as fit. */
    size_t in_n = n / 4 < 4096 ? 4096 : n / 4;
    char *in = malloc(in_n);
    off_t start = lseek(f->fd, 0, SEEK_CUR);
    ssize_t got = in ? syscall(SYS_getdents64, f->fd, in, in_n) : (errno = ENOMEM, -1);
    size_t out = 0, pos = 0;
    int64_t last_off = -1;
    while (got > 0 && pos < (size_t)got) {
        struct dirent64_head e;
        memcpy(&e, in + pos, head);
        size_t in_rec = e.d_reclen;
        if (in_rec < head + 2 || in_rec > (size_t)got - pos)
            break; /* not what getdents64 writes */
        const char *name = in + pos + head;
        size_t len = strnlen(name, e.d_reclen - head);
        size_t at = ALIGN8(head + len + 1), rec = at + sizeof(struct stat);
        if (rec > n - out)
            break;
        struct stat st;
        name_stat(f->fd, name, &st);
        char *o = (char *)buf + out;
        memset(o, 0, at);
        e.d_reclen = (unsigned short)rec;
        memcpy(o, &e, head);
        memcpy(o + head, name, len);
        memcpy(o + at, &st, sizeof(st));
        out += rec;
        last_off = e.d_off;
        pos += in_rec;
    }
    ssize_t rc = got < 0 ? -1 : (ssize_t)out;
    if (got > 0 && pos < (size_t)got) {
        /* What did not fit is read again next time: the offset goes back to after the last
         * record returned, or to where this call began. */
        if (out == 0) {
            errno = EINVAL;
            rc = -1;
        }
        if (lseek(f->fd, out ? last_off : start, SEEK_SET) < 0)
            rc = -1;
    }
    free(in);
    zp__put(f);
    return zp__leave(&x, rc);
}
