/*
 * Interposed calls that open forwarded files and move data through their descriptors: open and
 * its variants, close, read, write and their positioned and vector forms, lseek, fsync,
 * truncation and allocation; and the calls a forwarded descriptor cannot serve (mmap: ENODEV
 * unless the description is lent; copy_file_range and sendfile: EXDEV/EINVAL so that callers
 * fall back to read and write).
 *
 * Reads, writes, seeks and mmap of a description the daemon lent (lend.c: the daemon on this
 * node) go to the kernel through the lent descriptor instead.
 *
 * Each takes the descriptor's entry with a reference; a descriptor that is not in the table goes
 * to libc at the cost of one atomic load. Before a read, seek, truncation or sync the
 * descriptor's write-behind buffer is sent (relaxed consistency).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"
#include "zoid/preload/zpl_async.h"

ZPL_REAL_DECL(open);
ZPL_REAL_DECL(open64);
ZPL_REAL_DECL(openat);
ZPL_REAL_DECL(openat64);
ZPL_REAL_DECL(close);
ZPL_REAL_DECL(read);
ZPL_REAL_DECL(write);
ZPL_REAL_DECL(pread);
ZPL_REAL_DECL(pread64);
ZPL_REAL_DECL(pwrite);
ZPL_REAL_DECL(pwrite64);
ZPL_REAL_DECL(readv);
ZPL_REAL_DECL(writev);
ZPL_REAL_DECL(preadv);
ZPL_REAL_DECL(preadv64);
ZPL_REAL_DECL(pwritev);
ZPL_REAL_DECL(pwritev64);
ZPL_REAL_DECL(preadv2);
ZPL_REAL_DECL(pwritev2);
ZPL_REAL_DECL(lseek);
ZPL_REAL_DECL(lseek64);
ZPL_REAL_DECL(fsync);
ZPL_REAL_DECL(fdatasync);
ZPL_REAL_DECL(ftruncate);
ZPL_REAL_DECL(ftruncate64);
ZPL_REAL_DECL(posix_fallocate);
ZPL_REAL_DECL(posix_fallocate64);
ZPL_REAL_DECL(fallocate);
ZPL_REAL_DECL(fallocate64);
ZPL_REAL_DECL(posix_fadvise);
ZPL_REAL_DECL(posix_fadvise64);
ZPL_REAL_DECL(mmap);
ZPL_REAL_DECL(mmap64);
ZPL_REAL_DECL(copy_file_range);
ZPL_REAL_DECL(sendfile);
ZPL_REAL_DECL(sendfile64);
ZPL_REAL_DECL(ioctl);
ZPL_REAL_DECL(syncfs);
ZPL_REAL_DECL(sync_file_range);

/* glibc's fortified entry points (not in its headers unless _FORTIFY_SOURCE). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
ZPL_REAL_DECL(__open_2);
ZPL_REAL_DECL(__open64_2);
ZPL_REAL_DECL(__openat_2);
ZPL_REAL_DECL(__openat64_2);
ZPL_REAL_DECL(__read_chk);
ZPL_REAL_DECL(__pread_chk);
ZPL_REAL_DECL(__pread64_chk);

/* ---- open --------------------------------------------------------------------------------- */

/* Opens a forwarded path: the daemon's handle at a reserved kernel descriptor. */
static int fwd_open(struct zpl_path *p, int flags, mode_t mode)
{
    /* The daemon must see the program's writes first; a truncation also changes what other
     * descriptions read ahead, so it drains them too. */
    if (flags & O_TRUNC)
        zpl_flush_all();
    else
        zpl_flush_writes_all();
    if (zpl_conn())
        return -1;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
        mode &= ~zpl_umask();
    int kfd = zpl_reserve(flags);
    if (kfd < 0)
        return -1;
    int h;
    ZP_CALL(h, zp_openat(p->dirh, p->rel, flags & ~O_CLOEXEC, (uint32_t)mode));
    if (h < -1 || (h >= 0 && zpl_handle_used(h))) /* not a handle, or another's: a bad answer */
        h = -1, errno = EPROTO;
    if (h < 0) {
        zpl_fail();
        int e = errno;
        REAL(close)(kfd);
        errno = e;
        return -1;
    }
    char *path = zpl_join_rel(p);
    struct zpl_fd *e = zpl_fd_new(h, flags, path);
    free(path);
    if (!e || zpl_fd_install(kfd, e)) {
        int err = e ? errno : ENOMEM;
        if (e)
            zpl_fd_put(e);
        int rc;
        ZP_CALL(rc, zp_close(h));
        (void)rc;
        REAL(close)(kfd);
        errno = err;
        return -1;
    }
    zpl_std_after(kfd);
    return kfd;
}

