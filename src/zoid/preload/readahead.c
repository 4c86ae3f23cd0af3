/*
 * libzoid-preload.so: read-ahead of relaxed consistency (zpl_async.h).
 *
 * Once a description has been read sequentially (a read starting where the previous one ended,
 * at the file position or at explicit offsets), the next ZPL_AS_DEPTH blocks of the same size
 * (at most ZPL_AS_BLOCK; reads under RA_SMALL, stdio's 4-8 KiB, after RA_SMALL_RUN in a row and
 * in blocks of RA_SMALL_BLOCK, one ahead at first, then more as they are used) are asked for by
 * workers while the program uses the current one; a read served from them costs a memcpy. The
 * whole process reads ahead at most RA_BUDGET bytes at once. The blocks are dropped by a read
 * elsewhere, by any write through the library (zpl_wgen), and by whatever drains the description
 * (lseek, a path call that may change something, fork, exec, close): data read ahead is never
 * older than the program's own last write, and at most ZPL_AS_DEPTH blocks ahead of its last
 * read.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "zoid/preload/zpl_async.h"

#define RA_SMALL       (64u << 10) /* smaller reads are read ahead after RA_SMALL_RUN in a row */
#define RA_SMALL_RUN   16
#define RA_SMALL_BLOCK (128u << 10) /* smaller reads are read ahead in blocks of this */
#define RA_BUDGET      (64u << 20)  /* bytes read ahead at once, in the whole process */

static atomic_size_t ra_bytes; /* read ahead now (issued, not yet used or dropped) */

static void ra_free(struct zpl_job *j)
{
    atomic_fetch_sub(&ra_bytes, j->n);
    zpl_job_free(j);
}

void zpl_ra_drop(struct zpl_wb *wb)
{
    struct zpl_as *as = wb->as;
    if (!as)
        return;
    for (int i = 0; i < as->nra; i++) {
        zpl_job_wait(as->ra[i]);
        ra_free(as->ra[i]);
    }
    as->nra = 0;
    as->ra_ramp = 1;
}

static void ra_pop(struct zpl_as *as)
{
    if (as->ra_ramp < ZPL_AS_DEPTH)
        as->ra_ramp *= 2;
    ra_free(as->ra[0]);
    memmove(as->ra, as->ra + 1, (size_t)(as->nra - 1) * sizeof(as->ra[0]));
    as->nra--;
}

/* Serves what the reads ahead hold of [off, off + n): bytes copied; *eof when the file ended. */
static size_t serve(struct zpl_wb *wb, char *buf, size_t n, int64_t off, bool *eof)
{
    struct zpl_as *as = wb->as;
    size_t got = 0;
    while (got < n && as->nra) {
        struct zpl_job *j = as->ra[0];
        int64_t at = off + (int64_t)got;
        if (at < j->off || at >= j->off + (int64_t)j->n) {
            zpl_ra_drop(wb); /* not where the reads went: start again */
            break;
        }
        zpl_job_wait(j);
        if (j->r < 0) { /* read it again in the program's call, for its errno */
            zpl_ra_drop(wb);
            break;
        }
        int64_t end = j->off + j->r;
        if (at >= end) {
            *eof = true;
            zpl_ra_drop(wb);
            break;
        }
        size_t take = (size_t)(end - at) < n - got ? (size_t)(end - at) : n - got;
        memcpy(buf + got, j->buf + (at - j->off), take);
        got += take;
        if (at + (int64_t)take >= end) {
            bool short_read = (size_t)j->r < j->n;
            ra_pop(as);
            if (short_read) {
                *eof = true;
                zpl_ra_drop(wb);
                break;
            }
        }
    }
    return got;
}

static void issue(struct zpl_fd *e, int h, size_t blk)
{
    struct zpl_as *as = e->wb->as;
    /* Small reads: one block ahead at first, twice as many each time one is used up, so that a
     * run cut short by a path call (a drain waits for what is in flight) wastes little. */
    int depth = zpl_as_depth();
    if (blk < RA_SMALL) {
        blk = RA_SMALL_BLOCK;
        if (as->ra_ramp < 1)
            as->ra_ramp = 1;
        if (depth > as->ra_ramp)
            depth = as->ra_ramp;
    }
    if (blk > ZPL_AS_BLOCK)
        blk = ZPL_AS_BLOCK;
    if (blk > zpl_chunk())
        blk = zpl_chunk();
    if (!as->nra)
        as->ra_wgen = atomic_load(&zpl_wgen);
    while (as->nra < depth) {
        int64_t at =
            as->nra ? as->ra[as->nra - 1]->off + (int64_t)as->ra[as->nra - 1]->n : as->ra_next;
        if (atomic_fetch_add(&ra_bytes, blk) + blk > RA_BUDGET) {
            atomic_fetch_sub(&ra_bytes, blk); /* the process has enough in flight */
            return;
        }
        struct zpl_job *j = calloc(1, sizeof(*j));
        char *b = j ? malloc(blk) : NULL;
        if (!b) {
            free(j);
            atomic_fetch_sub(&ra_bytes, blk);
            return;
        }
        j->kind = ZJ_READ;
        j->h = h;
        j->buf = b;
        j->n = blk;
        j->off = at;
        if (zpl_job_submit(j)) {
            ra_free(j);
            return;
        }
        as->ra[as->nra++] = j;
    }
}

