/*
 * Calibration of the measuring loop: before a recording, every recorder thread times the gaps
 * between consecutive clock reads on its CPU for a short while and keeps a histogram of them. The
 * smallest gap gives the loop time. Above the body of the distribution (10-20 ns) lies the tail of
 * the clock read itself (cache misses, the hypervisor, SMT siblings: here up to ~250 ns, 70 per
 * second), and above that, after an empty stretch, the OS taking the CPU away (here from 5 us).
 * The `auto` threshold is the start of the first empty octave above the 99.99th percentile, so
 * that a quiet CPU records almost nothing spurious while a 1-2 us interrupt is still seen.
 */
#include <string.h>

#include "noise/calibrate.h"

#define LINEAR_TICKS 4096 /* gaps up to this many ticks are counted one by one */

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
    c->p9999_ticks = LINEAR_TICKS;
    for (uint64_t t = 0; t <= LINEAR_TICKS; t++) {
        seen += hist[t];
        if (seen >= want) {
            c->p9999_ticks = t;
            break;
        }
    }
    /* The first b >= p99.99 with at most one gap in (b, 4b], a window at least 8 clock steps
     * wide (so that a coarse clock cannot fake an empty window): prefix sums make each test
     * O(1). */
    static _Thread_local uint64_t below[LINEAR_TICKS + 2]; /* below[t]: gaps shorter than t */
    below[0] = 0;
    for (uint64_t t = 0; t <= LINEAR_TICKS; t++)
        below[t + 1] = below[t] + hist[t];
    /* When the 99.99th percentile is itself beyond the histogram, the calibration was disturbed
     * (the thread lost its CPU for much of it): no tail can be told, and the loop multiple
     * alone sets the threshold. */
    c->tail_ticks = 0;
    if (2 * c->p9999_ticks >= LINEAR_TICKS)
        return;
    c->tail_ticks = c->p9999_ticks * ZN_AUTO_TAIL_MULT;
    uint64_t step = c->min_ticks ? c->min_ticks : 1;
    for (uint64_t b = c->p9999_ticks ? c->p9999_ticks : 1; 4 * b < LINEAR_TICKS; b++) {
        uint64_t top = 4 * b > b + 8 * step ? 4 * b : b + 8 * step;
        if (top < LINEAR_TICKS && below[top + 1] - below[b + 1] <= 1) {
            c->tail_ticks = b;
            break;
        }
    }
}

uint64_t zn_auto_threshold_ticks(const struct zb_clock *clk, const struct zn_calib *c)
{
    /* An unknown tail (a disturbed calibration) gets the conservative ZN_AUTO_UNKNOWN_NS. */
    uint64_t thr = c->tail_ticks ? c->tail_ticks : zb_clock_from_ns(clk, ZN_AUTO_UNKNOWN_NS);
    if (c->min_ticks * ZN_AUTO_LOOP_MULT > thr)
        thr = c->min_ticks * ZN_AUTO_LOOP_MULT;
    uint64_t floor = zb_clock_from_ns(clk, ZN_AUTO_FLOOR_NS);
    return thr > floor ? thr : floor;
}
