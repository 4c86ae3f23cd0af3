/*
 * stdio on forwarded files: fopen, fdopen and freopen give a FILE made by fopencookie whose
 * read, write, seek and close are the interposed calls on the forwarded descriptor, so that
 * everything that reads or writes a FILE (fread, fgets, fprintf, fseek, fflush, fclose...)
 * works unchanged. glibc's own FILE would call the kernel directly, on the reserved /dev/null.
 * The stream's _fileno is set to the descriptor so that fileno() answers as for a real file
 * (glibc uses it only to tell an open stream from a closed one).
 *
 * The standard streams are glibc's FILEs writing to descriptors 0, 1 and 2 from inside libc:
 * when one of those descriptors becomes a forwarded one (`cmd > /mount/out` in a shell, a dup2
 * onto 1, or an exec'd image inheriting it), the variable stdin, stdout or stderr is pointed at
 * a cookie FILE on it, and back at glibc's own when the descriptor is local again. The stream is
 * flushed before its descriptor changes.
 *
 * Also the mkstemp family, whose glibc versions open their file inside libc, and dprintf.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"

ZPL_REAL_DECL(fopen);
ZPL_REAL_DECL(fopen64);
ZPL_REAL_DECL(fdopen);
ZPL_REAL_DECL(freopen);
ZPL_REAL_DECL(freopen64);
ZPL_REAL_DECL(mkstemp);
ZPL_REAL_DECL(mkstemp64);
ZPL_REAL_DECL(mkostemp);
ZPL_REAL_DECL(mkostemp64);
ZPL_REAL_DECL(mkstemps);
ZPL_REAL_DECL(mkstemps64);
ZPL_REAL_DECL(mkostemps);
ZPL_REAL_DECL(mkostemps64);
ZPL_REAL_DECL(mkdtemp);

static ssize_t ck_read(void *c, char *buf, size_t n)
{
    return read((int)(intptr_t)c, buf, n);
}

static ssize_t ck_write(void *c, const char *buf, size_t n)
{
    ssize_t r = write((int)(intptr_t)c, buf, n);
    return r < 0 ? 0 : r; /* glibc takes 0 as the error of a cookie write */
}

static int ck_seek(void *c, off64_t *off, int whence)
{
    off64_t r = lseek64((int)(intptr_t)c, *off, whence);
    if (r < 0)
        return -1;
    *off = r;
    return 0;
}

static int ck_close(void *c)
{
    return close((int)(intptr_t)c);
}

/* open(2) flags of an fopen mode, and the plain mode fopencookie understands. */
static int mode_flags(const char *mode, char plain[4])
{
    int flags;
    switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: errno = EINVAL; return -1;
    }
    plain[0] = mode[0];
    plain[1] = plain[2] = 0;
    for (const char *m = mode + 1; *m && *m != ','; m++) {
        if (*m == '+') {
            flags = (flags & ~O_ACCMODE) | O_RDWR;
            plain[1] = '+';
        } else if (*m == 'e') {
            flags |= O_CLOEXEC;
        } else if (*m == 'x') {
            flags |= O_EXCL;
        }
    }
    return flags;
}

static FILE *cookie_file(int fd, const char *plain)
{
    static const cookie_io_functions_t io = {ck_read, ck_write, ck_seek, ck_close};
    FILE *f = fopencookie((void *)(intptr_t)fd, plain, io);
    if (f)
        f->_fileno = fd;
    return f;
}

/* ---- the standard streams ---------------------------------------------------------------- */

static pthread_mutex_t std_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *std_orig[3]; /* glibc's stream while ours stands in for it */

static FILE **std_var(int fd)
{
    return fd == 0 ? &stdin : fd == 1 ? &stdout : &stderr;
}

void zpl_std_before(int fd)
{
    if (fd >= 0 && fd <= 2 && zpl_cfg.active)
        fflush(*std_var(fd));
}

void zpl_std_after(int fd)
{
    if (fd < 0 || fd > 2 || !zpl_cfg.active)
        return;
    pthread_mutex_lock(&std_mu);
    FILE **var = std_var(fd);
    bool fwd = zpl_fd_is(fd);
    if (fwd && !std_orig[fd]) {
        FILE *f = cookie_file(fd, fd == 0 ? "r" : "w");
        if (f) {
            if (fd == 2)
                setvbuf(f, NULL, _IONBF, 0);
            std_orig[fd] = *var;
            *var = f;
        }
    } else if (!fwd && std_orig[fd]) {
        /* Ours is left open (a close would close the descriptor, which is not its any more). */
        fflush(*var);
        *var = std_orig[fd];
        std_orig[fd] = NULL;
    }
    pthread_mutex_unlock(&std_mu);
}

static FILE *fwd_fopen(const char *path, const char *mode)
{
    char plain[4];
    int flags = mode_flags(mode, plain);
    if (flags < 0)
        return NULL;
    int fd = open(path, flags, 0666);
    if (fd < 0)
        return NULL;
    FILE *f = cookie_file(fd, plain);
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

static int forwarded(const char *path)
{
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc == 1)
        zpl_path_done(&p);
    return rc;
}

ZPL_API FILE *fopen(const char *path, const char *mode)
{
    int rc = forwarded(path);
    if (rc < 0)
        return NULL;
    return rc == 1 ? fwd_fopen(path, mode) : REAL(fopen)(path, mode);
}

ZPL_API FILE *fopen64(const char *path, const char *mode)
{
    int rc = forwarded(path);
    if (rc < 0)
        return NULL;
    return rc == 1 ? fwd_fopen(path, mode) : REAL(fopen64)(path, mode);
}

