/*
 * The FUSE client's connection to the daemon: one zoid client that every FUSE worker thread
 * calls through (the client is thread-safe and pipelines their calls), a session on it
 * (zp_session_new), a keepalive thread so that the daemon's idle timeout never drops a quiet
 * mount, and reconnection when the daemon restarts.
 *
 * Why a read-write lock around every call: the generated stubs call whichever connection
 * zf_zposix_zoid_use() last selected. Replacing it must wait until no call is using the old one
 * (the write lock), so that the old client can be closed at once and so that the new session
 * exists before any other call reaches the new connection. Calls on a dead connection fail at once
 * (ECONNRESET), so the writer never waits long; the lock prefers writers so that a busy mount
 * cannot starve the reconnection.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "zepto/zoid_mount.h"
#include "zfuse_behind.h"
#include "zfuse_int.h"
#include "zfuse_lend.h"
#include "zposix.h"
#include "zposix_client.h"

#define CALL_TIMEOUT_MS    60000 /* a call the daemon does not answer in this long gives EIO */
#define CONNECT_TIMEOUT_MS 2000
#define KEEPALIVE_S        10   /* under any --idle of the daemon above 10 s (default 600 s) */
#define RETRY_S            1    /* between reconnection attempts while the daemon is away */
#define CHUNK_SLACK        4096 /* room for a call's arguments beside the data */
#define CHUNK_MAX          (4u << 20) /* the kernel sends at most 1 MiB at once anyway */

struct zf_state zf_state;

static struct {
    pthread_rwlock_t lock;      /* read: a call in flight; write: replacing the connection */
    struct zoid_client *client; /* the current connection (never NULL once opened) */
    uint32_t gen;               /* its generation, 1 for the first */
    _Atomic bool broken;        /* a call saw the connection fail */
    pthread_mutex_t retry_mu;   /* one reconnection at a time; guards last_try_ns */
    uint64_t last_try_ns;       /* monotonic time of the last attempt */
    char server[PATH_MAX + 64]; /* copies: the CLI's strings, and the token file made absolute */
    char token_file[PATH_MAX];  /* (fuse_daemonize() changes to /) */
    bool has_token_file;
    pthread_t keepalive; /* its thread, and how it is stopped */
    bool keepalive_running;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stop;
} conn = {
    .retry_mu = PTHREAD_MUTEX_INITIALIZER,
    .stop_mu = PTHREAD_MUTEX_INITIALIZER,
};

static int connect_once(struct zoid_client **out, struct zepto_err *err)
{
    struct zoid_client_opts co = {
        .token_file = conn.has_token_file ? conn.token_file : NULL,
        .timeout_ms = CALL_TIMEOUT_MS,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
    };
    return zoid_connect(conn.server, &co, out, err);
}

/* Starts a session on the connection the stubs use; the daemon's default consistency, or
 * -errno. */
/* Starts a session: the daemon's default consistency, or -errno. A mount that is relaxed (want,
 * or the default when want is -1) declares it, since the daemon starts every session strict:
 * its writes may then be gathered with other relaxed writers' (docs/zoid-mount.md). */
static int session_start(int want)
{
    uint64_t id;
    uint8_t secret[ZP_SECRET_BYTES];
    int rc = zf_zp_session_new(ZP_VERSION, &id, secret, sizeof(secret));
    if (rc < 0)
        return -errno;
    if ((want >= 0 ? want : rc) == ZP_RELAXED)
        (void)zf_zp_consistency(ZP_RELAXED); /* refused by a daemon without coalescing */
    /* The kernel follows links itself: the daemon must follow none, so that a link put in a
     * path after the kernel checked it cannot lead a root mount's call elsewhere. An older
     * daemon without it: ENOSYS, and paths are resolved as before. */
    (void)zf_zp_no_symlinks();
    return rc;
}

static int wanted(const struct zoid_mount_opts *o)
{
    return o->consistency == ZOID_MOUNT_STRICT    ? ZP_STRICT
           : o->consistency == ZOID_MOUNT_RELAXED ? ZP_RELAXED
                                                  : -1;
}

int zf_conn_open(const struct zoid_mount_opts *o, struct zepto_err *err)
{
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&conn.lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_cond_init(&conn.stop_cv, NULL);

    if (strlen(o->server) >= sizeof(conn.server))
        return zepto_fail(err, ENAMETOOLONG, "--server: too long");
    strcpy(conn.server, o->server);
    if (o->token_file) {
        if (!realpath(o->token_file, conn.token_file))
            return zepto_fail(err, errno, "--token-file %s: %s", o->token_file, strerror(errno));
        conn.has_token_file = true;
    }

    struct zoid_client *c;
    int rc = connect_once(&c, err);
    if (rc)
        return rc;
    zf_zposix_zoid_use(c);
    int dflt = session_start(wanted(o));
    if (dflt < 0) {
        zf_zposix_zoid_use(NULL);
        zoid_close(c);
        if (dflt == -ENOSYS || dflt == -EOPNOTSUPP || dflt == -EPROTONOSUPPORT || dflt == -ENOENT)
            return zepto_fail(err, -dflt, "%s: the daemon does not serve the posix plugin: %s",
                              o->server, strerror(-dflt));
        return zepto_fail(err, -dflt, "%s: starting a session: %s", o->server, strerror(-dflt));
    }
    conn.client = c;
    conn.gen = 1;

    zf_state.consistency = wanted(o) >= 0 ? wanted(o) : dflt;
    size_t max = zoid_max_payload(c);
    size_t chunk = max > 2 * CHUNK_SLACK ? max - CHUNK_SLACK : CHUNK_SLACK;
    zf_state.chunk = chunk > CHUNK_MAX ? CHUNK_MAX : chunk;
    zf_state.self_uid = geteuid();
    zf_state.self_gid = getegid();
    zf_state.fix_owner = zf_state.self_uid == 0;
    return 0;
}

