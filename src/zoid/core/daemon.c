/*
 * The ZOID daemon: an epoll set of clients whose events are taken, one at a time, by the threads
 * of a pool that also run the calls.
 *
 * Every thread that is not running a call waits in epoll_wait on the same set for one event.
 * Clients are registered one-shot: the thread an event went to is the only one touching that
 * client's frame; it reads exactly one frame without blocking (header, then a payload allocated
 * only after its length passed the limit), re-arms the client, and runs the call itself, so that
 * a call is read, run and answered by one thread with no hand-over and no wake-up of another
 * thread (a hand-over per call made a null call 1.6x a raw ping-pong). Only when every other
 * thread is busy in a call does it queue the call instead and go back to waiting, so that
 * accepts, signals and other clients are never starved; a thread that finishes a call takes
 * queued calls first. Replies are sent under the client's send lock.
 *
 * One client must never stall the others (docs/zoid.md, threat model): while calls wait that
 * could run, the pool grows (up to max_threads); calls wait in one queue per uid, taken in turn,
 * each uid with at most uid_cap calls running; a client at its limits (calls or payload bytes in
 * flight) or whose next payload does not fit in the daemon's budget is parked: its socket is
 * not re-armed until a call of its completes or room is freed (whoever clears `parked` re-arms
 * it). A departed client's queued calls are not run and its running ones are told
 * (zoid_call_cancelled, and CANCEL_SIG to their threads, again at every sweep, as for calls past
 * their deadline). The sweep runs on a timerfd every 100 ms; on EMFILE the listener rests. A client
 * is referenced by the set and by each of its calls in flight; when it goes (closes, crashes, is
 * killed, breaks the protocol, times out) it is dropped at once, and the last reference releases
 * its per-plugin state (the plugins' client_gone hooks) and its socket. Timeouts found by the sweep
 * shut the socket down, and the thread that gets its event drops it.
 *
 * SIGTERM or SIGINT: stop accepting and reading, let the calls in flight finish and reply (those
 * still running after DRAIN_NS are interrupted as if timed out: a FIFO read must not keep the
 * daemon up), close every client, unload the plugins, return 0. One log line per connect,
 * disconnect and error.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "zoid/core/daemon.h"

/* What --insecure TCP peers act as: nobody/nogroup, no supplementary groups (docs/zoid.md). */
#define ZOID_INSECURE_ID 65534u

#define HANDSHAKE_S  5
#define STALL_S      30 /* a frame begun and not finished */
#define CONN_RESERVE 32 /* connections beyond max_clients for root and the daemon's own uid */
#define BACKOFF_NS   100000000u /* the listener rests this long after EMFILE/ENFILE */
#define SWEEP_NS     100000000u
#define DRAIN_NS     1000000000u /* after SIGTERM, calls still running past this are cut short */
#define LOG_BURST    10 /* lines of one format per second, then a count of those suppressed */
#define TRIM_FROM    (16u << 20) /* a burst of payloads this large is trimmed once it is over */
#define UID_BUCKETS  256
/* Interrupts a call's blocking system call (EINTR): the client left or the call timed out. */
#define CANCEL_SIG (SIGRTMIN + 7)

struct job {
    struct zoid_peer *peer;
    struct zoid_header h;
    unsigned char *payload;
    uint32_t bytes;          /* of the payload, counted in the budgets */
    int error;               /* answer with this at once (EBUSY) instead of running the call */
    struct zoid_identity id; /* the sender of this call */
    uint64_t deadline_ns;    /* when running: past it, the call is interrupted */
    _Atomic bool timed_out;
    struct job *next;
};

/* One uid's share (under the daemon's mu): its connections, its calls running, its queue. */
struct zoid_uid {
    uint32_t uid;
    unsigned conns, running;
    struct job *qhead, *qtail;
    bool in_ring; /* in the ring of uids with calls queued that may run now */
    struct zoid_uid *ring_next, *hnext;
};

/* A thread of the pool and the call it runs (under mu: the sweep signals it). */
struct wslot {
    struct zoid_daemon *d;
    unsigned idx;
    pthread_t th;
    bool started;
    struct job *job;
};

struct lograte {
    const void *key;
    uint64_t second;
    unsigned n, suppressed;
};

