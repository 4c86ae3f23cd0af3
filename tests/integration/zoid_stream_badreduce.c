/*
 * A test plugin for integration.zoid_stream_reduce: stream reductions that misbehave. "fail"
 * returns an error from combine once the step's first value is 13; "grow" claims, in finish, a
 * longer result than the accumulator holds. The daemon must turn those steps into gaps and keep
 * every stream (and itself) working.
 */
#include <errno.h>
#include <string.h>

#include "zepto/zoid_plugin.h"

static int fail_combine(void *acc, const void *in, size_t len, void *arg)
{
    (void)in;
    (void)arg;
    double a = 0;
    if (len >= sizeof a)
        memcpy(&a, acc, sizeof a);
    return a == 13.0 ? -EIO : 0;
}

static int keep(void *acc, const void *in, size_t len, void *arg)
{
    (void)acc;
    (void)in;
    (void)len;
    (void)arg;
    return 0;
}

static long grow_finish(void *acc, size_t len, uint32_t contributions, void *arg)
{
    (void)acc;
    (void)contributions;
    (void)arg;
    return (long)len + 4096;
}

static int init(struct zoid_host *host)
{
    static const struct zoid_stream_reduction fail = {.name = "fail", .combine = fail_combine};
    static const struct zoid_stream_reduction grow = {
        .name = "grow", .combine = keep, .finish = grow_finish};
    static const struct zoid_stream_reduction bad_name = {.name = "a/b", .combine = keep};
    if (zoid_stream_reduction_register(host, &bad_name) != -EINVAL)
        return -EPROTO;
    int rc = zoid_stream_reduction_register(host, &fail);
    if (!rc)
        rc = zoid_stream_reduction_register(host, &grow);
    if (!rc && zoid_stream_reduction_register(host, &grow) != -EEXIST)
        rc = -EPROTO;
    return rc;
}

static int fn_nop(struct zoid_call *call, const void *payload, size_t len)
{
    (void)call;
    (void)payload;
    (void)len;
    return 0;
}

static const zoid_fn functions[] = {fn_nop};
static const struct zoid_plugin plugin = {
    .api = ZOID_PLUGIN_API,
    .id = 1401,
    .name = "stream-bad-reductions",
    .nfunctions = 1,
    .functions = functions,
    .init = init,
};

__attribute__((visibility("default"))) const struct zoid_plugin *zoid_plugin_register(void);
const struct zoid_plugin *zoid_plugin_register(void)
{
    return &plugin;
}
