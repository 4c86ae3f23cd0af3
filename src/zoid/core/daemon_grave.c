/*
 * What the events of dropped clients point to (struct zoid_peer_ev), kept until no thread can
 * still hold one of them (daemon_int.h). A thread marks itself active with the daemon's epoch
 * before it waits for events and inactive after it handled one; a drop takes the epoch and
 * advances it. An event of a client dropped at epoch e can only be held by a thread active at e
 * or before; once every thread is inactive or active at a later epoch, it goes. Threads wait at
 * most a second in epoll, so one lingers at most that long (a few dozen bytes; the client itself
 * and its descriptors go at the drop, as before).
 */
#include <stdlib.h>

#include "zoid/core/daemon_int.h"

void zd__grave_add(struct zoid_daemon *d, struct zoid_peer_ev *e)
{
    e->grave_epoch = atomic_fetch_add(&d->epoch, 1);
    e->next = d->grave;
    d->grave = e;
}

void zd__grave_sweep(struct zoid_daemon *d, bool all)
{
    uint64_t oldest = UINT64_MAX;
    if (!all) {
        pthread_mutex_lock(&d->mu);
        for (unsigned i = 0; i <= d->nworkers; i++) {
            uint64_t a = atomic_load(&d->ws[i].active);
            if (a < oldest)
                oldest = a;
        }
        pthread_mutex_unlock(&d->mu);
    }
    struct zoid_peer_ev *gone = NULL;
    pthread_mutex_lock(&d->peers_mu);
    for (struct zoid_peer_ev **pp = &d->grave; *pp;) {
        struct zoid_peer_ev *p = *pp;
        if (all || p->grave_epoch < oldest) {
            *pp = p->next;
            p->next = gone;
            gone = p;
        } else {
            pp = &p->next;
        }
    }
    pthread_mutex_unlock(&d->peers_mu);
    while (gone) {
        struct zoid_peer_ev *e = gone;
        gone = e->next;
        free(e);
    }
}
