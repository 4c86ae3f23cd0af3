/*
 * libzoid, the client: one connection shared by all the threads of a program, calls pipelined.
 *
 * A call registers itself in the pending list, sends its whole frame under the send lock (the
 * header and the request iovecs in one sendmsg, bulk data straight from the caller's memory), and
 * waits for its reply. Whoever waits and finds nobody reading the connection becomes the reader:
 * it reads frames and scatters each reply straight into the iovecs of the call it belongs to
 * (whichever thread that is), then wakes that call's thread alone (each call waits on its own
 * condition variable: waking every waiter for every reply made 15 futex calls per call with 4
 * threads). A reader whose own reply came hands the reading to one waiting call. A call that
 * times out or is interrupted
 * leaves the pending list marked abandoned: its reply, when it comes, is read and dropped, so the
 * connection stays in step. When the connection breaks (the daemon died or restarted), every
 * waiting call returns -ECONNRESET at once, and so does every later call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "zoid/core/auth.h"
#include "zoid/core/shm_int.h"
#include "zoid/core/transport.h"
#include "zepto/zoid.h"
#include "zepto/zoid_settings.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_CONNECT_MS 5000
#define SLICE_MS           200 /* a reader checks the deadlines of others this often */

struct pending {
    uint64_t id;
    const struct iovec *rep;
    int nrep;
    size_t got;     /* reply payload length */
    int status;     /* 0 waiting; 1 done; result in `result` */
    int result;     /* what zoid_call returns */
    bool abandoned; /* the caller left: drop the reply */
    bool filling;   /* the reader is writing into rep right now */
    bool handled;   /* begun by zoid_call_begin: freed by its end or cancel, even after close */
    bool waiting;   /* its thread sleeps on cv */
    pthread_cond_t cv;
    struct pending *next;
};

struct zoid_client {
    int fd;
    const struct zoid_transport *t;
    pthread_mutex_t send_mu;
    pthread_mutex_t mu; /* the rest */
    pthread_cond_t cv;  /* for zoid_poll and for calls waiting for room in flight */
    unsigned cv_waiters;
    bool reading;
    bool closed;      /* zoid_close came while calls begun were not ended: freed by the last */
    unsigned handles; /* calls begun and not yet ended or cancelled */
    bool sliced;      /* receives block for at most SLICE_MS (transport set_slice) */
    int dead;         /* 0, or the negative errno that broke the connection */
    uint64_t next_id;
    unsigned in_flight;
    struct pending *pending;
    uint32_t max_payload, max_in_flight;
    int timeout_ms;
    zoid_async_fn async_fn;
    void *async_arg;
};

static uint64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? UINT64_MAX : zb_mono_read() + (uint64_t)timeout_ms * 1000000u;
}

