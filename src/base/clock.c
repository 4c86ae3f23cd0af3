/*
 * Clock selection and TSC calibration.
 *
 * Calibration reads (TSC, CLOCK_MONOTONIC) pairs at both ends of a sleep. Each pair is bracketed
 * by two TSC reads and the tightest of several brackets is kept, so the pair's error is about one
 * TSC read (~10 ns); over the default 100 ms that is 0.1 ppm of the frequency.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/sysinfo.h"

__extension__ typedef unsigned __int128 u128;

int zb_clock_parse_kind(const char *s, enum zb_clock_kind *kind, struct zepto_err *err)
{
    if (s && !strcmp(s, "auto"))
        *kind = ZB_CLOCK_AUTO;
    else if (s && !strcmp(s, "tsc"))
        *kind = ZB_CLOCK_TSC;
    else if (s && !strcmp(s, "monotonic"))
        *kind = ZB_CLOCK_MONOTONIC;
    else
        return zepto_fail(err, EINVAL, "'%s': unknown clock (use auto, tsc or monotonic)",
                          s ? s : "");
    return 0;
}

static bool has_flag(const char *flags, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = flags; (p = strstr(p, name)); p += n) {
        bool starts = p == flags || p[-1] == ' ' || p[-1] == '\t';
        bool ends = p[n] == 0 || p[n] == ' ' || p[n] == '\n' || p[n] == '\t';
        if (starts && ends)
            return true;
    }
    return false;
}

bool zb_tsc_flags_usable(const char *flags, char *why, size_t len)
{
    if (!flags || !has_flag(flags, "tsc")) {
        snprintf(why, len, "the CPU has no TSC");
        return false;
    }
    if (!has_flag(flags, "constant_tsc")) {
        snprintf(why, len, "the TSC rate changes with CPU frequency (no constant_tsc)");
        return false;
    }
    if (!has_flag(flags, "nonstop_tsc")) {
        snprintf(why, len, "the TSC stops in deep C-states (no nonstop_tsc)");
        return false;
    }
    snprintf(why, len, "TSC: constant_tsc and nonstop_tsc%s",
             has_flag(flags, "tsc_reliable") ? ", tsc_reliable" : "");
    return true;
}

void zb_clock_pair(uint64_t *tsc, uint64_t *mono)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 16; i++) {
        uint64_t a = zb_tsc_read();
        uint64_t m = zb_mono_read();
        uint64_t b = zb_tsc_read();
        if (b - a < best) {
            best = b - a;
            *tsc = a + (b - a) / 2;
            *mono = m;
        }
    }
}

uint64_t zb_tsc_calibrate(uint64_t calib_ns)
{
    uint64_t t0, m0, t1, m1;
    zb_clock_pair(&t0, &m0);
    uint64_t until = m0 + calib_ns;
    struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    zb_clock_pair(&t1, &m1);
    if (m1 <= m0 || t1 <= t0)
        return 0;
    return (uint64_t)(((u128)(t1 - t0) * 1000000000u + (m1 - m0) / 2) / (m1 - m0));
}

int zb_clock_init(struct zb_clock *c, enum zb_clock_kind want, uint64_t calib_ns,
                  struct zepto_err *err)
{
    char flags[4096], why[160];
    memset(c, 0, sizeof(*c));
    if (!calib_ns)
        calib_ns = 100000000;

    bool usable = false;
    if (!ZB_HAVE_TSC)
        snprintf(why, sizeof(why), "this architecture has no TSC");
    else if (zb_sysinfo_cpu_flags(flags, sizeof(flags)))
        snprintf(why, sizeof(why), "no CPU flags in /proc/cpuinfo");
    else
        usable = zb_tsc_flags_usable(flags, why, sizeof(why));

    if (want == ZB_CLOCK_TSC && !usable)
        return zepto_fail(err, ENOTSUP, "clock tsc was asked for, but %s", why);
    if (want == ZB_CLOCK_MONOTONIC || !usable) {
        c->kind = ZB_CLOCK_MONOTONIC;
        c->hz = 1000000000u;
        snprintf(c->why, sizeof(c->why), "CLOCK_MONOTONIC: %s",
                 want == ZB_CLOCK_MONOTONIC ? "asked for" : why);
        return 0;
    }
    c->kind = ZB_CLOCK_TSC;
    c->hz = zb_tsc_calibrate(calib_ns);
    if (!c->hz)
        return zepto_fail(err, EIO, "TSC calibration failed (the TSC did not advance)");
    snprintf(c->why, sizeof(c->why), "%s; %.6f GHz calibrated against CLOCK_MONOTONIC", why,
             c->hz / 1e9);
    return 0;
}

uint64_t zb_clock_to_ns(const struct zb_clock *c, uint64_t ticks)
{
    if (c->hz == 1000000000u)
        return ticks;
    return (uint64_t)(((u128)ticks * 1000000000u + c->hz / 2) / c->hz);
}

uint64_t zb_clock_from_ns(const struct zb_clock *c, uint64_t ns)
{
    if (c->hz == 1000000000u)
        return ns;
    return (uint64_t)(((u128)ns * c->hz + 500000000u) / 1000000000u);
}
