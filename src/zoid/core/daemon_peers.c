/*
 * The ZOID daemon's clients: accepting them (or refusing them with a reason their client library
 * shows), re-arming their sockets, and dropping them. A client is referenced by the set and by
 * each of its calls in flight; when it goes (closes, crashes, is killed, breaks the protocol,
 * times out) it is dropped at once, its queued calls are not run and its running ones are told
 * (zoid_call_cancelled, and CANCEL_SIG to their threads); the last reference releases its
 * per-plugin state (the plugins' client_gone hooks) and its socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "zoid/core/daemon_int.h"

void zoid_daemon_release_state(struct zoid_daemon *d, struct zoid_peer *p)
{
    for (unsigned i = 0; d && i < d->nslots; i++)
        if (p->state[i] && d->slots[i].p->client_gone)
            d->slots[i].p->client_gone(d->slots[i].host.plugin_state, p->state[i]);
}

/* By the thread p's event went to (or at the end, alone). */
void zd__drop(struct zoid_daemon *d, struct zoid_peer *p, const char *why)
{
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    uint64_t never = 0; /* the sweep may have seen it leave first */
    atomic_compare_exchange_strong(&p->gone_ns, &never, zb_mono_read());
    atomic_store(&p->closed, true); /* its queued calls are not run, its running ones told */
    shutdown(p->fd, SHUT_RDWR);     /* a worker blocked sending to it returns at once */
    zd__memwait_remove(d, p);
    zd__release(d, p, p->payload_bytes); /* a frame half read */
    p->payload_bytes = 0;
    pthread_mutex_lock(&d->mu);
    zd__signal_calls(d, p, 0);
    if (p->u)
        p->u->conns--;
    pthread_mutex_unlock(&d->mu);
    pthread_mutex_lock(&d->peers_mu);
    for (struct zoid_peer **pp = &d->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    unsigned clients = --d->clients;
    /* Its events (struct zoid_peer_ev) outlive it until no thread can hold one; one taken
     * now finds the token taken for ever. */
    atomic_store(&p->ev->reader, true);
    p->ev_given = true;
    zd__grave_add(d, p->ev);
    pthread_mutex_unlock(&d->peers_mu);
    zoid_daemon_log(d, ZOID_LOG_INFO, "disconnect %s after %.1f s (%s; %u clients)", p->id.peer,
                    (double)(zb_mono_read() - p->since_ns) / 1e9, why, clients);
    zoid_peer_unref(p);
}

/* Lets the next event of a socket (one-shot) come to some thread; a socket already readable
 * reports at once. Fails harmlessly (ENOENT) once draining removed it. */
void zd__rearm(struct zoid_daemon *d, int fd, void *ptr, uint32_t events)
{
    if (ptr != &d->lfd && ptr != &d->sigfd && ptr != &d->tfd) {
        zd__rearm_peer(d, ptr, events | zd__arm_extra(ptr));
        return;
    }
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev);
}

uint32_t zd__arm_extra(struct zoid_peer *p)
{
    /* shm: bytes already in the ring do not make the socket readable (EPOLLOUT here means: kick
     * it, zd__rearm_peer) */
    return p->t->arm && p->t->arm(p->fd) ? EPOLLOUT : 0;
}

void zd__rearm_peer(struct zoid_daemon *d, struct zoid_peer *p, uint32_t events)
{
    atomic_fetch_add_explicit(&p->handoff, 1, memory_order_release);
    struct epoll_event ev = {.events = events & ~(uint32_t)EPOLLOUT, .data.ptr = p->ev};
    epoll_ctl(d->epfd, EPOLL_CTL_MOD, p->fd, &ev);
    if (events & EPOLLOUT)
        zd__kick(d, p); /* bytes already there: told through the kick list */
}

int zd__send_simple(struct zoid_peer *p, enum zoid_kind kind, int error, const void *data,
                    size_t len)
{
    struct zoid_header h = {.kind = (uint8_t)kind, .error = error, .length = (uint32_t)len};
    struct iovec iov = {(void *)data, len};
    return zoid_peer_send(p, &h, &iov, len ? 1 : 0);
}

/* The supplementary groups of a client (struct zoid_identity): a unix peer's from the kernel
 * (SO_PEERGROUPS, as they were when it connected; the first 64), a tcp client's are the daemon's
 * own (it acts as the daemon). */
static void peer_groups(struct zoid_daemon *d, int fd, struct zoid_identity *id)
{
    enum { MAX = sizeof(id->groups) / sizeof(id->groups[0]) };
    id->ngroups = 0;
    if (!strcmp(d->t->scheme, "tcp")) {
        gid_t g[MAX];
        int n = getgroups(MAX, g);
        for (int i = 0; i < n; i++)
            id->groups[id->ngroups++] = (uint32_t)g[i];
        return;
    }
    gid_t small[MAX];
    gid_t *g = small;
    socklen_t len = sizeof(small);
    int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
    if (rc && errno == ERANGE && (g = malloc(len)) != NULL)
        rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len);
    for (size_t i = 0; !rc && g && i < len / sizeof(gid_t) && id->ngroups < MAX; i++)
        id->groups[id->ngroups++] = (uint32_t)g[i];
    if (g != small)
        free(g);
}

/* Out of descriptors: the spare one makes room to take one client off the backlog and tell it
 * (REFUSED, EMFILE) rather than leave it hanging; then the listener rests BACKOFF_NS (the sweep
 * re-arms it) instead of spinning on a backlog it cannot take. */
