/*
 * The ZOID daemon's pool of threads: what each runs (zd__serve: queued calls first, else the next
 * event), the calls they run (run_job), the threads added while calls wait that could run (up to
 * max_threads), and the hand-over of a call just read (zd__enqueue): run by the thread that read
 * it, or queued when every other thread is busy in a call.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "zoid/core/daemon_int.h"

_Thread_local unsigned zd__my_ws;
_Thread_local bool zd__ran_job;

static void run_job(struct zoid_daemon *d, struct job *j)
{
    struct zoid_peer *p = j->peer;
    int slot = zoid_plugin_find(d->slots, d->nslots, j->h.plugin);
    struct zoid_call call;
    zoid_call_init(&call, p, slot < 0 ? 0 : (unsigned)slot, d->o.max_payload);
    call.host = &d->slots[call.slot].host;
    call.h = j->h;
    call.id = j->id;
    call.payload = j->payload;
    call.payload_in_place = j->in_place;
    call.tail_left = j->tail;
    call.timed_out = &j->timed_out;
    int error = j->error;
    if (!error && atomic_load(&p->closed))
        error = ECANCELED; /* its client is gone: not run */
    /* A payload left in the socket is awaited from now on (the stall bound; the sweep reads
     * mid_frame first, then last_ns). */
    if (call.tail_left) {
        atomic_store(&p->last_ns, zb_mono_read());
        atomic_store(&p->mid_frame, true);
    }
    /* What another plugin left on this thread (the posix plugin: a client's fs identity) goes
     * before this call runs. */
    zoid_dirty_clear(j->h.plugin);
    if (!error) {
        int rc;
        if (slot < 0 || j->h.function >= d->slots[slot].p->nfunctions ||
            !d->slots[slot].p->functions[j->h.function])
            rc = -ENOSYS;
        else
            rc = d->slots[slot].p->functions[j->h.function](&call, j->payload,
                                                            j->h.length - j->tail);
        if (rc < 0 && atomic_load(&j->timed_out) &&
            (rc == -EINTR || rc == -ECANCELED || rc == -ETIMEDOUT))
            rc = -ETIMEDOUT;
        /* Functions return 0 or -errno (on the wire: the positive errno); anything else is a
         * failure of the plugin. */
        error = rc < 0 && rc > -4096 ? -rc : rc ? EIO : 0;
    }
    if (call.tail_left) /* what the function left in the socket (or a call not run) */
        (void)zoid__payload_discard(&call);
    if (j->in_place) { /* before the reply: the client may be writing its next call already */
        p->t->view_end(p->fd);
        j->payload = NULL;
    }
    if (atomic_load(&p->closed))
        atomic_fetch_add(&p->cancelled, 1);
    if ((j->h.length < OWN_MAX_FRAME || j->in_place) && (error || call.length < OWN_MAX_FRAME))
        zd__own_begin(d, p); /* before the reply: the client's next call may come at once */
    zoid_call_finish(&call, error);
    if (!call.payload_taken) /* else the plugin keeps it (and frees it) */
        free(j->payload);
    atomic_fetch_sub(&p->in_flight, 1);
    zd__release(d, p, j->bytes);
    zd__unpark(d, p);
    /* The sweep reads the client through this thread's slot (zd__signal_calls): empty it before
     * the reference goes, which may be the client's last. */
    pthread_mutex_lock(&d->mu);
    d->ws[zd__my_ws].job = NULL;
    pthread_mutex_unlock(&d->mu);
    zoid_peer_unref(p);
}

void zoid_daemon_peer_freed(struct zoid_daemon *d, struct zoid_peer *p)
{
    unsigned n = atomic_load(&p->cancelled);
    if (n)
        zoid_daemon_log(d, ZOID_LOG_INFO,
                        "%s: %u calls cancelled (client gone); the last ended %.2f s after it left",
                        p->id.peer, n, (double)(zb_mono_read() - p->gone_ns) / 1e9);
}

/* Another thread for the pool (mu held: the slot is taken now, the thread started after). */
static unsigned spawn_slot(struct zoid_daemon *d)
{
    if (d->nworkers >= d->o.max_threads || d->done)
        return 0;
    return ++d->nworkers;
}

static void spawn(struct zoid_daemon *d, unsigned slot)
{
    if (!slot)
        return;
    pthread_attr_t a;
    pthread_attr_init(&a);
    int rc = pthread_create(&d->ws[slot].th, &a, zd__worker, &d->ws[slot]);
    pthread_attr_destroy(&a);
    pthread_mutex_lock(&d->mu);
    d->ws[slot].started = !rc;
    pthread_mutex_unlock(&d->mu);
    if (rc)
        zoid_daemon_log(d, ZOID_LOG_WARN, "cannot start a worker thread: %s", strerror(rc));
}

