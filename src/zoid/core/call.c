/*
 * What a plugin function sees of a call: who is calling, its per-client state, and the reply it
 * builds. A reply is a list of iovecs: bytes appended or reserved live in a buffer owned by the
 * call (the iovecs keep offsets, because the buffer may move as it grows), bulk data stays where
 * the plugin has it and goes to the socket without a copy, its release hook called once sent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zoid/core/daemon.h"

#define SEND_TIMEOUT_MS 2000 /* without progress; the daemon sets its own (--send-timeout) */

void zoid_call_init(struct zoid_call *c, struct zoid_peer *peer, unsigned slot, uint32_t max)
{
    memset(c, 0, sizeof(*c));
    c->peer = peer;
    c->slot = slot;
    c->max_payload = max;
}

void *zoid_call_take_payload(struct zoid_call *call)
{
    if (call->payload_in_place)
        return NULL; /* the transport's memory, until the call ends */
    void *p = call->payload;
    call->payload = NULL;
    call->payload_taken = p != NULL;
    return p;
}

const struct zoid_identity *zoid_call_identity(const struct zoid_call *call)
{
    return &call->id;
}

void **zoid_call_client_state(struct zoid_call *call)
{
    return &call->peer->state[call->slot];
}

void *zoid_call_plugin_state(struct zoid_call *call)
{
    return call->host ? call->host->plugin_state : NULL;
}

const struct zoid_host *zoid_call_host(const struct zoid_call *call)
{
    return call->host;
}

bool zoid_call_cancelled(const struct zoid_call *call)
{
    return atomic_load(&call->peer->closed) || (call->timed_out && atomic_load(call->timed_out));
}

int zoid_call_lend_fd(struct zoid_call *call, int fd, uint64_t tag)
{
    struct zoid_peer *p = call->peer;
    if (!p->t->lend_fd || !call->id.verified)
        return -EOPNOTSUPP;
    if (fd < 0)
        return -EBADF;
    if (atomic_load(&p->closed))
        return -ENOTCONN;
    return p->t->lend_fd(p->fd, fd, tag); /* the peer's socket lives while the call does */
}

static void logk(const struct zoid_daemon *d, const void *key, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    zoid_daemon_vlogk(d, key, level, fmt, ap);
    va_end(ap);
}

static void vlog(const struct zoid_host *host, int level, const char *fmt, va_list ap)
{
    char line[480];
    vsnprintf(line, sizeof(line), fmt, ap);
    if (host && host->daemon)
        logk(host->daemon, fmt, level, "%s: %s", host->plugin_name, line);
}

void zoid_host_log(const struct zoid_host *host, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(host, level, fmt, ap);
    va_end(ap);
}

void zoid_call_log(struct zoid_call *call, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(call->host, level, fmt, ap);
    va_end(ap);
}

_Thread_local struct zoid_dirty zoid_dirty;

void zoid_call_thread_dirty(struct zoid_call *call, void (*clear)(void))
{
    zoid_dirty = (struct zoid_dirty){.clear = clear, .plugin = call->h.plugin};
}

void zoid_dirty_clear(int plugin)
{
    if (!zoid_dirty.clear || (plugin >= 0 && zoid_dirty.plugin == plugin))
        return;
    void (*clear)(void) = zoid_dirty.clear;
    zoid_dirty.clear = NULL;
    clear();
}

static int grow_iov(struct zoid_call *c)
{
    if (c->niov < c->capiov)
        return 0;
    int cap = c->capiov ? 2 * c->capiov : 8;
    struct iovec *iov = realloc(c->iov, (size_t)cap * sizeof(*iov));
    if (!iov)
        return ENOMEM;
    c->iov = iov;
    size_t *off = realloc(c->buf_off, (size_t)cap * sizeof(*off));
    if (!off)
        return ENOMEM;
    c->buf_off = off;
    c->capiov = cap;
    return 0;
}

