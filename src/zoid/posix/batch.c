/*
 * The posix plugin's calls that do the work of several in one round trip (zposix.h, "batches"):
 * a relaxed client's closes sent together, and its small writes at several places.
 */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

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

ssize_t zp_pwrite_many(int h, const int64_t *segs, uint32_t nsegs, const void *buf, size_t n)
{
    uint64_t sum = 0;
    bool bad = nsegs % 2;
    for (uint32_t i = 0; !bad && i < nsegs; i += 2) {
        bad = segs[i] < 0 || segs[i + 1] < 0 || (uint64_t)segs[i + 1] > n;
        sum += bad ? 0 : (uint64_t)segs[i + 1];
    }
    if (bad || sum != n) {
        errno = EINVAL;
        return -1;
    }
    struct zp_ctx x;
    if (zp__enter(&x))
        return -1;
    struct zp_file *f = zp__get(x.s, h);
    if (!f)
        return zp__leave(&x, -1);
    size_t done = 0;
    ssize_t rc = 0;
    for (uint32_t i = 0; i < nsegs; i += 2) {
        size_t len = (size_t)segs[i + 1];
        ssize_t w = pwrite(f->fd, (const char *)buf + done, len, (off_t)segs[i]);
        if (w < 0) {
            rc = done ? (ssize_t)done : -1;
            break;
        }
        done += (size_t)w;
        rc = (ssize_t)done;
        if ((size_t)w < len)
            break;
    }
    int e = errno;
    zp__put(f);
    errno = e;
    return zp__leave(&x, rc);
}
