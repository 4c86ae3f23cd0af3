/*
 * bigmem's table of environment variables: how `zepto bigmem run` hands its options to
 * libzepto-bigmem.so in the program it runs.
 */
#include "base/settings.h"
#include "zepto/bigmem.h"

static const struct zepto_setting list[ZBM_SET_COUNT] = {
    [ZBM_SET_LIB] = {"ZEPTO_BIGMEM_LIB", "PATH",
                     "libzepto-bigmem.so that bigmem run preloads (default: ../lib next to zepto)"},
    [ZBM_SET_SIZE] = {"ZEPTO_BIGMEM_SIZE", "SIZE",
                      "big-memory region size (bigmem run --size sets it)"},
    [ZBM_SET_PAGES] = {"ZEPTO_BIGMEM_PAGES", "auto|1G|2M|thp|4K",
                       "page size of the region (bigmem run --pages sets it)"},
    [ZBM_SET_PIN] = {"ZEPTO_BIGMEM_PIN", "0|1", "mlock the region (bigmem run --pin)"},
    [ZBM_SET_STRICT] = {"ZEPTO_BIGMEM_STRICT", "0|1",
                        "fail instead of falling back (bigmem run --strict)"},
    [ZBM_SET_VERBOSE] = {"ZEPTO_BIGMEM_VERBOSE", "0|1",
                         "at exit, one line: page size used, region, peak use, page faults "
                         "after start-up"},
    [ZBM_SET_STATIC] = {"ZEPTO_BIGMEM_STATIC", "0|1",
                        "move the program's .data and .bss into huge pages (bigmem run --static)"},
    [ZBM_SET_LIBS] = {"ZEPTO_BIGMEM_LIBS", "0|1",
                      "also the shared libraries' .data and .bss (bigmem run --libs)"},
    [ZBM_SET_TEXT] = {"ZEPTO_BIGMEM_TEXT", "0|1",
                      "map the executable's code in huge pages (bigmem run --text)"},
};

static const struct zepto_settings table = {"bigmem", list, ZBM_SET_COUNT};

const struct zepto_settings *zbm_settings(void)
{
    return &table;
}

const char *zbm_setting(enum zbm_setting s, const char *fallback)
{
    return zb_env(&table, (unsigned)s, fallback);
}
