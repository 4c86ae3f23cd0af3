/*
 * Directory streams on forwarded directories: opendir, fdopendir and the rest of <dirent.h>,
 * read from the daemon with zp_getdents into a buffer of linux_dirent64 records (the layout of
 * struct dirent and struct dirent64 on x86-64, so that readdir returns records in place, as
 * glibc does). getdents64 and scandir too.
 *
 * A forwarded stream is our own structure behind the DIR pointer, told from glibc's by a magic
 * first word: glibc's DIR starts with its descriptor and a lock, which can never spell it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/preload/dirents.h"
#include "zoid/preload/zpl.h"

/* readdir_r is deprecated, and still called. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define ZDIR_MAGIC 0x5A4F49445A444952ull /* the low half, as a descriptor, is above 1.5e9 */
#define ZDIR_BUF   32768

_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "dirent64 is dirent");

struct zdir {
    uint64_t magic;
    int fd; /* the forwarded descriptor the stream owns */
    pthread_mutex_t mu;
    size_t pos, len; /* next record and end of the records in buf */
    long loc;        /* d_off of the record last returned (telldir) */
    _Alignas(8) char buf[ZDIR_BUF];
    char pad[sizeof(struct dirent)]; /* a caller copying a whole struct dirent stays inside */
};

ZPL_REAL_DECL(opendir);
ZPL_REAL_DECL(fdopendir);
ZPL_REAL_DECL(readdir);
ZPL_REAL_DECL(readdir64);
ZPL_REAL_DECL(readdir_r);
ZPL_REAL_DECL(readdir64_r);
ZPL_REAL_DECL(closedir);
ZPL_REAL_DECL(dirfd);
ZPL_REAL_DECL(rewinddir);
ZPL_REAL_DECL(telldir);
ZPL_REAL_DECL(seekdir);
ZPL_REAL_DECL(getdents64);
ZPL_REAL_DECL(scandir);
ZPL_REAL_DECL(scandir64);

static struct zdir *zd(DIR *d)
{
    struct zdir *z = (struct zdir *)(void *)d;
    return z && z->magic == ZDIR_MAGIC ? z : NULL;
}

static DIR *zdir_new(int fd)
{
    struct stat st;
    if (fstat(fd, &st))
        return NULL;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return NULL;
    }
    struct zdir *z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->magic = ZDIR_MAGIC;
    z->fd = fd;
    pthread_mutex_init(&z->mu, NULL);
    return (DIR *)(void *)z;
}

ZPL_API DIR *opendir(const char *path)
{
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc < 0)
        return NULL;
    if (rc != 1)
        return REAL(opendir)(ZPL_LOCAL(rc, p, path));
    zpl_path_done(&p);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = zdir_new(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

ZPL_API DIR *fdopendir(int fd)
{
    return zpl_fd_is(fd) ? zdir_new(fd) : REAL(fdopendir)(fd);
}

/* The next record, or NULL at the end (errno untouched) or on error (errno set). mu held. */
static struct dirent64 *next(struct zdir *z)
{
    if (z->pos >= z->len) {
        struct zpl_fd *e = zpl_fd_get(z->fd);
        if (!e) {
            errno = EBADF;
            return NULL;
        }
        int h = zpl_fd_handle(e);
        ssize_t n = -1;
        if (h >= 0) {
            ZP_CALL(n, zp_getdents(h, z->buf, sizeof(z->buf)));
            if (n < 0)
                zpl_fail();
        }
        zpl_fd_put(e);
        if (n <= 0)
            return NULL;
        if (!zpl_dirents_ok(z->buf, (size_t)n)) { /* a daemon's bad answer: nothing of it */
            z->pos = z->len = 0;
            errno = EIO;
            return NULL;
        }
        z->pos = 0;
        z->len = (size_t)n;
    }
    struct dirent64 *d = (struct dirent64 *)(void *)(z->buf + z->pos);
    if (d->d_reclen == 0 || z->pos + d->d_reclen > z->len) { /* a daemon's bad answer */
        z->pos = z->len;
        errno = EIO;
        return NULL;
    }
    z->pos += d->d_reclen;
    z->loc = (long)d->d_off;
    return d;
}

ZPL_API struct dirent *readdir(DIR *d)
{
    struct zdir *z = zd(d);
    if (!z)
        return REAL(readdir)(d);
    pthread_mutex_lock(&z->mu);
    struct dirent64 *r = next(z);
    pthread_mutex_unlock(&z->mu);
    return (struct dirent *)(void *)r;
}

ZPL_API struct dirent64 *readdir64(DIR *d)
{
    struct zdir *z = zd(d);
    if (!z)
        return REAL(readdir64)(d);
    pthread_mutex_lock(&z->mu);
    struct dirent64 *r = next(z);
    pthread_mutex_unlock(&z->mu);
    return r;
}

static int zdir_r(struct zdir *z, struct dirent64 *entry, struct dirent64 **result)
{
    pthread_mutex_lock(&z->mu);
    int saved = errno;
    errno = 0;
    struct dirent64 *r = next(z);
    int err = r ? 0 : errno;
    if (r)
        memcpy(entry, r, r->d_reclen < sizeof(*entry) ? r->d_reclen : sizeof(*entry));
    pthread_mutex_unlock(&z->mu);
    errno = saved;
    *result = r ? entry : NULL;
    return err;
}

ZPL_API int readdir_r(DIR *d, struct dirent *entry, struct dirent **result)
{
    struct zdir *z = zd(d);
    if (!z)
        return REAL(readdir_r)(d, entry, result);
    return zdir_r(z, (struct dirent64 *)(void *)entry, (struct dirent64 **)(void *)result);
}

ZPL_API int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result)
{
    struct zdir *z = zd(d);
    if (!z)
        return REAL(readdir64_r)(d, entry, result);
    return zdir_r(z, entry, result);
}

