/*
 * libFuzzer target for ZOID frames: the header decoder and the two readers that take frames from
 * the other end of a connection, each fed the fuzzer's bytes as everything that end sent.
 *
 *   every input     zoid_header_decode() on every 32-byte window; what it accepts must encode
 *                   back to the same bytes, and be within the limit it was given.
 *   first byte even the client: a zoid_client on one end of a socketpair, its handshake completed
 *                   by hand (a valid CHALLENGE and WELCOME written first), then the input as the
 *                   daemon's reply stream, then the end of the stream. A few calls of the core
 *                   plugin must each return 0, a positive errno or a documented negative one,
 *                   never crash, hang or write past the reply iovecs.
 *                   Bit 2 of the first byte: the client waits for replies as on tcp (a
 *                   blocking read bounded by SO_RCVTIMEO), else as on unix (poll, then read).
 *   first byte 8 (mod 16, even)  the client's handshake: the input as the daemon's whole
 *                   stream from its CHALLENGE on, the client holding a token. Success is only
 *                   allowed when the challenge asked for no token (nobody can forge the
 *                   daemon's proof of the token).
 *   first byte odd  the daemon: the input as a client's stream to the daemon's frame reader
 *                   (readable(), the handshake and the call queue), then the queued calls run as
 *                   the workers would run them; bit 1 of the first byte makes the daemon want a
 *                   token (the refusal path, since the fuzzer cannot forge the MAC).
 *
 * The client's reader is static inside client.c, the daemon's is in daemon_frames.c, and building
 * a client or a peer around a socketpair needs their private structs: the target includes
 * client.c and the daemon's files (and is linked without them). Whatever is written to a socketpair
 * is there before the reader starts and ends with a shutdown, so a run never waits on time and is
 * reproducible.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "zoid/core/client.c"
#include "zoid/core/daemon.c"
#include "zoid/core/daemon_frames.c"
#include "zoid/core/daemon_grave.c"
#include "zoid/core/daemon_limits.c"
#include "zoid/core/daemon_log.c"
#include "zoid/core/daemon_own.c"
#include "zoid/core/daemon_peers.c"
#include "zoid/core/daemon_pool.c"
#include "zoid/core/daemon_sweep.c"
#include "zoid/core/daemon_tail.c"

#define FUZZ_MAX_PAYLOAD (64u << 10) /* small: a reply never fills the socket buffer */
#define FUZZ_CALL_MS     1000        /* a bound only: the stream ends, so calls never wait */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct zoid_transport *unix_t;
/* The unix transport with the reply wait of the tcp one (a blocking read bounded by
 * SO_RCVTIMEO instead of poll; generic socket code), so that both client read paths are fuzzed:
 * inputs with bit 2 of the first byte set take this one. */
static struct zoid_transport sliced_t;
static volatile unsigned char async_sum; /* keeps the reads of async data */

/* ---- the header decoder ---- */

static void fuzz_headers(const uint8_t *data, size_t size)
{
    for (size_t off = 0; off + ZOID_HEADER_SIZE <= size; off++) {
        uint32_t limit = off & 1 ? UINT32_MAX : FUZZ_MAX_PAYLOAD;
        struct zoid_header h;
        struct zepto_err err = {0};
        if (zoid_header_decode(data + off, limit, &h, &err)) {
            if (!err.msg[0])
                abort(); /* a refusal always says why */
            continue;
        }
        unsigned char again[ZOID_HEADER_SIZE];
        zoid_header_encode(&h, again);
        if (memcmp(again, data + off, ZOID_HEADER_SIZE) || h.length > limit)
            abort();
    }
}

/* ---- writing the other end's bytes ---- */

static void put_frame(int fd, uint8_t kind, const void *payload, uint32_t len)
{
    struct zoid_header h = {.kind = kind, .length = len};
    unsigned char hdr[ZOID_HEADER_SIZE];
    zoid_header_encode(&h, hdr);
    if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
        (len && write(fd, payload, len) != (ssize_t)len))
        abort();
}

/* The input, as much as the socket holds (the rest is dropped), then the end of the stream. */
static void put_stream(int fd, const uint8_t *data, size_t size)
{
    while (size) {
        ssize_t n = send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0)
            break;
        data += n;
        size -= (size_t)n;
    }
    shutdown(fd, SHUT_WR);
}

