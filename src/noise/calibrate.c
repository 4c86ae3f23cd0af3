/*
 * Calibration of the measuring loop: before a recording, every recorder thread times the gaps
 * between consecutive clock reads on its CPU for a short while and keeps a histogram of them. The
 * smallest gap and the mean give the loop time; the 99.99th percentile is the tail of the clock
 * read itself (cache misses, the hypervisor, SMT siblings), the part of the distribution that is
 * not the OS taking the CPU away. The `auto` threshold sits above both, so that a quiet CPU
 * records almost nothing spurious while a 1-2 us interrupt is still seen.
 */
#include <string.h>

#include "noise/calibrate.h"

#define LINEAR_TICKS 4096 /* gaps up to this many ticks are counted one by one */

__extension__ typedef unsigned __int128 u128;

static inline uint64_t read_clock(enum zb_clock_kind kind)
{
    return kind == ZB_CLOCK_TSC ? zb_tsc_read() : zb_mono_read();
}

void zn_calibrate_loop(const struct zb_clock *clk, uint64_t dur_ticks, struct zn_calib *c)
{
    enum zb_clock_kind kind = clk->kind;
    static _Thread_local uint32_t hist[LINEAR_TICKS + 1]; /* per thread: no sharing */
    memset(hist, 0, sizeof(hist));

    uint64_t n = 0;
    uint64_t first = read_clock(kind), prev = first, end = first + dur_ticks;
    for (;;) {
        uint64_t now = read_clock(kind);
        uint64_t d = now - prev;
        hist[d < LINEAR_TICKS ? d : LINEAR_TICKS]++;
        n++;
        prev = now;
        if (now >= end)
            break;
    }

    memset(c, 0, sizeof(*c));
    c->samples = n;
    for (uint64_t t = 1; t <= LINEAR_TICKS; t++)
        if (hist[t]) {
            c->min_ticks = t;
            break;
        }
    uint64_t want = n - n / 10000, seen = 0; /* 99.99th percentile */
    c->tail_ticks = LINEAR_TICKS;
    for (uint64_t t = 0; t <= LINEAR_TICKS; t++) {
        seen += hist[t];
        if (seen >= want) {
            c->tail_ticks = t;
            break;
        }
    }
    c->mean_ps = n ? (uint64_t)((u128)(prev - first) * 1000000000000u / clk->hz / n) : 0;
}

uint64_t zn_auto_threshold_ticks(const struct zb_clock *clk, const struct zn_calib *c)
{
    uint64_t mean_ticks = (uint64_t)(((u128)c->mean_ps * clk->hz + 999999999999u) / 1000000000000u);
    uint64_t loop = c->min_ticks > mean_ticks ? c->min_ticks : mean_ticks;
    uint64_t thr = loop * ZN_AUTO_LOOP_MULT;
    if (c->tail_ticks * ZN_AUTO_TAIL_MULT > thr)
        thr = c->tail_ticks * ZN_AUTO_TAIL_MULT;
    uint64_t floor = zb_clock_from_ns(clk, ZN_AUTO_FLOOR_NS);
    return thr > floor ? thr : floor;
}
