/*
 * The shm: transport (shm:PATH): a unix-socket connection to PATH whose frames travel through
 * shared memory. On accept the daemon creates a sealed memfd (it can neither shrink nor grow, so
 * a peer cannot make it fault), maps it and passes it with SCM_RIGHTS; the socket stays open as
 * the liveness channel (a dead peer closes it) and the source of the peer's credentials
 * (SO_PEERCRED), and carries the daemon's wake-ups; towards the client, after the region, only
 * descriptors the daemon lends (lend_fd: a file the client opened through the daemon). Frames are
 * byte streams in two rings (shm_ring.h), so the client and the daemon see the same sendv/recvv as
 * on a socket. This file: the rings, waking, views and the transport's table; the set-up at
 * accept and connect and the descriptors on the socket are shm_setup.c's.
 *
 * Waking: a reader with nothing to read spins for a while (at most ZOID_SHM_SPIN microseconds,
 * default SPIN_DEFAULT_US, adapted to whether spinning paid off lately; "poll": until the
 * deadline), then sleeps: a client thread on a futex (in slices of SLICE_MS, checking the socket
 * for a dead peer between them), the daemon in its epoll on the socket (its ring's rwait says so
 * and the writer sends one byte). A writer waiting for room sleeps the same way on the futex. Idle
 * connections cost nothing.
 *
 * Views: a large request payload for a function that takes it in place (zoid_host_in_place) is
 * not copied out of the ring: the daemon waits until all of it is there and hands its function
 * a pointer into the ring (the daemon maps the request ring twice, back to back, so the span is
 * contiguous even where it wraps). The ring's published tail stays before it until the call
 * ends (view_end), so the client cannot write over it meanwhile; one view per connection at a
 * time, later frames are copied as usual.
 */
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "zepto/zoid_settings.h"
#include "zoid/core/shm_int.h"
#include "zoid/core/shm_ring.h"
#include "zoid/core/transport.h"

#define SPIN_DEFAULT_US 50
#define SLICE_MS        250 /* a sleeper looks at the socket (a dead peer) this often */
/* Bytes copied between two publications of an index: the peer starts copying a large frame's
 * first piece while this side copies the next, instead of waiting for a whole ring. */
#define PIECE (64u << 10)
/* The daemon's reader spins for the rest of a frame at most this long when it busy-polls. */
#define DAEMON_POLL_NS 1000000

struct shm_conn {
    unsigned char *base;
    struct shm_end in, out;
    bool daemon; /* its reader sleeps in epoll (SHM_DOORBELL), not on the futex */
    /* The daemon's last read took bytes: more of the frame may be on the way. Only advice (a
     * spin or not); atomic because a sweep re-arming a parked client clears it while a watcher
     * may be reading. */
    _Atomic bool reading;
    _Atomic int32_t *my_cpu, *peer_cpu; /* struct shm_where */
    long spin_ns;                       /* the most a wait spins (ZOID_SHM_SPIN); -1: busy-poll */
    /* The adaptive part: how long the next wait spins (0 to spin_ns), and the waits since a
     * spin was last tried. Shared by the threads of the connection; a lost update only makes
     * one wait spin a little more or less. */
    _Atomic long spin_now;
    _Atomic unsigned since_try;
    /* The daemon's views (the reader takes one, the call's thread ends it), under tail_mu
     * while a view is held: what the daemon has consumed (views included) and whether a view
     * holds the published tail back (at the view's start) until it ends; and the length of the
     * payload a view waits for (0: none), read by whoever asks whether bytes are ready. */
    pthread_mutex_t tail_mu;
    uint32_t consumed;
    _Atomic bool view_on;
    _Atomic size_t view_want;
    size_t span; /* bytes mapped at base */
};

/* After a spin that failed (the wait slept anyway), the next ones spin half as long, down to
 * nothing; once at nothing, one wait in SPIN_RETRY spins again at SPIN_RETRY_FRACTION of the
 * budget, so that a peer that has become fast is noticed. A spin that succeeds doubles the next
 * one, up to the budget. */