struct zoid_daemon {
    struct zoid_daemon_opts o;
    const struct zoid_transport *t;
    struct zoid_addr addr;
    struct zoid_token token;
    bool need_token;
    int lfd, epfd, sigfd;
    int export_fd; /* O_PATH of --export, for the plugins (struct zoid_host) */
    int stopfd;    /* eventfd, written when the loop has ended: wakes every thread */
    struct zoid_slot slots[ZOID_MAX_PLUGINS];
    unsigned nslots;
    pthread_mutex_t peers_mu; /* peers, clients */
    struct zoid_peer *peers;
    unsigned clients;
    int tfd;      /* timerfd: the sweep, every 100 ms */
    int spare_fd; /* /dev/null, closed to accept (and refuse) a client when out of descriptors */
    _Atomic uint64_t backoff_until; /* the listener rests (EMFILE) until then; 0: armed */
    uint32_t self_uid;
    /* worker pool: wslot 0 is the main thread, 1.. the workers */
    struct wslot *ws;
    unsigned nworkers;  /* threads started or starting (ws[1..nworkers]) */
    unsigned uid_cap;   /* calls of one uid running at once */
    pthread_mutex_t mu; /* the queue, free, busy, done, loop_rc, ws, uids */
    struct zoid_uid *uids[UID_BUCKETS];
    struct zoid_uid *ring_head, *ring_tail;
    unsigned queued;
    unsigned busy; /* jobs queued or running */
    unsigned free; /* threads not running a call (waiting for events or handling one) */
    bool done;     /* the loop has ended: no more jobs will come */
    _Atomic bool draining;
    _Atomic uint64_t drain_ns; /* when draining began */
    _Atomic uint64_t swept_ns;
    int loop_rc;
    struct zepto_err *loop_err;
    /* payload budget */
    _Atomic uint64_t bytes, bytes_hi;
    uint64_t trimmed_ns;
    pthread_mutex_t memwait_mu;
    struct zoid_peer *memwait; /* peers waiting for room for a payload */
    _Atomic unsigned nmemwait;
    /* log rate */
    pthread_mutex_t log_mu;
    struct lograte *lr;
};

static _Thread_local unsigned my_ws; /* this thread's slot in d->ws */

static void on_cancel_sig(int sig)
{
    (void)sig; /* only to interrupt a system call */
}

#define LOG_SLOTS 64

/* Lines of one key (format) beyond LOG_BURST in a second are counted, not written; the count
 * comes as one line when that key logs again in a later second, or from the sweep. */
void zoid_daemon_vlogk(const struct zoid_daemon *d, const void *key, int level, const char *fmt,
                       va_list ap)
{
    if (!d->o.log)
        return;
    struct zoid_daemon *m = (struct zoid_daemon *)d; /* the rate table only */
    unsigned suppressed = 0;
    if (m->lr) {
        uint64_t second = zb_mono_read() / 1000000000u;
        pthread_mutex_lock(&m->log_mu);
        size_t h = ((uintptr_t)key >> 3) % LOG_SLOTS;
        struct lograte *e = &m->lr[h];
        for (unsigned i = 0; i < 4; i++) {
            struct lograte *c = &m->lr[(h + i) % LOG_SLOTS];
            if (c->key == key || !c->key) {
                e = c;
                break;
            }
        }
        if (e->key != key) {
            suppressed = e->suppressed;
            *e = (struct lograte){.key = key, .second = second};
        } else if (e->second != second) {
            suppressed = e->suppressed;
            e->second = second;
            e->n = e->suppressed = 0;
        }
        bool quiet = e->n >= LOG_BURST;
        if (quiet)
            e->suppressed++;
        else
            e->n++;
        pthread_mutex_unlock(&m->log_mu);
        if (quiet)
            return;
    }
    char line[512];
    if (suppressed) {
        snprintf(line, sizeof(line), "(%u similar lines suppressed)", suppressed);
        d->o.log(d->o.log_arg, ZOID_LOG_WARN, line);
    }
    vsnprintf(line, sizeof(line), fmt, ap);
    d->o.log(d->o.log_arg, level, line);
}

void zoid_daemon_log(const struct zoid_daemon *d, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zoid_daemon_vlogk(d, fmt, level, fmt, ap);
    va_end(ap);
}

/* The counts of lines suppressed in seconds that are over (by the sweep). */
static void log_flush(struct zoid_daemon *d)
{
    if (!d->lr || !d->o.log)
        return;
    uint64_t second = zb_mono_read() / 1000000000u;
    for (unsigned i = 0; i < LOG_SLOTS; i++) {
        pthread_mutex_lock(&d->log_mu);
        unsigned n = d->lr[i].second != second ? d->lr[i].suppressed : 0;
        d->lr[i].suppressed -= n;
        pthread_mutex_unlock(&d->log_mu);
        if (n) {
            char line[64];
            snprintf(line, sizeof(line), "(%u similar lines suppressed)", n);
            d->o.log(d->o.log_arg, ZOID_LOG_WARN, line);
        }
    }
}

/* ---- limits: uids, budgets, parked clients ---- */

/* The uid's entry, made at first use (mu held); NULL when out of memory. */
static struct zoid_uid *uid_get(struct zoid_daemon *d, uint32_t uid)
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
static void q_push(struct zoid_daemon *d, struct job *j)
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
static struct job *q_pop(struct zoid_daemon *d, bool any)
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
static void uid_done(struct zoid_daemon *d, struct zoid_uid *u)
{
    u->running--;
    if (u->qhead && !u->in_ring && u->running < d->uid_cap)
        ring_add(d, u);
}

/* Whether p may be read: under its calls and bytes in flight, and the payload it waits to read
 * (if any) fits in the daemon's budget. */
static bool can_read(struct zoid_daemon *d, struct zoid_peer *p)
{
    if (atomic_load(&p->in_flight) >= d->o.max_in_flight ||
        atomic_load(&p->bytes) >= d->o.max_client_bytes)
        return false;
    uint64_t held = atomic_load(&d->bytes);
    return !p->want || !held || held + p->want <= d->o.max_bytes;
}

/* Takes len bytes of the daemon's budget for p's payload; false when over (and something is
 * held: a frame alone always passes). */
static bool reserve(struct zoid_daemon *d, struct zoid_peer *p, uint32_t len)
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

