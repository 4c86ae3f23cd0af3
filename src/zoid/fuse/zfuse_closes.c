/*
 * `zepto zoid mount`, relaxed consistency: releases sent together. The kernel's release of a file
 * (its written pages already sent: the writeback cache flushes before release) leaves the
 * remote handle on a list, sent in one zp_close_many when it holds ZC_MAX handles, at every
 * keepalive tick (zfuse_conn.c, 10 s) and at unmount. An open that took a lock closes at once
 * (another process may wait for the lock). A daemon without zp_close_many gets the closes one by
 * one. docs/zoid-mount.md says what this may show (a removed file's space comes back up to 10 s
 * later).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <stdlib.h>

#include "zfuse_int.h"
#include "zfuse_share.h"
#include "zposix.h"
#include "zposix_client.h" /* the zf_ stubs */

#define ZC_MAX 64

static pthread_mutex_t zc_mu = PTHREAD_MUTEX_INITIALIZER;
static int32_t zc_h[ZC_MAX];
static struct zf_open *zc_f[ZC_MAX]; /* their opens: the user's share is given back when sent */
static uint32_t zc_n, zc_gen;
static bool zc_old_daemon; /* zp_close_many unknown: one by one */

/* zc_mu held. */
static void release_all(void)
{
    for (uint32_t i = 0; i < zc_n; i++) {
        zf_share_release(zc_f[i]);
        free(zc_f[i]);
    }
    zc_n = 0;
}

static void send_locked(void)
{
    if (!zc_n)
        return;
    uint32_t g = zf_enter();
    if (g != zc_gen) { /* a new connection: the old session's handles are gone */
        zf_leave(g, 0);
        release_all();
        return;
    }
    long rc = -1;
    if (!zc_old_daemon) {
        rc = zf_zp_close_many(zc_h, zc_n);
        if (rc && errno == ENOSYS)
            zc_old_daemon = true;
    }
    if (zc_old_daemon)
        for (uint32_t i = 0; i < zc_n; i++)
            rc = zf_zp_close(zc_h[i]);
    zf_leave(g, rc && errno == EBADF ? 0 : rc);
    release_all();
}

void zf_close_defer(struct zf_open *f)
{
    pthread_mutex_lock(&zc_mu);
    if (zc_n && zc_gen != f->gen)
        release_all();
    zc_gen = f->gen;
    zc_f[zc_n] = f;
    zc_h[zc_n++] = f->h;
    if (zc_n == ZC_MAX)
        send_locked();
    pthread_mutex_unlock(&zc_mu);
}

void zf_close_flush(void)
{
    pthread_mutex_lock(&zc_mu);
    send_locked();
    pthread_mutex_unlock(&zc_mu);
}