static int left_ms(uint64_t deadline)
{
    if (deadline == UINT64_MAX)
        return -1;
    uint64_t now = zb_mono_read();
    return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

static int send_frame(struct zoid_client *c, const struct zoid_header *h, const struct iovec *iov,
                      int n, int timeout_ms, bool by_ref)
{
    unsigned char hdr[ZOID_HEADER_SIZE];
    zoid_header_encode(h, hdr);
    struct iovec stack[17], *all = n < 16 ? stack : malloc((size_t)(n + 1) * sizeof(*all));
    if (!all)
        return -ENOMEM;
    all[0] = (struct iovec){hdr, sizeof(hdr)};
    if (n)
        memcpy(all + 1, iov, (size_t)n * sizeof(*iov));
    int rc = by_ref ? c->t->sendv_ref(c->fd, all, n + 1, timeout_ms)
                    : c->t->sendv(c->fd, all, n + 1, timeout_ms);
    if (all != stack)
        free(all);
    return rc;
}

static int read_header(struct zoid_client *c, struct zoid_header *h, int timeout_ms)
{
    unsigned char hdr[ZOID_HEADER_SIZE];
    struct iovec iov = {hdr, sizeof(hdr)};
    int rc = c->t->recvv(c->fd, &iov, 1, timeout_ms);
    if (rc)
        return rc;
    return zoid_header_decode(hdr, c->max_payload ? c->max_payload : UINT32_MAX, h, NULL) ? -EPROTO
                                                                                          : 0;
}

/* Reads and throws away n bytes. */
static int drain(struct zoid_client *c, size_t n)
{
    char buf[8192];
    while (n) {
        struct iovec iov = {buf, n < sizeof(buf) ? n : sizeof(buf)};
        int rc = c->t->recvv(c->fd, &iov, 1, DEFAULT_TIMEOUT_MS);
        if (rc)
            return rc;
        n -= iov.iov_len;
    }
    return 0;
}

/* Reads `len` payload bytes into p's reply iovecs (the rest drained: -EMSGSIZE). */
static int fill(struct zoid_client *c, struct pending *p, size_t len)
{
    struct iovec iov[64];
    int n = 0;
    size_t room = 0;
    for (int i = 0; i < p->nrep && room < len; i++) {
        size_t take = p->rep[i].iov_len < len - room ? p->rep[i].iov_len : len - room;
        if (n == 64) {
            int rc = c->t->recvv(c->fd, iov, n, DEFAULT_TIMEOUT_MS);
            if (rc)
                return rc;
            n = 0;
        }
        iov[n++] = (struct iovec){p->rep[i].iov_base, take};
        room += take;
    }
    int rc = n ? c->t->recvv(c->fd, iov, n, DEFAULT_TIMEOUT_MS) : 0;
    if (rc)
        return rc;
    p->got = room;
    if (room < len) {
        rc = drain(c, len - room);
        return rc ? rc : -EMSGSIZE;
    }
    return 0;
}

static struct pending *find(struct zoid_client *c, uint64_t id)
{
    for (struct pending *p = c->pending; p; p = p->next)
        if (p->id == id)
            return p;
    return NULL;
}

static void unlink_pending(struct zoid_client *c, struct pending *p)
{
    for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            c->in_flight--;
            if (c->cv_waiters)
                pthread_cond_broadcast(&c->cv);
            return;
        }
}

static void free_pending(struct pending *p)
{
    pthread_cond_destroy(&p->cv);
    free(p);
}

/* Nobody reads the connection any more (mu held): one waiting call takes the reading over. */
static void hand_reading(struct zoid_client *c)
{
    if (c->reading)
        return;
    for (struct pending *p = c->pending; p; p = p->next)
        if (p->waiting && !p->status) {
            pthread_cond_signal(&p->cv);
            break;
        }
    if (c->cv_waiters)
        pthread_cond_broadcast(&c->cv);
}

static void mark_dead(struct zoid_client *c, int rc)
{
    if (!c->dead)
        c->dead = rc == -ETIMEDOUT || rc == -EINTR ? -ECONNRESET : rc;
    for (struct pending *p = c->pending; p; p = p->next) {
        if (!p->status) {
            p->status = 1;
            p->result = c->dead;
        }
        pthread_cond_signal(&p->cv);
    }
    pthread_cond_broadcast(&c->cv);
}

/* Reads one frame (the caller is the reader; mu is not held). Returns 0, -ETIMEDOUT when nothing
 * came within timeout_ms, -EINTR, or an error that broke the connection. */