static int open_at(int dirfd, const char *path, int flags, mode_t mode)
{
    struct zpl_path p;
    int rc = zpl_resolve(dirfd, path, &p);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        rc = fwd_open(&p, flags, mode);
        zpl_path_done(&p);
        return rc;
    }
    int k = rc == 2             ? REAL(openat)(AT_FDCWD, p.rel, flags, mode)
            : dirfd == AT_FDCWD ? REAL(open)(path, flags, mode)
                                : REAL(openat)(dirfd, path, flags, mode);
    /* An entry at the number the kernel just gave is stale: its descriptor was closed behind
     * the library's back (a raw close_range). The file is local now, never forwarded. */
    if (k >= 0 && zpl_fd_is(k)) {
        struct zpl_fd *v = zpl_fd_take(k);
        if (v)
            zpl_fd_release(v);
    }
    return k;
}

static bool needs_mode(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define MODE_ARG(flags, mode)                                                                      \
    do {                                                                                           \
        if (needs_mode(flags)) {                                                                   \
            va_list ap;                                                                            \
            va_start(ap, flags);                                                                   \
            mode = (mode_t)va_arg(ap, int);                                                        \
            va_end(ap);                                                                            \
        }                                                                                          \
    } while (0)

ZPL_API int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return open_at(AT_FDCWD, path, flags, mode);
}

ZPL_API int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return open_at(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

ZPL_API int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return open_at(dirfd, path, flags, mode);
}

ZPL_API int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return open_at(dirfd, path, flags | O_LARGEFILE, mode);
}

