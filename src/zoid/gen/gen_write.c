/*
 * The files of `zepto zoid gen`: BASE_client.h, BASE_client.c, BASE_server.h and BASE_server.c
 * written into a directory, each through a temporary file renamed into place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/gen/gen.h"

static int write_one(const struct zg_plugin *p, const struct zg_names *n, const char *dir,
                     const char *suffix,
                     void (*emit)(const struct zg_plugin *, const struct zg_names *, FILE *),
                     struct zepto_err *err)
{
    char path[4096], tmp[4096 + 16];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s_%s", dir, n->base, suffix) >= sizeof(path))
        return zepto_fail(err, ENAMETOOLONG, "%s: path too long", dir);
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return zepto_fail(err, e, "%s: %s", path, strerror(e));
    }
    emit(p, n, f);
    int bad = ferror(f);
    int e = bad ? EIO : 0;
    if (fclose(f) && !e)
        e = errno ? errno : EIO;
    /* mkstemp made it 0600: give it the mode of any file this user creates. */
    mode_t mask = umask(0);
    umask(mask);
    if (!e && chmod(tmp, 0666 & ~mask))
        e = errno;
    if (!e && rename(tmp, path))
        e = errno;
    if (e) {
        unlink(tmp);
        return zepto_fail(err, e, "%s: %s", path, strerror(e));
    }
    return 0;
}

int zg_write(const struct zg_plugin *p, const struct zg_names *n, const char *dir,
             struct zepto_err *err)
{
    if (mkdir(dir, 0777) && errno != EEXIST)
        return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st))
        return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return zepto_fail(err, ENOTDIR, "%s: %s", dir, strerror(ENOTDIR));
    int rc = write_one(p, n, dir, "client.h", zg_emit_client_h, err);
    if (!rc)
        rc = write_one(p, n, dir, "client.c", zg_emit_client_c, err);
    if (!rc)
        rc = write_one(p, n, dir, "server.h", zg_emit_server_h, err);
    if (!rc)
        rc = write_one(p, n, dir, "server.c", zg_emit_server_c, err);
    return rc;
}