ssize_t zpl_ra_read(struct zpl_fd *e, void *buf, size_t n, int64_t off)
{
    struct zpl_wb *wb = e->wb;
    int h = zpl_fd_handle(e);
    if (h < 0)
        return -1;
    if (atomic_load(&zpl_exiting)) {
        zpl_flush(e);
        return zpl_pread_all(h, buf, n, off);
    }
    pthread_mutex_lock(&wb->mu);
    if (n < RA_SMALL && !(wb->as && wb->as->counted)) {
        /* Small and nothing read ahead yet: straight to the daemon until the run is long. */
        bool seq = off == ZP_CUR || off == wb->small_next;
        wb->small_run = seq ? wb->small_run + 1 : 1;
        if (wb->small_run <= RA_SMALL_RUN) {
            pthread_mutex_unlock(&wb->mu);
            zpl_flush(e);
            ssize_t r = zpl_pread_all(h, buf, n, off);
            pthread_mutex_lock(&wb->mu);
            wb->small_next = off == ZP_CUR || r < 0 ? -1 : off + r;
            pthread_mutex_unlock(&wb->mu);
            return r;
        }
    }
    /* What is buffered or in flight for writing goes first; a write error stays for the next
     * write, fsync or close. */
    struct zpl_as *as = zpl_as_get(wb);
    if (!as) {
        pthread_mutex_unlock(&wb->mu);
        zpl_flush(e);
        return zpl_pread_all(h, buf, n, off);
    }
    if (wb->len) { /* small writes still buffered: sent and waited for, as before */
        pthread_mutex_unlock(&wb->mu);
        zpl_flush(e);
        pthread_mutex_lock(&wb->mu);
        as = zpl_as_get(wb);
        if (!as) {
            pthread_mutex_unlock(&wb->mu);
            return zpl_pread_all(h, buf, n, off);
        }
    }
    zpl_as_wait_writes(wb);
    bool cur = off == ZP_CUR;
    if (cur && !as->pos_valid && as->cur_reads++ == 0) {
        /* The first read at the position: as before, the daemon's position moves (nothing is
         * buffered or in flight for writing now, and the position is the daemon's). */
        ssize_t r = zpl_pread_all(h, buf, n, off);
        pthread_mutex_unlock(&wb->mu);
        return r;
    }
    if (cur && zpl_as_pos(e, h) < 0) {
        pthread_mutex_unlock(&wb->mu);
        /* A pipe or a socket has no position to read ahead from: read it as it comes. */
        return errno == ESPIPE ? zpl_pread_all(h, buf, n, off) : -1;
    }
    int64_t at = cur ? as->pos : off;
    if (n >= 2 * ZPL_SPLIT_MIN) {
        /* Large: in blocks in flight at once straight into buf, not read ahead and copied. */
        zpl_ra_drop(wb);
        ssize_t r = zpl_io_split(ZJ_READ, h, buf, n, at);
        if (r >= 0 && cur)
            as->pos += r;
        as->ra_next = r >= 0 ? at + r : -1;
        pthread_mutex_unlock(&wb->mu);
        return r;
    }
    if (as->nra && as->ra_wgen != atomic_load(&zpl_wgen))
        zpl_ra_drop(wb); /* a write since: what was read ahead may be old */
    if (at == as->ra_next)
        as->seq++;
    else {
        zpl_ra_drop(wb);
        as->seq = 0;
    }
    bool eof = false;
    size_t got = serve(wb, buf, n, at, &eof);
    ssize_t r = (ssize_t)got;
    if (got < n && !eof) {
        ssize_t more = zpl_io_split(ZJ_READ, h, (char *)buf + got, n - got, at + (int64_t)got);
        if (more < 0)
            r = got ? r : -1;
        else
            r += more;
        if (more >= 0 && (size_t)more < n - got)
            eof = true;
    }
    if (r >= 0) {
        as->ra_next = at + r;
        if (cur)
            as->pos += r;
        if (as->seq >= 1 && !eof)
            issue(e, h, n);
    }
    pthread_mutex_unlock(&wb->mu);
    return r;
}