static void rearm(struct zoid_daemon *d, int fd, void *ptr, uint32_t events);
static void unpark(struct zoid_daemon *d, struct zoid_peer *p);

/* Gives back what reserve took; the peers waiting for room try again. */
static void release(struct zoid_daemon *d, struct zoid_peer *p, uint32_t len)
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
            unpark(d, w);
        } else {
            pp = &w->memnext;
        }
    }
    pthread_mutex_unlock(&d->memwait_mu);
}

static void memwait_add(struct zoid_daemon *d, struct zoid_peer *p)
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

static void memwait_remove(struct zoid_daemon *d, struct zoid_peer *p)
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

#define PEER_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLONESHOT)

/* p (whose event this thread had) is read again when it may be, else parked: not armed until a
 * call of its completes or room is freed. Whoever clears parked re-arms it, exactly once. */
static void settle(struct zoid_daemon *d, struct zoid_peer *p)
{
    if (can_read(d, p)) {
        rearm(d, p->fd, p, PEER_EVENTS);
        return;
    }
    atomic_store(&p->parked, true);
    if (can_read(d, p) && atomic_exchange(&p->parked, false))
        rearm(d, p->fd, p, PEER_EVENTS);
}

static void unpark(struct zoid_daemon *d, struct zoid_peer *p)
{
    if (atomic_load(&p->parked) && can_read(d, p) && atomic_exchange(&p->parked, false))
        rearm(d, p->fd, p, PEER_EVENTS);
}

/* Interrupts the calls of p (or every call past its deadline: p NULL) that are running (mu
 * held). Again at every sweep while they last: the signal may land before the system call. */
static void signal_calls(struct zoid_daemon *d, struct zoid_peer *p, uint64_t now)
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

/* ---- workers ---- */

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
    call.timed_out = &j->timed_out;
    int error = j->error;
    if (!error && atomic_load(&p->closed))
        error = ECANCELED; /* its client is gone: not run */
    /* What another plugin left on this thread (the posix plugin: a client's fs identity) goes
     * before this call runs. */
    zoid_dirty_clear(j->h.plugin);
    if (!error) {
        int rc;
        if (slot < 0 || j->h.function >= d->slots[slot].p->nfunctions ||
            !d->slots[slot].p->functions[j->h.function])
            rc = -ENOSYS;
        else
            rc = d->slots[slot].p->functions[j->h.function](&call, j->payload, j->h.length);
        if (rc < 0 && atomic_load(&j->timed_out) &&
            (rc == -EINTR || rc == -ECANCELED || rc == -ETIMEDOUT))
            rc = -ETIMEDOUT;
        /* Functions return 0 or -errno (on the wire: the positive errno); anything else is a
         * failure of the plugin. */
        error = rc < 0 && rc > -4096 ? -rc : rc ? EIO : 0;
    }
    if (atomic_load(&p->closed))
        atomic_fetch_add(&p->cancelled, 1);
    zoid_call_finish(&call, error);
    free(j->payload);
    atomic_fetch_sub(&p->in_flight, 1);
    release(d, p, j->bytes);
    unpark(d, p);
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

static void *worker(void *arg);

static void spawn(struct zoid_daemon *d, unsigned slot)
{
    if (!slot)
        return;
    pthread_attr_t a;
    pthread_attr_init(&a);
    int rc = pthread_create(&d->ws[slot].th, &a, worker, &d->ws[slot]);
    pthread_attr_destroy(&a);
    pthread_mutex_lock(&d->mu);
    d->ws[slot].started = !rc;
    pthread_mutex_unlock(&d->mu);
    if (rc)
        zoid_daemon_log(d, ZOID_LOG_WARN, "cannot start a worker thread: %s", strerror(rc));
}

/* The call just read from p: for this thread to run (*mine) when another thread stays free to
 * take events, else queued for the first thread that finishes its call. */
static int enqueue(struct zoid_daemon *d, struct zoid_peer *p, int error, struct job **mine)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->peer = p;
    j->h = p->h;
    j->payload = p->payload;
    j->bytes = p->payload_bytes;
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
        d->ws[my_ws].job = j;
        *mine = j;
    } else { /* every other thread is in a call, or its uid has its share: queue it */
        q_push(d, j);
        if (d->ring_head && d->free <= 1)
            slot = spawn_slot(d); /* calls wait that could run: one more thread */
    }
    pthread_mutex_unlock(&d->mu);
    spawn(d, slot);
    return 0;
}

/* Ends the loop (mu held): every thread waiting for events wakes and sees done. */
static void end_loop(struct zoid_daemon *d)
{
    d->done = true;
    uint64_t one = 1;
    ssize_t n = d->stopfd >= 0 ? write(d->stopfd, &one, sizeof(one)) : 0;
    (void)n; /* cannot fail: the counter is far from its limit */
}

/* The loop has ended when draining and no call is left (mu held). */
static void check_done(struct zoid_daemon *d)
{
    if (!d->done && atomic_load(&d->draining) && d->busy == 0)
        end_loop(d);
}

/* ---- clients ---- */

void zoid_daemon_release_state(struct zoid_daemon *d, struct zoid_peer *p)
{
    for (unsigned i = 0; d && i < d->nslots; i++)
        if (p->state[i] && d->slots[i].p->client_gone)
            d->slots[i].p->client_gone(d->slots[i].host.plugin_state, p->state[i]);
}

