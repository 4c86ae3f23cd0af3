/*
 * libFuzzer target for `zepto bigmem run`'s look at the program it runs (src/bigmem/exec_check.c,
 * zbm_elf_kind): any bytes give one of the four kinds, never a read past the buffer.
 * Seeds: bigmem_elf_seeds.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/bigmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1); /* exactly size bytes: ASan sees overreads */
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    int k = zbm_elf_kind(buf, size);
    if (k < ZBM_ELF_NOT_ELF || k > ZBM_ELF_STATIC)
        abort();
    free(buf);
    return 0;
}
