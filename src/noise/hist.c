/*
 * Log-scale histogram of detour lengths: bins at 10, 20, 50, 100, 200, 500 ns ... 5 s, 10 s, the
 * first bin also holding anything shorter and the last anything longer.
 */
#include <string.h>

#include "zepto/noise.h"

void zn_hist_build(const struct zn_detour *d, uint64_t n, struct zn_hist *h)
{
    static const uint64_t steps[3] = {1, 2, 5};
    memset(h, 0, sizeof(*h));
    uint64_t decade = 10;
    for (unsigned i = 0; i < ZN_HIST_BINS; i++) {
        h->lo_ns[i] = decade * steps[i % 3];
        if (i % 3 == 2)
            decade *= 10;
    }
    for (uint64_t k = 0; k < n; k++) {
        uint64_t len = d[k].duration_ns;
        unsigned lo = 0, hi = ZN_HIST_BINS - 1; /* last bin whose lower edge is <= len */
        while (lo < hi) {
            unsigned mid = (lo + hi + 1) / 2;
            if (h->lo_ns[mid] <= len)
                lo = mid;
            else
                hi = mid - 1;
        }
        h->count[lo]++;
        h->total_ns[lo] += len;
    }
}
