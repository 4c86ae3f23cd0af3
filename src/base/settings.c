/*
 * The table of ZEPTO_* environment variables.
 */
#include <stdlib.h>

#include "base/settings.h"

static const struct zb_setting_info table[ZB_SET_COUNT] = {
    [ZB_SET_CLOCK] = {"ZEPTO_CLOCK", "auto|tsc|monotonic",
                      "clock for measurements (default auto: the TSC when it is usable)"},
    [ZB_SET_GNUPLOT] = {"ZEPTO_GNUPLOT", "PROGRAM",
                        "gnuplot program used for report plots (default gnuplot in PATH)"},
};

const struct zb_setting_info *zb_settings(void)
{
    return table;
}

const char *zb_setting(enum zb_setting s, const char *fallback)
{
    const char *v = s < ZB_SET_COUNT ? getenv(table[s].env) : NULL;
    return v && *v ? v : fallback;
}