ZPL_API int creat(const char *path, mode_t mode)
{
    return open_at(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

ZPL_API int creat64(const char *path, mode_t mode)
{
    return open_at(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode);
}

ZPL_API int __open_2(const char *path, int flags)
{
    return open_at(AT_FDCWD, path, flags, 0);
}

ZPL_API int __open64_2(const char *path, int flags)
{
    return open_at(AT_FDCWD, path, flags | O_LARGEFILE, 0);
}

ZPL_API int __openat_2(int dirfd, const char *path, int flags)
{
    return open_at(dirfd, path, flags, 0);
}

ZPL_API int __openat64_2(int dirfd, const char *path, int flags)
{
    return open_at(dirfd, path, flags | O_LARGEFILE, 0);
}

/* ---- close -------------------------------------------------------------------------------- */

ZPL_API int close(int fd)
{
    /* The connection's socket and the descriptors the daemon lent are not the program's to
     * close (a loop closing every descriptor would cut the connection). */
    if (fd >= 0 && (fd == zpl_conn_fd() || zpl_is_lent(fd)) && !zpl_busy) {
        errno = EBADF;
        return -1;
    }
    if (fd <= 2 && zpl_fd_is(fd))
        zpl_std_before(fd);
    struct zpl_fd *e = zpl_fd_take(fd);
    if (!e)
        return REAL(close)(fd);
    int err = zpl_fd_release(e);
    REAL(close)(fd);
    zpl_std_after(fd);
    if (err && err != ESTALE) {
        errno = err;
        return -1;
    }
    return 0;
}

/* ---- reads and writes --------------------------------------------------------------------- */

/* A buffer the program cannot use: EFAULT, as the kernel says, before anything is sent. */
static ssize_t bad_buffer(struct zpl_fd *e)
{
    zpl_fd_put(e);
    errno = EFAULT;
    return -1;
}

/* Whether every buffer of the vector can be used (written: `write`). */
static bool iov_ok(const struct iovec *iov, int n, bool write)
{
    for (int i = 0; i < n; i++)
        if (!zpl_mem_ok(iov[i].iov_base, iov[i].iov_len, write))
            return false;
    return true;
}

static ssize_t fwd_read(struct zpl_fd *e, void *buf, size_t n, int64_t off)
{
    /* A read's size says nothing of the file's (cat asks for 128 KiB of a 6-byte file): a
     * description is lent for its size once a read brought that much (zpl_lent). */
    int l = zpl_lent(e, atomic_load_explicit(&e->wb->read_big, memory_order_relaxed) ? n : 0);
    if (l >= 0) {
        ssize_t r = off == ZP_CUR ? REAL(read)(l, buf, n) : REAL(pread64)(l, buf, n, off);
        zpl_fd_put(e);
        return r;
    }
    if (!zpl_mem_ok(buf, n, true) && !(n = zpl_mem_usable(buf, n, true)))
        return bad_buffer(e); /* else a read of what can be written: short, as the kernel's */
    ssize_t r;
    if (zpl_relaxed() && zpl_as_depth()) {
        r = zpl_ra_read(e, buf, n, off);
    } else {
        zpl_flush(e);
        int h = zpl_fd_handle(e);
        r = h < 0 ? -1 : zpl_io_split(ZJ_READ, h, buf, n, off);
    }
    if (r >= (ssize_t)ZPL_LEND_MIN)
        atomic_store_explicit(&e->wb->read_big, true, memory_order_relaxed);
    zpl_fd_put(e);
    return r;
}

/* A write through the lent descriptor l (lend.c). */
static ssize_t lent_write(struct zpl_fd *e, int l, const void *buf, size_t n, int64_t off)
{
    atomic_fetch_add(&zpl_wgen, 1); /* what other descriptions read ahead is older now */
    atomic_store(&e->wb->wrote, true);
    return off == ZP_CUR ? REAL(write)(l, buf, n) : REAL(pwrite64)(l, buf, n, off);
}

static ssize_t fwd_write(struct zpl_fd *e, const void *buf, size_t n, int64_t off)
{
    int l = zpl_lent(e, n);
    if (l < 0 && !zpl_mem_ok(buf, n, false) && !(n = zpl_mem_usable(buf, n, false)))
        return bad_buffer(e); /* else a write of what can be read: short, as the kernel's */
    ssize_t r = l >= 0 ? lent_write(e, l, buf, n, off) : zpl_write_at(e, buf, n, off);
    zpl_fd_put(e);
    return r;
}

ZPL_API ssize_t read(int fd, void *buf, size_t n)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_read(e, buf, n, ZP_CUR) : REAL(read)(fd, buf, n);
}

ZPL_API ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (e && n > buflen) {
        zpl_fd_put(e);
        abort(); /* what glibc's __chk_fail does, less the message */
    }
    return e ? fwd_read(e, buf, n, ZP_CUR) : REAL(__read_chk)(fd, buf, n, buflen);
}

ZPL_API ssize_t write(int fd, const void *buf, size_t n)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_write(e, buf, n, ZP_CUR) : REAL(write)(fd, buf, n);
}

static ssize_t bad_offset(struct zpl_fd *e)
{
    zpl_fd_put(e);
    errno = EINVAL;
    return -1;
}

ZPL_API ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(pread)(fd, buf, n, off);
    return off < 0 ? bad_offset(e) : fwd_read(e, buf, n, off);
}

ZPL_API ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(pread64)(fd, buf, n, off);
    return off < 0 ? bad_offset(e) : fwd_read(e, buf, n, off);
}

ZPL_API ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    if (!zpl_fd_is(fd))
        return REAL(__pread_chk)(fd, buf, n, off, buflen);
    if (n > buflen)
        abort();
    return pread(fd, buf, n, off);
}

ZPL_API ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
    if (!zpl_fd_is(fd))
        return REAL(__pread64_chk)(fd, buf, n, off, buflen);
    if (n > buflen)
        abort();
    return pread64(fd, buf, n, off);
}

ZPL_API ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(pwrite)(fd, buf, n, off);
    return off < 0 ? bad_offset(e) : fwd_write(e, buf, n, off);
}

