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
    [ZB_SET_SYSROOT] = {"ZEPTO_SYSROOT", "DIR",
                        "read /proc and /sys facts under DIR instead of / (for tests)"},
    [ZB_SET_BIGMEM_LIB] = {"ZEPTO_BIGMEM_LIB", "PATH",
                           "libzepto-bigmem.so that bigmem run preloads (default: ../lib "
                           "next to zepto)"},
    [ZB_SET_BIGMEM_SIZE] = {"ZEPTO_BIGMEM_SIZE", "SIZE",
                            "big-memory region size (bigmem run --size sets it)"},
    [ZB_SET_BIGMEM_PAGES] = {"ZEPTO_BIGMEM_PAGES", "auto|1G|2M|thp|4K",
                             "page size of the region (bigmem run --pages sets it)"},
    [ZB_SET_BIGMEM_PIN] = {"ZEPTO_BIGMEM_PIN", "0|1", "mlock the region (bigmem run --pin)"},
    [ZB_SET_BIGMEM_STRICT] = {"ZEPTO_BIGMEM_STRICT", "0|1",
                              "fail instead of falling back (bigmem run --strict)"},
    [ZB_SET_BIGMEM_VERBOSE] = {"ZEPTO_BIGMEM_VERBOSE", "0|1",
                               "at exit, one line: page size used, region, peak use, page "
                               "faults after start-up"},
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