/* By the thread p's event went to (or at the end, alone). */
static void drop(struct zoid_daemon *d, struct zoid_peer *p, const char *why)
{
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    uint64_t never = 0; /* the sweep may have seen it leave first */
    atomic_compare_exchange_strong(&p->gone_ns, &never, zb_mono_read());
    atomic_store(&p->closed, true); /* its queued calls are not run, its running ones told */
    shutdown(p->fd, SHUT_RDWR);     /* a worker blocked sending to it returns at once */
    memwait_remove(d, p);
    release(d, p, p->payload_bytes); /* a frame half read */
    p->payload_bytes = 0;
    pthread_mutex_lock(&d->mu);
    signal_calls(d, p, 0);
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
    pthread_mutex_unlock(&d->peers_mu);
    zoid_daemon_log(d, ZOID_LOG_INFO, "disconnect %s after %.1f s (%s; %u clients)", p->id.peer,
                    (double)(zb_mono_read() - p->since_ns) / 1e9, why, clients);
    zoid_peer_unref(p);
}

/* Lets the next event of a socket (one-shot) come to some thread; a socket already readable
 * reports at once. Fails harmlessly (ENOENT) once draining removed it. */
static void rearm(struct zoid_daemon *d, int fd, void *ptr, uint32_t events)
{
    if (ptr != &d->lfd && ptr != &d->sigfd && ptr != &d->tfd)
        atomic_fetch_add_explicit(&((struct zoid_peer *)ptr)->handoff, 1, memory_order_release);
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev);
}

static int send_simple(struct zoid_peer *p, enum zoid_kind kind, int error, const void *data,
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
    if (strcmp(d->t->scheme, "unix")) {
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
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
            ssize_t n = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
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
    send_simple(p, ZOID_REFUSED, e, why, strlen(why));
    zoid_daemon_log(d, ZOID_LOG_WARN, "refused %s: %s", p->id.peer, why);
    zoid_peer_unref(p);
}

/* Returns false when the listener is to rest (out of descriptors). */
static bool accept_all(struct zoid_daemon *d)
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
        if (!p) {
            close(fd);
            continue;
        }
        p->fd = fd;
        p->t = d->t;
        p->d = d;
        p->refs = 1;
        p->max_payload = d->o.max_payload;
        p->send_timeout_ms = d->o.send_timeout_ms;
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
        struct zoid_uid *u = uid_get(d, uid);
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
        if (send_simple(p, ZOID_CHALLENGE, 0, chal, sizeof(chal))) {
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
        struct epoll_event ev = {.events = PEER_EVENTS, .data.ptr = p};
        atomic_store_explicit(&p->handoff, 1, memory_order_release);
        if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev))
            drop(d, p, "epoll_ctl failed");
    }
}

/* A complete frame from p; false when p must be dropped (why says why). A call is left in *job
 * when this thread is to run it. */
static bool handle(struct zoid_daemon *d, struct zoid_peer *p, const char **why, struct job **job)
{
    struct zoid_header *h = &p->h;
    if (!p->welcomed) {
        if (h->kind != ZOID_AUTH) {
            *why = "no answer to the challenge";
            return false;
        }
        /* Version 2: AUTH is the client's nonce and its proof; WELCOME carries ours. */
        unsigned char lim[8 + ZOID_MAC_BYTES];
        size_t lim_len = 8;
        if (d->need_token) {
            char ep[ZOID_ENDPOINT_MAX];
            zoid_endpoint(p->fd, 1, ep);
            if (h->length != ZOID_NONCE_BYTES + ZOID_MAC_BYTES) {
                send_simple(p, ZOID_REFUSED, EPROTONOSUPPORT, NULL, 0);
                *why = "an old handshake (version 1): update the client";
                return false;
            }
            const unsigned char *nc = p->payload;
            if (zoid_mac_verify(&d->token, ZOID_ROLE_CLIENT, p->nonce, nc, ep,
                                nc + ZOID_NONCE_BYTES, ZOID_MAC_BYTES) != 0) {
                send_simple(p, ZOID_REFUSED, EACCES, NULL, 0);
                *why = "wrong token";
                return false;
            }
            zoid_mac(&d->token, ZOID_ROLE_SERVER, p->nonce, nc, ep, lim + 8);
            lim_len += ZOID_MAC_BYTES;
        }
        for (int i = 0; i < 4; i++) {
            lim[i] = (unsigned char)(d->o.max_payload >> (8 * i));
            lim[4 + i] = (unsigned char)(d->o.max_in_flight >> (8 * i));
        }
        free(p->payload);
        p->payload = NULL;
        atomic_store(&p->welcomed, true);
        if (send_simple(p, ZOID_WELCOME, 0, lim, lim_len)) {
            *why = "gone during the handshake";
            return false;
        }
        return true;
    }
    if (h->kind != ZOID_CALL) {
        *why = "a frame that is not a call";
        return false;
    }
    int busy = atomic_load(&p->in_flight) >= d->o.max_in_flight ? EBUSY : p->call_error;
    if (enqueue(d, p, busy, job)) {
        *why = "out of memory";
        return false;
    }
    return true;
}

