/*
 * Loop calibration and the `auto` threshold (private to the noise part).
 */
#ifndef ZEPTO_NOISE_CALIBRATE_H
#define ZEPTO_NOISE_CALIBRATE_H

#include <stdint.h>

#include "base/clock.h"

/* How the `auto` threshold is chosen from the calibration of every CPU (see docs/noise.md): the
 * end of the clock read's tail (the first value b above the 99.99th percentile such that the
 * calibration saw at most one gap in (b, 4b], a window at least 8 clock steps wide), but at least
 * ZN_AUTO_LOOP_MULT loop times and ZN_AUTO_FLOOR_NS. When no such b exists below LINEAR_TICKS / 4
 * (a very noisy CPU), the tail is ZN_AUTO_TAIL_MULT times the 99.99th percentile; when even that
 * percentile lies beyond the histogram (the calibration lost its CPU), the tail is unknown (0). */
#define ZN_AUTO_LOOP_MULT  10
#define ZN_AUTO_TAIL_MULT  8
#define ZN_AUTO_FLOOR_NS   100
#define ZN_AUTO_TRIES      3
#define ZN_AUTO_UNKNOWN_NS 1000

struct zn_calib {
    uint64_t samples;     /* loop iterations measured */
    uint64_t min_ticks;   /* smallest non-zero gap between two reads (the clock's step or the
                             loop time, whichever is larger) */
    uint64_t p9999_ticks; /* 99.99th percentile of the gap */
    uint64_t tail_ticks;  /* end of the tail: above it, two octaves with at most one gap */
};

/* Runs the measuring loop for dur_ticks on the calling thread and fills c. No allocation. */
void zn_calibrate_loop(const struct zb_clock *clk, uint64_t dur_ticks, struct zn_calib *c);

/* The auto threshold in ticks for one CPU's calibration. */
uint64_t zn_auto_threshold_ticks(const struct zb_clock *clk, const struct zn_calib *c);

#endif