#define SPIN_RETRY          32
#define SPIN_RETRY_FRACTION 4
#define SPIN_FLOOR_NS       1000

/* ---- the rings ---- */

void shm_copy_out(struct shm_end *e, void *buf, size_t n)
{
    if (!n) /* buf may be NULL */
        return;
    uint32_t at = e->mine & (e->cap - 1), first = e->cap - at;
    if (first > n)
        first = (uint32_t)n;
    memcpy(buf, e->data + at, first);
    memcpy((char *)buf + first, e->data, n - first);
    e->mine += (uint32_t)n;
}

void shm_take(struct shm_end *e, void *buf, size_t n)
{
    shm_copy_out(e, buf, n);
    atomic_store_explicit(&e->c->tail, e->mine, memory_order_release);
}

void shm_put(struct shm_end *e, const void *buf, size_t n)
{
    if (!n) /* buf may be NULL */
        return;
    uint32_t at = e->mine & (e->cap - 1), first = e->cap - at;
    if (first > n)
        first = (uint32_t)n;
    memcpy(e->data + at, buf, first);
    memcpy(e->data, (const char *)buf + first, n - first);
    e->mine += (uint32_t)n;
}

void shm_publish(struct shm_end *e)
{
    atomic_store_explicit(&e->c->head, e->mine, memory_order_release);
}

/* ---- descriptors to connections: two levels, read without a lock ---- */

#define CHUNK  1024
#define NCHUNK 1024
static _Atomic(struct shm_conn *) *_Atomic chunks[NCHUNK];

static struct shm_conn *conn_of(int fd)
{
    if (fd < 0 || fd >= CHUNK * NCHUNK)
        return NULL;
    _Atomic(struct shm_conn *) *c = atomic_load_explicit(&chunks[fd / CHUNK], memory_order_acquire);
    return c ? atomic_load_explicit(&c[fd % CHUNK], memory_order_acquire) : NULL;
}

int zoid__shm_conn_set(int fd, struct shm_conn *s)
{
    if (fd < 0 || fd >= CHUNK * NCHUNK)
        return -EMFILE;
    _Atomic(struct shm_conn *) *c = atomic_load(&chunks[fd / CHUNK]);
    if (!c) {
        _Atomic(struct shm_conn *) *fresh = calloc(CHUNK, sizeof(*fresh));
        if (!fresh)
            return -ENOMEM;
        if (!atomic_compare_exchange_strong(&chunks[fd / CHUNK], &c, fresh))
            free(fresh); /* c is the winner's */
        else
            c = fresh;
    }
    atomic_store_explicit(&c[fd % CHUNK], s, memory_order_release);
    return 0;
}

/* ---- waking and sleeping ---- */

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

/* After publishing: wakes whoever sleeps on w (a shared mapping: no FUTEX_PRIVATE_FLAG). */
static void wake(int fd, _Atomic uint32_t *w)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load_explicit(w, memory_order_relaxed))
        return;
    uint32_t v = atomic_exchange(w, SHM_AWAKE);
    if (v == SHM_DOORBELL) {
        ssize_t r = send(fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL); /* full: one is pending */
        (void)r;
    } else if (v != SHM_AWAKE) {
        futex(w, FUTEX_WAKE, 1, NULL);
    }
}

/* Whether the peer is gone (its end of the socket closed). Nothing is read: on the daemon's
 * side the bytes waiting are the client's doorbells, which the daemon's epoll must still see (a
 * writer waiting for room that ate one lost the client's next request). */
static bool peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