/* Reads what p has sent without blocking, up to the end of one frame (no read to find the
 * socket empty: the one-shot event, re-armed, reports what is left). Returns 1 after a complete
 * frame, 0 when the socket is empty or the next payload waits for room in the daemon's budget
 * (p->want), -1 when p must be dropped (why says why). */
/* One read of a frame's bytes. On unix sockets (p->passcred) with the sender's credentials:
 * those of the frame's first segment are kept, and a later segment sent with other ones is a
 * broken frame (-EPROTO). The kernel does not join segments of different senders in one read. */
static ssize_t recv_part(struct zoid_peer *p, void *buf, size_t len)
{
    if (!p->passcred)
        return recv(p->fd, buf, len, MSG_DONTWAIT);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } ctl;
    struct iovec iov = {buf, len};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
    ssize_t n = recvmsg(p->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n <= 0)
        return n;
    struct zoid_cred c = {0};
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS &&
            h->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred u;
            memcpy(&u, CMSG_DATA(h), sizeof(u));
            c = (struct zoid_cred){.valid = true, .pid = u.pid, .uid = u.uid, .gid = u.gid};
        }
    if (m.msg_flags & MSG_CTRUNC)
        c.valid = false;
    if (!p->hdr_got && !p->payload_got)
        p->frame_cred = c;
    else if (c.valid != p->frame_cred.valid || c.pid != p->frame_cred.pid ||
             c.uid != p->frame_cred.uid || c.gid != p->frame_cred.gid) {
        errno = EPROTO;
        return -1;
    }
    return n;
}

static int readable(struct zoid_daemon *d, struct zoid_peer *p, const char **why, struct job **job)
{
    for (;;) {
        ssize_t n;
        if (p->want) { /* a payload to read: first its room in the daemon's budget */
            if (!reserve(d, p, p->want)) {
                memwait_add(d, p);
                return 0; /* parked until room is freed (release) */
            }
            p->payload_bytes = p->want;
            p->want = 0;
            p->payload = malloc(p->h.length);
            if (!p->payload) {
                *why = "out of memory";
                return -1;
            }
        }
        if (p->hdr_got < ZOID_HEADER_SIZE) {
            n = recv_part(p, p->hdr + p->hdr_got, ZOID_HEADER_SIZE - p->hdr_got);
        } else {
            size_t want = p->h.length - p->payload_got;
            n = want ? recv_part(p, p->payload + p->payload_got, want) : 0;
            if (!want)
                goto complete;
        }
        if (n == 0) {
            *why = p->hdr_got || p->payload_got ? "closed in the middle of a frame" : "closed";
            return -1;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                atomic_store_explicit(&p->mid_frame, p->hdr_got || p->payload_got,
                                      memory_order_relaxed);
                return 0;
            }
            if (errno == EINTR)
                continue;
            *why = errno == EPROTO ? "a frame from two senders" : strerror(errno);
            return -1;
        }
        atomic_store_explicit(&p->last_ns, zb_mono_read(), memory_order_relaxed);
        if (p->hdr_got < ZOID_HEADER_SIZE) {
            p->hdr_got += (size_t)n;
            if (p->hdr_got < ZOID_HEADER_SIZE)
                continue;
            struct zepto_err err = {0};
            uint32_t limit = p->welcomed ? d->o.max_payload : ZOID_NONCE_BYTES + ZOID_MAC_BYTES;
            if (zoid_header_decode(p->hdr, limit, &p->h, &err)) {
                zoid_daemon_log(d, ZOID_LOG_ERR, "error from %s: %s", p->id.peer, err.msg);
                *why = "a bad frame";
                return -1;
            }
            p->payload_got = 0;
            p->payload = NULL;
            if (p->welcomed && p->h.length) {
                p->want = p->h.length; /* allocated below, once the budget has room */
                continue;
            }
            p->payload = p->h.length ? malloc(p->h.length) : NULL;
            if (p->h.length && !p->payload) {
                *why = "out of memory";
                return -1;
            }
            continue;
        }
        p->payload_got += (size_t)n;
        if (p->payload_got < p->h.length)
            continue;
    complete:
        p->hdr_got = 0;
        p->payload_got = 0;
        atomic_store_explicit(&p->mid_frame, false, memory_order_relaxed);
        p->call_id = p->id;
        p->call_error = 0;
        if (p->passcred && zoid_cred_identity(&p->id, &p->frame_cred, &p->call_id))
            p->call_error = EACCES;
        return handle(d, p, why, job) ? 1 : -1;
    }
}

/* Handshakes not finished, frames stalled half way, clients idle too long: their sockets are
 * shut down, and the thread their event goes to drops them with the reason. At most every
 * 100 ms, by one thread. */
