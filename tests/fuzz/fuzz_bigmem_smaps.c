/*
 * libFuzzer target for `zepto bigmem info --pid`'s reading of /proc/PID/smaps
 * (src/bigmem/mappings.c, zbm_mappings_parse): any bytes give at most `max` mappings, each with
 * start < end and a NUL-terminated object name, never a read past the buffer.
 * Seeds: bigmem_smaps_seeds.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/bigmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* exactly size bytes, no NUL: ASan sees overreads */
    struct zbm_mapping m[8];
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    unsigned n = zbm_mappings_parse(buf, size, m, 8);
    if (n > 8)
        abort();
    for (unsigned i = 0; i < n; i++) {
        if (m[i].start >= m[i].end ||
            strnlen(m[i].object, sizeof(m[i].object)) == sizeof(m[i].object))
            abort();
        (void)zbm_backing_name(zbm_mapping_backing(&m[i]));
        (void)zbm_mapping_huge_bytes(&m[i]);
    }
    free(buf);
    return 0;
}