/* Room for len more bytes in the owned buffer, as the end of the last iovec when it is ours. */
static void *owned(struct zoid_call *c, size_t len)
{
    if (c->length + len > c->max_payload) {
        errno = EMSGSIZE;
        return NULL;
    }
    if (c->buf_len + len > c->buf_cap) {
        size_t cap = c->buf_cap ? c->buf_cap : 256;
        while (cap < c->buf_len + len)
            cap *= 2;
        unsigned char *b = realloc(c->buf, cap);
        if (!b) {
            errno = ENOMEM;
            return NULL;
        }
        c->buf = b;
        c->buf_cap = cap;
    }
    bool extend = c->niov && c->buf_off[c->niov - 1] != SIZE_MAX &&
                  c->buf_off[c->niov - 1] + c->iov[c->niov - 1].iov_len == c->buf_len;
    if (extend) {
        c->iov[c->niov - 1].iov_len += len;
    } else {
        if (grow_iov(c)) {
            errno = ENOMEM;
            return NULL;
        }
        c->buf_off[c->niov] = c->buf_len;
        c->iov[c->niov++] = (struct iovec){NULL, len};
    }
    void *p = c->buf + c->buf_len;
    c->buf_len += len;
    c->length += len;
    return p;
}

void *zoid_reply_reserve(struct zoid_call *call, size_t len)
{
    return owned(call, len);
}

int zoid_reply_append(struct zoid_call *call, const void *data, size_t len)
{
    if (!len)
        return 0;
    if (call->length + len > call->max_payload)
        return -EMSGSIZE;
    void *p = owned(call, len);
    if (!p)
        return -ENOMEM;
    memcpy(p, data, len);
    return 0;
}

int zoid_reply_bulk(struct zoid_call *call, const void *data, size_t len, void (*release)(void *),
                    void *arg)
{
    int rc = 0;
    if (call->length + len > call->max_payload)
        rc = -EMSGSIZE;
    else if (grow_iov(call))
        rc = -ENOMEM;
    if (!rc && release && call->nrelease == call->caprelease) {
        int cap = call->caprelease ? 2 * call->caprelease : 4;
        void *r = realloc(call->release, (size_t)cap * sizeof(*call->release));
        if (!r)
            rc = -ENOMEM;
        else {
            call->release = r;
            call->caprelease = cap;
        }
    }
    if (rc) {
        if (release)
            release(arg); /* the plugin hands the memory over either way */
        return rc;
    }
    call->buf_off[call->niov] = SIZE_MAX;
    call->iov[call->niov++] = (struct iovec){(void *)data, len};
    call->length += len;
    if (release) {
        call->release[call->nrelease].fn = release;
        call->release[call->nrelease++].arg = arg;
    }
    return 0;
}

/* A client that takes no reply bytes for the send timeout, is gone, or was sent part of a frame:
 * the loop sees the shutdown and releases it. */
static void drop(struct zoid_peer *p)
{
    atomic_store(&p->closed, true);
    shutdown(p->fd, SHUT_RDWR);
}

/* A frame: the header, iov, then (pipe_len) bytes out of the thread's pipe, then post. */
static int send_frame(struct zoid_peer *p, const struct zoid_header *h, const struct iovec *iov,
                      int n, size_t pipe_len, const struct iovec *post, int npost)
{
    unsigned char hdr[ZOID_HEADER_SIZE];
    zoid_header_encode(h, hdr);
    struct iovec stack[9], *all = n < 8 ? stack : malloc((size_t)(n + 1) * sizeof(*all));
    if (!all)
        return -ENOMEM;
    all[0] = (struct iovec){hdr, sizeof(hdr)};
    if (n)
        memcpy(all + 1, iov, (size_t)n * sizeof(*iov));
    int ms = p->send_timeout_ms ? (int)p->send_timeout_ms : SEND_TIMEOUT_MS;
    pthread_mutex_lock(&p->send_mu);
    int rc = atomic_load(&p->closed) ? -ENOTCONN
             : pipe_len ? p->t->sendv_pipe(p->fd, all, n + 1, zoid__reply_pipe(), pipe_len, ms)
                        : p->t->sendv(p->fd, all, n + 1, ms);
    if (!rc && npost)
        rc = p->t->sendv(p->fd, post, npost, ms);
    if (rc && rc != -ENOTCONN)
        drop(p);
    pthread_mutex_unlock(&p->send_mu);
    if (all != stack)
        free(all);
    return rc;
}