static void sweep(struct zoid_daemon *d)
{
    uint64_t now = zb_mono_read(), last = atomic_load(&d->swept_ns);
    if (now - last < SWEEP_NS * 9 / 10 || !atomic_compare_exchange_strong(&d->swept_ns, &last, now))
        return;
    uint64_t until = atomic_load(&d->backoff_until);
    if (until && now >= until && atomic_compare_exchange_strong(&d->backoff_until, &until, 0))
        rearm(d, d->lfd, &d->lfd, EPOLLIN | EPOLLONESHOT); /* rested after EMFILE */
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
            rearm(d, p->fd, p, PEER_EVENTS);
        uint64_t at = atomic_load_explicit(&p->last_ns, memory_order_relaxed);
        double quiet = now > at ? (double)(now - at) / 1e9 : 0;
        const char *why = NULL;
        if (!atomic_load(&p->welcomed) && (double)(now - p->since_ns) / 1e9 > HANDSHAKE_S)
            why = "no handshake in time";
        else if (atomic_load_explicit(&p->mid_frame, memory_order_relaxed) && quiet > STALL_S)
            why = "a frame stalled half way";
        else if (atomic_load(&p->in_flight) == 0 && quiet > d->o.idle_s)
            why = "idle";
        const char *none = NULL;
        if (why && atomic_compare_exchange_strong(&p->kill_why, &none, why))
            shutdown(p->fd, SHUT_RDWR);
        unpark(d, p); /* a missed wake-up costs at most one sweep */
    }
    pthread_mutex_unlock(&d->peers_mu);
    pthread_mutex_lock(&d->mu);
    signal_calls(d, NULL, now); /* of clients gone, or past their deadline */
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
    log_flush(d);
}

/* ---- set-up and the loop ---- */

