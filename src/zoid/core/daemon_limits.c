/*
 * The ZOID daemon's limits, so that one client must never stall the others (docs/zoid.md, threat
 * model): calls wait in one queue per uid, taken in turn, each uid with at most uid_cap calls
 * running; a client at its limits (calls or payload bytes in flight) or whose next payload does
 * not fit in the daemon's budget is parked: its socket is not re-armed until a call of its
 * completes or room is freed (whoever clears `parked` re-arms it). The running calls of a client
 * that left, or past their deadline, are interrupted with CANCEL_SIG.
 */
#include <signal.h>
#include <stdlib.h>

#include "zoid/core/daemon_int.h"

/* The uid's entry, made at first use (mu held); NULL when out of memory. */
struct zoid_uid *zd__uid_get(struct zoid_daemon *d, uint32_t uid)
{
    struct zoid_uid **b = &d->uids[uid % UID_BUCKETS];
    for (struct zoid_uid *u = *b; u; u = u->hnext)
        if (u->uid == uid)
            return u;
    struct zoid_uid *u = calloc(1, sizeof(*u));
    if (u) {
        u->uid = uid;
        u->hnext = *b;
        *b = u;
    }
    return u;
}

static void ring_add(struct zoid_daemon *d, struct zoid_uid *u)
{
    u->in_ring = true;
    u->ring_next = NULL;
    if (d->ring_tail)
        d->ring_tail->ring_next = u;
    else
        d->ring_head = u;
    d->ring_tail = u;
}

/* A call waits in its uid's queue (mu held). */
void zd__q_push(struct zoid_daemon *d, struct job *j)
{
    struct zoid_uid *u = j->peer->u;
    j->next = NULL;
    if (u->qtail)
        u->qtail->next = j;
    else
        u->qhead = j;
    u->qtail = j;
    d->queued++;
    if (!u->in_ring && u->running < d->uid_cap)
        ring_add(d, u);
}

/* The next call to run: uids in turn, each under its cap (any: ignore the cap, at the end). */
struct job *zd__q_pop(struct zoid_daemon *d, bool any)
{
    struct zoid_uid *u = d->ring_head;
    if (u) {
        d->ring_head = u->ring_next;
        if (!d->ring_head)
            d->ring_tail = NULL;
        u->in_ring = false;
    } else if (any && d->queued) {
        for (unsigned i = 0; !u && i < UID_BUCKETS; i++)
            for (struct zoid_uid *c = d->uids[i]; c && !u; c = c->hnext)
                if (c->qhead)
                    u = c;
    }
    if (!u)
        return NULL;
    struct job *j = u->qhead;
    u->qhead = j->next;
    if (!u->qhead)
        u->qtail = NULL;
    d->queued--;
    u->running++;
    if (u->qhead && !u->in_ring && u->running < d->uid_cap)
        ring_add(d, u);
    return j;
}

/* A call of u ended (mu held). */
void zd__uid_done(struct zoid_daemon *d, struct zoid_uid *u)
{
    u->running--;
    if (u->qhead && !u->in_ring && u->running < d->uid_cap)
        ring_add(d, u);
}

/* Whether p may be read: under its calls and bytes in flight, and the payload it waits to read
 * (if any) fits in the daemon's budget. */
static bool can_read(struct zoid_daemon *d, struct zoid_peer *p)
{
    if (atomic_load(&p->in_flight) >= d->o.max_in_flight || atomic_load(&p->tail_left) ||
        atomic_load(&p->bytes) >= d->o.max_client_bytes)
        return false;
    uint64_t held = atomic_load(&d->bytes);
    return !p->want || !held || held + p->want <= d->o.max_bytes;
}

/* Takes len bytes of the daemon's budget for p's payload; false when over (and something is
 * held: a frame alone always passes). */
