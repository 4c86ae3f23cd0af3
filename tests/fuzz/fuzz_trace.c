/*
 * libFuzzer target for the noise trace decoder, the parser of trace files users hand to
 * `zepto noise analyse` and `export`. Built with clang and run for a bounded time in `make test`
 * (longer in `make bench`). The fuzz build skips the CRC check so that the fuzzer reaches the
 * fields behind it. Seeds (trace_seeds.sh): a version 1 trace and, where the kernel capture is
 * allowed, a version 2 one with causes.
 */
#include <stddef.h>
#include <stdint.h>

#include "zepto/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zn_trace *t = NULL;
    struct zepto_err err;
    if (zn_trace_decode(data, size, &t, &err) == 0) {
        /* Touch everything the decoder promised is valid. */
        uint64_t sum = 0;
        for (uint32_t i = 0; i < t->ncpu; i++)
            for (uint64_t k = 0; k < t->cpu[i].stored; k++) {
                sum += t->cpu[i].d[k].duration_ns;
                /* Version 2: every stored detour has a cause in the table. */
                if (t->flags & ZN_TRACE_EXPLAINED) {
                    sum += t->cpu[i].why[k].traced_ns;
                    sum += (uint64_t)t->causes[t->cpu[i].why[k].cause].name[0];
                }
            }
        (void)sum;
        zn_trace_free(t);
    }
    return 0;
}
