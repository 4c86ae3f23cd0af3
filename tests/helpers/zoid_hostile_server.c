/*
 * A hostile zoid daemon for the interposer's tests (tests/integration/zoid_preload_hostile.sh):
 * the real daemon (zoid_daemon_run: framing, handshake, dispatch) with the real posix plugin,
 * whose functions are renamed real_zp_* at build time (tests/CMakeLists.txt) so that this file's
 * zp_* sit between the generated dispatch and them and tell the chosen lie in their answers.
 *
 *   zoid_hostile_server MODE --listen unix:PATH --export DIR
 *
 * MODE: pread-more (a read returns 1 MiB more than asked), dirent-slash (a name with '/'),
 * dirent-nonul (a name without its NUL), dirent-short (a record shorter than its header),
 * lseek-far (a seek lands elsewhere than asked), lseek-neg (a seek returns -7), stat-size (a
 * negative size, no file type), handle-dup (an open returns a handle already in use), handle-neg
 * (an open returns ZP_ROOT), readlink-more (a link longer than the buffer), pwritemany-more (a
 * batch of writes claims 1 MiB more written than sent), lend-none (says a descriptor was lent
 * and lends none), lend-dir (lends the export directory instead of the file), lend-rdonly (lends
 * the file opened read-only). A create (zp_openat_stat) tells the handle and stat lies too. The
 * lend lies need shm: (the only transport that lends).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zepto/zepto.h"
#include "zepto/zoid_daemon.h"
#include "zepto/zoid_plugin.h"
#include "zposix.h"
#include "zposix_server.h"

int real_zp_openat(int dirh, const char *path, int flags, uint32_t mode);
int real_zp_close(int h);
ssize_t real_zp_pread(int h, void *buf, size_t n, int64_t off);
int64_t real_zp_lseek(int h, int64_t off, int whence);
ssize_t real_zp_pwrite_many(int h, const int64_t *segs, uint32_t nsegs, const void *buf, size_t n);
ssize_t real_zp_getdents(int h, void *buf, size_t n);
int real_zp_fstatat(int dirh, const char *path, struct stat *st, int flags);
int real_zp_statx(int dirh, const char *path, int flags, uint32_t mask, struct statx *stx);
ssize_t real_zp_readlinkat(int dirh, const char *path, char *buf, size_t n);
int real_zp_lend(int h, uint64_t tag);
int real_zp_openat_stat(int dirh, const char *path, int flags, uint32_t mode, struct stat *st,
                        struct stat *dst);

static const char *mode = "";
static int last_h = -1; /* handle-dup: the handle every open after the first returns */

static bool lie(const char *m)
{
    return !strcmp(mode, m);
}

/* The handle lies of an open (of a file: h, flags) that returned h. */
static int lie_handle(int h, int flags)
{
    if (h < 0 || (flags & O_DIRECTORY))
        return h;
    if (lie("handle-neg")) {
        real_zp_close(h);
        return ZP_ROOT;
    }
    if (lie("handle-dup")) {
        int prev = __atomic_exchange_n(&last_h, h, __ATOMIC_SEQ_CST);
        if (prev >= 0) {
            __atomic_store_n(&last_h, prev, __ATOMIC_SEQ_CST);
            real_zp_close(h);
            return prev;
        }
    }
    return h;
}

int zp_openat(int dirh, const char *path, int flags, uint32_t m)
{
    return lie_handle(real_zp_openat(dirh, path, flags, m), flags);
}

/* stat-size: a negative size, no file type */
static void lie_stat(struct stat *st)
{
    if (lie("stat-size") && S_ISREG(st->st_mode)) {
        st->st_size = -4096;
        st->st_mode &= ~S_IFMT;
    }
}

/* A create's reply: the handle lies and the stat lie (the directory's stat: no type either). */
int zp_openat_stat(int dirh, const char *path, int flags, uint32_t m, struct stat *st,
                   struct stat *dst)
{
    int h = lie_handle(real_zp_openat_stat(dirh, path, flags, m, st, dst), flags);
    if (h >= 0) {
        lie_stat(st);
        if (lie("stat-size"))
            dst->st_mode &= ~S_IFMT;
    }
    return h;
}

int zp_close(int h)
{
    return real_zp_close(h);
}

ssize_t zp_pread(int h, void *buf, size_t n, int64_t off)
{
    ssize_t r = real_zp_pread(h, buf, n, off);
    return r > 0 && lie("pread-more") ? r + (1 << 20) : r;
}