bool zd__reserve(struct zoid_daemon *d, struct zoid_peer *p, uint32_t len)
{
    uint64_t old = atomic_fetch_add(&d->bytes, len);
    if (old && old + len > d->o.max_bytes) {
        atomic_fetch_sub(&d->bytes, len);
        return false;
    }
    if (old + len > atomic_load_explicit(&d->bytes_hi, memory_order_relaxed))
        atomic_store_explicit(&d->bytes_hi, old + len, memory_order_relaxed);
    atomic_fetch_add(&p->bytes, len);
    return true;
}

/* Gives back what zd__reserve took; the peers waiting for room try again. */
void zd__release(struct zoid_daemon *d, struct zoid_peer *p, uint32_t len)
{
    if (!len)
        return;
    atomic_fetch_sub(&p->bytes, len);
    atomic_fetch_sub(&d->bytes, len);
    if (!atomic_load(&d->nmemwait))
        return;
    pthread_mutex_lock(&d->memwait_mu);
    for (struct zoid_peer **pp = &d->memwait; *pp;) {
        struct zoid_peer *w = *pp;
        if (can_read(d, w)) {
            *pp = w->memnext;
            w->memwait = false;
            atomic_fetch_sub(&d->nmemwait, 1);
            zd__unpark(d, w);
        } else {
            pp = &w->memnext;
        }
    }
    pthread_mutex_unlock(&d->memwait_mu);
}

void zd__memwait_add(struct zoid_daemon *d, struct zoid_peer *p)
{
    pthread_mutex_lock(&d->memwait_mu);
    if (!p->memwait) {
        p->memwait = true;
        p->memnext = d->memwait;
        d->memwait = p;
        atomic_fetch_add(&d->nmemwait, 1);
    }
    pthread_mutex_unlock(&d->memwait_mu);
}

void zd__memwait_remove(struct zoid_daemon *d, struct zoid_peer *p)
{
    pthread_mutex_lock(&d->memwait_mu);
    for (struct zoid_peer **pp = &d->memwait; p->memwait && *pp; pp = &(*pp)->memnext)
        if (*pp == p) {
            *pp = p->memnext;
            p->memwait = false;
            atomic_fetch_sub(&d->nmemwait, 1);
            break;
        }
    pthread_mutex_unlock(&d->memwait_mu);
}

/* p (whose event this thread had) is read again when it may be, else parked: not armed until a
 * call of its completes or room is freed. Whoever clears parked re-arms it, exactly once. */
void zd__settle(struct zoid_daemon *d, struct zoid_peer *p)
{
    zd__settle_with(d, p, zd__arm_extra(p));
}

void zd__settle_with(struct zoid_daemon *d, struct zoid_peer *p, uint32_t extra)
{
    if (can_read(d, p)) {
        zd__rearm_peer(d, p, PEER_EVENTS | extra);
        return;
    }
    atomic_store(&p->parked, true);
    if (can_read(d, p) && atomic_exchange(&p->parked, false))
        zd__rearm(d, p->fd, p, PEER_EVENTS); /* not read meanwhile: parked */
}

void zd__unpark(struct zoid_daemon *d, struct zoid_peer *p)
{
    if (atomic_load(&p->parked) && can_read(d, p) && atomic_exchange(&p->parked, false))
        zd__rearm(d, p->fd, p, PEER_EVENTS);
}

/* Interrupts the calls of p (or every call past its deadline: p NULL) that are running (mu
 * held). Again at every sweep while they last: the signal may land before the system call. */
void zd__signal_calls(struct zoid_daemon *d, struct zoid_peer *p, uint64_t now)
{
    for (unsigned i = 0; i <= d->nworkers; i++) {
        struct job *j = d->ws[i].job;
        if (!j || !d->ws[i].started)
            continue;
        bool hit = p ? j->peer == p : atomic_load(&j->peer->closed);
        if (!p && now > j->deadline_ns) {
            atomic_store(&j->timed_out, true);
            hit = true;
        }
        if (hit)
            pthread_kill(d->ws[i].th, CANCEL_SIG);
    }
}
