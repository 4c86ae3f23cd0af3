/*
 * libzoid-preload.so: the worker threads that keep calls to the daemon in flight for read-ahead,
 * write-behind and asynchronous close (zpl_async.h). Up to POOL_MAX threads, started when jobs
 * are queued, with every signal blocked (a handler must not abandon a call the daemon runs
 * anyway). The pool is emptied before fork (and restarts empty in the child, where the threads
 * are gone), before exec and at exit.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "zoid/preload/zpl_async.h"

#define POOL_MAX 4

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_work = PTHREAD_COND_INITIALIZER; /* a job was queued */
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER; /* a job finished */
static struct zpl_job *q_head, *q_tail;
static int nthreads, nidle, nbusy, nqueued;

static void run(struct zpl_job *j)
{
    switch (j->kind) {
    case ZJ_READ: j->r = zpl_pread_all(j->h, j->buf, j->n, j->off); break;
    case ZJ_WRITE: j->r = zpl_pwrite_all(j->h, j->buf, j->n, j->off); break;
    default: {
        int rc = zp_close(j->h);
        if (rc)
            zpl_fail();
        j->r = rc;
        break;
    }
    }
    j->err = j->r < 0 ? errno : 0;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool_mu);
    for (;;) {
        while (!q_head) {
            nidle++;
            pthread_cond_wait(&pool_work, &pool_mu);
            nidle--;
        }
        struct zpl_job *j = q_head;
        q_head = j->next;
        if (!q_head)
            q_tail = NULL;
        nqueued--;
        nbusy++;
        pthread_mutex_unlock(&pool_mu);
        run(j);
        bool detached = j->detached;
        pthread_mutex_lock(&pool_mu);
        if (detached)
            zpl_job_free(j);
        else
            atomic_store_explicit(&j->done, true, memory_order_release);
        nbusy--;
        pthread_cond_broadcast(&pool_done);
    }
    return NULL;
}

/* pool_mu held. */
static void grow(void)
{
    if (nthreads >= POOL_MAX || nidle >= nqueued)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256u << 10);
    pthread_t t;
    if (!pthread_create(&t, &a, worker, NULL))
        nthreads++;
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int zpl_job_submit(struct zpl_job *j)
{
    atomic_init(&j->done, false);
    j->next = NULL;
    pthread_mutex_lock(&pool_mu);
    if (q_tail)
        q_tail->next = j;
    else
        q_head = j;
    q_tail = j;
    nqueued++;
    grow();
    if (!nthreads) { /* no thread could start: take it back */
        q_head = q_tail = NULL;
        nqueued = 0;
        pthread_mutex_unlock(&pool_mu);
        errno = EAGAIN;
        return -1;
    }
    pthread_cond_signal(&pool_work);
    pthread_mutex_unlock(&pool_mu);
    return 0;
}

