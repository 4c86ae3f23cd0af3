/*
 * An example of a stream reduction from a third-party plugin (docs/zoid-stream.md "Reductions
 * from plugins"): put libzoid_stream_stats.so in the daemon's --plugin-dir and streams can be
 * created with `--reduce plugin:max-f64` (the element-wise maximum of the doubles every producer
 * sent for one time step) or `plugin:mean-f64` (their mean). Built against zepto/zoid_plugin.h
 * only; the daemon's functions resolve from the zepto binary at dlopen.
 */
#include <errno.h>
#include <string.h>

#include "zepto/zoid_plugin.h"

static int max_f64(void *acc, const void *in, size_t len, void *arg)
{
    (void)arg;
    if (len % sizeof(double))
        return -EINVAL;
    for (size_t i = 0; i < len; i += sizeof(double)) {
        double a, b;
        memcpy(&a, (char *)acc + i, sizeof a);
        memcpy(&b, (const char *)in + i, sizeof b);
        if (b > a)
            memcpy((char *)acc + i, &b, sizeof b);
    }
    return 0;
}

static int sum_f64(void *acc, const void *in, size_t len, void *arg)
{
    (void)arg;
    if (len % sizeof(double))
        return -EINVAL;
    for (size_t i = 0; i < len; i += sizeof(double)) {
        double a, b;
        memcpy(&a, (char *)acc + i, sizeof a);
        memcpy(&b, (const char *)in + i, sizeof b);
        a += b;
        memcpy((char *)acc + i, &a, sizeof a);
    }
    return 0;
}

/* The sum becomes the mean of the producers that contributed (all, or at the stream's end,
 * those that did). */
static long mean_finish(void *acc, size_t len, uint32_t contributions, void *arg)
{
    (void)arg;
    if (len % sizeof(double) || !contributions)
        return -EINVAL;
    for (size_t i = 0; i < len; i += sizeof(double)) {
        double a;
        memcpy(&a, (char *)acc + i, sizeof a);
        a /= contributions;
        memcpy((char *)acc + i, &a, sizeof a);
    }
    return (long)len;
}

static int init(struct zoid_host *host)
{
    static const struct zoid_stream_reduction max = {.name = "max-f64", .combine = max_f64};
    static const struct zoid_stream_reduction mean = {
        .name = "mean-f64", .combine = sum_f64, .finish = mean_finish};
    int rc = zoid_stream_reduction_register(host, &max);
    return rc ? rc : zoid_stream_reduction_register(host, &mean);
}

/* A plugin must offer a function: this one answers the reductions' names. */
static int fn_names(struct zoid_call *call, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    static const char names[] = "max-f64 mean-f64";
    return zoid_reply_append(call, names, sizeof(names) - 1);
}

static const zoid_fn functions[] = {fn_names};
static const char *const function_names[] = {"names"};
static const struct zoid_plugin plugin = {
    .api = ZOID_PLUGIN_API,
    .id = 1400,
    .name = "stream-stats",
    .nfunctions = 1,
    .functions = functions,
    .function_names = function_names,
    .init = init,
};

__attribute__((visibility("default"))) const struct zoid_plugin *zoid_plugin_register(void);
const struct zoid_plugin *zoid_plugin_register(void)
{
    return &plugin;
}
