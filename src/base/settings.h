/*
 * Settings from the environment: the variables every part shares (base's own table below), and
 * the one lookup that every part's table goes through. A part lists its variables in one table
 * (`struct zepto_settings`, include/zepto/zepto.h) and asks for a value by its enum through
 * zb_env(), never by calling getenv() itself; `zepto --help` lists every table.
 */
#ifndef ZEPTO_BASE_SETTINGS_H
#define ZEPTO_BASE_SETTINGS_H

#include <stddef.h>

#include "zepto/zepto.h"

enum zb_setting {
    ZB_SET_CLOCK,   /* ZEPTO_CLOCK: auto | tsc | monotonic */
    ZB_SET_GNUPLOT, /* ZEPTO_GNUPLOT: the gnuplot program the report runs */
    ZB_SET_SYSROOT, /* ZEPTO_SYSROOT: where /proc and /sys are read (tests give a fake tree) */
    ZB_SET_COUNT
};

/* base's table (ZB_SET_COUNT entries). */
const struct zepto_settings *zb_settings(void);

/* The value of a setting from the environment, or `fallback` when unset or empty. */
const char *zb_setting(enum zb_setting s, const char *fallback);

/* The value of entry `i` of `table`, or `fallback` when unset, empty or out of range. Reads the
 * environment only (no allocation): safe in a preloaded library's constructor. */
const char *zb_env(const struct zepto_settings *table, unsigned i, const char *fallback);

#endif