ZPL_API FILE *fdopen(int fd, const char *mode)
{
    if (!zpl_fd_is(fd))
        return REAL(fdopen)(fd, mode);
    char plain[4];
    if (mode_flags(mode, plain) < 0)
        return NULL;
    return cookie_file(fd, plain);
}

/* freopen onto a forwarded path: the standard streams are rebuilt on their own descriptor
 * numbers (stdout = a cookie FILE on a forwarded descriptor 1) and the variable stdin, stdout or
 * stderr is pointed at the new FILE; another stream cannot be rebuilt in place, so the new FILE
 * is returned and the old one is left open (use the returned pointer). */
static FILE *fwd_freopen(const char *path, const char *mode, FILE *stream)
{
    char plain[4];
    int flags = mode_flags(mode, plain);
    if (flags < 0)
        return NULL;
    fflush(stream);
    int fd = open(path, flags, 0666);
    if (fd < 0)
        return NULL;
    int target = stream == stdin ? 0 : stream == stdout ? 1 : stream == stderr ? 2 : -1;
    if (target >= 0) {
        if (dup2(fd, target) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return NULL;
        }
        close(fd);
        fd = target;
    }
    FILE *f = cookie_file(fd, plain);
    if (!f)
        return NULL;
    if (target == 0)
        stdin = f;
    else if (target == 1)
        stdout = f;
    else if (target == 2)
        stderr = f;
    return f;
}

ZPL_API FILE *freopen(const char *path, const char *mode, FILE *stream)
{
    int rc = path ? forwarded(path) : 0;
    if (rc < 0)
        return NULL;
    return rc == 1 ? fwd_freopen(path, mode, stream) : REAL(freopen)(path, mode, stream);
}

ZPL_API FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
    int rc = path ? forwarded(path) : 0;
    if (rc < 0)
        return NULL;
    return rc == 1 ? fwd_freopen(path, mode, stream) : REAL(freopen64)(path, mode, stream);
}

/* ---- dprintf: glibc's writes inside libc --------------------------------------------------- */

ZPL_REAL_DECL(vdprintf);

ZPL_API int vdprintf(int fd, const char *fmt, va_list ap)
{
    if (!zpl_fd_is(fd))
        return REAL(vdprintf)(fd, fmt, ap);
    char *s;
    int n = vasprintf(&s, fmt, ap);
    if (n < 0)
        return -1;
    ssize_t w = write(fd, s, (size_t)n);
    free(s);
    return w < 0 ? -1 : (int)w;
}

ZPL_API int dprintf(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vdprintf(fd, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- temporary files ---------------------------------------------------------------------- */

/* Fills the six X before the suffix and creates the file (dir: a directory) with O_EXCL. */
static int make_temp(char *tmpl, int suffixlen, int flags, bool dir)
{
    size_t len = strlen(tmpl);
    if (suffixlen < 0 || len < 6 + (size_t)suffixlen ||
        memcmp(tmpl + len - (size_t)suffixlen - 6, "XXXXXX", 6)) {
        errno = EINVAL;
        return -1;
    }
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *x = tmpl + len - (size_t)suffixlen - 6;
    for (int attempt = 0; attempt < 1000; attempt++) {
        unsigned char r[6];
        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            return -1;
        for (int i = 0; i < 6; i++)
            x[i] = chars[r[i] % (sizeof(chars) - 1)];
        int rc = dir ? mkdir(tmpl, 0700)
                     : open(tmpl, O_RDWR | O_CREAT | O_EXCL | (flags & ~O_ACCMODE), 0600);
        if (rc >= 0 || errno != EEXIST)
            return rc;
    }
    errno = EEXIST;
    return -1;
}

#define TEMP(REALCALL, suffix, flags)                                                              \
    do {                                                                                           \
        int rc = forwarded(tmpl);                                                                  \
        if (rc < 0)                                                                                \
            return -1;                                                                             \
        return rc == 1 ? make_temp(tmpl, suffix, flags, false) : REALCALL;                         \
    } while (0)

ZPL_API int mkstemp(char *tmpl)
{
    TEMP(REAL(mkstemp)(tmpl), 0, 0);
}

ZPL_API int mkstemp64(char *tmpl)
{
    TEMP(REAL(mkstemp64)(tmpl), 0, 0);
}

ZPL_API int mkostemp(char *tmpl, int flags)
{
    TEMP(REAL(mkostemp)(tmpl, flags), 0, flags);
}

ZPL_API int mkostemp64(char *tmpl, int flags)
{
    TEMP(REAL(mkostemp64)(tmpl, flags), 0, flags);
}

ZPL_API int mkstemps(char *tmpl, int suffixlen)
{
    TEMP(REAL(mkstemps)(tmpl, suffixlen), suffixlen, 0);
}

ZPL_API int mkstemps64(char *tmpl, int suffixlen)
{
    TEMP(REAL(mkstemps64)(tmpl, suffixlen), suffixlen, 0);
}

ZPL_API int mkostemps(char *tmpl, int suffixlen, int flags)
{
    TEMP(REAL(mkostemps)(tmpl, suffixlen, flags), suffixlen, flags);
}

ZPL_API int mkostemps64(char *tmpl, int suffixlen, int flags)
{
    TEMP(REAL(mkostemps64)(tmpl, suffixlen, flags), suffixlen, flags);
}

ZPL_API char *mkdtemp(char *tmpl)
{
    int rc = forwarded(tmpl);
    if (rc < 0)
        return NULL;
    if (rc != 1)
        return REAL(mkdtemp)(tmpl);
    return make_temp(tmpl, 0, 0, true) < 0 ? NULL : tmpl;
}
