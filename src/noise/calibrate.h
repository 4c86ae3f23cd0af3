/*
 * Loop calibration and the `auto` threshold (private to the noise part).
 */
#ifndef ZEPTO_NOISE_CALIBRATE_H
#define ZEPTO_NOISE_CALIBRATE_H

#include <stdint.h>

#include "base/clock.h"

/* How the `auto` threshold is chosen from the calibration of every CPU (see docs/noise.md):
 * the larger of ZN_AUTO_LOOP_MULT times the loop time and ZN_AUTO_TAIL_MULT times the 99.99th
 * percentile of the loop time, and never below ZN_AUTO_FLOOR_NS. */
#define ZN_AUTO_LOOP_MULT 20
#define ZN_AUTO_TAIL_MULT 8
#define ZN_AUTO_FLOOR_NS  100

struct zn_calib {
    uint64_t samples;    /* loop iterations measured */
    uint64_t min_ticks;  /* smallest non-zero gap between two reads (the clock's step or the
                            loop time, whichever is larger) */
    uint64_t mean_ps;    /* mean loop time, picoseconds */
    uint64_t tail_ticks; /* 99.99th percentile of the gap */
};

/* Runs the measuring loop for dur_ticks on the calling thread and fills c. No allocation. */
void zn_calibrate_loop(const struct zb_clock *clk, uint64_t dur_ticks, struct zn_calib *c);

/* The auto threshold in ticks for one CPU's calibration. */
uint64_t zn_auto_threshold_ticks(const struct zb_clock *clk, const struct zn_calib *c);

#endif