ZPL_API ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(pwrite64)(fd, buf, n, off);
    return off < 0 ? bad_offset(e) : fwd_write(e, buf, n, off);
}

/* Vectors: one buffer up to 4 MiB (so that a small writev stays one write, atomic with
 * O_APPEND), else one call per element, stopping at a short transfer. */
#define VEC_GATHER (4u << 20)

/* The bytes of a vector (saturating: the kernel refuses the vector itself when too long). */
static size_t iov_total(const struct iovec *iov, int n)
{
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t = iov[i].iov_len > SIZE_MAX - t ? SIZE_MAX - 1 : t + iov[i].iov_len;
    return t;
}

static ssize_t fwd_readv(struct zpl_fd *e, const struct iovec *iov, int n, int64_t off)
{
    if (n < 0 || n > IOV_MAX || off < ZP_CUR) {
        zpl_fd_put(e);
        errno = EINVAL;
        return -1;
    }
    if (!zpl_mem_ok(iov, (size_t)n * sizeof(*iov), false))
        return bad_buffer(e);
    int l = zpl_lent(e, iov_total(iov, n));
    if (l >= 0) {
        ssize_t r = off == ZP_CUR ? REAL(readv)(l, iov, n) : REAL(preadv64)(l, iov, n, off);
        zpl_fd_put(e);
        return r;
    }
    if (!iov_ok(iov, n, true))
        return bad_buffer(e);
    zpl_flush(e);
    int h = zpl_fd_handle(e);
    ssize_t done = 0;
    for (int i = 0; h >= 0 && i < n; i++) {
        if (!iov[i].iov_len)
            continue;
        ssize_t r =
            zpl_pread_all(h, iov[i].iov_base, iov[i].iov_len, off == ZP_CUR ? ZP_CUR : off + done);
        if (r < 0) {
            if (!done)
                done = -1;
            break;
        }
        done += r;
        if ((size_t)r < iov[i].iov_len)
            break;
    }
    zpl_fd_put(e);
    return h < 0 ? -1 : done;
}

static ssize_t fwd_writev(struct zpl_fd *e, const struct iovec *iov, int n, int64_t off)
{
    if (n < 0 || n > IOV_MAX || off < ZP_CUR) {
        zpl_fd_put(e);
        errno = EINVAL;
        return -1;
    }
    if (!zpl_mem_ok(iov, (size_t)n * sizeof(*iov), false))
        return bad_buffer(e);
    size_t total = iov_total(iov, n);
    int l = zpl_lent(e, total);
    if (l >= 0) {
        atomic_fetch_add(&zpl_wgen, 1);
        atomic_store(&e->wb->wrote, true);
        ssize_t r = off == ZP_CUR ? REAL(writev)(l, iov, n) : REAL(pwritev64)(l, iov, n, off);
        zpl_fd_put(e);
        return r;
    }
    if (!iov_ok(iov, n, false))
        return bad_buffer(e);
    char *buf = total <= VEC_GATHER ? malloc(total ? total : 1) : NULL;
    ssize_t done = 0;
    if (buf) {
        size_t o = 0;
        for (int i = 0; i < n; i++) {
            memcpy(buf + o, iov[i].iov_base, iov[i].iov_len);
            o += iov[i].iov_len;
        }
        done = zpl_write_at(e, buf, total, off);
        free(buf);
    } else {
        for (int i = 0; i < n; i++) {
            if (!iov[i].iov_len)
                continue;
            ssize_t r = zpl_write_at(e, iov[i].iov_base, iov[i].iov_len,
                                     off == ZP_CUR ? ZP_CUR : off + done);
            if (r < 0) {
                if (!done)
                    done = -1;
                break;
            }
            done += r;
            if ((size_t)r < iov[i].iov_len)
                break;
        }
    }
    zpl_fd_put(e);
    return done;
}

ZPL_API ssize_t readv(int fd, const struct iovec *iov, int n)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_readv(e, iov, n, ZP_CUR) : REAL(readv)(fd, iov, n);
}