/* Reads and drops what the reader under test sent to the other end. */
static void discard(int fd)
{
    char buf[65536];
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

/* ---- the client ---- */

static void on_async(void *arg, uint16_t plugin, uint16_t function, const void *data, size_t len)
{
    (void)arg;
    (void)plugin;
    (void)function;
    /* Touch every byte the client says it delivered (ASan checks the reads). */
    for (size_t i = 0; i < len; i++)
        async_sum += ((const unsigned char *)data)[i];
}

/* What zoid_call() may return (zepto/zoid.h): 0, -(ZOID_REMOTE + the remote errno), or a local
 * failure. */
static void check_result(int rc, size_t got, size_t room)
{
    if (rc == 0 && got > room)
        abort();
    if (rc < 0 && !zoid_is_remote(rc) && rc != -ETIMEDOUT && rc != -ECONNRESET && rc != -EINTR &&
        rc != -EMSGSIZE && rc != -EPROTO && rc != -ENOMEM)
        abort();
}

/* A client as zoid_connect() makes one, on an already connected descriptor. */
static struct zoid_client *client_on(int fd)
{
    struct zoid_client *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->t = unix_t;
    c->fd = fd;
    c->next_id = 1;
    c->timeout_ms = FUZZ_CALL_MS;
    pthread_mutex_init(&c->send_mu, NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

static void fuzz_client(const uint8_t *data, size_t size, bool sliced)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        abort();
    unsigned char chal[ZOID_NONCE_BYTES + 4] = {0}; /* no token wanted */
    unsigned char lim[8] = {0};
    for (int i = 0; i < 4; i++)
        lim[i] = (unsigned char)(FUZZ_MAX_PAYLOAD >> (8 * i));
    lim[4] = 4; /* calls in flight */
    put_frame(sv[1], ZOID_CHALLENGE, chal, sizeof(chal));
    put_frame(sv[1], ZOID_WELCOME, lim, sizeof(lim));
    put_stream(sv[1], data, size);

    fcntl(sv[0], F_SETFL, O_NONBLOCK); /* as connecting leaves it */
    struct zoid_client *c = client_on(sv[0]);
    struct zepto_err err = {0};
    if (handshake(c, NULL, &err))
        abort();  /* the greeting above is valid */
    if (sliced) { /* as zoid_connect does after it, on tcp */
        c->t = &sliced_t;
        c->sliced = c->t->set_slice(c->fd, SLICE_MS) == 0;
    }
    zoid_on_async(c, on_async, NULL);

    /* Call ids 1, 2, 3...: seeds answer them in order, the fuzzer in any order or not at all. */
    size_t got = 0;
    check_result(zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, &got, FUZZ_CALL_MS), got, 0);
    char ping[16] = "0123456789abcdef", a[8], b[5];
    struct iovec req = {ping, sizeof(ping)}, rep[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
    check_result(zoid_call(c, 0, ZOID_CORE_ECHO, &req, 1, rep, 2, &got, FUZZ_CALL_MS), got,
                 sizeof(a) + sizeof(b));
    uint64_t n = 100;
    char big[100];
    struct iovec nreq = {&n, sizeof(n)}, brep = {big, sizeof(big)};
    check_result(zoid_call(c, 0, ZOID_CORE_SOURCE, &nreq, 1, &brep, 1, &got, FUZZ_CALL_MS), got,
                 sizeof(big));
    int prc = zoid_poll(c, 0);
    if (prc && prc != -ETIMEDOUT && prc != -ECONNRESET && prc != -EPROTO && prc != -ENOMEM)
        abort();
    check_result(zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, &got, FUZZ_CALL_MS), got, 0);
    zoid_close(c);
    close(sv[1]);
}

/* ---- the daemon ---- */

static struct zoid_daemon daemon_;

static void daemon_init(void)
{
    daemon_.o.max_payload = FUZZ_MAX_PAYLOAD;
    daemon_.o.max_in_flight = 6; /* the seeds' seventh call is refused: EBUSY */
    daemon_.o.max_clients = 1;
    daemon_.t = unix_t;
    daemon_.lfd = daemon_.epfd = daemon_.sigfd = daemon_.stopfd = daemon_.export_fd = -1;
    memcpy(daemon_.token.key, "fuzz-token", 10);
    daemon_.token.len = 10;
    daemon_.o.max_threads = 1;
    daemon_.o.max_conns_per_uid = 1;
    daemon_.o.max_client_bytes = daemon_.o.max_bytes = 1u << 30;
    daemon_.o.call_timeout_ms = FUZZ_CALL_MS;
    daemon_.uid_cap = 1;
    daemon_.tfd = daemon_.spare_fd = -1;
    static struct wslot ws[2];
    ws[0].d = ws[1].d = &daemon_;
    daemon_.ws = ws;
    pthread_mutex_init(&daemon_.mu, NULL);
    pthread_mutex_init(&daemon_.peers_mu, NULL);
    pthread_mutex_init(&daemon_.memwait_mu, NULL);
    pthread_mutex_init(&daemon_.log_mu, NULL);
    struct zoid_host base = {.export_fd = -1, .daemon = &daemon_};
    if (zoid_plugins_load(NULL, &base, daemon_.slots, &daemon_.nslots, NULL))
        abort();
    /* The sink's payloads of 64 KiB stay in the socket (zoid_host_payload_tail, daemon_tail.c):
     * the daemon drops them there, so that the reading of such payloads is fuzzed too. */
    if (zoid_host_payload_tail(&daemon_.slots[0].host, ZOID_CORE_SINK, 0))
        abort();
}

static void fuzz_daemon(const uint8_t *data, size_t size, bool token)
{
    struct zoid_daemon *d = &daemon_;
    d->need_token = token;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK); /* as accepted sockets are */

    /* A peer as accept_all() makes one; the challenge's nonce is all zeros. */
    struct zoid_peer *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->fd = sv[0];
    p->t = d->t;
    p->d = d;
    p->refs = 1;
    p->max_payload = d->o.max_payload;
    pthread_mutex_init(&p->send_mu, NULL);
    d->t->identify(sv[0], &p->id);
    p->u = zd__uid_get(d, p->id.uid);
    if (!p->u)
        abort();
    p->since_ns = zb_mono_read();
    atomic_store(&p->last_ns, p->since_ns);
    put_stream(sv[1], data, size);

    /* Frame after frame, as the events of a one-shot socket come (no thread is free: every call
     * is queued); a call whose payload stays in the socket holds the reading until it has run. */
    const char *why = NULL;
    struct job *mine = NULL;
    bool more = true;
    while (more) {
        int r = 1;
        while (!atomic_load(&p->tail_left) && (r = zd__readable(d, p, &why, &mine)) > 0 && !mine)
            ;
        more = r > 0 && atomic_load(&p->tail_left);
        discard(sv[1]);
        /* The calls it queued, one at a time as a worker runs them. Sleep is answered at once:
         * it only waits, and a fuzzer must not. */
        struct job *j;
        while ((j = zd__q_pop(d, true)) != NULL) {
            if (j->h.plugin == 0 && j->h.function == ZOID_CORE_SLEEP && !j->error)
                j->error = EPERM;
            run_job(d, j);
            zd__uid_done(d, p->u);
            free(j);
            d->busy--;
            discard(sv[1]);
        }
        more = more && !atomic_load(&p->tail_left) && !atomic_load(&p->kill_why);
    }
    /* As zd__drop() does, without the epoll set. */
    atomic_store(&p->closed, true);
    zoid_peer_unref(p);
    close(sv[1]);
}

