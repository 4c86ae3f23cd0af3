/*
 * The posix plugin's calls that do the work of several in one round trip (zposix.h, "batches"):
 * a relaxed client's closes sent together, and its small writes at several places.
 */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "coalesce.h"
#include "zp_impl.h"
#include "zposix_server.h"

int zp_close_many(const int32_t *handles, uint32_t n)
{
    if (n > ZP_MAX_HANDLES) {
        errno = EINVAL;
        return -1;
    }
    ZP_ENTER(x);
    int first = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* As zp_close: the last writer's close sends what was gathered for the file. */
        int flushed = 0;
        if (zpc_pending()) {
            struct zp_file *f = zp__get(x.s, handles[i]);
            if (f)
                flushed = zpc_close(f) ? errno : 0;
            zp__put(f);
        }
        if (zp__close(x.s, handles[i]) && !first)
            first = errno;
        else if (flushed && !first)
            first = flushed;
    }
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
    ZP_ENTER(x);
    ZP_FILE_OR_FAIL(x, h, f);
    zpc_add(ZPC_write_messages, 1);
    size_t done = 0;
    ssize_t rc = 0;
    for (uint32_t i = 0; i < nsegs; i += 2) {
        size_t len = (size_t)segs[i + 1];
        const char *p = (const char *)buf + done;
        /* Each piece as zp_pwrite: gathered for a relaxed session, else one backend write after
         * what was gathered for the file (order). */
        zpc_add(ZPC_write_calls, 1);
        zpc_add(ZPC_write_bytes_asked, len);
        ssize_t w;
        if (!zpc_pwrite(x.s, f, p, len, segs[i], &w)) {
            w = zpc_flush(f->dev, f->ino);
            if (!w) {
                w = pwrite(f->fd, p, len, (off_t)segs[i]);
                zpc_add(ZPC_write_backend_ops, 1);
                if (w > 0)
                    zpc_add(ZPC_write_backend_bytes, (uint64_t)w);
            }
            zpc_invalidate(f->dev, f->ino);
        }
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
    zpc_changed();
    zp__put(f);
    errno = e;
    return zp__leave(&x, rc);
}
