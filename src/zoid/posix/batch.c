/*
 * The posix plugin's calls that do the work of several in one round trip (zposix.h, "batches"):
 * a relaxed client's closes sent together.
 */
#include <errno.h>

#include "zp_impl.h"
#include "zposix_server.h"

int zp_close_many(const int32_t *handles, uint32_t n)
{
    if (n > ZP_MAX_HANDLES) {
        errno = EINVAL;
        return -1;
    }
    struct zp_ctx x;
    if (zp__enter(&x))
        return -1;
    int first = 0;
    for (uint32_t i = 0; i < n; i++)
        if (zp__close(x.s, handles[i]) && !first)
            first = errno;
    if (first)
        errno = first;
    return (int)zp__leave(&x, first ? -1 : 0);
}
