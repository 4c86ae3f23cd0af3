/*
 * The clock that Zepto measures with: the CPU's time-stamp counter where it runs at a constant
 * rate through sleep states (constant_tsc and nonstop_tsc), calibrated against CLOCK_MONOTONIC;
 * otherwise CLOCK_MONOTONIC itself. Reading the TSC costs ~10 ns, clock_gettime ~20-40 ns, so
 * the TSC lets the noise recorder see shorter detours.
 *
 * `zb_clock_read()` is inline; loops that must not branch on the kind call `zb_tsc_read()` or
 * `zb_mono_read()` directly.
 */
#ifndef ZEPTO_BASE_CLOCK_H
#define ZEPTO_BASE_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "zepto/zepto.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define ZB_HAVE_TSC 1
#else
#define ZB_HAVE_TSC 0
#endif

enum zb_clock_kind {
    ZB_CLOCK_AUTO = 0, /* only as a request: TSC when usable, else monotonic */
    ZB_CLOCK_TSC = 1,
    ZB_CLOCK_MONOTONIC = 2,
};

struct zb_clock {
    enum zb_clock_kind kind; /* ZB_CLOCK_TSC or ZB_CLOCK_MONOTONIC */
    uint64_t hz;             /* ticks per second; 1e9 for CLOCK_MONOTONIC */
    char why[192];           /* why this source is in use, for the user */
};

static inline uint64_t zb_mono_read(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t zb_tsc_read(void)
{
#if ZB_HAVE_TSC
    return __rdtsc();
#else
    return zb_mono_read();
#endif
}

/* A hint to the CPU inside spin-waits. */
static inline void zb_cpu_relax(void)
{
#if ZB_HAVE_TSC
    _mm_pause();
#endif
}

static inline uint64_t zb_clock_read(const struct zb_clock *c)
{
    return c->kind == ZB_CLOCK_TSC ? zb_tsc_read() : zb_mono_read();
}

static inline const char *zb_clock_name(enum zb_clock_kind kind)
{
    return kind == ZB_CLOCK_TSC ? "tsc" : kind == ZB_CLOCK_MONOTONIC ? "monotonic" : "auto";
}

/* Parses "auto", "tsc" or "monotonic". */
int zb_clock_parse_kind(const char *s, enum zb_clock_kind *kind, struct zepto_err *err);

/* Chooses and calibrates the clock. `want` is a request (AUTO unless the user forced one; the
 * ZEPTO_CLOCK environment variable is applied by the caller); a forced TSC that the CPU does not
 * have, or whose flags say it is unusable, is an error. calib_ns is how long to calibrate
 * (0 = 100 ms). */
int zb_clock_init(struct zb_clock *c, enum zb_clock_kind want, uint64_t calib_ns,
                  struct zepto_err *err);

/* Whether the CPU flags line (from /proc/cpuinfo) promises a TSC at a constant rate that keeps
 * running in deep C-states; `why` gets the reason either way. */
bool zb_tsc_flags_usable(const char *flags, char *why, size_t len);

/* One (TSC, CLOCK_MONOTONIC) pair taken at the same instant: the TSC is the middle of the
 * tightest of 16 brackets of two TSC reads around the clock_gettime. Reads only the clocks (no
 * allocation): libktau calls it. */
void zb_clock_pair(uint64_t *tsc, uint64_t *mono);

/* The TSC frequency measured against CLOCK_MONOTONIC over calib_ns. */
uint64_t zb_tsc_calibrate(uint64_t calib_ns);

/* Conversions between ticks of clock c and nanoseconds, exact to within one nanosecond. */
uint64_t zb_clock_to_ns(const struct zb_clock *c, uint64_t ticks);
uint64_t zb_clock_from_ns(const struct zb_clock *c, uint64_t ns);

#endif