ssize_t zp_pwrite_many(int h, const int64_t *segs, uint32_t nsegs, const void *buf, size_t n)
{
    ssize_t r = real_zp_pwrite_many(h, segs, nsegs, buf, n);
    return r > 0 && lie("pwritemany-more") ? r + (1 << 20) : r;
}

static const char *export_dir;

int zp_lend(int h, uint64_t tag)
{
    if (lie("lend-none"))
        return 0;
    if (!lie("lend-dir") && !lie("lend-rdonly"))
        return real_zp_lend(h, tag);
    /* the lie: another descriptor with the right tag (the file opened read-only is the first
     * regular file of the export: the tests keep one there) */
    int fd = open(export_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && lie("lend-rdonly")) {
        DIR *d = fdopendir(fd);
        struct dirent *de;
        fd = -1;
        while (d && fd < 0 && (de = readdir(d)))
            if (de->d_type == DT_REG)
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
        if (d)
            closedir(d);
    }
    int rc = fd < 0 ? -EIO : zoid_call_lend_fd(zposix_zoid_current(), fd, tag);
    if (fd >= 0)
        close(fd);
    if (rc) {
        errno = -rc;
        return -1;
    }
    return 0;
}

int64_t zp_lseek(int h, int64_t off, int whence)
{
    int64_t r = real_zp_lseek(h, off, whence);
    if (r >= 0 && lie("lseek-far"))
        return r + 1000;
    if (r >= 0 && lie("lseek-neg"))
        return -7;
    return r;
}

/* One record at b: its name (len bytes copied, nul: terminated) in a record of reclen bytes. */
static size_t put_rec(char *b, const char *name, size_t len, bool nul, unsigned short reclen)
{
    struct dirent64 d = {.d_ino = 4242, .d_off = 1 << 30, .d_reclen = reclen, .d_type = DT_REG};
    memcpy(b, &d, offsetof(struct dirent64, d_name));
    memcpy(b + offsetof(struct dirent64, d_name), name, len);
    if (nul)
        b[offsetof(struct dirent64, d_name) + len] = '\0';
    return reclen;
}

ssize_t zp_getdents(int h, void *buf, size_t n)
{
    ssize_t r = real_zp_getdents(h, buf, n);
    if (r <= 0 || n < 512)
        return r;
    char *b = buf;
    size_t head = offsetof(struct dirent64, d_name);
    memset(b, 0, n);
    if (lie("dirent-slash"))
        return (ssize_t)put_rec(b, "../../etc/passwd", 16, true, (unsigned short)(head + 24));
    if (lie("dirent-nonul")) /* the name fills its record; the next bytes are no name */
        return (ssize_t)put_rec(b, "EVILEVILEVILEVIL", 16, false, (unsigned short)(head + 16));
    if (lie("dirent-short")) { /* a record of 8 bytes, then one whose name is "SHORTNAME" */
        size_t k = put_rec(b, "", 0, false, 8);
        memcpy(b + k, "SHORTNAME", 10);
        return (ssize_t)(k + head + 16);
    }
    return r;
}

int zp_fstatat(int dirh, const char *path, struct stat *st, int flags)
{
    int r = real_zp_fstatat(dirh, path, st, flags);
    if (r == 0)
        lie_stat(st);
    return r;
}

int zp_statx(int dirh, const char *path, int flags, uint32_t mask, struct statx *stx)
{
    int r = real_zp_statx(dirh, path, flags, mask, stx);
    if (r == 0 && lie("stat-size") && S_ISREG(stx->stx_mode)) {
        stx->stx_size = (uint64_t)-4096;
        stx->stx_mode &= (uint16_t)~S_IFMT;
    }
    return r;
}

ssize_t zp_readlinkat(int dirh, const char *path, char *buf, size_t n)
{
    ssize_t r = real_zp_readlinkat(dirh, path, buf, n);
    return r >= 0 && lie("readlink-more") ? (ssize_t)n + 4096 : r;
}

static void log_line(void *arg, int level, const char *line)
{
    (void)arg, (void)level;
    fprintf(stderr, "%s\n", line);
}

int main(int argc, char **argv)
{
    struct zoid_daemon_opts o = {.log = log_line, .threads = 2};
    if (argc != 6 || strcmp(argv[2], "--listen") || strcmp(argv[4], "--export")) {
        fprintf(stderr, "usage: zoid_hostile_server MODE --listen ADDR --export DIR\n");
        return 2;
    }
    mode = argv[1];
    o.listen = argv[3];
    o.export_dir = argv[5];
    export_dir = argv[5];
    struct zepto_err err = {0};
    if (zoid_daemon_run(&o, &err)) {
        fprintf(stderr, "zoid_hostile_server: %s\n", err.msg);
        return 1;
    }
    return 0;
}
