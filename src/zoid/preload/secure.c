/*
 * Programs the dynamic loader runs without the interposer: a setuid or setgid image (secure
 * mode ignores LD_PRELOAD). Such a program that inherits a forwarded descriptor sees only the
 * reserved O_PATH descriptor: its writes fail with EBADF, which most programs ignore (`mount
 * --version > /io/out` exited 0 with an empty file). Rather than let that output vanish, an
 * exec of such an image while a writable forwarded descriptor would survive it fails with EPERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/preload/zpl.h"

ZPL_REAL_DECL(fcntl);

/* Whether executing path gains privileges (the loader's secure mode). */
static bool gains(const char *path)
{
    struct stat st;
    if (!path || !zpl_readable(path) || stat(path, &st) || !S_ISREG(st.st_mode))
        return false;
    return ((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
           ((st.st_mode & S_ISGID) && st.st_gid != getegid());
}

static void writable_one(int fd, struct zpl_fd *e, void *arg)
{
    int fl = REAL(fcntl)(fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC) && (e->oflags & O_ACCMODE) != O_RDONLY &&
        !(e->oflags & O_PATH))
        *(bool *)arg = true;
}

/* The image a PATH search would run for file (execvp rules), into buf; false when none. */
static bool search(const char *file, char *buf, size_t len)
{
    if (strchr(file, '/'))
        return snprintf(buf, len, "%s", file) < (int)len;
    const char *p = getenv("PATH");
    if (!p)
        p = "/bin:/usr/bin";
    while (*p) {
        size_t n = strcspn(p, ":");
        int w = snprintf(buf, len, "%.*s%s%s", (int)n, p, n ? "/" : "", file);
        if (w > 0 && (size_t)w < len && !access(buf, X_OK))
            return true;
        p += n;
        if (*p == ':')
            p++;
    }
    return false;
}

int zpl_exec_check(const char *file, bool path_search)
{
    if (!zpl_on() || !file || !zpl_readable(file))
        return 0;
    char buf[PATH_MAX];
    const char *path = file;
    if (path_search) {
        if (!search(file, buf, sizeof(buf)))
            return 0;
        path = buf;
    }
    if (!gains(path))
        return 0;
    bool w = false;
    zpl_fd_each(writable_one, &w);
    if (!w)
        return 0;
    errno = EPERM;
    return -1;
}