long zoid_shm_spin_ns(void)
{
    const char *v = zoid_setting(ZOID_SET_SHM_SPIN, NULL);
    if (!v || !*v)
        return SPIN_DEFAULT_US * 1000L;
    if (!strcmp(v, "poll"))
        return -1;
    if (!strcmp(v, "off"))
        return 0;
    char *end;
    long us = strtol(v, &end, 10);
    return !*end && us >= 0 && us <= 1000000 ? us * 1000L : SPIN_DEFAULT_US * 1000L;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Publishes the CPU this thread runs on (struct shm_where) and returns it (+ 1; 0: unknown). */
static int here(struct shm_conn *s)
{
    int cpu = sched_getcpu() + 1;
    if (atomic_load_explicit(s->my_cpu, memory_order_relaxed) != cpu)
        atomic_store_explicit(s->my_cpu, cpu, memory_order_relaxed);
    return cpu;
}

/*
 * Spins until ready(e) is non-zero: 1 when it is, 0 when this wait's spin ended first (at most
 * until end_ns), -ECONNRESET (the peer is gone), -EPROTO (the peer wrote an impossible index).
 * The spin's length adapts (see SPIN_RETRY).
 */
static int spin_for(struct shm_conn *s, int fd, struct shm_end *e, long (*ready)(struct shm_end *),
                    uint64_t now, uint64_t end_ns)
{
    long r, spin = s->spin_ns;
    bool adaptive = spin > 0;
    if (adaptive) {
        spin = atomic_load_explicit(&s->spin_now, memory_order_relaxed);
        if (spin == 0 &&
            atomic_fetch_add_explicit(&s->since_try, 1, memory_order_relaxed) % SPIN_RETRY ==
                SPIN_RETRY - 1)
            spin = s->spin_ns / SPIN_RETRY_FRACTION;
    }
    if (!spin)
        return 0;
    int cpu = here(s);
    if (adaptive && cpu && atomic_load_explicit(s->peer_cpu, memory_order_relaxed) == cpu)
        return 0; /* the peer last ran on this CPU: spinning would only hold it off */
    uint64_t spin_end = spin < 0 ? end_ns : now + (uint64_t)spin;
    if (spin_end > end_ns)
        spin_end = end_ns;
    for (unsigned i = 1;; i++) {
        if ((r = ready(e))) {
            if (adaptive) {
                long next = spin * 2 > s->spin_ns ? s->spin_ns : spin * 2;
                atomic_store_explicit(&s->spin_now, next, memory_order_relaxed);
            }
            return r < 0 ? (int)r : 1;
        }
        relax();
        if ((i & 63) == 0) {
            if (zb_mono_read() >= spin_end)
                break;
            if ((i & 0xffff) == 0 && peer_gone(fd))
                return -ECONNRESET;
        }
    }
    if (adaptive) /* it did not pay off: spin less next time */
        atomic_store_explicit(&s->spin_now, spin / 2 < SPIN_FLOOR_NS ? 0 : spin / 2,
                              memory_order_relaxed);
    return 0;
}

/*
 * Waits until ready(e) is non-zero (bytes to read, or room to write), spinning first, then
 * sleeping on word w: 0 when it is, -ETIMEDOUT, -EINTR (a signal), -ECONNRESET (the peer is
 * gone), -EPROTO (the peer wrote an impossible index).
 */
static int wait_for(struct shm_conn *s, int fd, struct shm_end *e, long (*ready)(struct shm_end *),
                    _Atomic uint32_t *w, int timeout_ms)
{
    long r = ready(e);
    if (r)
        return r < 0 ? (int)r : 0;
    uint64_t now = zb_mono_read();
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000u;
    int spun = spin_for(s, fd, e, ready, now, deadline);
    if (spun)
        return spun < 0 ? spun : 0;
    for (;;) { /* sleep */
        atomic_store(w, SHM_FUTEX);
        if ((r = ready(e))) {
            atomic_store(w, SHM_AWAKE);
            return r < 0 ? (int)r : 0;
        }
        now = zb_mono_read();
        if (now >= deadline) {
            atomic_store(w, SHM_AWAKE);
            return -ETIMEDOUT;
        }
        uint64_t left = deadline - now, slice = (uint64_t)SLICE_MS * 1000000u;
        if (left > slice)
            left = slice;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        long rc = futex(w, FUTEX_WAIT, SHM_FUTEX, &ts);
        int e2 = rc ? errno : 0;
        if ((r = ready(e))) {
            atomic_store(w, SHM_AWAKE);
            return r < 0 ? (int)r : 0;
        }
        if (peer_gone(fd)) { /* first: signals may come more often than the slice ends */
            atomic_store(w, SHM_AWAKE);
            return -ECONNRESET;
        }
        if (e2 == EINTR) {
            atomic_store(w, SHM_AWAKE);
            return -EINTR;
        }
    }
}

/* ---- the transport ---- */

static int shm_sendv(int fd, const struct iovec *iov, int n, int timeout_ms)
{
    struct shm_conn *s = conn_of(fd);
    if (!s)
        return -EBADF;
    int i = 0;
    size_t off = 0;
    /* A deadline without progress, as on sockets; a signal does not restart it (the daemon
     * signals a call's thread every sweep while its client is gone or its time is up: a writer
     * that began its wait again on each one never gave up). */
    uint64_t deadline = 0;
    if (!s->daemon)
        (void)here(s); /* a worker watching this ring must know whether it holds off its writer */
    /* The reader is woken after the first piece, before this side waits for room, and after
     * the last piece; pieces between are only published (a reader that spins sees them, one
     * asleep is woken at one of those points). Each wake-up orders the head's store before the
     * look at the reader's word, a full fence that waits for every store of the piece before it
     * to drain: 16 of them per 1 MiB took 7 % of the client's time. */
    bool first = true, unrung = false;
    while (i < n) {
        long room = shm_room(&s->out);
        if (room < 0)
            return (int)room;
        if (room == 0) {
            if (unrung) {
                wake(fd, &s->out.c->rwait);
                unrung = false;
                continue; /* room may have come meanwhile */
            }
            int left = -1;
            if (timeout_ms >= 0) {
                uint64_t now = zb_mono_read();
                if (!deadline)
                    deadline = now + (uint64_t)timeout_ms * 1000000u;
                left = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
            }
            int rc = wait_for(s, fd, &s->out, shm_room, &s->out.c->wwait, left);
            if (rc && rc != -EINTR)
                return rc;
            continue;
        }
        deadline = 0;
        if (room > (long)PIECE)
            room = PIECE;
        while (i < n && room > 0) { /* as much as fits in a piece, then one publication */
            size_t k = iov[i].iov_len - off;
            if (k > (size_t)room)
                k = (size_t)room;
            shm_put(&s->out, (const char *)iov[i].iov_base + off, k);
            room -= (long)k;
            off += k;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
        shm_publish(&s->out);
        if (first || i == n) {
            wake(fd, &s->out.c->rwait);
            first = false;
        } else {
            unrung = true;
        }
    }
    return 0;
}

/* The daemon publishes what it has consumed of the request ring, unless a view holds the
 * tail back (it is published when the view ends). Without a view (only this reader takes one)
 * no lock: a view's end racing with it publishes with shm_tail_max, which never moves the tail
 * back. */
static void publish_in(struct shm_conn *s)
{
    if (!atomic_load_explicit(&s->view_on, memory_order_acquire)) {
        atomic_store_explicit(&s->in.c->tail, s->in.mine, memory_order_release);
        return;
    }
    pthread_mutex_lock(&s->tail_mu);
    s->consumed = s->in.mine;
    if (!atomic_load_explicit(&s->view_on, memory_order_relaxed))
        atomic_store_explicit(&s->in.c->tail, s->consumed, memory_order_release);
    pthread_mutex_unlock(&s->tail_mu);
}

/* Publishes tail x unless the tail is already past it (a few tries: a client that rewrites the
 * word itself only confuses its own writes). */
static void shm_tail_max(struct shm_end *e, uint32_t x)
{
    uint32_t cur = atomic_load_explicit(&e->c->tail, memory_order_relaxed);
    for (int i = 0; i < 4 && (int32_t)(x - cur) > 0; i++)
        if (atomic_compare_exchange_weak_explicit(&e->c->tail, &cur, x, memory_order_release,
                                                  memory_order_relaxed))
            return;
}

/* Copies n bytes out (n <= shm_avail) a piece at a time, so that a writer waiting for room
 * refills the ring while the rest is copied. */
static void take(int fd, struct shm_conn *s, void *buf, size_t n)
{
    for (size_t done = 0, k; done < n; done += k) {
        k = n - done < PIECE ? n - done : PIECE;
        if (s->daemon) {
            shm_copy_out(&s->in, (char *)buf + done, k);
            publish_in(s);
        } else {
            shm_take(&s->in, (char *)buf + done, k);
        }
        wake(fd, &s->in.c->wwait);
    }
}

/* Bytes the daemon can do something with: those in the ring, unless a view waits for more of
 * its payload than has come (then 0: a partial payload is not news). */
static long pending(struct shm_end *e)
{
    struct shm_conn *s = (struct shm_conn *)(void *)((char *)e - offsetof(struct shm_conn, in));
    long a = shm_avail(e);
    size_t want = atomic_load_explicit(&s->view_want, memory_order_relaxed);
    return a > 0 && want && (size_t)a < want ? 0 : a;
}

static int shm_recvv(int fd, const struct iovec *iov, int n, int timeout_ms)
{
    struct shm_conn *s = conn_of(fd);
    if (!s)
        return -EBADF;
    uint64_t deadline =
        timeout_ms < 0 ? UINT64_MAX : zb_mono_read() + (uint64_t)timeout_ms * 1000000u;
    int i = 0;
    size_t off = 0;
    while (i < n) {
        if (off == iov[i].iov_len) {
            i++;
            off = 0;
            continue;
        }
        long a = shm_avail(&s->in);
        if (a < 0)
            return (int)a;
        if (a == 0) {
            int left = -1;
            if (deadline != UINT64_MAX) {
                uint64_t now = zb_mono_read();
                left = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
            }
            int rc = wait_for(s, fd, &s->in, shm_avail, &s->in.c->rwait, left);
            if (rc && rc != -EINTR) /* a frame is never cut by a signal */
                return rc;
            continue;
        }
        size_t k = iov[i].iov_len - off;
        if (k > (size_t)a)
            k = (size_t)a;
        take(fd, s, (char *)iov[i].iov_base + off, k);
        off += k;
    }
    return 0;
}

static int shm_wait(int fd, int timeout_ms)
{
    struct shm_conn *s = conn_of(fd);
    if (!s)
        return -EBADF;
    int rc = wait_for(s, fd, &s->in, shm_avail, &s->in.c->rwait, timeout_ms);
    return rc == -EPROTO ? 0 : rc; /* the read reports it */
}

/* Takes the doorbell bytes sent so far (one read when fewer than a buffer's worth came): the last
 * read's result (0: the peer is gone; -1 with errno; else a count). */
static ssize_t take_doorbells(int fd)
{
    char junk[64];
    ssize_t r;
    do
        r = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
    while (r == (ssize_t)sizeof(junk));
    return r;
}

/* Nothing (or not enough) to read for the daemon: takes the doorbells rung so far and arms the
 * doorbell (rwait), after which the client's next write rings. 0 when armed; 1 when the client
 * went but left at least `need` bytes (read them first); -1 with errno (0: it went). */
static int arm_doorbell(int fd, struct shm_conn *s, size_t need)
{
    ssize_t r = take_doorbells(fd);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        int e = r ? errno : 0;
        long a = shm_avail(&s->in);
        if (a > 0 && (size_t)a >= need)
            return 1;
        errno = e;
        return -1;
    }
    atomic_store(&s->in.c->rwait, SHM_DOORBELL);
    atomic_thread_fence(memory_order_seq_cst);
    return 0;
}

/* The daemon's read: never blocks; -1 with errno EAGAIN when the ring is empty, after which a
 * byte on the socket (the writer sends it, SHM_DOORBELL) makes the socket readable. 0: gone. */
static long shm_recv_nb(int fd, void *buf, size_t len)
{
    struct shm_conn *s = conn_of(fd);
    if (!s) {
        errno = EBADF;
        return -1;
    }
    if (atomic_load_explicit(&s->reading, memory_order_relaxed) && shm_avail(&s->in) == 0) {
        /* in the middle of a frame whose first bytes came: the rest is likely on its way (a
         * large payload refilling the ring); a short spin saves the doorbell and the epoll
         * wake-up. Adaptive, so a client that trickles stops getting it. */
        uint64_t now = zb_mono_read();
        (void)spin_for(s, fd, &s->in, shm_avail, now, now + DAEMON_POLL_NS);
    }
    atomic_store_explicit(&s->reading, false, memory_order_relaxed);
    for (int pass = 0; pass < 2; pass++) {
        long a = shm_avail(&s->in);
        if (a < 0) {
            errno = EPROTO;
            return -1;
        }
        if (a > 0) {
            size_t k = (size_t)a < len ? (size_t)a : len;
            if (!atomic_load_explicit(&s->reading, memory_order_relaxed))
                (void)here(s); /* a request's first bytes: its reply will come from this CPU */
            take(fd, s, buf, k);
            atomic_store_explicit(&s->reading, true, memory_order_relaxed);
            return (long)k;
        }
        if (pass)
            break;
        int k = arm_doorbell(fd, s, 1);
        if (k > 0)
            continue; /* what it sent before it went */
        if (k < 0)
            return errno ? -1 : 0;
    }
    errno = EAGAIN;
    return -1;
}

/* The daemon's reader hands fd back to its epoll: the next read begins a frame (no spin for its
 * rest). Whether bytes are already in the ring, which the socket's readiness does not show.
 * (Arming the doorbell here as well, so that the doorbell rung for this frame would not wake
 * another thread, made null calls slower: the client must then ring for every request.) */
static bool shm_arm(int fd)
{
    struct shm_conn *s = conn_of(fd);
    if (!s)
        return false;
    atomic_store_explicit(&s->reading, false, memory_order_relaxed);
    return pending(&s->in) != 0;
}

/* A daemon's worker reads the ring itself between calls (daemon_own.c): the client's writes need
 * no doorbell while it does. */
static bool shm_hold(int fd, bool on)
{
    struct shm_conn *s = conn_of(fd);
    if (!s)
        return false;
    if (!on) {
        /* the next read begins a frame, as after shm_arm */
        atomic_store_explicit(&s->reading, false, memory_order_relaxed);
        atomic_store(&s->in.c->rwait, SHM_DOORBELL);
        atomic_thread_fence(memory_order_seq_cst); /* before the ring is looked at again */
        return true;
    }
    int cpu = here(s);
    if (cpu && atomic_load_explicit(s->peer_cpu, memory_order_relaxed) == cpu)
        return false;
    atomic_store(&s->in.c->rwait, SHM_AWAKE);
    return true;
}

static long shm_ready(int fd)
{
    struct shm_conn *s = conn_of(fd);
    return s ? pending(&s->in) : -EBADF;
}

/* ---- views (the daemon reads a payload in place) ---- */

/* The rest of a payload to be read in place is likely on its way (the client copies it in
 * piece by piece): spins while it keeps coming, that is for as long as the spin budget since the
 * last piece, at most DAEMON_POLL_NS in all. Adaptive as spin_for: a spin that ends before the
 * payload is whole halves the next (a client that trickles stops getting it). */
static void spin_payload(struct shm_conn *s, size_t len)
{
    long spin = s->spin_ns;
    bool adaptive = spin > 0;
    if (!spin || (adaptive && !atomic_load_explicit(&s->spin_now, memory_order_relaxed) &&
                  atomic_fetch_add_explicit(&s->since_try, 1, memory_order_relaxed) % SPIN_RETRY !=
                      SPIN_RETRY - 1))
        return;
    int cpu = here(s);
    if (cpu && atomic_load_explicit(s->peer_cpu, memory_order_relaxed) == cpu)
        return; /* the client last ran on this CPU: spinning would hold it off */
    uint64_t now = zb_mono_read(), hard = now + DAEMON_POLL_NS;
    uint64_t until = adaptive ? now + (uint64_t)spin : hard;
    uint32_t last = atomic_load_explicit(&s->in.c->head, memory_order_relaxed);
    for (unsigned i = 1;; i++) {
        long a = shm_avail(&s->in);
        if (a < 0)
            return;
        if ((size_t)a >= len) {
            if (adaptive)
                atomic_store_explicit(&s->spin_now, spin, memory_order_relaxed);
            return;
        }
        relax();
        if ((i & 63) == 0) {
            now = zb_mono_read();
            uint32_t head = atomic_load_explicit(&s->in.c->head, memory_order_relaxed);
            if (head != last) { /* another piece came */
                last = head;
                until = adaptive && now + (uint64_t)spin < hard ? now + (uint64_t)spin : hard;
            }
            if (now >= until)
                break;
        }
    }
    if (adaptive) {
        long next = atomic_load_explicit(&s->spin_now, memory_order_relaxed) / 2;
        atomic_store_explicit(&s->spin_now, next < SPIN_FLOOR_NS ? 0 : next, memory_order_relaxed);
    }
}

static bool shm_view_ok(int fd, size_t len)
{
    struct shm_conn *s = conn_of(fd);
    return s && s->daemon && len >= ZOID_VIEW_MIN && len <= s->in.cap && !atomic_load(&s->view_on);
}

/* The daemon's in-place read of the next len bytes (shm_view_ok said yes): len with *at
 * pointing at them once all have come, held until shm_view_end; else as shm_recv_nb: -1 with
 * errno EAGAIN (the doorbell is armed), EPROTO or EBADF; 0 when the client went first. */
static long shm_view(int fd, size_t len, const void **at)
{
    struct shm_conn *s = conn_of(fd);
    if (!s || !s->daemon || len > s->in.cap) {
        errno = EBADF;
        return -1;
    }
    atomic_store_explicit(&s->view_want, len, memory_order_relaxed);
    long a = shm_avail(&s->in);
    if (a >= 0 && (size_t)a < len)
        spin_payload(s, len);
    for (int pass = 0; pass < 2; pass++) {
        if ((a = shm_avail(&s->in)) < 0) {
            errno = EPROTO;
            return -1;
        }
        if ((size_t)a >= len) {
            atomic_store_explicit(&s->view_want, 0, memory_order_relaxed);
            *at = s->in.data + (s->in.mine & (s->in.cap - 1)); /* mapped twice: contiguous */
            s->in.mine += (uint32_t)len;
            pthread_mutex_lock(&s->tail_mu);
            atomic_store(&s->view_on, true); /* the published tail stays before it */
            s->consumed = s->in.mine;        /* published when the view ends */
            pthread_mutex_unlock(&s->tail_mu);
            atomic_store_explicit(&s->reading, true, memory_order_relaxed);
            return (long)len;
        }
        if (pass)
            break;
        int k = arm_doorbell(fd, s, len);
        if (k > 0)
            continue; /* what it sent before it went */
        if (k < 0)
            return errno ? -1 : 0;
    }
    errno = EAGAIN;
    return -1;
}

/* The call that had the view is over: the ring's space is the client's again. */
static void shm_view_end(int fd)
{
    struct shm_conn *s = conn_of(fd);
    if (!s)
        return;
    pthread_mutex_lock(&s->tail_mu);
    atomic_store(&s->view_on, false);
    shm_tail_max(&s->in, s->consumed);
    pthread_mutex_unlock(&s->tail_mu);
    wake(fd, &s->in.c->wwait);
}

void zoid__shm_free(struct shm_conn *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->tail_mu);
    free(s);
}

