/*
 * The ZEPTO_* environment variables, in one table: what each is called, what it takes and what it
 * does. Code asks for a setting by its enum, never by calling getenv() itself, and `zepto --help`
 * lists the table.
 */
#ifndef ZEPTO_BASE_SETTINGS_H
#define ZEPTO_BASE_SETTINGS_H

#include <stddef.h>

enum zb_setting {
    ZB_SET_CLOCK,   /* ZEPTO_CLOCK: auto | tsc | monotonic */
    ZB_SET_GNUPLOT, /* ZEPTO_GNUPLOT: the gnuplot program the report runs */
    ZB_SET_SYSROOT, /* ZEPTO_SYSROOT: where /proc and /sys are read (tests give a fake tree) */
    ZB_SET_BIGMEM_LIB,     /* ZEPTO_BIGMEM_LIB: the preloaded library of bigmem run */
    ZB_SET_BIGMEM_SIZE,    /* ZEPTO_BIGMEM_SIZE: region size (set by bigmem run) */
    ZB_SET_BIGMEM_PAGES,   /* ZEPTO_BIGMEM_PAGES: auto | 1G | 2M | thp | 4K */
    ZB_SET_BIGMEM_PIN,     /* ZEPTO_BIGMEM_PIN: 1 to mlock the region */
    ZB_SET_BIGMEM_STRICT,  /* ZEPTO_BIGMEM_STRICT: 1 to fail instead of falling back */
    ZB_SET_BIGMEM_VERBOSE, /* ZEPTO_BIGMEM_VERBOSE: 1 for a line at exit */
    ZB_SET_COUNT
};

struct zb_setting_info {
    const char *env;    /* variable name */
    const char *values; /* what it takes */
    const char *help;   /* one line */
};

/* The whole table (ZB_SET_COUNT entries). */
const struct zb_setting_info *zb_settings(void);

/* The value of a setting from the environment, or `fallback` when unset or empty. */
const char *zb_setting(enum zb_setting s, const char *fallback);

#endif
