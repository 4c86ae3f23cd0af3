/*
 * libzoid-preload.so: write-behind of relaxed consistency, and the file position the library
 * keeps while calls of an open file description are in flight (zpl_async.h).
 *
 * A write goes to a worker as a job at an explicit offset, its data copied, and the call returns
 * at once; up to ZPL_AS_DEPTH are in flight per description (a further write waits for the
 * oldest). A write overlapping one in flight waits for all of them first, so that writes to the
 * same bytes land in program order. A write at the file position takes the position from the
 * daemon once (zp_lseek) and keeps it here; whatever else touches the description (a read that
 * is not sequential, lseek, truncation, sync, dup, fork, exec, a path call) drains first: the
 * writes are waited for and the daemon's position is set to the one kept here. A failed write
 * is kept in wb->err and returned by the next write, fsync or close, as POSIX allows of
 * buffered I/O.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zoid/preload/zpl_async.h"

atomic_int zpl_as_active;
atomic_ulong zpl_wgen;

struct zpl_as *zpl_as_get(struct zpl_wb *wb)
{
    if (!wb->as)
        wb->as = calloc(1, sizeof(*wb->as));
    if (wb->as && !wb->as->counted) {
        wb->as->counted = true;
        atomic_fetch_add(&zpl_as_active, 1);
    }
    return wb->as;
}

/* One job done: its result into wb->err. */
static void reap(struct zpl_wb *wb, struct zpl_job *j)
{
    zpl_job_wait(j);
    if (!wb->err) {
        if (j->r < 0)
            wb->err = j->err;
        else if ((size_t)j->r < j->n)
            wb->err = ENOSPC; /* as the kernel's write-back reports a short write */
    }
    zpl_job_free(j);
}

void zpl_as_wait_writes(struct zpl_wb *wb)
{
    struct zpl_as *as = wb->as;
    if (!as)
        return;
    for (int i = 0; i < as->nwq; i++)
        reap(wb, as->wq[i]);
    as->nwq = 0;
    zpl_ws_wait(wb);
}

static void wait_oldest(struct zpl_wb *wb)
{
    struct zpl_as *as = wb->as;
    reap(wb, as->wq[0]);
    memmove(as->wq, as->wq + 1, (size_t)(as->nwq - 1) * sizeof(as->wq[0]));
    as->nwq--;
}

void zpl_as_reap_done(struct zpl_wb *wb)
{
    struct zpl_as *as = wb->as;
    while (as && as->nwq && atomic_load_explicit(&as->wq[0]->done, memory_order_acquire))
        wait_oldest(wb);
}

void zpl_as_drain(struct zpl_wb *wb, int h)
{
    wb->small_run = 0;
    struct zpl_as *as = wb->as;
    if (!as)
        return;
    zpl_as_wait_writes(wb);
    zpl_ra_drop(wb);
    if (as->pos_valid && h >= 0) {
        int64_t r;
        ZP_CALL(r, zp_lseek(h, as->pos, SEEK_SET));
        if (r != as->pos && !wb->err)
            wb->err = r < 0 ? (zpl_fail(), errno) : EIO;
    }
    as->pos_valid = false;
    as->seq = 0;
    as->cur_reads = 0;
    if (as->counted) {
        as->counted = false;
        atomic_fetch_sub(&zpl_as_active, 1);
    }
}

void zpl_as_free(struct zpl_as *as)
{
    if (!as)
        return;
    for (int i = 0; i < as->nwq; i++) {
        zpl_job_wait(as->wq[i]);
        zpl_job_free(as->wq[i]);
    }
    for (int i = 0; i < as->nra; i++) {
        zpl_job_wait(as->ra[i]);
        zpl_job_free(as->ra[i]);
    }
    struct zpl_wb quiet = {.as = as}; /* results nobody will ask for */
    zpl_ws_wait(&quiet);
    if (as->counted)
        atomic_fetch_sub(&zpl_as_active, 1);
    free(as);
}

int64_t zpl_as_pos(struct zpl_fd *e, int h)
{
    struct zpl_as *as = zpl_as_get(e->wb);
    if (!as) {
        errno = ENOMEM;
        return -1;
    }
    if (as->unseekable) {
        errno = ESPIPE;
        return -1;
    }
    if (!as->pos_valid) {
        int64_t r;
        ZP_CALL(r, zp_lseek(h, 0, SEEK_CUR));
        if (r < 0) {
            if (r == -1)
                zpl_fail();
            else
                errno = EIO;
            as->unseekable = errno == ESPIPE;
            return -1;
        }
        as->pos = r;
        as->pos_valid = true;
    }
    return as->pos;
}

static bool overlaps(const struct zpl_as *as, int64_t off, size_t n)
{
    if (zpl_ws_overlaps(as, off, n))
        return true;
    for (int i = 0; i < as->nwq; i++) {
        const struct zpl_job *j = as->wq[i];
        if (off < j->off + (int64_t)j->n && j->off < off + (int64_t)n)
            return true;
    }
    return false;
}

int zpl_wb_submit(struct zpl_fd *e, int h, const void *buf, size_t n, int64_t off)
{
    struct zpl_wb *wb = e->wb;
    struct zpl_as *as = zpl_as_get(wb);
    if (!as || !zpl_as_depth()) /* ZOID_PRELOAD_DEPTH=0: nothing in flight, written now */
        goto sync;
    atomic_fetch_add(&zpl_wgen, 1);
    zpl_ra_drop(wb);
    if (overlaps(as, off, n))
        zpl_as_wait_writes(wb);
    while (n) {
        size_t part = n < ZPL_AS_BLOCK ? n : ZPL_AS_BLOCK;
        if (as->nwq >= zpl_as_depth())
            wait_oldest(wb);
        struct zpl_job *j = calloc(1, sizeof(*j));
        char *copy = j ? malloc(part) : NULL;
        if (!copy) {
            free(j);
            goto sync;
        }
        memcpy(copy, buf, part);
        j->kind = ZJ_WRITE;
        j->h = h;
        j->buf = copy;
        j->n = part;
        j->off = off;
        if (zpl_job_submit(j)) {
            zpl_job_free(j);
            goto sync;
        }
        as->wq[as->nwq++] = j;
        buf = (const char *)buf + part;
        off += (int64_t)part;
        n -= part;
    }
    return 0;
sync:
    /* No memory or no thread: the rest in this call, after what is in flight. */
    zpl_as_wait_writes(wb);
    if (!n)
        return 0;
    ssize_t r = zpl_pwrite_all(h, buf, n, off);
    if (r < 0)
        return -1;
    if ((size_t)r < n) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}