static void shm_close(int fd)
{
    if (fd < 0)
        return;
    struct shm_conn *s = conn_of(fd);
    if (s) {
        zoid__shm_conn_set(fd, NULL);
        munmap(s->base, s->span);
        zoid__shm_free(s);
    }
    close(fd);
}

/* The daemon's mapping of a region's memfd (SHM_DAEMON_SPAN bytes): the control page, the
 * request ring, the request ring again (views are contiguous across its end), the reply ring.
 * MAP_FAILED with errno. */
unsigned char *zoid__shm_map_daemon(int mfd)
{
    unsigned char *base =
        mmap(NULL, SHM_DAEMON_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return base;
    const int rw = PROT_READ | PROT_WRITE, how = MAP_SHARED | MAP_FIXED;
    size_t req_end = SHM_CTL_BYTES + SHM_REQ_RING_BYTES;
    if (mmap(base, req_end, rw, how, mfd, 0) == MAP_FAILED ||
        mmap(base + req_end, SHM_REQ_RING_BYTES, rw, how, mfd, SHM_CTL_BYTES) == MAP_FAILED ||
        mmap(base + req_end + SHM_REQ_RING_BYTES, SHM_REP_RING_BYTES, rw, how, mfd,
             (off_t)req_end) == MAP_FAILED) {
        int e = errno;
        munmap(base, SHM_DAEMON_SPAN);
        errno = e;
        return MAP_FAILED;
    }
    return base;
}

/* A side's view of a mapped region: the daemon's as zoid__shm_map_daemon made it (span
 * SHM_DAEMON_SPAN), the client's as the region lies in the file (SHM_REGION). */
struct shm_conn *zoid__shm_attach(unsigned char *base, bool daemon)
{
    struct shm_conn *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    struct shm_ctl *c0 = (struct shm_ctl *)base, *c1 = c0 + 1;
    unsigned char *d0 = base + SHM_CTL_BYTES;
    unsigned char *d1 = d0 + (daemon ? 2u : 1u) * SHM_REQ_RING_BYTES;
    struct shm_where *where = (struct shm_where *)(c1 + 1);
    s->base = base;
    s->span = daemon ? SHM_DAEMON_SPAN : SHM_REGION;
    s->daemon = daemon;
    pthread_mutex_init(&s->tail_mu, NULL);
    s->my_cpu = &where->cpu[daemon];
    s->peer_cpu = &where->cpu[!daemon];
    s->spin_ns = zoid_shm_spin_ns();
    atomic_init(&s->spin_now, s->spin_ns > 0 ? s->spin_ns : 0);
    atomic_init(&s->since_try, 0);
    /* ring 0 carries requests to the daemon, ring 1 replies to the client */
    struct shm_end e0 = {c0, d0, SHM_REQ_RING_BYTES, 0}, e1 = {c1, d1, SHM_REP_RING_BYTES, 0};
    s->in = daemon ? e0 : e1;
    s->out = daemon ? e1 : e0;
    return s;
}

const struct zoid_transport zoid_shm_transport = {
    .scheme = "shm",
    .connect = zoid__shm_connect,
    .listen = zoid_unix_listen,
    .accept = zoid__shm_accept,
    .identify = zoid_unix_identify,
    .is_loopback = zoid_unix_loopback,
    .sendv = shm_sendv,
    .recvv = shm_recvv,
    .wait = shm_wait,
    .recv_nb = shm_recv_nb,
    .arm = shm_arm,
    .hold = shm_hold,
    .ready = shm_ready,
    .view_ok = shm_view_ok,
    .view = shm_view,
    .view_end = shm_view_end,
    .close = shm_close,
    .lend_fd = zoid__shm_lend_fd,
    .take_fd = zoid__shm_take_fd,
};
