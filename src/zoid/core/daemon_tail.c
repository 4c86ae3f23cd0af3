/*
 * Payloads left in the socket (zoid_host_payload_tail): a large call of a function that asked for
 * it is handed over with only its head read, and the function moves the rest out of the client's
 * socket itself: into a file through the thread's pipe (socket pages spliced in, the file's own
 * copy out: a forwarded write costs the daemon one copy instead of two) or into memory. Meanwhile
 * the client is not read (its next frame sits behind these bytes); once they are out it is read
 * again at once, while the function may still be writing them. On unix sockets every piece is
 * checked to come from the frame's sender (a peek at its credentials before each read: the
 * kernel does not join the bytes of two senders in one read). What the function leaves is read
 * and dropped before the reply. A client that stalls, goes, or mixes senders is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "zoid/core/daemon_int.h"

#define DISCARD_CHUNK (64u << 10)

/* The client is told to go: the sweep re-arms it (parked meanwhile) and the thread its event
 * goes to drops it with why. */
static void send_away(struct zoid_peer *p, const char *why)
{
    const char *none = NULL;
    if (atomic_compare_exchange_strong(&p->kill_why, &none, why))
        shutdown(p->fd, SHUT_RDWR);
}

/* On unix: the next bytes in the socket were sent by the frame's sender. 0, -EAGAIN (none yet),
 * -EPROTO (another sender), -ECONNRESET (the end) or -errno. */
static int same_sender(struct zoid_peer *p)
{
    if (!p->passcred)
        return 0;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } ctl;
    char byte;
    struct iovec iov = {&byte, 1};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
    ssize_t n = recvmsg(p->fd, &m, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0)
        return n == 0 ? -ECONNRESET : -errno;
    struct zoid_cred c = zoid_cred_of(&m);
    return zoid_cred_same(&c, &p->frame_cred) ? 0 : -EPROTO;
}

