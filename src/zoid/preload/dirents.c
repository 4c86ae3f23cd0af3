/*
 * The check of directory records a daemon sent (zp_getdents): the interposer hands them to the
 * program as they are (readdir returns them in place, getdents64 copies them out), so a record
 * that runs past the buffer, has no NUL-terminated name inside it or a name with '/' would make
 * the program read the library's memory or walk out of the directory. Fuzzed by fuzz.zpl_dirents.
 */
#include <dirent.h>
#include <stddef.h>
#include <string.h>

#include "zoid/preload/dirents.h"

bool zpl_dirents_ok(const void *buf, size_t n)
{
    const char *b = buf;
    size_t pos = 0, head = offsetof(struct dirent64, d_name);
    while (pos < n) {
        if (n - pos < head + 2) /* a record is at least its header, one name byte and a NUL */
            return false;
        unsigned short reclen;
        memcpy(&reclen, b + pos + offsetof(struct dirent64, d_reclen), sizeof(reclen));
        if (reclen < head + 2 || reclen > n - pos || reclen % 8)
            return false;
        const char *name = b + pos + head;
        size_t room = reclen - head;
        const char *nul = memchr(name, '\0', room);
        if (!nul || nul == name || memchr(name, '/', (size_t)(nul - name)))
            return false;
        pos += reclen;
    }
    return true;
}