/* The call just read from p: for this thread to run (*mine) when another thread stays free to
 * take events, else queued for the first thread that finishes its call. */
int zd__enqueue(struct zoid_daemon *d, struct zoid_peer *p, int error, struct job **mine)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->peer = p;
    j->h = p->h;
    j->payload = p->payload;
    if (p->viewing) {
        j->payload = (unsigned char *)(uintptr_t)p->view;
        j->in_place = true;
        p->viewing = false;
        p->view = NULL;
    }
    j->bytes = p->payload_bytes;
    j->tail = p->tail;
    p->tail = 0;
    j->error = error;
    j->id = p->call_id;
    p->payload = NULL;
    p->payload_bytes = 0;
    atomic_fetch_add(&p->refs, 1);
    atomic_fetch_add(&p->in_flight, 1);
    unsigned slot = 0;
    pthread_mutex_lock(&d->mu);
    d->busy++;
    if (d->free > 1 && p->u->running < d->uid_cap) {
        d->free--; /* this thread runs it */
        p->u->running++;
        j->deadline_ns = zb_mono_read() + (uint64_t)d->o.call_timeout_ms * 1000000u;
        d->ws[zd__my_ws].job = j;
        *mine = j;
    } else { /* every other thread is in a call, or its uid has its share: queue it */
        zd__q_push(d, j);
        if (d->ring_head && d->free <= 1)
            slot = spawn_slot(d); /* calls wait that could run: one more thread */
    }
    pthread_mutex_unlock(&d->mu);
    spawn(d, slot);
    return 0;
}

/* Ends the loop (mu held): every thread waiting for events wakes and sees done. */
void zd__end_loop(struct zoid_daemon *d)
{
    d->done = true;
    uint64_t one = 1;
    ssize_t n = d->stopfd >= 0 ? write(d->stopfd, &one, sizeof(one)) : 0;
    (void)n; /* cannot fail: the counter is far from its limit */
}

/* The loop has ended when draining and no call is left (mu held). */
void zd__check_done(struct zoid_daemon *d)
{
    if (!d->done && atomic_load(&d->draining) && d->busy == 0)
        zd__end_loop(d);
}

/* What every thread of the pool runs, the main one included: queued calls first, as long as
 * another thread stays free to take events; else wait for an event. A call read from an event is
 * run by the thread that read it unless every other thread is in a call (zd__enqueue). Returns once
 * the loop has ended and the queue is empty. */
void zd__serve(struct zoid_daemon *d)
{
    pthread_mutex_lock(&d->mu);
    d->free++;
    for (;;) {
        struct job *j = d->free > 1 || d->done ? zd__q_pop(d, d->done) : NULL;
        if (j) {
            if (zd__owned) { /* a queued call instead: the watch ends */
                pthread_mutex_unlock(&d->mu);
                zd__own_end(d);
                pthread_mutex_lock(&d->mu);
            }
            d->free--;
            j->deadline_ns = zb_mono_read() + (uint64_t)d->o.call_timeout_ms * 1000000u;
            d->ws[zd__my_ws].job = j;
        } else if (d->done && !d->queued) {
            break;
        } else {
            /* Calls wait that could run, and this is the only thread left for events. */
            unsigned slot = d->ring_head && d->free <= 1 ? spawn_slot(d) : 0;
            pthread_mutex_unlock(&d->mu);
            spawn(d, slot);
            j = zd__loop_turn(d); /* free was taken for it by zd__enqueue */
            pthread_mutex_lock(&d->mu);
            if (!j)
                continue;
        }
        pthread_mutex_unlock(&d->mu);
        struct zoid_uid *u = j->peer->u;
        run_job(d, j);
        zd__ran_job = true;
        pthread_mutex_lock(&d->mu);
        d->ws[zd__my_ws].job = NULL;
        zd__uid_done(d, u);
        free(j);
        d->free++;
        d->busy--;
        zd__check_done(d);
    }
    d->free--;
    pthread_mutex_unlock(&d->mu);
    zd__own_end(d);
}

void *zd__worker(void *arg)
{
    struct wslot *w = arg;
    struct zoid_daemon *d = w->d;
    zd__my_ws = w->idx;
    /* Every signal goes to the signalfd, except the one that interrupts a call (sent to this
     * thread only, while it runs a call that is to stop; its handler does nothing). */
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, CANCEL_SIG);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    zd__serve(d);
    zoid_dirty_clear(-1);
    return NULL;
}