ZPL_API ssize_t writev(int fd, const struct iovec *iov, int n)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_writev(e, iov, n, ZP_CUR) : REAL(writev)(fd, iov, n);
}

ZPL_API ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_readv(e, iov, n, off < 0 ? -2 : off) : REAL(preadv)(fd, iov, n, off);
}

ZPL_API ssize_t preadv64(int fd, const struct iovec *iov, int n, off64_t off)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_readv(e, iov, n, off < 0 ? -2 : off) : REAL(preadv64)(fd, iov, n, off);
}

ZPL_API ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_writev(e, iov, n, off < 0 ? -2 : off) : REAL(pwritev)(fd, iov, n, off);
}

ZPL_API ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_writev(e, iov, n, off < 0 ? -2 : off) : REAL(pwritev64)(fd, iov, n, off);
}

/* preadv2/pwritev2: offset -1 means the file position; the flags (RWF_*) are hints here. */
ZPL_API ssize_t preadv2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(preadv2)(fd, iov, n, off, flags);
    return fwd_readv(e, iov, n, off == -1 ? ZP_CUR : off < 0 ? -2 : off);
}

ZPL_API ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(pwritev2)(fd, iov, n, off, flags);
    return fwd_writev(e, iov, n, off == -1 ? ZP_CUR : off < 0 ? -2 : off);
}

/* ---- position, sync, size ----------------------------------------------------------------- */

static off64_t fwd_lseek(struct zpl_fd *e, off64_t off, int whence)
{
    int l = zpl_lent_now(e);
    if (l >= 0) { /* the description the daemon's handle has: the same position */
        off64_t r = REAL(lseek64)(l, off, whence);
        zpl_fd_put(e);
        return r;
    }
    zpl_flush(e);
    int h = zpl_fd_handle(e);
    int64_t r = -1;
    if (h >= 0) {
        ZP_CALL(r, zp_lseek(h, off, whence));
        if (r < 0 && r != -1) /* no offset is negative: a daemon's bad answer */
            errno = EIO, r = -1;
        else if (r < 0)
            zpl_fail();
        else if ((whence == SEEK_SET && r != off) ||
                 ((whence == SEEK_DATA || whence == SEEK_HOLE) && r < off))
            errno = EIO, r = -1; /* not where it was asked to go */
    }
    zpl_fd_put(e);
    return (off64_t)r;
}

ZPL_API off_t lseek(int fd, off_t off, int whence)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_lseek(e, off, whence) : REAL(lseek)(fd, off, whence);
}

ZPL_API off64_t lseek64(int fd, off64_t off, int whence)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_lseek(e, off, whence) : REAL(lseek64)(fd, off, whence);
}

static int fwd_sync(struct zpl_fd *e, int datasync)
{
    int err = zpl_take_error(e), rc = -1;
    int h = err ? -1 : zpl_fd_handle(e);
    if (err)
        errno = err;
    if (h >= 0) {
        ZP_CALL(rc, zp_fsync(h, datasync));
        if (rc)
            zpl_fail();
    }
    zpl_fd_put(e);
    return rc;
}

ZPL_API int fsync(int fd)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_sync(e, 0) : REAL(fsync)(fd);
}

ZPL_API int fdatasync(int fd)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_sync(e, 1) : REAL(fdatasync)(fd);
}

ZPL_API int syncfs(int fd)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_sync(e, 0) : REAL(syncfs)(fd);
}

ZPL_API int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_sync(e, 1) : REAL(sync_file_range)(fd, off, n, flags);
}

static int fwd_ftruncate(struct zpl_fd *e, off64_t len)
{
    zpl_flush(e);
    int h = zpl_fd_handle(e), rc = -1;
    if (h >= 0) {
        ZP_CALL(rc, zp_ftruncate(h, len));
        if (rc)
            zpl_fail();
    }
    zpl_fd_put(e);
    return rc;
}

ZPL_API int ftruncate(int fd, off_t len)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_ftruncate(e, len) : REAL(ftruncate)(fd, len);
}

ZPL_API int ftruncate64(int fd, off64_t len)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_ftruncate(e, len) : REAL(ftruncate64)(fd, len);
}

