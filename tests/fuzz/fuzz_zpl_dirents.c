/*
 * libFuzzer target for the interposer's check of a daemon's directory records (zpl_dirents_ok,
 * src/zoid/preload/dirents.c): the input is a zp_getdents reply. When the check passes, the
 * records are walked the way readdir's callers use them (the record in place, strlen of its
 * name); a record running past the buffer (ASan sees it: the buffer is exactly the input), a
 * name without its NUL inside its record, an empty name or one with '/' aborts: the check let
 * a lie through.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zoid/preload/dirents.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    if (zpl_dirents_ok(buf, size)) {
        size_t pos = 0, head = offsetof(struct dirent64, d_name);
        while (pos < size) {
            unsigned short reclen;
            memcpy(&reclen, buf + pos + offsetof(struct dirent64, d_reclen), sizeof(reclen));
            if (reclen < head + 2 || reclen > size - pos)
                abort();
            const char *name = buf + pos + head;
            size_t len = strlen(name);
            if (len == 0 || len >= reclen - head || memchr(name, '/', len))
                abort();
            pos += reclen;
        }
    }
    free(buf);
    return 0;
}
