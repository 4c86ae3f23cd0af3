/*
 * Finding a command's preloaded library and putting it in LD_PRELOAD (base/preload.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/preload.h"

/* The install's library directory relative to its prefix (GNUInstallDirs: lib or lib/<triplet>). */
#ifndef ZEPTO_INSTALL_LIBDIR
#define ZEPTO_INSTALL_LIBDIR "lib"
#endif

int zb_self_dir(char *buf, size_t len, struct zepto_err *err)
{
    if (len < 2)
        return zepto_fail(err, EINVAL, "/proc/self/exe: buffer too small");
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0)
        return zepto_fail(err, n < 0 ? errno : EIO, "/proc/self/exe: %s",
                          strerror(n < 0 ? errno : EIO));
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return zepto_fail(err, EIO, "/proc/self/exe: '%s' is not a path", buf);
    slash[1] = 0;
    return 0;
}

/* path = realpath(candidate) when candidate is readable. */
static int usable(const char *candidate, char *path, size_t len)
{
    char real[PATH_MAX];
    if (access(candidate, R_OK) || !realpath(candidate, real))
        return -1;
    if (strlen(real) >= len)
        return -1;
    memcpy(path, real, strlen(real) + 1);
    return 0;
}

int zb_preload_find(const char *name, const char *override, const char *override_env, char *path,
                    size_t len, struct zepto_err *err)
{
    if (override && *override) {
        if (usable(override, path, len)) {
            int e = errno ? errno : ENOENT;
            return zepto_fail(err, e, "%s=%s: %s (cannot find %s there)", override_env, override,
                              strerror(e), name);
        }
        return 0;
    }
    char dir[PATH_MAX];
    int rc = zb_self_dir(dir, sizeof(dir), err);
    if (rc)
        return rc;
    /* An install (bin/../<libdir>), the build tree (bin/../lib), or next to the executable. */
    static const char *const where[] = {"%s../" ZEPTO_INSTALL_LIBDIR "/%s", "%s../lib/%s", "%s%s"};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        char candidate[PATH_MAX + 64];
        snprintf(candidate, sizeof(candidate), where[i], dir, name);
        if (!usable(candidate, path, len))
            return 0;
    }
    return zepto_fail(err, ENOENT, "cannot find %s in %s../lib or %s (build it, or set %s)", name,
                      dir, dir, override_env);
}

int zb_preload_prepend(const char *const *libs, size_t n, struct zepto_err *err)
{
    const char *old = getenv("LD_PRELOAD");
    size_t total = old ? strlen(old) + 1 : 1;
    for (size_t i = 0; i < n; i++) {
        if (strpbrk(libs[i], " :"))
            return zepto_fail(err, EINVAL, "%s: LD_PRELOAD cannot carry a path with a space or ':'",
                              libs[i]);
        total += strlen(libs[i]) + 1;
    }
    char *v = malloc(total);
    if (!v)
        return zepto_fail(err, ENOMEM, "LD_PRELOAD: out of memory");
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)sprintf(v + at, "%s%s", at ? " " : "", libs[i]);
    if (old && *old)
        sprintf(v + at, "%s%s", at ? " " : "", old);
    int rc =
        setenv("LD_PRELOAD", v, 1) ? zepto_fail(err, errno, "LD_PRELOAD: %s", strerror(errno)) : 0;
    free(v);
    return rc;
}