/* ---- the client's handshake ---- */

static char token_path[64];

static void remove_token(void)
{
    unlink(token_path);
}

static void fuzz_client_handshake(const uint8_t *data, size_t size)
{
    if (!token_path[0]) {
        strcpy(token_path, "/tmp/fuzz-zoid-token-XXXXXX");
        int fd = mkstemp(token_path); /* mode 0600 */
        if (fd < 0 || write(fd, "fuzz token\n", 11) != 11)
            abort();
        close(fd);
        atexit(remove_token); /* the fuzzer leaves nothing behind in /tmp */
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        abort();
    put_stream(sv[1], data, size);
    fcntl(sv[0], F_SETFL, O_NONBLOCK); /* as connecting leaves it */
    struct zoid_client *c = client_on(sv[0]);
    struct zoid_client_opts o = {.token_file = token_path, .connect_timeout_ms = FUZZ_CALL_MS};
    struct zepto_err err = {0};
    int rc = handshake(c, &o, &err);
    bool asked = size > ZOID_HEADER_SIZE + ZOID_NONCE_BYTES &&
                 data[ZOID_HEADER_SIZE + ZOID_NONCE_BYTES] != 0;
    if ((rc == 0 && asked) || (rc != 0 && !err.msg[0]))
        abort();
    discard(sv[1]);
    close(sv[1]);
    zoid_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!unix_t) {
        struct zoid_addr a;
        const struct zoid_transport *tcp_t;
        if (zoid_addr_parse("unix:/fuzz", &a, &unix_t, NULL) ||
            zoid_addr_parse("tcp:127.0.0.1:1", &a, &tcp_t, NULL))
            abort();
        sliced_t = *unix_t;
        sliced_t.set_slice = tcp_t->set_slice;
        sliced_t.recv_some = tcp_t->recv_some;
        daemon_init();
    }
    fuzz_headers(data, size);
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_daemon(data + 1, size - 1, data[0] & 2);
    else if (data[0] & 8)
        fuzz_client_handshake(data + 1, size - 1);
    else
        fuzz_client(data + 1, size - 1, data[0] & 4);
    return 0;
}