/* Waits (in slices, watching for the call's end) for the socket to have bytes. */
static int await_bytes(struct zoid_call *c)
{
    struct zoid_peer *p = c->peer;
    for (;;) {
        if (zoid_call_cancelled(c) || atomic_load(&p->kill_why))
            return atomic_load(&p->closed) || atomic_load(&p->kill_why) ? -ECONNRESET : -ETIMEDOUT;
        uint64_t last = atomic_load_explicit(&p->last_ns, memory_order_relaxed);
        unsigned stall_ms = p->stall_timeout_ms ? p->stall_timeout_ms : STALL_S * 1000u;
        if (zb_mono_read() - last > (uint64_t)stall_ms * 1000000u)
            return -ETIMEDOUT;
        struct pollfd pf = {.fd = p->fd, .events = POLLIN};
        int r = poll(&pf, 1, 100);
        if (r > 0)
            return 0; /* bytes, or the end: the read says which */
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/* Bytes taken out of the socket: counted, and the client read again once none are left. */
static void taken(struct zoid_call *c, size_t k)
{
    struct zoid_peer *p = c->peer;
    c->tail_left -= k;
    atomic_store_explicit(&p->last_ns, zb_mono_read(), memory_order_relaxed);
    atomic_store(&p->tail_left, (uint32_t)c->tail_left);
    if (!c->tail_left) {
        atomic_store_explicit(&p->mid_frame, false, memory_order_relaxed);
        if (p->d)
            zd__unpark(p->d, p);
    }
}

/* Whether fd has bytes to read now. */
static bool readable_now(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN);
}

/* Up to n (at most what is left) of the bytes: into the pipe wr (>= 0) or buf. The count; 0
 * when the pipe holds some already (`held`) and takes no more now (full, or no more bytes have
 * come: those go to the file while the client sends the rest); or -errno and the client is told
 * to go. */
static ssize_t take(struct zoid_call *c, int wr, void *buf, size_t n, bool held)
{
    struct zoid_peer *p = c->peer;
    if (n > c->tail_left)
        n = c->tail_left;
    for (unsigned stuck = 0;;) {
        int rc = same_sender(p);
        ssize_t k = -1;
        if (!rc) {
            k = wr >= 0 ? splice(p->fd, NULL, wr, NULL, n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                        : recv(p->fd, buf, n, MSG_DONTWAIT);
            rc = k > 0 ? 0 : k == 0 ? -ECONNRESET : -errno;
        }
        if (!rc) {
            taken(c, (size_t)k);
            return k;
        }
        if (rc == -EINTR)
            continue;
        if ((rc == -EAGAIN || rc == -EWOULDBLOCK) && held)
            return 0; /* the pipe is full, or no more bytes yet: its bytes go to the file first */
        if ((rc == -EAGAIN || rc == -EWOULDBLOCK) && wr >= 0 && readable_now(p->fd)) {
            if (++stuck <= 1000)
                continue; /* the bytes came just after the splice looked */
            rc = -EIO;    /* an empty pipe that takes none of them: not to spin for ever */
        } else {
            stuck = 0;
        }
        if (rc == -EAGAIN || rc == -EWOULDBLOCK)
            rc = await_bytes(c);
        if (!rc)
            continue;
        send_away(p, rc == -EPROTO       ? "a frame from two senders"
                     : rc == -ETIMEDOUT  ? "a frame stalled half way"
                     : rc == -ECONNRESET ? "closed in the middle of a frame"
                                         : "a broken socket");
        return rc;
    }
}

size_t zoid_call_payload_left(const struct zoid_call *call)
{
    return call ? call->tail_left : 0;
}

ssize_t zoid_call_payload_read(struct zoid_call *call, void *buf, size_t n)
{
    if (!call || (!buf && n))
        return -EINVAL;
    if (n > call->tail_left)
        n = call->tail_left;
    size_t got = 0;
    while (got < n) {
        ssize_t k = take(call, -1, (unsigned char *)buf + got, n - got, false);
        if (k < 0)
            return k;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* The k bytes in the pipe rd into the file, by a copy: for a file that takes no splice. */
static ssize_t bounce(int rd, int fd, loff_t *pos, size_t k)
{
    unsigned char *b = malloc(k < DISCARD_CHUNK ? k : DISCARD_CHUNK);
    if (!b)
        return -ENOMEM;
    size_t done = 0;
    ssize_t err = 0;
    while (done < k) {
        size_t want = k - done < DISCARD_CHUNK ? k - done : DISCARD_CHUNK;
        ssize_t r = read(rd, b, want);
        if (r <= 0) {
            err = r < 0 ? -errno : -EIO;
            break;
        }
        ssize_t w = pos ? pwrite(fd, b, (size_t)r, *pos) : write(fd, b, (size_t)r);
        if (w > 0) {
            done += (size_t)w;
            if (pos)
                *pos += w;
        }
        if (w != r) {
            err = w < 0 ? -errno : -ENOSPC;
            break;
        }
    }
    free(b);
    return done ? (ssize_t)done : err;
}

ssize_t zoid_call_payload_to_file(struct zoid_call *call, int fd, int64_t off, size_t n)
{
    if (!call || fd < 0)
        return -EINVAL;
    if (n > call->tail_left)
        n = call->tail_left;
    if (!n)
        return 0;
    if (call->file_len)
        return -EBUSY; /* the thread's pipe holds this call's reply */
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl < 0 || fstat(fd, &st))
        return -errno;
    if ((fl & O_APPEND) || !S_ISREG(st.st_mode)) /* a pipe or socket would take part of it */
        return -EINVAL;
    if ((fl & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    int rd, wr;
    size_t cap;
    int rc = zoid__thread_pipe(&rd, &wr, &cap);
    if (rc)
        return rc;
    loff_t pos = off, *at = off < 0 ? NULL : &pos;
    size_t done = 0;
    bool copy = false; /* the file took no splice: copied from the pipe */
    ssize_t err = 0;
    while (done < n && !err) {
        /* First what has come of the rest, up to what the pipe holds: these bytes go to the
         * file while the client sends more (or, the payload all taken, while the client is read
         * again for its next call). */
        size_t in = 0;
        while (in < cap && done + in < n) {
            ssize_t k =
                take(call, wr, NULL, n - done - in < cap - in ? n - done - in : cap - in, in > 0);
            if (k <= 0) {
                err = k;
                break;
            }
            in += (size_t)k;
        }
        if (!in)
            return done ? (ssize_t)done : err;
        while (in) {
            ssize_t w = copy ? bounce(rd, fd, at, in) : splice(rd, NULL, fd, at, in, SPLICE_F_MOVE);
            if (w > 0) {
                in -= (size_t)w;
                done += (size_t)w;
                continue;
            }
            int e = w < 0 ? (copy ? (int)-w : errno) : EIO;
            if (e == EINTR && !zoid_call_cancelled(call))
                continue;
            if (e == EINVAL && !copy && !done) {
                copy = true; /* nothing written yet: the same bytes, by a copy */
                continue;
            }
            zoid__reply_pipe_reset(); /* the bytes not written go with the pipe */
            return done ? (ssize_t)done : -e;
        }
    }
    return done || !err ? (ssize_t)done : err;
}

int zoid__payload_discard(struct zoid_call *c)
{
    if (!c->tail_left)
        return 0;
    size_t len = c->tail_left < DISCARD_CHUNK ? c->tail_left : DISCARD_CHUNK;
    unsigned char *b = malloc(len);
    if (!b) {
        send_away(c->peer, "out of memory");
        return -ENOMEM;
    }
    int rc = 0;
    while (c->tail_left && !rc) {
        ssize_t k = take(c, -1, b, len, false);
        rc = k < 0 ? (int)k : 0;
    }
    free(b);
    return rc;
}