static int setup(struct zoid_daemon *d, struct zepto_err *err)
{
    int rc = zoid_addr_parse(d->o.listen, &d->addr, &d->t, err);
    if (rc)
        return rc;
    bool tcp = !strcmp(d->t->scheme, "tcp");
    if (tcp && d->o.insecure && !d->t->is_loopback(&d->addr))
        return zepto_fail(err, EACCES,
                          "--insecure is allowed on a loopback address only, not on %s",
                          d->o.listen);
    if (tcp && !d->o.insecure && !d->o.token_file)
        return zepto_fail(err, EACCES,
                          "a tcp listener needs --token-file (or, on loopback "
                          "only, --insecure)");
    if (d->o.token_file && (rc = zoid_token_read(d->o.token_file, &d->token, err)))
        return rc;
    d->need_token = tcp && !d->o.insecure;
    struct stat st;
    if (!d->o.export_dir || stat(d->o.export_dir, &st) || !S_ISDIR(st.st_mode))
        return zepto_fail(err, ENOTDIR, "--export %s: not a directory",
                          d->o.export_dir ? d->o.export_dir : "(none)");
    d->export_fd = open(d->o.export_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (d->export_fd < 0)
        return zepto_fail(err, errno, "--export %s: %s", d->o.export_dir, strerror(errno));
    d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    d->self_uid = (uint32_t)geteuid();
    /* One descriptor per client: take what the hard limit allows. */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct zoid_host base = {.export_dir = d->o.export_dir,
                             .export_fd = d->export_fd,
                             .consistency = d->o.consistency,
                             .daemon = d};
    if ((rc = zoid_plugins_load(d->o.plugin_dir, &base, d->slots, &d->nslots, err)))
        return rc;
    return d->t->listen(&d->addr, 1024, &d->lfd, err);
}

/* ---- the threads: events, one at a time, and calls ---- */

/* Stop accepting and reading (a signal): the calls in flight finish, then the loop ends. */
static void start_draining(struct zoid_daemon *d, int sig)
{
    if (atomic_load(&d->draining))
        return;
    atomic_store(&d->drain_ns, zb_mono_read()); /* before draining: its readers need it */
    if (atomic_exchange(&d->draining, true))
        return;
    pthread_mutex_lock(&d->mu);
    unsigned busy = d->busy;
    pthread_mutex_unlock(&d->mu);
    zoid_daemon_log(d, ZOID_LOG_INFO, "%s: draining %u calls in flight", strsignal(sig), busy);
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->lfd, NULL);
    pthread_mutex_lock(&d->peers_mu);
    for (struct zoid_peer *p = d->peers; p; p = p->next)
        epoll_ctl(d->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    pthread_mutex_unlock(&d->peers_mu);
}

/* An event of client p, which only this thread touches until it is re-armed. */
static struct job *peer_event(struct zoid_daemon *d, struct zoid_peer *p, uint32_t events)
{
    struct job *j = NULL;
    (void)atomic_load_explicit(&p->handoff, memory_order_acquire);
    const char *why = atomic_load(&p->kill_why);
    if (atomic_load(&d->draining))
        return NULL; /* no more reading; the client stays until the end */
    if (why)
        drop(d, p, why);
    else if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
        drop(d, p, "closed");
    else if (readable(d, p, &why, &j) < 0)
        drop(d, p, why);
    else
        settle(d, p);
    return j;
}

/* Waits (at most a second) for one event and handles it. Returns the call this thread is to run,
 * if the event brought one. */
static struct job *loop_turn(struct zoid_daemon *d)
{
    struct epoll_event ev;
    int n = epoll_wait(d->epfd, &ev, 1, atomic_load(&d->draining) ? 20 : 1000);
    if (n < 0 && errno != EINTR) {
        int e = errno;
        pthread_mutex_lock(&d->mu);
        if (!d->loop_rc)
            d->loop_rc = zepto_fail(d->loop_err, e, "epoll_wait: %s", strerror(e));
        end_loop(d);
        pthread_mutex_unlock(&d->mu);
        return NULL;
    }
    struct job *j = NULL;
    void *ptr = n == 1 ? ev.data.ptr : NULL;
    if (!ptr || ptr == &d->stopfd) {
    } else if (ptr == &d->lfd) {
        if (accept_all(d) && !atomic_load(&d->draining))
            rearm(d, d->lfd, &d->lfd, EPOLLIN | EPOLLONESHOT);
    } else if (ptr == &d->tfd) {
        uint64_t ticks;
        ssize_t r = read(d->tfd, &ticks, sizeof(ticks));
        (void)r;
        if (!atomic_load(&d->draining))
            sweep(d);
        rearm(d, d->tfd, &d->tfd, EPOLLIN | EPOLLONESHOT);
    } else if (ptr == &d->sigfd) {
        struct signalfd_siginfo si;
        while (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
            if (si.ssi_signo != SIGPIPE)
                start_draining(d, (int)si.ssi_signo);
        rearm(d, d->sigfd, &d->sigfd, EPOLLIN | EPOLLONESHOT);
    } else {
        j = peer_event(d, ptr, ev.events);
    }
    if (!atomic_load(&d->draining)) {
        sweep(d);
    } else {
        uint64_t now = zb_mono_read();
        pthread_mutex_lock(&d->mu);
        if (now - atomic_load(&d->drain_ns) > DRAIN_NS)
            signal_calls(d, NULL, UINT64_MAX); /* every call is past the drain's deadline */
        check_done(d);
        pthread_mutex_unlock(&d->mu);
    }
    return j;
}

/* What every thread of the pool runs, the main one included: queued calls first, as long as
 * another thread stays free to take events; else wait for an event. A call read from an event is
 * run by the thread that read it unless every other thread is in a call (enqueue). Returns once
 * the loop has ended and the queue is empty. */
static void serve(struct zoid_daemon *d)
{
    pthread_mutex_lock(&d->mu);
    d->free++;
    for (;;) {
        struct job *j = d->free > 1 || d->done ? q_pop(d, d->done) : NULL;
        if (j) {
            d->free--;
            j->deadline_ns = zb_mono_read() + (uint64_t)d->o.call_timeout_ms * 1000000u;
            d->ws[my_ws].job = j;
        } else if (d->done && !d->queued) {
            break;
        } else {
            /* Calls wait that could run, and this is the only thread left for events. */
            unsigned slot = d->ring_head && d->free <= 1 ? spawn_slot(d) : 0;
            pthread_mutex_unlock(&d->mu);
            spawn(d, slot);
            j = loop_turn(d); /* free was taken for it by enqueue */
            pthread_mutex_lock(&d->mu);
            if (!j)
                continue;
        }
        pthread_mutex_unlock(&d->mu);
        struct zoid_uid *u = j->peer->u;
        run_job(d, j);
        pthread_mutex_lock(&d->mu);
        d->ws[my_ws].job = NULL;
        uid_done(d, u);
        free(j);
        d->free++;
        d->busy--;
        check_done(d);
    }
    d->free--;
    pthread_mutex_unlock(&d->mu);
}

static void *worker(void *arg)
{
    struct wslot *w = arg;
    struct zoid_daemon *d = w->d;
    my_ws = w->idx;
    /* Every signal goes to the signalfd, except the one that interrupts a call (sent to this
     * thread only, while it runs a call that is to stop; its handler does nothing). */
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, CANCEL_SIG);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    serve(d);
    zoid_dirty_clear(-1);
    return NULL;
}

int zoid_daemon_run(const struct zoid_daemon_opts *o, struct zepto_err *err)
{
    struct zoid_daemon *d = calloc(1, sizeof(*d));
    if (!d)
        return zepto_fail(err, ENOMEM, "out of memory");
    d->o = *o;
    d->lfd = d->epfd = d->sigfd = d->stopfd = d->export_fd = d->tfd = d->spare_fd = -1;
    if (!d->o.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        d->o.threads = n > 0 ? (unsigned)n : 2;
    }
    if (!d->o.max_clients)
        d->o.max_clients = 4096;
    if (!d->o.max_threads)
        d->o.max_threads = 64;
    if (d->o.max_threads < d->o.threads)
        d->o.max_threads = d->o.threads;
    d->uid_cap = d->o.max_calls_per_uid ? d->o.max_calls_per_uid : d->o.max_threads / 4;
    if (!d->uid_cap)
        d->uid_cap = 1;
    if (!d->o.max_conns_per_uid)
        d->o.max_conns_per_uid = d->o.max_clients > 1 ? d->o.max_clients / 2 : 1;
    if (!d->o.max_client_bytes)
        d->o.max_client_bytes = 64u << 20;
    if (!d->o.max_bytes)
        d->o.max_bytes = 1u << 30;
    if (!d->o.call_timeout_ms)
        d->o.call_timeout_ms = 30000;
    if (!d->o.send_timeout_ms)
        d->o.send_timeout_ms = 2000;
    if (!d->o.max_payload)
        d->o.max_payload = 64u << 20;
    if (!d->o.max_in_flight)
        d->o.max_in_flight = 64;
    if (!d->o.idle_s)
        d->o.idle_s = 600;
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->peers_mu, NULL);
    pthread_mutex_init(&d->memwait_mu, NULL);
    pthread_mutex_init(&d->log_mu, NULL);
    d->lr = calloc(LOG_SLOTS, sizeof(*d->lr));
    d->ws = calloc(d->o.max_threads + 1, sizeof(*d->ws));
    if (!d->ws) {
        free(d->lr);
        free(d);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i <= d->o.max_threads; i++)
        d->ws[i] = (struct wslot){.d = d, .idx = i};
    d->ws[0] = (struct wslot){.d = d, .idx = 0, .th = pthread_self(), .started = true};
    my_ws = 0;
    /* The signal that interrupts a call: a handler that does nothing, without SA_RESTART. */
    struct sigaction sa = {.sa_handler = on_cancel_sig};
    sigemptyset(&sa.sa_mask);
    sigaction(CANCEL_SIG, &sa, NULL);
    sigset_t cs;
    sigemptyset(&cs);
    sigaddset(&cs, CANCEL_SIG);
    pthread_sigmask(SIG_UNBLOCK, &cs, NULL);
    /* Payloads up to 32 MiB come from the heap and stay there when freed: a fresh mmap per
     * large frame (glibc's default above 128 KiB, and trimming) costs a page fault per 4 KiB,
     * which made a 16 MiB upload a fifth of the socket's speed. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    /* One arena: a payload freed by one thread is reused by the next, whichever thread reads
     * it (with an arena per thread of a grown pool, each kept its own freed payloads: RSS
     * twice the budget with 2 arenas, 8 times with 8). Small blocks come from each thread's
     * tcache. The sweep trims the heap after a burst. */
    mallopt(M_ARENA_MAX, 1);

    int rc = setup(d, err);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if (!rc) {
        d->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        d->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        struct itimerspec its = {.it_interval = {0, SWEEP_NS}, .it_value = {0, SWEEP_NS}};
        struct epoll_event fev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &d->tfd};
        if (d->tfd < 0 || timerfd_settime(d->tfd, 0, &its, NULL) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->tfd, &fev))
            rc = zepto_fail(err, errno, "timerfd: %s", strerror(errno));
        /* One-shot: one thread takes an accept or a signal, then re-arms it. The stop event is
         * level-triggered: once written, every thread sees it. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &d->lfd};
        struct epoll_event sev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = &d->sigfd};
        struct epoll_event tev = {.events = EPOLLIN, .data.ptr = &d->stopfd};
        if (d->sigfd < 0 || d->epfd < 0 || d->stopfd < 0 ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->lfd, &ev) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &sev) ||
            epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->stopfd, &tev))
            rc = zepto_fail(err, errno, "epoll: %s", strerror(errno));
    }
    d->loop_err = err;
    for (unsigned i = 1; !rc && i <= d->o.threads; i++) {
        if (pthread_create(&d->ws[i].th, NULL, worker, &d->ws[i]))
            rc = zepto_fail(err, EAGAIN, "cannot start worker threads");
        else
            d->ws[i].started = true, d->nworkers++;
    }
    if (!rc) {
        zoid_daemon_log(d, ZOID_LOG_INFO,
                        "listening on %s, export %s, %u to %u workers, %u plugins%s", o->listen,
                        o->export_dir, d->nworkers, d->o.max_threads, d->nslots,
                        d->need_token ? ", token required" : "");
        for (unsigned i = 1; i < d->nslots; i++)
            zoid_daemon_log(d, ZOID_LOG_INFO, "plugin %u %s from %s", d->slots[i].p->id,
                            d->slots[i].p->name, d->slots[i].path);
    }

    bool served = !rc;
    if (served)
        serve(d);         /* returns when the loop has ended and no call is left for this thread */
    zoid_dirty_clear(-1); /* the daemon's own identity again, to clean up */

    /* Shut down: workers first (they hold clients), then clients, then plugins. */
    pthread_mutex_lock(&d->mu);
    end_loop(d);
    pthread_mutex_unlock(&d->mu);
    /* In order: a thread the pool added was started by one with a lower slot (or the main). */
    for (unsigned i = 1;; i++) {
        pthread_mutex_lock(&d->mu);
        bool more = i <= d->nworkers, started = more && d->ws[i].started;
        pthread_mutex_unlock(&d->mu);
        if (!more)
            break;
        if (started)
            pthread_join(d->ws[i].th, NULL);
    }
    if (served)
        rc = d->loop_rc;
    while (d->peers)
        drop(d, d->peers, "daemon stopping");
    if (d->lfd >= 0)
        d->t->close(d->lfd);
    if (d->lfd >= 0 && !strcmp(d->t->scheme, "unix"))
        unlink(d->addr.path);
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->sigfd >= 0)
        close(d->sigfd);
    if (d->stopfd >= 0)
        close(d->stopfd);
    if (d->tfd >= 0)
        close(d->tfd);
    if (d->spare_fd >= 0)
        close(d->spare_fd);
    zoid_plugins_unload(d->slots, d->nslots);
    if (d->export_fd >= 0)
        close(d->export_fd);
    if (!rc)
        zoid_daemon_log(d, ZOID_LOG_INFO, "stopped");
    free(d->ws);
    free(d->lr);
    for (unsigned i = 0; i < UID_BUCKETS; i++)
        while (d->uids[i]) {
            struct zoid_uid *u = d->uids[i];
            d->uids[i] = u->hnext;
            free(u);
        }
    memset(&d->token, 0, sizeof(d->token));
    free(d);
    return rc;
}
