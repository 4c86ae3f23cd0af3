/*
 * libFuzzer target for the files of a cluster-wide recording that every task reads from the
 * shared directory (src/noise/rendezvous.c): a registration line (DIR/.zepto-sync-JOB/RANK) and
 * the list of the recording's traces (DIR/.zepto-nodes) that `analyse DIR` reads. The first byte
 * picks the parser. Seeds: noise_sync_seeds.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zepto/noise_rendezvous.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    const char *buf = (const char *)data + 1;
    struct zepto_err err;
    if (data[0] & 1) {
        struct zn_rv_manifest m;
        if (zn_rv_manifest_parse(buf, size - 1, &m, &err) == 0) {
            size_t sum = 0;
            for (unsigned i = 0; i < m.n; i++)
                sum += strlen(m.name[i]); /* every name is terminated */
            if (sum > m.n * (size_t)ZN_RV_NAME)
                __builtin_trap();
            zn_rv_manifest_free(&m);
        }
        return 0;
    }
    struct zn_rv_task t;
    if (zn_rv_parse(buf, size - 1, &t, &err) == 0) {
        /* What parses formats back and parses again to the same task. */
        char line[1536];
        struct zn_rv_task u;
        if (zn_rv_format(&t, line, sizeof line) == 0 &&
            (zn_rv_parse(line, strlen(line), &u, &err) || memcmp(&t, &u, sizeof t)))
            __builtin_trap();
    }
    return 0;
}