ZPL_API int closedir(DIR *d)
{
    struct zdir *z = zd(d);
    if (!z)
        return REAL(closedir)(d);
    int rc = close(z->fd);
    z->magic = 0;
    pthread_mutex_destroy(&z->mu);
    free(z);
    return rc;
}

ZPL_API int dirfd(DIR *d)
{
    struct zdir *z = zd(d);
    return z ? z->fd : REAL(dirfd)(d);
}

ZPL_API void seekdir(DIR *d, long loc)
{
    struct zdir *z = zd(d);
    if (!z) {
        REAL(seekdir)(d, loc);
        return;
    }
    pthread_mutex_lock(&z->mu);
    if (lseek(z->fd, loc, SEEK_SET) >= 0) {
        z->pos = z->len = 0;
        z->loc = loc;
    }
    pthread_mutex_unlock(&z->mu);
}

ZPL_API void rewinddir(DIR *d)
{
    if (!zd(d)) {
        REAL(rewinddir)(d);
        return;
    }
    seekdir(d, 0);
}

ZPL_API long telldir(DIR *d)
{
    struct zdir *z = zd(d);
    if (!z)
        return REAL(telldir)(d);
    pthread_mutex_lock(&z->mu);
    long loc = z->loc;
    pthread_mutex_unlock(&z->mu);
    return loc;
}

ZPL_API ssize_t getdents64(int fd, void *buf, size_t n)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(getdents64)(fd, buf, n);
    int h = zpl_fd_handle(e);
    ssize_t r = -1;
    if (!zpl_mem_ok(buf, n, true))
        errno = EFAULT;
    else if (h >= 0) {
        ZP_CALL(r, zp_getdents(h, buf, n));
        if (r < 0)
            zpl_fail();
        else if ((size_t)r > n || !zpl_dirents_ok(buf, (size_t)r)) {
            memset(buf, 0, n); /* a daemon's bad answer: the program gets nothing of it */
            errno = EIO;
            r = -1;
        }
    }
    zpl_fd_put(e);
    return r;
}

/* scandir: glibc's calls its own opendir inside, which we do not see. */
typedef int (*scan_filter)(const struct dirent *);
typedef int (*scan_cmp)(const struct dirent **, const struct dirent **);

static int scan(const char *path, struct dirent ***list, scan_filter filter, scan_cmp cmp)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent **v = NULL, *ent;
    size_t n = 0, cap = 0;
    int saved = errno;
    errno = 0;
    while ((ent = readdir(d))) {
        if (filter && !filter(ent))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct dirent **nv = realloc(v, cap * sizeof(*v));
            if (!nv)
                goto fail;
            v = nv;
        }
        size_t sz = offsetof(struct dirent, d_name) + strlen(ent->d_name) + 1;
        struct dirent *c = malloc(sz < sizeof(*c) ? sizeof(*c) : sz);
        if (!c)
            goto fail;
        memcpy(c, ent, sz);
        v[n++] = c;
        errno = 0;
    }
    if (errno)
        goto fail;
    closedir(d);
    if (cmp && n)
        qsort(v, n, sizeof(*v), (int (*)(const void *, const void *))(void (*)(void))cmp);
    *list = v;
    errno = saved;
    return (int)n;
fail:;
    int e = errno;
    while (n)
        free(v[--n]);
    free(v);
    closedir(d);
    errno = e;
    return -1;
}

ZPL_API int scandir(const char *path, struct dirent ***list, scan_filter filter, scan_cmp cmp)
{
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc < 0)
        return -1;
    if (rc != 1)
        return REAL(scandir)(ZPL_LOCAL(rc, p, path), list, filter, cmp);
    zpl_path_done(&p);
    return scan(path, list, filter, cmp);
}

ZPL_API int scandir64(const char *path, struct dirent64 ***list,
                      int (*filter)(const struct dirent64 *),
                      int (*cmp)(const struct dirent64 **, const struct dirent64 **))
{
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc < 0)
        return -1;
    if (rc != 1)
        return REAL(scandir64)(ZPL_LOCAL(rc, p, path), list, filter, cmp);
    zpl_path_done(&p);
    return scan(path, (struct dirent ***)(void *)list, (scan_filter)(void (*)(void))filter,
                (scan_cmp)(void (*)(void))cmp);
}