int zoid_peer_send(struct zoid_peer *p, const struct zoid_header *h, const struct iovec *iov, int n)
{
    return send_frame(p, h, iov, n, 0, NULL, 0);
}

/* The reply of c with its file bytes (zoid_reply_file): the iovec holding buf[file_at...] is cut
 * around them; what follows goes after the pipe's bytes. */
static int send_with_file(struct zoid_call *c, const struct zoid_header *h)
{
    int i = zoid__reply_iov_of(c, c->file_at, c->file_len);
    if (i < 0) { /* zoid_reply_file checked it: cannot happen */
        drop(c->peer);
        return -EIO;
    }
    size_t head = c->file_at - c->buf_off[i];
    int npost = c->niov - i;
    struct iovec stack[8], *post = npost <= 8 ? stack : malloc((size_t)npost * sizeof(*post));
    if (!post) {
        drop(c->peer);
        return -ENOMEM;
    }
    post[0] = (struct iovec){(unsigned char *)c->iov[i].iov_base + head + c->file_len,
                             c->iov[i].iov_len - head - c->file_len};
    memcpy(post + 1, c->iov + i + 1, (size_t)(npost - 1) * sizeof(*post));
    c->iov[i].iov_len = head;
    int rc = send_frame(c->peer, h, c->iov, i + 1, c->file_len, post, npost);
    if (post != stack)
        free(post);
    return rc;
}

int zoid_call_finish(struct zoid_call *c, int error)
{
    struct zoid_header h = {.kind = ZOID_REPLY,
                            .plugin = c->h.plugin,
                            .function = c->h.function,
                            .error = error,
                            .call = c->h.call};
    int n = 0;
    if (!error) {
        for (int i = 0; i < c->niov; i++)
            if (c->buf_off[i] != SIZE_MAX)
                c->iov[i].iov_base = c->buf + c->buf_off[i];
        n = c->niov;
        h.length = (uint32_t)c->length;
    }
    int rc = n && c->file_len ? send_with_file(c, &h) : zoid_peer_send(c->peer, &h, c->iov, n);
    if (c->file_len && (rc || !n))
        zoid__reply_pipe_reset(); /* its bytes did not all go: the next call needs it empty */
    for (int i = 0; i < c->nrelease; i++)
        c->release[i].fn(c->release[i].arg);
    free(c->iov);
    free(c->buf_off);
    free(c->buf);
    free(c->release);
    return rc;
}

struct zoid_peer *zoid_peer_get(struct zoid_call *call)
{
    atomic_fetch_add(&call->peer->refs, 1);
    return call->peer;
}

void zoid_peer_put(struct zoid_peer *peer)
{
    zoid_peer_unref(peer);
}

bool zoid_peer_gone(const struct zoid_peer *peer)
{
    return atomic_load(&peer->closed);
}

int zoid_push(struct zoid_peer *peer, uint16_t plugin, uint16_t function, const void *data,
              size_t len)
{
    if (atomic_load(&peer->closed))
        return -ENOTCONN;
    if (len > peer->max_payload)
        return -EMSGSIZE;
    struct zoid_header h = {
        .kind = ZOID_ASYNC, .plugin = plugin, .function = function, .length = (uint32_t)len};
    struct iovec iov = {(void *)data, len};
    int rc = zoid_peer_send(peer, &h, &iov, len ? 1 : 0);
    return rc;
}

void zoid_peer_unref(struct zoid_peer *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    if (p->d)
        zoid_daemon_peer_freed(p->d, p);
    zoid_daemon_release_state(p->d, p);
    if (p->fd >= 0)
        p->t->close(p->fd);
    if (!p->ev_given)
        free(p->ev);
    free(p->payload);
    pthread_mutex_destroy(&p->send_mu);
    free(p);
}
