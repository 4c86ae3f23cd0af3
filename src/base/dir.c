/*
 * zb_make_dir: an output directory made when missing and checked (see dir.h).
 */
#include "base/dir.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int zb_make_dir(struct zepto_err *err, const char *fmt, ...)
{
    char path[4352];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(path))
        return zepto_fail(err, ENAMETOOLONG, "%.200s...: path too long", path);
    if (mkdir(path, 0755) && errno != EEXIST)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode))
        return zepto_fail(err, ENOTDIR, "%s: not a directory", path);
    if (access(path, W_OK))
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    return 0;
}
