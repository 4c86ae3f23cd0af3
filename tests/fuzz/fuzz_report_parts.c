/*
 * libFuzzer target for what the allocation report reads from other tasks: the `key value` part
 * files in the shared directory (zr_kv_parse) and Slurm's host list (zr_hostlist_expand, from
 * SLURM_STEP_NODELIST). The first byte picks the parser; the rest is its input. Seeds:
 * report_parts_seeds.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zepto_err err;
    if (!size)
        return 0;
    if (data[0] & 1) {
        static struct zr_kv kv;
        if (zr_kv_parse((const char *)data + 1, size - 1, "fuzz", &kv, &err) == 0)
            for (unsigned i = 0; i < kv.n; i++)
                if (strlen(kv.val[i]) >= ZR_KV_VAL_MAX || !zr_kv_get(&kv, kv.key[i]))
                    abort();
        return 0;
    }
    char *list = malloc(size);
    if (!list)
        return 0;
    memcpy(list, data + 1, size - 1);
    list[size - 1] = 0;
    char(*names)[ZR_HOST_MAX] = NULL;
    unsigned n = 0;
    if (zr_hostlist_expand(list, 256, &names, &n, &err) == 0) {
        for (unsigned i = 0; i < n; i++)
            if (!names[i][0] || strlen(names[i]) >= ZR_HOST_MAX)
                abort();
        free(names);
    }
    free(list);
    return 0;
}