static int fwd_fallocate(struct zpl_fd *e, int mode, off64_t off, off64_t len)
{
    zpl_flush(e);
    int h = zpl_fd_handle(e), rc = -1;
    if (h >= 0) {
        ZP_CALL(rc, zp_fallocate(h, mode, off, len));
        if (rc)
            zpl_fail();
    }
    zpl_fd_put(e);
    return rc;
}

ZPL_API int fallocate(int fd, int mode, off_t off, off_t len)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_fallocate(e, mode, off, len) : REAL(fallocate)(fd, mode, off, len);
}

ZPL_API int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    return e ? fwd_fallocate(e, mode, off, len) : REAL(fallocate64)(fd, mode, off, len);
}

/* posix_fallocate returns the error instead of setting errno. */
ZPL_API int posix_fallocate(int fd, off_t off, off_t len)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(posix_fallocate)(fd, off, len);
    return fwd_fallocate(e, 0, off, len) ? errno : 0;
}

ZPL_API int posix_fallocate64(int fd, off64_t off, off64_t len)
{
    struct zpl_fd *e = zpl_fd_get(fd);
    if (!e)
        return REAL(posix_fallocate64)(fd, off, len);
    return fwd_fallocate(e, 0, off, len) ? errno : 0;
}

/* Advice is only advice: accepted and dropped for forwarded descriptors. */
ZPL_API int posix_fadvise(int fd, off_t off, off_t len, int advice)
{
    return zpl_fd_is(fd) ? 0 : REAL(posix_fadvise)(fd, off, len, advice);
}

ZPL_API int posix_fadvise64(int fd, off64_t off, off64_t len, int advice)
{
    return zpl_fd_is(fd) ? 0 : REAL(posix_fadvise64)(fd, off, len, advice);
}

/* ---- what a forwarded descriptor cannot do ------------------------------------------------ */

/* Pages to map only through a lent descriptor (the daemon on this node, lend.c); otherwise
 * the data is on the I/O node (use `zepto zoid mount`): ENODEV. */
static void *fwd_mmap(struct zpl_fd *e, void *addr, size_t len, int prot, int flags, off64_t off)
{
    int l = zpl_lent(e, SIZE_MAX);
    void *r = l >= 0 ? REAL(mmap64)(addr, len, prot, flags, l, off) : MAP_FAILED;
    if (l < 0)
        errno = ENODEV;
    zpl_fd_put(e);
    return r;
}

ZPL_API void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    struct zpl_fd *e = flags & MAP_ANONYMOUS ? NULL : zpl_fd_get(fd);
    return e ? fwd_mmap(e, addr, len, prot, flags, off)
             : REAL(mmap)(addr, len, prot, flags, fd, off);
}

ZPL_API void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    struct zpl_fd *e = flags & MAP_ANONYMOUS ? NULL : zpl_fd_get(fd);
    return e ? fwd_mmap(e, addr, len, prot, flags, off)
             : REAL(mmap64)(addr, len, prot, flags, fd, off);
}

/* The kernel cannot copy between files it does not see: EXDEV makes cp and friends fall back
 * to read and write. */
ZPL_API ssize_t copy_file_range(int in, off64_t *inoff, int out, off64_t *outoff, size_t n,
                                unsigned int flags)
{
    if (zpl_fd_is(in) || zpl_fd_is(out)) {
        errno = EXDEV;
        return -1;
    }
    return REAL(copy_file_range)(in, inoff, out, outoff, n, flags);
}

ZPL_API ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    if (zpl_fd_is(in) || zpl_fd_is(out)) {
        errno = EINVAL;
        return -1;
    }
    return REAL(sendfile)(out, in, off, n);
}

ZPL_API ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
    if (zpl_fd_is(in) || zpl_fd_is(out)) {
        errno = EINVAL;
        return -1;
    }
    return REAL(sendfile64)(out, in, off, n);
}

/* No device behind a forwarded descriptor: FICLONE, FIONREAD, terminal requests all fail as
 * they do on a regular file that does not support them. */
ZPL_API int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (zpl_fd_is(fd)) {
        errno = ENOTTY;
        return -1;
    }
    return REAL(ioctl)(fd, req, arg);
}
