/*
 * libzoid-preload.so: the closes of relaxed consistency, sent together. A close in relaxed mode
 * (its written data sent and waited for first, so that its errors still come back from close)
 * leaves the handle on a list; the list goes to the daemon in one zp_close_many when it holds
 * CB_MAX handles, before fork and exec, and at exit. A descriptor that took a record lock or a
 * flock closes at once (another process may wait for the lock). A daemon without
 * zp_close_many gets the closes one by one.
 */
#include <errno.h>
#include <pthread.h>

#include "zoid/preload/zpl_async.h"

#define CB_MAX 64

static pthread_mutex_t cb_mu = PTHREAD_MUTEX_INITIALIZER;
static int32_t cb_h[CB_MAX];
static uint32_t cb_n;
static uint64_t cb_gen;
static atomic_bool cb_old_daemon; /* zp_close_many unknown: one by one */

/* cb_mu held. */
static void send_locked(void)
{
    if (!cb_n)
        return;
    if (zpl_conn() || cb_gen != zpl_gen()) { /* the session is gone, and its handles with it */
        cb_n = 0;
        return;
    }
    int rc = -1;
    if (!atomic_load(&cb_old_daemon)) {
        ZP_CALL(rc, zp_close_many(cb_h, cb_n));
        if (rc && errno != EBADF) {
            if (errno == ENOSYS || errno == EOPNOTSUPP || errno == EPROTONOSUPPORT)
                atomic_store(&cb_old_daemon, true);
            else
                zpl_fail();
        }
    }
    if (atomic_load(&cb_old_daemon))
        for (uint32_t i = 0; i < cb_n; i++) {
            ZP_CALL(rc, zp_close(cb_h[i]));
            (void)rc;
        }
    cb_n = 0;
}

bool zpl_close_defer(int h)
{
    uint64_t g = zpl_gen();
    pthread_mutex_lock(&cb_mu);
    if (cb_n && cb_gen != g)
        cb_n = 0;
    cb_gen = g;
    cb_h[cb_n++] = h;
    if (cb_n == CB_MAX)
        send_locked();
    pthread_mutex_unlock(&cb_mu);
    return true;
}

void zpl_close_flush(void)
{
    pthread_mutex_lock(&cb_mu);
    send_locked();
    pthread_mutex_unlock(&cb_mu);
}

/* Fork: flushed before (zpl_aio_quiesce); the child starts with an empty list. */
void zpl__closebatch_child(void);
void zpl__closebatch_child(void)
{
    pthread_mutex_init(&cb_mu, NULL);
    cb_n = 0;
}
