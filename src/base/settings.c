/*
 * base's table of ZEPTO_* environment variables, and the lookup every part's table uses.
 */
#include <stdlib.h>

#include "base/settings.h"

static const struct zepto_setting list[ZB_SET_COUNT] = {
    [ZB_SET_CLOCK] = {"ZEPTO_CLOCK", "auto|tsc|monotonic",
                      "clock for measurements (default auto: the TSC when it is usable)"},
    [ZB_SET_GNUPLOT] = {"ZEPTO_GNUPLOT", "PROGRAM",
                        "gnuplot program used for report plots (default gnuplot in PATH)"},
    [ZB_SET_SYSROOT] = {"ZEPTO_SYSROOT", "DIR",
                        "read /proc and /sys facts under DIR instead of / (for tests)"},
};

static const struct zepto_settings table = {"base", list, ZB_SET_COUNT};

const struct zepto_settings *zb_settings(void)
{
    return &table;
}

const char *zb_env(const struct zepto_settings *t, unsigned i, const char *fallback)
{
    const char *v = t && i < t->count ? getenv(t->list[i].env) : NULL;
    return v && *v ? v : fallback;
}

const char *zb_setting(enum zb_setting s, const char *fallback)
{
    return zb_env(&table, (unsigned)s, fallback);
}