static int read_frame(struct zoid_client *c, int timeout_ms)
{
    struct zoid_header h;
    /* Time out (or be interrupted) only before a frame begins; a frame that stalls half way for
     * the whole default timeout breaks the connection. */
    int rc = 0;
    if (timeout_ms == SLICE_MS && c->sliced) {
        /* The common wait (a reader's slice): straight into a read that blocks at most the
         * slice, no poll first; the rest of a header that came in pieces as any frame. */
        unsigned char hdr[ZOID_HEADER_SIZE];
        long n = c->t->recv_some(c->fd, hdr, sizeof(hdr));
        if (n < 0)
            return (int)n;
        struct iovec iov = {hdr + n, sizeof(hdr) - (size_t)n};
        if ((size_t)n < sizeof(hdr) && (rc = c->t->recvv(c->fd, &iov, 1, DEFAULT_TIMEOUT_MS)))
            return rc == -ETIMEDOUT ? -ECONNRESET : rc;
        if (zoid_header_decode(hdr, c->max_payload ? c->max_payload : UINT32_MAX, &h, NULL))
            return -EPROTO;
    } else {
        if ((rc = c->t->wait(c->fd, timeout_ms)))
            return rc;
        if ((rc = read_header(c, &h, DEFAULT_TIMEOUT_MS)))
            return rc == -ETIMEDOUT ? -ECONNRESET : rc;
    }
    if (h.kind == ZOID_ASYNC) {
        void *data = h.length ? malloc(h.length) : NULL;
        if (h.length && !data)
            return -ENOMEM;
        struct iovec iov = {data, h.length};
        rc = h.length ? c->t->recvv(c->fd, &iov, 1, DEFAULT_TIMEOUT_MS) : 0;
        if (!rc && c->async_fn)
            c->async_fn(c->async_arg, h.plugin, h.function, data, h.length);
        free(data);
        return rc;
    }
    if (h.kind != ZOID_REPLY)
        return -EPROTO;
    pthread_mutex_lock(&c->mu);
    struct pending *p = find(c, h.call);
    bool mine = p && !p->abandoned && !p->status;
    if (mine)
        p->filling = true;
    pthread_mutex_unlock(&c->mu);
    int fill_rc = 0;
    if (mine && !h.error)
        fill_rc = fill(c, p, h.length);
    else
        rc = drain(c, h.length);
    if (!p && !rc)
        rc = -EPROTO; /* a reply to a call never made (abandoned calls stay listed until theirs) */
    pthread_mutex_lock(&c->mu);
    if (mine) {
        p->filling = false;
        p->status = 1;
        /* The function's errno e (on the wire: positive) as -(ZOID_REMOTE + e). */
        p->result = h.error > 0 && h.error < 4096 ? -(ZOID_REMOTE + h.error)
                    : h.error                     ? -(ZOID_REMOTE + EPROTO)
                                                  : fill_rc;
        if (fill_rc && fill_rc != -EMSGSIZE)
            rc = fill_rc;
        pthread_cond_signal(&p->cv);
    } else if (p && p->abandoned) {
        unlink_pending(c, p);
        free_pending(p);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int handshake(struct zoid_client *c, const struct zoid_client_opts *o, struct zepto_err *err)
{
    int to = o && o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_MS;
    struct zoid_header h;
    unsigned char chal[ZOID_NONCE_BYTES + 4];
    int shm = strcmp(c->t->scheme, "unix") ? -1 : zoid__shm_greets(c->fd, to);
    if (shm == 1)
        return zepto_fail(err, EPROTO, "the daemon speaks shm: (connect with shm:PATH)");
    if (shm == 0)
        return zepto_fail(err, ETIMEDOUT, "no greeting from the daemon: %s", strerror(ETIMEDOUT));
    int rc = read_header(c, &h, to);
    if (rc)
        return zepto_fail(err, rc == -ETIMEDOUT ? ETIMEDOUT : ECONNRESET,
                          "no greeting from the daemon: %s", strerror(-rc));
    if (h.kind == ZOID_REFUSED) {
        /* A daemon that says why sends the reason as text (older ones send none). */
        char why[200] = "";
        struct iovec wi = {why, h.length};
        if (h.length && h.length < sizeof(why) && c->t->recvv(c->fd, &wi, 1, to))
            why[0] = 0;
        return zepto_fail(err, h.error ? h.error : EACCES, "the daemon refused the connection: %s",
                          why[0] ? why : strerror(h.error ? h.error : EACCES));
    }
    if (h.kind != ZOID_CHALLENGE || h.length != sizeof(chal))
        return zepto_fail(err, EPROTO, "unexpected greeting from the daemon");
    struct iovec iov = {chal, sizeof(chal)};
    if ((rc = c->t->recvv(c->fd, &iov, 1, to)))
        return zepto_fail(err, -rc, "reading the challenge: %s", strerror(-rc));
    bool need = chal[ZOID_NONCE_BYTES] != 0;
    if (need && chal[ZOID_NONCE_BYTES + 1] < ZOID_HANDSHAKE_VERSION)
        return zepto_fail(err, EPROTONOSUPPORT,
                          "the daemon speaks handshake version %u: the server did not prove the "
                          "token; update the daemon",
                          chal[ZOID_NONCE_BYTES + 1] ? chal[ZOID_NONCE_BYTES + 1] : 1);

    /* Version 2: our nonce and proof out; the daemon's proof back in WELCOME. */
    unsigned char ans[ZOID_NONCE_BYTES + ZOID_MAC_BYTES], want[ZOID_MAC_BYTES];
    struct zoid_header auth = {.kind = ZOID_AUTH};
    struct iovec out = {ans, 0};
    if (need) {
        const char *path =
            o && o->token_file ? o->token_file : zoid_setting(ZOID_SET_TOKEN_FILE, NULL);
        struct zoid_token *tok = malloc(sizeof(*tok));
        if (!tok)
            return zepto_fail(err, ENOMEM, "out of memory");
        if (!path) {
            free(tok);
            return zepto_fail(err, EACCES,
                              "the daemon wants a token: give a token file (ZOID_TOKEN_FILE)");
        }
        rc = zoid_token_read(path, tok, err);
        if (!rc) {
            char ep[ZOID_ENDPOINT_MAX];
            zoid_endpoint(c->fd, 0, ep);
            zoid_nonce(ans);
            zoid_mac(tok, ZOID_ROLE_CLIENT, chal, ans, ep, ans + ZOID_NONCE_BYTES);
            zoid_mac(tok, ZOID_ROLE_SERVER, chal, ans, ep, want);
        }
        memset(tok, 0, sizeof(*tok)); /* the token does not outlive the handshake */
        free(tok);
        if (rc)
            return rc;
        out.iov_len = sizeof(ans);
    }
    auth.length = (uint32_t)out.iov_len;
    if ((rc = send_frame(c, &auth, &out, 1, to, false)))
        return zepto_fail(err, -rc, "sending the answer: %s", strerror(-rc));
    if ((rc = read_header(c, &h, to)))
        return zepto_fail(err, -rc, "no welcome from the daemon: %s", strerror(-rc));
    if (h.kind == ZOID_REFUSED)
        return zepto_fail(err, h.error ? h.error : EACCES, "the daemon refused: %s",
                          h.error == EACCES ? "wrong token" : strerror(h.error));
    unsigned char lim[8 + ZOID_MAC_BYTES];
    size_t lim_len = need ? sizeof(lim) : 8;
    iov = (struct iovec){lim, lim_len};
    if (h.kind != ZOID_WELCOME || h.length != lim_len || c->t->recvv(c->fd, &iov, 1, to))
        return zepto_fail(err, EPROTO, "unexpected answer from the daemon");
    if (need && !zoid_mac_equal(want, lim + 8))
        return zepto_fail(err, EACCES, "server did not prove the token");
    c->max_payload =
        (uint32_t)lim[0] | (uint32_t)lim[1] << 8 | (uint32_t)lim[2] << 16 | (uint32_t)lim[3] << 24;
    c->max_in_flight =
        (uint32_t)lim[4] | (uint32_t)lim[5] << 8 | (uint32_t)lim[6] << 16 | (uint32_t)lim[7] << 24;
    return 0;
}

int zoid_connect(const char *addr, const struct zoid_client_opts *o, struct zoid_client **out,
                 struct zepto_err *err)
{
    struct zoid_addr a;
    const struct zoid_transport *t;
    *out = NULL;
    if (!addr)
        addr = zoid_setting(ZOID_SET_SERVER, NULL);
    if (!addr)
        return zepto_fail(err, EINVAL, "no daemon address: give one, or set ZOID_SERVER");
    int rc = zoid_addr_parse(addr, &a, &t, err);
    if (rc)
        return rc;
    struct zoid_client *c = calloc(1, sizeof(*c));
    if (!c)
        return zepto_fail(err, ENOMEM, "out of memory");
    c->t = t;
    c->fd = -1;
    c->next_id = 1;
    c->timeout_ms = o && o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    pthread_mutex_init(&c->send_mu, NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = t->connect(&a, o && o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_MS,
                    &c->fd, err);
    if (!rc && (rc = handshake(c, o, err)) && err)
        zepto_err_prefix(err, "%s", addr); /* the transport's errors name the address already */
    if (!rc)
        c->sliced = c->t->set_slice && c->t->set_slice(c->fd, SLICE_MS) == 0;
    if (rc) {
        zoid_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

uint32_t zoid_max_payload(const struct zoid_client *c)
{
    return c->max_payload;
}

uint32_t zoid_max_in_flight(const struct zoid_client *c)
{
    return c->max_in_flight;
}

int zoid_take_fd(struct zoid_client *c, uint64_t tag)
{
    if (!c || !c->t->take_fd)
        return -EOPNOTSUPP;
    pthread_mutex_lock(&c->mu); /* one taker at a time: each sees whole messages */
    int rc = c->dead ? c->dead : c->t->take_fd(c->fd, tag);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void zoid_on_async(struct zoid_client *c, zoid_async_fn fn, void *arg)
{
    pthread_mutex_lock(&c->mu);
    c->async_fn = fn;
    c->async_arg = arg;
    pthread_mutex_unlock(&c->mu);
}

static void abs_time(uint64_t deadline, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline / 1000000000u);
    ts->tv_nsec = (long)(deadline % 1000000000u);
}

/* Waits (mu held) until p is done, reading the connection when nobody else does. */
static int wait_reply(struct zoid_client *c, struct pending *p, uint64_t deadline)
{
    int rc = 0;
    while (!p->status) {
        if (!c->reading) {
            c->reading = true;
            pthread_mutex_unlock(&c->mu);
            int ms = left_ms(deadline);
            int r = read_frame(c, ms < 0 || ms > SLICE_MS ? SLICE_MS : ms);
            pthread_mutex_lock(&c->mu);
            c->reading = false;
            if (r && r != -ETIMEDOUT && r != -EINTR)
                mark_dead(c, r);
            if (r == -EINTR && !p->status) {
                rc = -EINTR;
                break;
            }
        } else {
            p->waiting = true;
            if (deadline == UINT64_MAX) {
                pthread_cond_wait(&p->cv, &c->mu);
            } else {
                struct timespec ts;
                uint64_t slice = zb_mono_read() + (uint64_t)SLICE_MS * 1000000u;
                abs_time(slice < deadline ? slice : deadline, &ts);
                pthread_cond_clockwait(&p->cv, &c->mu, CLOCK_MONOTONIC, &ts);
            }
            p->waiting = false;
        }
        if (!p->status && left_ms(deadline) == 0) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    hand_reading(c); /* when this call read last, another one reads on */
    return rc;
}

static void destroy(struct zoid_client *c)
{
    for (struct pending *p = c->pending, *n; p; p = n) {
        n = p->next;
        free_pending(p);
    }
    pthread_mutex_destroy(&c->send_mu);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

/* A call sent, its reply not yet waited for (zoid_call_begin .. zoid_call_end). */
struct zoid_call_handle {
    struct zoid_client *c;
    struct pending *p;
    uint64_t deadline;
};

/* Registers a call and sends its frame: 0 and the handle, or what zoid_call would return. */
static int call_send(struct zoid_client *c, uint16_t plugin, uint16_t function,
                     const struct iovec *req, int nreq, const struct iovec *rep, int nrep,
                     int timeout_ms, bool handled, bool by_ref, struct zoid_call_handle *h)
{
    size_t len = 0;
    for (int i = 0; i < nreq; i++)
        len += req[i].iov_len;
    if (len > c->max_payload)
        return -EMSGSIZE;
    int to = timeout_ms ? timeout_ms : c->timeout_ms;
    uint64_t deadline = deadline_of(to);
    struct pending *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->rep = rep;
    p->nrep = nrep;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&c->mu);
    while (!c->dead && c->max_in_flight && c->in_flight >= c->max_in_flight) {
        struct timespec ts;
        abs_time(zb_mono_read() + (uint64_t)SLICE_MS * 1000000u, &ts);
        c->cv_waiters++;
        pthread_cond_clockwait(&c->cv, &c->mu, CLOCK_MONOTONIC, &ts);
        c->cv_waiters--;
        if (left_ms(deadline) == 0) {
            pthread_mutex_unlock(&c->mu);
            free_pending(p);
            return -ETIMEDOUT;
        }
    }
    if (c->dead) {
        int d = c->dead;
        pthread_mutex_unlock(&c->mu);
        free_pending(p);
        return d;
    }
    p->id = c->next_id++;
    p->next = c->pending;
    p->handled = handled;
    c->handles += handled;
    c->pending = p;
    c->in_flight++;
    pthread_mutex_unlock(&c->mu);

    struct zoid_header hd = {.kind = ZOID_CALL,
                             .plugin = plugin,
                             .function = function,
                             .call = p->id,
                             .length = (uint32_t)len};
    pthread_mutex_lock(&c->send_mu);
    int rc = send_frame(c, &hd, req, nreq, to, by_ref);
    pthread_mutex_unlock(&c->send_mu);
    if (rc) {
        pthread_mutex_lock(&c->mu);
        mark_dead(c, rc); /* the call ends with the connection's error */
        pthread_mutex_unlock(&c->mu);
    }
    *h = (struct zoid_call_handle){c, p, deadline};
    return 0;
}

/* Waits for h's reply (or gives up: timed out, interrupted, or cancel): what zoid_call returns.
 * A call given up on stays listed, abandoned: its reply, when it comes, is dropped. */
static int call_wait(struct zoid_call_handle *h, size_t *rep_len, bool cancel)
{
    struct zoid_client *c = h->c;
    struct pending *p = h->p;
    bool handled = p->handled;
    pthread_mutex_lock(&c->mu);
    int rc = cancel ? -ECANCELED : wait_reply(c, p, h->deadline);
    int result;
    if (rc) {              /* the reply, if it comes, is dropped */
        while (p->filling) /* the reader signals p->cv when it is done with rep */
            pthread_cond_wait(&p->cv, &c->mu);
        if (p->status) {
            result = p->result;
            unlink_pending(c, p);
            free_pending(p);
        } else {
            p->abandoned = true;
            result = rc;
        }
    } else {
        result = p->result;
        if (rep_len)
            *rep_len = p->got;
        unlink_pending(c, p);
        free_pending(p);
    }
    bool last = false;
    if (handled) {
        c->handles--;
        last = c->closed && !c->handles;
    }
    pthread_mutex_unlock(&c->mu);
    if (last)
        destroy(c);
    return result;
}

int zoid_call(struct zoid_client *c, uint16_t plugin, uint16_t function, const struct iovec *req,
              int nreq, const struct iovec *rep, int nrep, size_t *rep_len, int timeout_ms)
{
    if (rep_len)
        *rep_len = 0;
    /* A large request goes by reference where the transport can (unix:): the caller's pages
     * until the daemon has read them, which its reply proves. A call that ends without one
     * (timed out, interrupted, its connection lost) waits for the daemon to have read them, at
     * most as long again; past that the connection is closed (a daemon stopped then, which
     * resumes later, may still read the memory as it is by then: docs/zoid.md). */
    bool by_ref = false;
    for (int i = 0; i < nreq && c->t->sendv_ref && !by_ref; i++)
        by_ref = req[i].iov_len >= ZOID_VIEW_MIN;
    struct zoid_call_handle h;
    int rc = call_send(c, plugin, function, req, nreq, rep, nrep, timeout_ms, false, by_ref, &h);
    if (rc)
        return rc;
    rc = call_wait(&h, rep_len, false);
    if (by_ref && rc < 0 && c->t->sent_read(c->fd, timeout_ms ? timeout_ms : c->timeout_ms)) {
        pthread_mutex_lock(&c->mu);
        mark_dead(c, -ECONNRESET);
        pthread_mutex_unlock(&c->mu);
        shutdown(c->fd, SHUT_RDWR);
    }
    return rc;
}

int zoid_call_begin(struct zoid_client *c, uint16_t plugin, uint16_t function,
                    const struct iovec *req, int nreq, const struct iovec *rep, int nrep,
                    int timeout_ms, struct zoid_call_handle **out)
{
    *out = NULL;
    struct zoid_call_handle *h = malloc(sizeof(*h));
    if (!h)
        return -ENOMEM;
    int rc = call_send(c, plugin, function, req, nreq, rep, nrep, timeout_ms, true, false, h);
    if (rc) {
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int zoid_call_end(struct zoid_call_handle *h, size_t *rep_len)
{
    if (rep_len)
        *rep_len = 0;
    if (!h)
        return -EINVAL;
    int rc = call_wait(h, rep_len, false);
    free(h);
    return rc;
}

void zoid_call_cancel(struct zoid_call_handle *h)
{
    if (!h)
        return;
    call_wait(h, NULL, true);
    free(h);
}

int zoid_poll(struct zoid_client *c, int timeout_ms)
{
    uint64_t deadline = deadline_of(timeout_ms);
    pthread_mutex_lock(&c->mu);
    int rc = c->dead;
    while (!rc) {
        if (c->reading) {
            struct timespec ts;
            abs_time(deadline == UINT64_MAX ? zb_mono_read() + 1000000000u : deadline, &ts);
            c->cv_waiters++;
            pthread_cond_clockwait(&c->cv, &c->mu, CLOCK_MONOTONIC, &ts);
            c->cv_waiters--;
        } else {
            c->reading = true;
            pthread_mutex_unlock(&c->mu);
            int ms = left_ms(deadline);
            rc = read_frame(c, ms);
            pthread_mutex_lock(&c->mu);
            c->reading = false;
            hand_reading(c);
            if (rc && rc != -ETIMEDOUT && rc != -EINTR)
                mark_dead(c, rc);
            break;
        }
        if (left_ms(deadline) == 0)
            rc = -ETIMEDOUT;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void zoid_close(struct zoid_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        c->t->close(c->fd);
    c->fd = -1;
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    mark_dead(c, -ECONNRESET); /* calls begun and not ended end with it */
    for (struct pending **pp = &c->pending, *p; (p = *pp);) {
        if (p->handled && !p->abandoned) { /* its handle frees it */
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        free_pending(p);
    }
    bool last = !c->handles;
    pthread_mutex_unlock(&c->mu);
    if (last)
        destroy(c);
}

const char *zoid_strerror(int code)
{
    if (code == 0)
        return "success";
    if (code == -ECONNRESET)
        return "the connection to the zoid daemon broke (it died or restarted)";
    if (code == -ETIMEDOUT)
        return "no reply from the zoid daemon in time";
    if (code == -EINTR)
        return "interrupted by a signal (the connection is still usable)";
    if (code == -EMSGSIZE)
        return "the message did not fit (above the daemon's limit, or a reply larger than the "
               "space given)";
    return strerror(zoid_errno(code));
}
