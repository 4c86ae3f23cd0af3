/*
 * libFuzzer target for the periodic-signature search (src/noise/periodic.c), which runs on the
 * detours of every trace `zepto noise analyse` is handed. The input is a span (4 bytes, ms) and
 * then detours of 6 bytes each: the gap since the previous one (4 bytes, ns) and the length
 * (2 bytes, ns, times 16 when its top bit is set). Checks what the search promises: at most
 * `max` signatures, each with a finite positive period, no more detours than there were, shares
 * and regularities within 0..1, largest time first.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint32_t span_ms;
    memcpy(&span_ms, data, 4);
    uint64_t span = (uint64_t)(span_ms % 600000 + 1) * 1000000;
    size_t n = (size - 4) / 6;
    struct zn_detour *d = malloc((n ? n : 1) * sizeof(*d));
    if (!d)
        return 0;
    uint64_t t = 0;
    for (size_t k = 0; k < n; k++) {
        const uint8_t *p = data + 4 + 6 * k;
        uint32_t gap;
        uint16_t len;
        memcpy(&gap, p, 4);
        memcpy(&len, p + 4, 2);
        t += gap;
        d[k].start_ns = t;
        d[k].duration_ns = len & 0x8000 ? (uint64_t)(len & 0x7fff) * 16 : len;
    }
    unsigned max = (unsigned)(data[0] % ZN_MAX_SIGNATURES) + 1;
    struct zn_signature sig[ZN_MAX_SIGNATURES];
    unsigned ns = zn_find_signatures(d, n, span, sig, max);
    if (ns > max)
        abort();
    for (unsigned i = 0; i < ns; i++) {
        if (!isfinite(sig[i].period_ns) || sig[i].period_ns <= 0 || sig[i].detours > n ||
            !(sig[i].noise_share >= 0 && sig[i].noise_share <= 1 + 1e-9) ||
            !(sig[i].regularity >= 0 && sig[i].regularity <= 1 + 1e-9))
            abort();
        if (i && sig[i].detour_ns > sig[i - 1].detour_ns)
            abort();
    }
    free(d);
    return 0;
}