void zpl_job_wait(struct zpl_job *j)
{
    if (atomic_load_explicit(&j->done, memory_order_acquire))
        return;
    pthread_mutex_lock(&pool_mu);
    while (!atomic_load_explicit(&j->done, memory_order_acquire))
        pthread_cond_wait(&pool_done, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
}

static atomic_int depth_setting = -1;

int zpl_as_depth(void)
{
    int d = atomic_load_explicit(&depth_setting, memory_order_relaxed);
    if (d >= 0)
        return d;
    d = ZPL_AS_DEFAULT_DEPTH;
    const char *v = getenv("ZOID_PRELOAD_DEPTH");
    if (v && *v) {
        char *end;
        long l = strtol(v, &end, 10);
        d = *end || l < 0 ? ZPL_AS_DEFAULT_DEPTH : l > ZPL_AS_DEPTH ? ZPL_AS_DEPTH : (int)l;
    }
    atomic_store(&depth_setting, d);
    return d;
}

void zpl_job_free(struct zpl_job *j)
{
    if (j) {
        if (!j->borrowed)
            free(j->buf);
        free(j);
    }
}

void zpl_aio_quiesce(void)
{
    pthread_mutex_lock(&pool_mu);
    while (q_head || nbusy)
        pthread_cond_wait(&pool_done, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
    zpl_close_flush();
}

ssize_t zpl_io_split(int kind, int h, void *buf, size_t n, int64_t off)
{
    int depth = zpl_as_depth();
    /* Reads: parts of 512 KiB or more, and over TCP one call at a time (1 MiB reads over TCP
     * loopback: 3.7-4.1 GB/s one call at a time, 3.0-3.5 in two parallel ones, 1.6 in four; on
     * unix 2.5-2.8, 3.8 and 3.0; docs/BENCHMARKS.md, "Reads sent from the file's pages").
     * Writes over a unix socket: one call, sent by reference and spliced into the file by the
     * daemon, which takes one call's bytes out of the connection at a time (3.3-3.5 GB/s, two
     * calls 3.2-3.4, four 2.9-3.0). Over TCP, strict: two parts in parallel, the client's copy
     * overlapping the daemon's (since the daemon writes a payload's bytes as they come, two
     * parts 2.38-2.44 GB/s, one call 2.37-2.38, four 2.01-2.06; docs/BENCHMARKS.md, "Streamed
     * writes over TCP"); relaxed: one call, so that a large aligned write goes straight to the
     * file, spliced, instead of being gathered in parts (1.7 against 1.3-1.5; docs/BENCHMARKS.md,
     * "Writes spliced into the file"), and over TCP streamed (writestream.c). */
    if ((kind == ZJ_READ && zpl_tcp()) ||
        (kind != ZJ_READ && zpl_socket() && (!zpl_tcp() || zpl_relaxed())))
        depth = 1;
    else if (kind != ZJ_READ && zpl_tcp() && depth > 2)
        depth = 2;
    size_t parts = n / (kind == ZJ_READ ? 2 * ZPL_SPLIT_MIN : ZPL_SPLIT_MIN);
    if (parts > (size_t)depth)
        parts = (size_t)depth;
    if (off < 0 || parts < 2)
        return kind == ZJ_READ ? zpl_pread_all(h, buf, n, off) : zpl_pwrite_all(h, buf, n, off);
    size_t each = (n / parts + 4095) & ~(size_t)4095;
    struct zpl_job jobs[ZPL_AS_DEPTH];
    size_t nj = 0, at = each;
    /* Blocks 1.. to workers, block 0 here. */
    while (at < n && nj < parts - 1) {
        struct zpl_job *j = &jobs[nj];
        memset(j, 0, sizeof(*j));
        j->kind = kind;
        j->h = h;
        j->buf = (char *)buf + at;
        j->borrowed = true;
        j->n = n - at < each ? n - at : each;
        if (nj == parts - 2)
            j->n = n - at; /* the last takes the rest */
        j->off = off + (int64_t)at;
        if (zpl_job_submit(j))
            break;
        nj++;
        at += j->n;
    }
    size_t first = nj ? each : n;
    ssize_t r0 =
        kind == ZJ_READ ? zpl_pread_all(h, buf, first, off) : zpl_pwrite_all(h, buf, first, off);
    int e0 = errno;
    size_t done = r0 > 0 ? (size_t)r0 : 0;
    bool stop = r0 < 0 || (size_t)r0 < first;
    for (size_t i = 0; i < nj; i++) {
        zpl_job_wait(&jobs[i]);
        if (stop)
            continue;
        if (jobs[i].r > 0)
            done += (size_t)jobs[i].r;
        if (jobs[i].r < 0 || (size_t)jobs[i].r < jobs[i].n) {
            stop = true;
            if (jobs[i].r < 0 && !done)
                e0 = jobs[i].err;
        }
    }
    if (at < n && !stop) { /* what could not be queued */
        ssize_t r = kind == ZJ_READ
                        ? zpl_pread_all(h, (char *)buf + at, n - at, off + (int64_t)at)
                        : zpl_pwrite_all(h, (char *)buf + at, n - at, off + (int64_t)at);
        if (r > 0)
            done += (size_t)r;
    }
    if (!done && r0 < 0) {
        errno = e0;
        return -1;
    }
    return (ssize_t)done;
}

/* Fork: exec.c's prepare handler empties the pool (zpl_aio_quiesce) before it takes the
 * connection's lock; the child has no workers. */
void zpl__closebatch_child(void);
static void pool_child(void)
{
    pthread_mutex_init(&pool_mu, NULL);
    pthread_cond_init(&pool_work, NULL);
    pthread_cond_init(&pool_done, NULL);
    q_head = q_tail = NULL;
    nthreads = nidle = nbusy = nqueued = 0;
    zpl__closebatch_child();
}

__attribute__((constructor)) static void pool_ctor(void)
{
    pthread_atfork(NULL, NULL, pool_child);
}
