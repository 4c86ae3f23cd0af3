/*
 * `zepto zoid run`'s work (include/zepto/zoid_run.h): the environment that hands the options to
 * libzoid-preload.so in the program about to be exec'd. Linked into zepto, not into the
 * interposer.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/preload.h"
#include "zepto/zoid.h"
#include "zepto/zoid_run.h"
#include "zepto/zoid_settings.h"

int zoid_run_mount_normalise(const char *in, char *out, size_t len)
{
    size_t o = 0;
    if (!len)
        return -EINVAL;
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (!n)
            break;
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return -EINVAL;
        if (o + n + 2 > len)
            return -EINVAL;
        out[o++] = '/';
        memcpy(out + o, p, n);
        o += n;
        p += n;
    }
    out[o] = 0;
    return o ? 0 : -EINVAL;
}

/* setenv, or unsetenv when value is NULL; 0 or -errno with the variable named in err. */
static int set_var(enum zoid_setting s, const char *value, struct zepto_err *err)
{
    const char *name = zoid_setting_name(s);
    if (value ? setenv(name, value, 1) : unsetenv(name))
        return zepto_fail(err, errno, "%s: %s", name, strerror(errno));
    return 0;
}

int zoid_run_prepare(const struct zoid_run_opts *o, struct zepto_err *err)
{
    char lib[PATH_MAX];
    int rc = zb_preload_find("libzoid-preload.so", zoid_setting(ZOID_SET_PRELOAD_LIB, NULL),
                             zoid_setting_name(ZOID_SET_PRELOAD_LIB), lib, sizeof(lib), err);
    if (rc)
        return rc;

    /* Reach the daemon once now: a wrong address or token is the user's to fix before the
     * program runs, not an EIO in the middle of it. */
    struct zoid_client_opts opts = {.token_file = o->token_file};
    struct zoid_client *client;
    if ((rc = zoid_connect(o->server, &opts, &client, err)))
        return rc;
    zoid_close(client);

    const char *libs[] = {lib};
    if ((rc = zb_preload_prepend(libs, 1, err)))
        return rc;
    if ((rc = set_var(ZOID_SET_SERVER, o->server, err)) ||
        (rc = set_var(ZOID_SET_MOUNT, o->mount, err)) ||
        (rc = set_var(ZOID_SET_CONSISTENCY, o->consistency, err)) ||
        (rc = set_var(ZOID_SET_SOCKETS, o->sockets ? "1" : NULL, err)))
        return rc;
    if (o->token_file && (rc = set_var(ZOID_SET_TOKEN_FILE, o->token_file, err)))
        return rc;
    /* An outer run's session, not ours. */
    return set_var(ZOID_SET_PRELOAD_STATE, NULL, err);
}
