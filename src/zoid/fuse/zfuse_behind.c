/*
 * Write-behind of a relaxed mount. With the writeback cache the kernel sends dirty pages to the
 * mount one request each; random 4 KiB writes cost one daemon round trip per page. Here a write
 * of up to 64 KiB is answered at once and kept, with the writes of the same open that follow,
 * until 256 of them or 1 MiB are kept; they then go to the daemon in one zp_pwrite_many, in the
 * order they came (one sending at a time). A write of another open, a larger write, and every
 * other remote call of the mount send what is kept first (zf_enter calls zf_behind_send), so no
 * answer of the daemon (a read, a stat, a lock, a truncate) can miss a write the kernel was told
 * is done. A sending that fails is reported by the next flush (close(2)), fsync or release of
 * that open, as the kernel reports a failed write-back (docs/zoid-mount.md, "Relaxed").
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zfuse_behind.h"
#include "zfuse_int.h"
#include "zposix_client.h"

#define KEEP_PIECES 256
#define KEEP_BYTES  (1u << 20)
#define PIECE_MAX   (64u << 10) /* larger writes go at once: no batching to win */

static struct {
    pthread_mutex_t mu;
    struct zf_open *f; /* whose writes are kept */
    unsigned char *buf;
    size_t len;
    int64_t seg[2 * KEEP_PIECES]; /* offset, length of each, in order */
    uint32_t n;
    atomic_bool any;     /* something is kept: the quick look of zf_behind_send */
    atomic_bool refused; /* the daemon has no zp_pwrite_many: no write-behind */
} kept = {.mu = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local bool sending; /* this thread sends them: its own zf_enter must not */

/* Writes piece i of the kept ones with a plain pwrite (a daemon without zp_pwrite_many). */
static long send_piece(int h, uint32_t gen, size_t at, uint32_t i)
{
    size_t len = (size_t)kept.seg[2 * i + 1];
    uint32_t g = zf_enter();
    long r = g == gen ? zf_leave(g, zf_zp_pwrite(h, kept.buf + at, len, kept.seg[2 * i]))
                      : zf_leave(g, (errno = ESTALE, -1));
    return r >= 0 && (size_t)r < len ? -ENOSPC : r;
}

/* Sends what is kept (kept.mu held). */
static void send_locked(void)
{
    if (!kept.n)
        return;
    struct zf_open *f = kept.f;
    sending = true;
    uint32_t g = zf_enter();
    long r;
    if (f->gen != g)
        r = zf_leave(g, (errno = ESTALE, -1)); /* the daemon restarted: that handle is gone */
    else
        r = zf_leave(g, zf_zp_pwrite_many(f->h, kept.seg, 2 * kept.n, kept.buf, kept.len));
    if (r == -ENOSYS) { /* an older daemon: one by one, and no more keeping */
        atomic_store(&kept.refused, true);
        size_t at = 0;
        r = 0;
        for (uint32_t i = 0; i < kept.n && r >= 0; i++) {
            r = send_piece(f->h, f->gen, at, i);
            at += (size_t)kept.seg[2 * i + 1];
        }
    } else if (r >= 0 && (size_t)r < kept.len)
        r = -ENOSPC; /* as the kernel's write-back reports a short write */
    else if (r >= 0 && (size_t)r > kept.len)
        r = -EIO; /* more than was sent: a daemon that lies */
    sending = false;
    if (r < 0 && !f->behind_err)
        f->behind_err = (int)-r;
    kept.n = 0;
    kept.len = 0;
    kept.f = NULL;
    atomic_store(&kept.any, false);
}

int zf_behind_write(struct zf_open *f, const char *buf, size_t size, off_t off)
{
    /* one sending must fit the daemon's payload limit with its list of pieces */
    size_t room = zf_state.chunk > sizeof(kept.seg) ? zf_state.chunk - sizeof(kept.seg) : 0;
    if (room > KEEP_BYTES)
        room = KEEP_BYTES;
    if (zf_state.consistency != ZP_RELAXED || !size || size > PIECE_MAX || size > room / 4 ||
        off < 0 || atomic_load(&kept.refused))
        return 0;
    pthread_mutex_lock(&kept.mu);
    if (kept.f && kept.f != f)
        send_locked();
    if (kept.n == KEEP_PIECES || kept.len + size > room)
        send_locked();
    if (!kept.buf && !(kept.buf = malloc(KEEP_BYTES))) {
        pthread_mutex_unlock(&kept.mu);
        return 0;
    }
    memcpy(kept.buf + kept.len, buf, size);
    kept.seg[2 * kept.n] = (int64_t)off;
    kept.seg[2 * kept.n + 1] = (int64_t)size;
    kept.n++;
    kept.len += size;
    kept.f = f;
    atomic_store(&kept.any, true);
    pthread_mutex_unlock(&kept.mu);
    return (int)size;
}

void zf_behind_send(void)
{
    if (!atomic_load(&kept.any) || sending)
        return;
    pthread_mutex_lock(&kept.mu);
    send_locked();
    pthread_mutex_unlock(&kept.mu);
}

int zf_behind_error(struct zf_open *f)
{
    pthread_mutex_lock(&kept.mu);
    if (kept.f == f)
        send_locked();
    int e = f->behind_err;
    f->behind_err = 0;
    pthread_mutex_unlock(&kept.mu);
    return -e;
}
