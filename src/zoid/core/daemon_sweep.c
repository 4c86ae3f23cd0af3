/*
 * The ZOID daemon's sweep, on a timerfd every 100 ms: timeouts (handshakes, stalled frames, idle
 * clients) shut the socket down and the thread that gets its event drops it; parked clients that
 * left are seen; the calls of clients gone or past their deadline are interrupted again (the
 * signal may land before the system call); the listener is re-armed after resting on EMFILE; the
 * heap is trimmed after a burst of payloads; the log's suppressed counts are written.
 */
#include <malloc.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "zoid/core/daemon_int.h"

/* Handshakes not finished, frames stalled half way, clients idle too long: their sockets are
 * shut down, and the thread their event goes to drops them with the reason. At most every
 * 100 ms, by one thread. */
void zd__sweep(struct zoid_daemon *d)
{
    uint64_t now = zb_mono_read(), last = atomic_load(&d->swept_ns);
    if (now - last < SWEEP_NS * 9 / 10 || !atomic_compare_exchange_strong(&d->swept_ns, &last, now))
        return;
    uint64_t until = atomic_load(&d->backoff_until);
    if (until && now >= until && atomic_compare_exchange_strong(&d->backoff_until, &until, 0))
        zd__rearm(d, d->lfd, &d->lfd, EPOLLIN | EPOLLONESHOT); /* rested after EMFILE */
    pthread_mutex_lock(&d->peers_mu);
    for (struct zoid_peer *p = d->peers; p; p = p->next) {
        /* A parked client is not armed: its leaving is seen here (its calls are cancelled
         * below), and the thread its event then goes to drops it. */
        if (atomic_load(&p->parked) && !atomic_load(&p->kill_why)) {
            struct pollfd pf = {.fd = p->fd, .events = POLLRDHUP};
            if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                atomic_store(&p->gone_ns, now);
                atomic_store(&p->closed, true);
                const char *none = NULL;
                atomic_compare_exchange_strong(&p->kill_why, &none, "closed");
            }
        }
        if (atomic_load(&p->kill_why) && atomic_exchange(&p->parked, false))
            zd__rearm(d, p->fd, p, PEER_EVENTS);
        /* mid_frame before last_ns: a call that starts to await its bytes sets them in the
         * other order (daemon_pool.c), so a frame seen mid-way is seen with its fresh clock. */
        bool mid = atomic_load(&p->mid_frame);
        uint64_t at = atomic_load(&p->last_ns);
        double quiet = now > at ? (double)(now - at) / 1e9 : 0;
        const char *why = NULL;
        if (!atomic_load(&p->welcomed) && (double)(now - p->since_ns) / 1e9 > HANDSHAKE_S)
            why = "no handshake in time";
        else if (mid && quiet * 1000 > p->stall_timeout_ms)
            why = "a frame stalled half way";
        else if (atomic_load(&p->in_flight) == 0 && quiet > d->o.idle_s)
            why = "idle";
        const char *none = NULL;
        if (why && atomic_compare_exchange_strong(&p->kill_why, &none, why))
            shutdown(p->fd, SHUT_RDWR);
        zd__unpark(d, p); /* a missed wake-up costs at most one sweep */
    }
    pthread_mutex_unlock(&d->peers_mu);
    pthread_mutex_lock(&d->mu);
    zd__signal_calls(d, NULL, now); /* of clients gone, or past their deadline */
    pthread_mutex_unlock(&d->mu);
    /* After a burst of payloads, once they are freed: give the memory back to the system. */
    uint64_t hi = atomic_load(&d->bytes_hi);
    if (hi >= TRIM_FROM && atomic_load(&d->bytes) < (1u << 20) &&
        now - d->trimmed_ns >= 1000000000u) {
        d->trimmed_ns = now;
        atomic_store(&d->bytes_hi, 0);
        malloc_trim(0);
        zoid_daemon_log(d, ZOID_LOG_INFO, "memory returned after a burst of %.0f MiB of payloads",
                        (double)hi / (1 << 20));
    }
    zd__grave_sweep(d, false);
    zd__log_flush(d);
}