static void out_of_fds(struct zoid_daemon *d, int e)
{
    if (d->spare_fd >= 0) {
        close(d->spare_fd);
        d->spare_fd = -1;
        int fd;
        if (!d->t->accept(d->lfd, &fd)) {
            static const char msg[] = "the daemon is out of file descriptors: try again later";
            unsigned char hdr[ZOID_HEADER_SIZE];
            struct zoid_header h = {
                .kind = ZOID_REFUSED, .error = EMFILE, .length = sizeof(msg) - 1};
            zoid_header_encode(&h, hdr);
            struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)msg, sizeof(msg) - 1}};
            int n = d->t->sendv(fd, iov, 2, 0);
            (void)n; /* best effort */
            d->t->close(fd);
        }
        d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    atomic_store(&d->backoff_until, zb_mono_read() + BACKOFF_NS);
    zoid_daemon_log(d, ZOID_LOG_ERR, "accept: %s: refusing clients for %u ms", strerror(e),
                    BACKOFF_NS / 1000000u);
}

/* Refuses p (not yet a client) with a reason its client library shows. */
static void refuse(struct zoid_daemon *d, struct zoid_peer *p, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(struct zoid_daemon *d, struct zoid_peer *p, int e, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    zd__send_simple(p, ZOID_REFUSED, e, why, strlen(why));
    zoid_daemon_log(d, ZOID_LOG_WARN, "refused %s: %s", p->id.peer, why);
    zoid_peer_unref(p);
}

/* Returns false when the listener is to rest (out of descriptors). */
bool zd__accept_all(struct zoid_daemon *d)
{
    for (;;) {
        int fd;
        int rc = d->t->accept(d->lfd, &fd);
        if (rc == -EAGAIN || rc == -EWOULDBLOCK)
            return true;
        if (rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM) {
            out_of_fds(d, -rc);
            return false;
        }
        if (rc) {
            zoid_daemon_log(d, ZOID_LOG_ERR, "accept: %s", strerror(-rc));
            return true;
        }
        struct zoid_peer *p = calloc(1, sizeof(*p));
        struct zoid_peer_ev *e = p ? calloc(1, sizeof(*e)) : NULL;
        if (!e) {
            free(p);
            close(fd);
            continue;
        }
        e->p = p;
        p->ev = e;
        p->fd = fd;
        p->t = d->t;
        p->d = d;
        p->refs = 1;
        p->max_payload = d->o.max_payload;
        p->send_timeout_ms = d->o.send_timeout_ms;
        p->stall_timeout_ms = d->o.stall_timeout_ms;
        pthread_mutex_init(&p->send_mu, NULL);
        d->t->identify(fd, &p->id);
        peer_groups(d, fd, &p->id);
        if (!d->need_token && !strcmp(d->t->scheme, "tcp")) {
            /* --insecure: anyone on this host can connect; nobody's rights, not the daemon's. */
            p->id.verified = false;
            p->id.uid = p->id.gid = ZOID_INSECURE_ID;
            p->id.ngroups = 0;
        } else if (!strcmp(d->t->scheme, "tcp"))
            p->id.verified = true; /* once the token checks out */
        if (!strcmp(d->t->scheme, "unix")) {
            int one = 1;
            p->passcred = !setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
        }
        p->since_ns = zb_mono_read();
        atomic_store(&p->last_ns, p->since_ns);
        pthread_mutex_lock(&d->peers_mu);
        unsigned clients = d->clients;
        pthread_mutex_unlock(&d->peers_mu);
        /* Only this thread adds clients. Root and the daemon's own uid have a reserve beyond
         * max_clients, so that they can still connect to see what goes on. */
        uint32_t uid = p->id.uid;
        bool admin = uid == 0 || uid == d->self_uid;
        if (clients >= d->o.max_clients + (admin ? CONN_RESERVE : 0)) {
            refuse(d, p, EUSERS, "too many clients (limit %u)", d->o.max_clients);
            continue;
        }
        pthread_mutex_lock(&d->mu);
        struct zoid_uid *u = zd__uid_get(d, uid);
        unsigned conns = u ? u->conns : 0;
        if (u && conns < d->o.max_conns_per_uid)
            u->conns++;
        pthread_mutex_unlock(&d->mu);
        if (!u) {
            refuse(d, p, ENOMEM, "out of memory");
            continue;
        }
        if (conns >= d->o.max_conns_per_uid) {
            refuse(d, p, EUSERS, "too many connections for uid %u (limit %u)", (unsigned)uid,
                   d->o.max_conns_per_uid);
            continue;
        }
        p->u = u;
        zoid_nonce(p->nonce);
        unsigned char chal[ZOID_NONCE_BYTES + 4] = {0};
        memcpy(chal, p->nonce, ZOID_NONCE_BYTES);
        chal[ZOID_NONCE_BYTES] = d->need_token;
        chal[ZOID_NONCE_BYTES + 1] = ZOID_HANDSHAKE_VERSION; /* 0 from a version-1 daemon */
        if (zd__send_simple(p, ZOID_CHALLENGE, 0, chal, sizeof(chal))) {
            pthread_mutex_lock(&d->mu);
            u->conns--;
            pthread_mutex_unlock(&d->mu);
            zoid_peer_unref(p);
            continue;
        }
        /* In the list before its first event can reach another thread. */
        pthread_mutex_lock(&d->peers_mu);
        p->next = d->peers;
        d->peers = p;
        clients = ++d->clients;
        pthread_mutex_unlock(&d->peers_mu);
        zoid_daemon_log(d, ZOID_LOG_INFO, "connect %s (%u clients)", p->id.peer, clients);
        struct epoll_event ev = {.events = PEER_EVENTS, .data.ptr = p->ev};
        atomic_store_explicit(&p->handoff, 1, memory_order_release);
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev))
            zd__drop(d, p, "epoll_ctl failed");
    }
}