/* Replaces a broken connection of generation `gen` (unless another thread did, or an attempt
 * was made less than RETRY_S ago). Only fresh connections with a session are published. */
static void reconnect(uint32_t gen)
{
    if (pthread_mutex_trylock(&conn.retry_mu))
        return;
    uint64_t now = zb_mono_read();
    pthread_rwlock_rdlock(&conn.lock);
    bool current = conn.gen == gen;
    pthread_rwlock_unlock(&conn.lock);
    if (!current || now - conn.last_try_ns < (uint64_t)RETRY_S * 1000000000u)
        goto out;
    conn.last_try_ns = now;

    struct zepto_err err = {0};
    struct zoid_client *c;
    if (connect_once(&c, &err))
        goto out;
    pthread_rwlock_wrlock(&conn.lock);
    struct zoid_client *old = conn.client;
    zf_zposix_zoid_use(c);
    if (session_start(zf_state.consistency) < 0) {
        zf_zposix_zoid_use(old);
        pthread_rwlock_unlock(&conn.lock);
        zoid_close(c);
        goto out;
    }
    conn.client = c;
    conn.gen++;
    conn.broken = false;
    pthread_rwlock_unlock(&conn.lock);
    zoid_close(old); /* nobody holds it: every call on it ran under the read lock */
out:
    pthread_mutex_unlock(&conn.retry_mu);
}

uint32_t zf_enter(void)
{
    zf_behind_send(); /* writes answered already go before any other call */
    pthread_rwlock_rdlock(&conn.lock);
    return conn.gen;
}

/* EHOSTUNREACH and the like: a connection the network lost (the link cut, the I/O node gone),
 * as TCP reports it when its user timeout ends the connection (transport.c): replaced like a
 * reset one, once the network is back. */
static bool transport_error(int e)
{
    return e == ECONNRESET || e == EPIPE || e == ENOTCONN || e == ECONNABORTED ||
           e == ECONNREFUSED || e == ESHUTDOWN || e == ETIMEDOUT || e == EPROTO ||
           e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN || e == ENETDOWN;
}

/* Whether the current connection still answers (the core plugin's null function), under the
 * read lock. */
static bool answers(void)
{
    size_t got = 0;
    int rc = zoid_call(conn.client, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, &got, 0);
    return rc == 0 || zoid_is_remote(rc);
}

long zf_leave(uint32_t gen, long ret)
{
    int e = errno;
    /* EPROTO: a reply the stubs refused (a count beyond the buffer, ...), or a connection broken
     * by a bad frame. Only the second is replaced: a lie costs its call, not every open file. */
    bool lied = ret < 0 && e == EPROTO && answers();
    pthread_rwlock_unlock(&conn.lock);
    if (ret >= 0)
        return ret;
    if (ret < -1 || e <= 0 || e >= 4096 || lied)
        return -EIO; /* not -1 and an errno: a lie (or a call that set none) */
    if (!transport_error(e))
        return -e;
    /* A daemon that stopped answering (ETIMEDOUT) may come back on the same connection: only a
     * connection that is gone is replaced. */
    if (e != ETIMEDOUT) {
        conn.broken = true;
        reconnect(gen);
    }
    return -EIO;
}

int zf_take_lent(uint64_t tag)
{
    return zoid_take_fd(conn.client, tag); /* the caller holds the read lock (zf_enter) */
}

int zf_fh_handle(uint64_t fh, uint32_t gen)
{
    const struct zf_open *f = (const struct zf_open *)(uintptr_t)fh;
    if (f->dir)
        return -EBADF;
    if (f->gen != gen)
        return -ESTALE;
    return f->h;
}

/* Pings the daemon every KEEPALIVE_S (the core plugin's null function), and while the
 * connection is broken tries to replace it every RETRY_S, so that a restarted daemon is found
 * again even by an idle mount. */
static void *keepalive_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&conn.stop_mu);
    while (!conn.stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += conn.broken ? RETRY_S : KEEPALIVE_S;
        pthread_cond_timedwait(&conn.stop_cv, &conn.stop_mu, &ts);
        if (conn.stop)
            break;
        pthread_mutex_unlock(&conn.stop_mu);
        zf_close_flush(); /* relaxed releases wait at most one tick */
        uint32_t gen = zf_enter();
        size_t got = 0;
        int rc = zoid_call(conn.client, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, &got, 0);
        bool local = rc < 0 && !zoid_is_remote(rc); /* a remote error: the daemon is there */
        if (local)
            errno = -rc;
        zf_leave(gen, local ? -1 : 0);
        pthread_mutex_lock(&conn.stop_mu);
    }
    pthread_mutex_unlock(&conn.stop_mu);
    return NULL;
}

int zf_conn_start_keepalive(void)
{
    int rc = pthread_create(&conn.keepalive, NULL, keepalive_main, NULL);
    if (rc)
        return -rc;
    conn.keepalive_running = true;
    return 0;
}

void zf_conn_close(void)
{
    if (conn.keepalive_running) {
        pthread_mutex_lock(&conn.stop_mu);
        conn.stop = true;
        pthread_cond_signal(&conn.stop_cv);
        pthread_mutex_unlock(&conn.stop_mu);
        pthread_join(conn.keepalive, NULL);
        conn.keepalive_running = false;
    }
    if (conn.client) {
        zf_close_flush();
        zf_zposix_zoid_use(NULL);
        zoid_close(conn.client);
        conn.client = NULL;
    }
}
