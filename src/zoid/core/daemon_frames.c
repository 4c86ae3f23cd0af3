/*
 * The ZOID daemon reading its clients' frames: one frame at a time without blocking (header, then
 * a payload allocated only after its length passed the limit and found room in the daemon's
 * budget), each checked for one sender's credentials on unix sockets; the handshake (challenge,
 * token, welcome) and then the calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "zoid/core/daemon_int.h"

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
                zd__send_simple(p, ZOID_REFUSED, EPROTONOSUPPORT, NULL, 0);
                *why = "an old handshake (version 1): update the client";
                return false;
            }
            const unsigned char *nc = p->payload;
            if (zoid_mac_verify(&d->token, ZOID_ROLE_CLIENT, p->nonce, nc, ep,
                                nc + ZOID_NONCE_BYTES, ZOID_MAC_BYTES) != 0) {
                zd__send_simple(p, ZOID_REFUSED, EACCES, NULL, 0);
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
        if (zd__send_simple(p, ZOID_WELCOME, 0, lim, lim_len)) {
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
    if (zd__enqueue(d, p, busy, job)) {
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
    if (p->t->recv_nb) /* shm: the ring */
        return p->t->recv_nb(p->fd, buf, len);
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
    struct zoid_cred c = zoid_cred_of(&m);
    if (!p->hdr_got && !p->payload_got)
        p->frame_cred = c;
    else if (!zoid_cred_same(&c, &p->frame_cred)) {
        errno = EPROTO;
        return -1;
    }
    return n;
}

/* Whether the call h may get its payload in place: a transport that can (for this length, now)
 * and a function that said it takes it so (zoid_host_in_place). */
static bool in_place(const struct zoid_daemon *d, const struct zoid_peer *p,
                     const struct zoid_header *h)
{
    if (h->length < ZOID_VIEW_MIN || h->kind != ZOID_CALL || h->function >= 64 || !p->t->view_ok ||
        !p->t->view_ok(p->fd, h->length))
        return false;
    int slot = zoid_plugin_find(d->slots, d->nslots, h->plugin);
    return slot >= 0 && (d->in_place[slot] >> h->function & 1);
}

/* How many bytes of the call h's payload stay in the socket for its function: a socket
 * transport, a function that said it takes them so (zoid_host_payload_tail), a payload of
 * 64 KiB or more past its head. */
static uint32_t tail_of(const struct zoid_daemon *d, const struct zoid_peer *p,
                        const struct zoid_header *h)
{
    if (h->kind != ZOID_CALL || h->function >= 64 || h->length < ZOID_VIEW_MIN || !p->t->sendv_pipe)
        return 0;
    int slot = zoid_plugin_find(d->slots, d->nslots, h->plugin);
    unsigned head1 = slot >= 0 ? d->tail_head[slot][h->function] : 0;
    return head1 && h->length > head1 - 1 ? h->length - (head1 - 1) : 0;
}

int zd__readable(struct zoid_daemon *d, struct zoid_peer *p, const char **why, struct job **job)
{
    for (;;) {
        ssize_t n;
        if (p->want) { /* a payload to read: first its room in the daemon's budget */
            if (!zd__reserve(d, p, p->want)) {
                zd__memwait_add(d, p);
                return 0; /* parked until room is freed (zd__release) */
            }
            p->payload_bytes = p->want;
            p->want = 0;
            p->payload = malloc(p->payload_bytes);
            if (!p->payload) {
                *why = "out of memory";
                return -1;
            }
        }
        if (p->hdr_got < ZOID_HEADER_SIZE) {
            n = recv_part(p, p->hdr + p->hdr_got, ZOID_HEADER_SIZE - p->hdr_got);
        } else if (p->viewing) { /* all of the payload at once, in place */
            n = p->t->view(p->fd, p->h.length, &p->view);
            if (n > 0) {
                p->payload_got = p->h.length;
                goto complete;
            }
        } else {
            size_t want = p->h.length - p->tail - p->payload_got;
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
            *why = errno != EPROTO ? strerror(errno)
                   : p->t->recv_nb ? "a corrupted shared-memory ring"
                                   : "a frame from two senders";
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
            p->tail = 0;
            if (p->welcomed && in_place(d, p, &p->h)) {
                p->viewing = true; /* no budget: the bytes stay in the client's region */
                continue;
            }
            p->tail = p->welcomed ? tail_of(d, p, &p->h) : 0;
            if (p->welcomed && p->h.length > p->tail) {
                p->want = p->h.length - p->tail; /* allocated below, once the budget has room */
                continue;
            }
            if (p->tail) /* nothing before the bulk: the call as it is */
                goto complete;
            p->payload = p->h.length ? malloc(p->h.length) : NULL;
            if (p->h.length && !p->payload) {
                *why = "out of memory";
                return -1;
            }
            continue;
        }
        p->payload_got += (size_t)n;
        if (p->payload_got < p->h.length - p->tail)
            continue;
    complete:
        p->hdr_got = 0;
        p->payload_got = 0;
        /* A tail left in the socket: the frame is not over until its call has taken it, and the
         * client is not read until then. The stall bound holds from when the call runs
         * (daemon_pool.c): a call that waits for a thread is the daemon's delay, not the
         * client's. */
        atomic_store(&p->tail_left, p->tail);
        atomic_store_explicit(&p->mid_frame, false, memory_order_relaxed);
        p->call_id = p->id;
        p->call_error = 0;
        if (p->passcred && zoid_cred_identity(&p->id, &p->frame_cred, &p->call_id))
            p->call_error = EACCES;
        return handle(d, p, why, job) ? 1 : -1;
    }
}
