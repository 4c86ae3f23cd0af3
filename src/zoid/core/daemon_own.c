/*
 * A worker watching its client's ring between calls (shm:, when the daemon spins): the thread
 * that answers a client with no other call in flight keeps reading that client's ring itself
 * for the spin budget, and the ring says so (transport hold: no doorbell wanted). A client
 * making one call after another then costs the daemon no system call at all: no doorbell byte,
 * no epoll wake-up, no re-arming; Mercury's busy-polling reached its figures the same way, both
 * sides polling.
 *
 * Only one thread reads a client's frames at a time. Without a watcher that is the one its
 * one-shot event went to; with watchers it is whoever holds the client's reader token: a thread
 * whose event finds the token taken leaves the client to the holder and says so (owed), and the
 * holder re-arms the socket when it lets go. The socket stays armed while a watcher reads, so
 * that a client that dies or is told to go is still seen; every watch ends within the budget.
 */
#include <errno.h>
#include <unistd.h>

#include "base/clock.h"
#include "zoid/core/daemon_int.h"

/* While it watches, the worker also looks at the other clients' events this often (when every
 * other thread is watching too, nobody else would). */
#define LOOK_NS 20000

_Thread_local struct zoid_peer *zd__owned;

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

bool zd__read_begin(struct zoid_peer_ev *e)
{
    atomic_store(&e->owed, true); /* before the token: its holder re-checks after letting go */
    if (atomic_exchange(&e->reader, true))
        return false; /* a watcher reads it (it re-arms the socket when it lets go), or gone */
    atomic_store(&e->owed, false);
    return true;
}

void zd__read_end(struct zoid_daemon *d, struct zoid_peer *p, bool settle)
{
    struct zoid_peer_ev *e = p->ev;
    /* Once the token is let go, another thread may read p and drop it: p is held here, and the
     * record e kept (this thread counts as active, as in a loop turn) until the end. The caller
     * holds the token now, so p is not dropped yet. */
    _Atomic uint64_t *active = &d->ws[zd__my_ws].active;
    bool outside_turn = atomic_load(active) == UINT64_MAX;
    if (outside_turn)
        atomic_store(active, atomic_load(&d->epoch));
    atomic_fetch_add(&p->refs, 1);
    for (;;) {
        /* Bytes that came while nobody wanted a doorbell: nothing else would report them. The
         * transport's part of re-arming with the token, the re-arming itself after letting go:
         * its event may go to another thread at once, which then finds the token free. */
        bool arm = settle || (p->t->ready && p->t->ready(p->fd) != 0 &&
                              !atomic_load(&d->draining)); /* draining: nothing more is read */
        uint32_t extra = arm ? zd__arm_extra(p) : 0;
        atomic_store(&e->reader, false);
        if (arm)
            zd__settle_with(d, p, extra);
        if (!atomic_exchange(&e->owed, false))
            break;
        /* An event came to a thread that left it to this one: arm again (with the token). */
        if (atomic_exchange(&e->reader, true)) {
            atomic_store(&e->owed, true); /* its holder does it when it lets go */
            break;
        }
        settle = true;
    }
    zoid_peer_unref(p);
    if (outside_turn)
        atomic_store(active, UINT64_MAX);
}

void zd__own_begin(struct zoid_daemon *d, struct zoid_peer *p)
{
    if (!d->own_ns || !p->t->hold || zd__owned || atomic_load(&p->in_flight) != 1 ||
        atomic_load(&p->closed) || atomic_load(&p->kill_why) || atomic_load(&p->parked) ||
        atomic_load(&d->draining) || atomic_load(&d->nmemwait))
        return;
    if (atomic_exchange(&p->ev->reader, true))
        return; /* another thread reads its next frame */
    (void)atomic_load_explicit(&p->handoff, memory_order_acquire);
    if (!p->t->hold(p->fd, true)) { /* it last ran on this CPU: watching would hold it off */
        zd__read_end(d, p, false);
        return;
    }
    atomic_fetch_add(&p->refs, 1);
    zd__owned = p;
}

void zd__own_end(struct zoid_daemon *d)
{
    struct zoid_peer *p = zd__owned;
    if (!p)
        return;
    zd__owned = NULL;
    p->t->hold(p->fd, false);
    zd__read_end(d, p, false);
    zoid_peer_unref(p);
}

struct job *zd__own_turn(struct zoid_daemon *d, struct epoll_event *ev, int *n)
{
    struct zoid_peer *p = zd__owned;
    *n = 0;
    if (!p)
        return NULL;
    uint64_t now = zb_mono_read(), end = now + d->own_ns, look = now + LOOK_NS;
    long a;
    for (unsigned i = 1; !(a = p->t->ready(p->fd)); i++) {
        if (atomic_load_explicit(&p->kill_why, memory_order_relaxed) ||
            atomic_load_explicit(&p->closed, memory_order_relaxed) ||
            atomic_load_explicit(&d->draining, memory_order_relaxed))
            break;
        relax();
        if ((i & 63) == 0) {
            now = zb_mono_read();
            if (now >= end)
                break;
            if (now >= look) {
                look = now + LOOK_NS;
                if ((*n = epoll_wait(d->epfd, ev, 1, 0)) != 0)
                    break; /* another client's event (or this one's): the caller's */
            }
        }
    }
    if (*n < 0)
        *n = 0;
    if (!a || *n || atomic_load(&p->kill_why) || atomic_load(&d->draining)) {
        zd__own_end(d);
        return NULL;
    }
    zd__owned = NULL;
    const char *why = "closed";
    struct job *j = NULL;
    int r = zd__readable(d, p, &why, &j);
    if (r < 0) {
        zd__drop(d, p, why);
        zoid_peer_unref(p);
        return NULL;
    }
    /* Its socket is still armed: re-armed only when the read ended early (a frame in pieces, a
     * payload waiting for room: settle parks it then) or queued the call. */
    p->t->hold(p->fd, false);
    zd__read_end(d, p, r == 0 || !j);
    zoid_peer_unref(p);
    zd__sweep(d);
    return j;
}

/* ---- the kick list ---- */

void zd__kick(struct zoid_daemon *d, struct zoid_peer *p)
{
    pthread_mutex_lock(&d->kick_mu);
    if (!p->kicked) {
        p->kicked = true;
        atomic_fetch_add(&p->refs, 1);
        p->kick_next = d->kick_head;
        d->kick_head = p;
        uint64_t one = 1;
        ssize_t r = write(d->kickfd, &one, sizeof(one));
        (void)r; /* cannot fail: the counter is far from its limit */
    }
    pthread_mutex_unlock(&d->kick_mu);
}

struct zoid_peer *zd__kick_take(struct zoid_daemon *d)
{
    pthread_mutex_lock(&d->kick_mu);
    uint64_t n;
    ssize_t r = read(d->kickfd, &n, sizeof(n)); /* level-triggered: readable again below */
    (void)r;
    struct zoid_peer *p = d->kick_head;
    if (p) {
        d->kick_head = p->kick_next;
        p->kicked = false;
    }
    if (d->kick_head) { /* more for the next thread */
        uint64_t one = 1;
        r = write(d->kickfd, &one, sizeof(one));
    }
    pthread_mutex_unlock(&d->kick_mu);
    return p;
}

void zd__kick_clear(struct zoid_daemon *d)
{
    for (struct zoid_peer *p; (p = d->kick_head) != NULL;) {
        d->kick_head = p->kick_next;
        p->kicked = false;
        zoid_peer_unref(p);
    }
}
