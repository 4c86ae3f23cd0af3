/*
 * Output files a user names, written whole or not at all, never replacing a device (outfile.h).
 */
#include "base/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fills o->path, and o->target and o->tmp unless the file is written directly (*direct). */
static int resolve(struct zb_out *o, const char *path, bool *direct, mode_t *mode,
                   struct zepto_err *err)
{
    memset(o, 0, sizeof(*o));
    *direct = false;
    *mode = 0666;
    if (!path || !*path)
        return zepto_fail(err, EINVAL, "empty output file name");
    if (strlen(path) >= sizeof(o->path))
        return zepto_fail(err, ENAMETOOLONG, "%.64s...: file name too long", path);
    strcpy(o->path, path);
    struct stat st;
    if (stat(path, &st) == 0) { /* through links */
        if (S_ISDIR(st.st_mode))
            return zepto_fail(err, EISDIR, "%s: %s", path, strerror(EISDIR));
        if (!S_ISREG(st.st_mode)) {
            *direct = true; /* a device, a FIFO, a socket: written into, never replaced */
            return 0;
        }
        if (!realpath(path, o->target))
            return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
        *mode = st.st_mode & 0777; /* not set-ID bits onto new contents */
    } else if (errno == ENOENT) {
        if (lstat(path, &st) == 0) {
            *direct = true; /* a link to nothing yet: the file is made where it points */
            return 0;
        }
        strcpy(o->target, path);
    } else {
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    }
    snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.%d", o->target, (int)getpid());
    return 0;
}

/* Creates o->tmp: a descriptor, or -errno with err naming the user's path. */
static int create_tmp(const struct zb_out *o, mode_t mode, struct zepto_err *err)
{
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        if (access(o->target, F_OK) == 0)
            return zepto_fail(err, e, "%s: cannot create a file beside it to replace it with (%s)",
                              o->path, strerror(e));
        return zepto_fail(err, e, "%s: %s", o->path, strerror(e));
    }
    return fd;
}

int zb_out_open(struct zb_out *o, const char *path, struct zepto_err *err)
{
    bool direct;
    mode_t mode;
    int rc = resolve(o, path, &direct, &mode, err);
    if (rc)
        return rc;
    if (direct) {
        o->f = fopen(path, "we");
        return o->f ? 0 : zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    }
    int fd = create_tmp(o, mode, err);
    if (fd < 0)
        return fd;
    if (mode != 0666)
        (void)fchmod(fd, mode); /* the replaced file's permissions, not the umask's */
    o->f = fdopen(fd, "w");
    if (!o->f) {
        rc = zepto_fail(err, errno, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(o->tmp);
    }
    return rc;
}

int zb_out_check(const char *path, struct zepto_err *err)
{
    struct zb_out o;
    bool direct;
    mode_t mode;
    int rc = resolve(&o, path, &direct, &mode, err);
    if (rc)
        return rc;
    if (direct)
        return access(path, W_OK) && errno != ENOENT
                   ? zepto_fail(err, errno, "%s: %s", path, strerror(errno))
                   : 0;
    int fd = create_tmp(&o, mode, err);
    if (fd < 0)
        return fd;
    close(fd);
    unlink(o.tmp);
    return 0;
}

int zb_out_commit(struct zb_out *o, struct zepto_err *err)
{
    if (!o->f)
        return zepto_fail(err, EBADF, "%s: not open", o->path);
    errno = 0;
    bool failed = fflush(o->f) != 0; /* first: a write that failed before fails again here */
    int e = errno;
    if (!failed && ferror(o->f)) {
        failed = true;
    } else if (!failed && *o->tmp && fsync(fileno(o->f))) {
        failed = true;
        e = errno;
    }
    if (!e)
        e = EIO;
    if (fclose(o->f) && !failed) {
        failed = true;
        e = errno;
    }
    o->f = NULL;
    if (!failed && *o->tmp && rename(o->tmp, o->target)) {
        failed = true;
        e = errno;
    }
    if (failed) {
        if (*o->tmp)
            unlink(o->tmp);
        return zepto_fail(err, e, "%s: write error: %s", o->path, strerror(e));
    }
    return 0;
}

void zb_out_abort(struct zb_out *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (*o->tmp)
        unlink(o->tmp);
}
