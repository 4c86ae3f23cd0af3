/*
 * libzoid-preload.so: large relaxed writes sent from the program's own thread, their replies
 * collected later (zpl_async.h).
 *
 * Over TCP a forwarded write costs two copies, the client's into the socket and the daemon's
 * from it into the file. Waited for one at a time they take turns; the write-behind jobs of
 * writebehind.c would add a third copy (into a job's buffer). Here a relaxed write of
 * 2 * ZPL_SPLIT_MIN or more is a call begun in the caller's thread: zp_pwrite_begin returns once
 * the whole request is in the socket, so the program may reuse its buffer at once, and the write
 * returns without waiting for the reply. The daemon puts one write into the file while the
 * program makes the next. At most stream_depth() are in flight per description (the oldest is
 * ended first); the rules are those of the write-behind jobs: a write overlapping one in flight
 * waits for all of them, a failure is kept in wb->err for the next write, fsync or close, and
 * whatever drains the description ends them (zpl_as_wait_writes). docs/zoid-posix.md, "Streamed
 * large writes".
 *
 * Nobody reads the connection while a single-threaded program only begins calls, so their
 * replies queue in the socket. A program streaming to many files at once (8 each) would fill
 * its receive buffer with them; the daemon, unable to answer, would stop taking requests, and
 * the next send would wait for ever (64 files of 1 MiB writes in turn hung before this bound).
 * So the whole process has at most UNENDED_MAX begun and not ended (fewer when the daemon allows
 * a connection fewer calls in flight: a call begun holds one until it is ended): past it a write
 * ends its description's oldest first, or, having none, is written at once (a call waited for
 * reads every reply that came before its own).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/zoid.h"
#include "zoid/preload/zpl_async.h"
#include "zposix_client.h"

/* Streamed writes begun and not ended in the process: replies of some 40 bytes each, queued in
 * the socket's receive buffer (128 KiB by default, ~1 KiB of it per reply) until ended. */
#define UNENDED_MAX 16
atomic_int zpl_ws_unended;

static atomic_int stream_setting = -1; /* $ZOID_PRELOAD_STREAM, read once */

bool zpl_stream_on(void)
{
    int on = atomic_load_explicit(&stream_setting, memory_order_relaxed);
    if (on < 0) {
        const char *v = getenv("ZOID_PRELOAD_STREAM");
        on = !(v && !strcmp(v, "0"));
        atomic_store(&stream_setting, on);
    }
    return on;
}

bool zpl_ws_wanted(size_t n)
{
    return n >= 2 * ZPL_SPLIT_MIN && zpl_tcp() && zpl_stream_on();
}

/* Writes in flight per description: twice the depth of the write-behind jobs (8 by default:
 * 1 MiB writes over TCP loopback 2.7 GB/s, against 2.5 with 4 and 2.3 with 2). */
static int stream_depth(void)
{
    int d = 2 * zpl_as_depth();
    return d < ZPL_AS_DEPTH ? d : ZPL_AS_DEPTH;
}

/* The result of the call in s, into wb->err when it failed or wrote less. */
static void end_one(struct zpl_wb *wb, struct zpl_sent *s)
{
    int saved = errno;
    ssize_t r;
    errno = 0;
    ZP_CALL(r, zp_pwrite_end(&s->call));
    atomic_fetch_sub(&zpl_ws_unended, 1);
    int err = 0;
    if (r == -1) {
        zpl_fail(); /* a lost connection is EIO, as the calls waited for say */
        err = errno > 0 ? errno : EIO;
    } else if (r < -1 || r > (ssize_t)s->n) {
        err = EIO; /* a count the daemon cannot have written */
    } else if ((size_t)r < s->n) {
        err = ENOSPC; /* as the kernel's write-back reports a short write */
    }
    if (err && !wb->err)
        wb->err = err;
    errno = saved;
}

/* as->sent is a ring (a call's reply buffer must not move): the i-th oldest write begun. */
static struct zpl_sent *sent_at(struct zpl_as *as, int i)
{
    return &as->sent[(as->sent0 + i) % ZPL_AS_DEPTH];
}

static void end_oldest(struct zpl_wb *wb)
{
    struct zpl_as *as = wb->as;
    end_one(wb, sent_at(as, 0));
    as->sent0 = (as->sent0 + 1) % ZPL_AS_DEPTH;
    as->nsent--;
}

void zpl_ws_wait(struct zpl_wb *wb)
{
    while (wb->as && wb->as->nsent)
        end_oldest(wb);
}

bool zpl_ws_overlaps(const struct zpl_as *as, int64_t off, size_t n)
{
    for (int i = 0; i < as->nsent; i++) {
        const struct zpl_sent *s = &as->sent[(as->sent0 + i) % ZPL_AS_DEPTH];
        if (off < s->off + (int64_t)s->n && s->off < off + (int64_t)n)
            return true;
    }
    return false;
}

/* The most streamed writes not ended in the process: UNENDED_MAX, and at most half the calls
 * the daemon lets a connection have in flight (a call begun holds one until it is ended, even
 * answered; the other half is for the calls of the program's other threads). */
static int unended_max(struct zoid_client *c)
{
    uint32_t m = zoid_max_in_flight(c);
    return m && m / 2 < UNENDED_MAX ? (int)(m / 2) : UNENDED_MAX;
}

/* One of the process's slots for a write begun (given back by end_one), or false. */
static bool reserve(int max)
{
    int v = atomic_load(&zpl_ws_unended);
    do
        if (v >= max)
            return false;
    while (!atomic_compare_exchange_weak(&zpl_ws_unended, &v, v + 1));
    return true;
}

/* Begins one zp_pwrite of n <= zpl_chunk() bytes at off, in a slot reserved: 0, or -1 + errno
 * (nothing sent). */
static int begin_one(struct zpl_as *as, int h, const void *buf, size_t n, int64_t off)
{
    struct zpl_sent *s = sent_at(as, as->nsent);
    int rc;
    ZP_CALL(rc, zp_pwrite_begin(&s->call, h, buf, n, off));
    if (rc)
        return -1;
    s->n = n;
    s->off = off;
    as->nsent++;
    return 0;
}

ssize_t zpl_ws_write(struct zpl_wb *wb, int h, const void *buf, size_t n, int64_t off)
{
    struct zpl_as *as = wb->as;
    if (zpl_ws_overlaps(as, off, n))
        zpl_ws_wait(wb);
    size_t chunk = zpl_chunk(), sent = 0;
    struct zoid_client *c = zpl_client();
    int max = c ? unended_max(c) : 0;
    while (sent < n) {
        size_t part = n - sent < chunk ? n - sent : chunk;
        while (as->nsent >= stream_depth() || (as->nsent && atomic_load(&zpl_ws_unended) >= max))
            end_oldest(wb);
        bool slot = reserve(max);
        if (!slot || begin_one(as, h, (const char *)buf + sent, part, off + (int64_t)sent)) {
            if (slot)
                atomic_fetch_sub(&zpl_ws_unended, 1);
            /* Other files' writes hold every reply slot, or no memory, or no connection: the
             * rest now, after what is in flight; the bytes up to a failure, as a short write. */
            zpl_ws_wait(wb);
            ssize_t r = zpl_pwrite_all(h, (const char *)buf + sent, n - sent, off + (int64_t)sent);
            return r >= 0 ? (ssize_t)(sent + (size_t)r) : sent ? (ssize_t)sent : -1;
        }
        sent += part;
    }
    return (ssize_t)n;
}
