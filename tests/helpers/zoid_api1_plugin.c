/*
 * A plugin built for plugin API 1 (before struct zoid_host): the daemon must refuse to start with
 * it in --plugin-dir, naming it and the API it needs.
 */
#include <stddef.h>

#include "zepto/zoid_plugin.h"

static int nothing(struct zoid_call *call, const void *payload, size_t len)
{
    (void)call;
    (void)payload;
    (void)len;
    return 0;
}

static const zoid_fn functions[] = {nothing};

static const struct zoid_plugin plugin = {
    .api = 1,
    .id = 4343,
    .name = "old",
    .nfunctions = 1,
    .functions = functions,
};

const struct zoid_plugin *zoid_plugin_register(void);
const struct zoid_plugin *zoid_plugin_register(void)
{
    return &plugin;
}
