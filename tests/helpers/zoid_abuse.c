/*
 * The abusive client of the daemon-limit tests (tests/integration/zoid_limits.sh): speaks the
 * wire protocol by hand (no token) so that it can do what the client library never does, and
 * prints one JSON line of what it saw. --server unix:P speaks on the socket; --server shm:P maps
 * the region the daemon passes on connect and speaks through its rings (shm_ring.h), waiting by
 * polling the socket (a dropped client sees it hang up) and ringing the daemon as shm.c does.
 *
 *   zoid_abuse sleeps  --server unix:P [--count N] [--ms MS] [--linger-ms L]
 *                                       N sleep calls sent, then leaves (after L ms)
 *   zoid_abuse hold    --server unix:P [--count N] [--ms MS]     N sleep calls, waits for replies
 *   zoid_abuse noread  --server unix:P [--count N] [--size B]    N echo calls, replies never read;
 *                                                                prints when the daemon dropped it
 *   zoid_abuse conns   --server unix:P [--count N] [--hold S]    N connections (library), held
 *   zoid_abuse flood   --server unix:P [--count N] [--hold S]    N raw connects, no handshake
 *   zoid_abuse big     --server unix:P [--count N] [--size B] [--clients C]
 *                                       C connections each sending N sink calls of B bytes
 *   zoid_abuse trickle --server unix:P [--size B] [--ms MS] [--hold S] [--clients C]
 *                                       C connections each sending a sink call of B bytes, its
 *                                       payload 4 KiB every MS ms up to half, then nothing for S
 *                                       seconds before it leaves
 *
 * Exit 0 when it ran (the verdict is the caller's), 2 for bad usage, 1 when it could not start.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../src/zoid/core/shm_ring.h"
#include "zoid_shm_hello.h"
#include "zepto/zoid.h"

static const char *server;
static long count = 64, ms = 10000, hold_s = 5, clients = 1, linger_ms = 0;
static size_t size = 1 << 20;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The transport named by --server: "unix:" or "shm:" (the socket path follows the colon). */
static bool is_shm(void)
{
    return !strncmp(server, "shm:", 4);
}

static int sock_connect(int flags)
{
    if (strncmp(server, "unix:", 5) && !is_shm())
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", strchr(server, ':') + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* shm: the rings of each connection, by descriptor (each thread of `big` has its own). */
struct ring_conn {
    unsigned char *base;
    struct shm_end in, out; /* replies (ring 1), requests (ring 0) */
};
#define MAX_FD 4096
static struct ring_conn *rings[MAX_FD];

/* Maps the region the daemon sends first on an shm: connection; 0, or -1. */
static int shm_attach(int fd)
{
    int mfd = -1;
    unsigned char *base = fd < MAX_FD ? zoid_shm_hello(fd, &mfd) : NULL;
    if (mfd >= 0)
        close(mfd);
    if (!base)
        return -1;
    struct ring_conn *r = calloc(1, sizeof(*r));
    if (!r) {
        munmap(base, SHM_REGION);
        return -1;
    }
    struct shm_ctl *c0 = (struct shm_ctl *)base;
    r->base = base;
    r->out = (struct shm_end){c0, base + SHM_CTL_BYTES, SHM_REQ_RING_BYTES, 0};
    r->in =
        (struct shm_end){c0 + 1, base + SHM_CTL_BYTES + SHM_REQ_RING_BYTES, SHM_REP_RING_BYTES, 0};
    rings[fd] = r;
    return 0;
}

static int raw_connect(void)
{
    int fd = sock_connect(0);
    if (fd >= 0 && is_shm() && shm_attach(fd)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* No handshake, nothing read: on shm: the region stays unread in the socket. */
static int raw_connect_nb(void)
{
    return sock_connect(SOCK_NONBLOCK);
}

static void raw_close(int fd)
{
    if (fd >= 0 && fd < MAX_FD && rings[fd]) {
        munmap(rings[fd]->base, SHM_REGION);
        free(rings[fd]);
        rings[fd] = NULL;
    }
    close(fd);
}

/* Wakes the daemon if it sleeps on w: its epoll by a byte on the socket, a worker by futex. */
static void ring_wake(int fd, _Atomic uint32_t *w)
{
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t v = atomic_exchange(w, SHM_AWAKE);
    if (v == SHM_DOORBELL) {
        ssize_t r = send(fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)r;
    } else if (v != SHM_AWAKE) {
        syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
    }
}

/* All len bytes through the rings; waits in 1 ms polls of the socket (-1 once it hangs up). */
static int ring_full(int fd, struct ring_conn *r, char *b, size_t len, bool out)
{
    struct shm_end *e = out ? &r->out : &r->in;
    while (len) {
        long k = out ? shm_room(e) : shm_avail(e);
        if (k < 0)
            return -1;
        if (k == 0) {
            struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
            if (poll(&pf, 1, 1) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                return -1;
            continue;
        }
        size_t n = (size_t)k < len ? (size_t)k : len;
        uint32_t at = e->mine & (e->cap - 1), first = e->cap - at;
        if (first > n)
            first = (uint32_t)n;
        if (out) {
            memcpy(e->data + at, b, first);
            memcpy(e->data, b + first, n - first);
            e->mine += (uint32_t)n;
            atomic_store_explicit(&e->c->head, e->mine, memory_order_release);
            ring_wake(fd, &e->c->rwait);
        } else {
            memcpy(b, e->data + at, first);
            memcpy(b + first, e->data, n - first);
            e->mine += (uint32_t)n;
            atomic_store_explicit(&e->c->tail, e->mine, memory_order_release);
            ring_wake(fd, &e->c->wwait);
        }
        b += n;
        len -= n;
    }
    return 0;
}

static int full(int fd, void *buf, size_t len, bool out)
{
    char *b = buf;
    if (fd >= 0 && fd < MAX_FD && rings[fd])
        return ring_full(fd, rings[fd], b, len, out);
    while (len) {
        ssize_t n = out ? send(fd, b, len, MSG_NOSIGNAL) : recv(fd, b, len, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return -1;
        }
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_frame(int fd, uint8_t kind, uint16_t fn, uint64_t id, const void *data,
                      uint32_t len)
{
    struct zoid_header h = {.kind = kind, .plugin = 0, .function = fn, .call = id, .length = len};
    unsigned char hdr[ZOID_HEADER_SIZE];
    zoid_header_encode(&h, hdr);
    return full(fd, hdr, sizeof(hdr), true) || (len && full(fd, (void *)data, len, true)) ? -1 : 0;
}

static int read_frame(int fd, struct zoid_header *h, void *buf, size_t cap)
{
    unsigned char hdr[ZOID_HEADER_SIZE];
    if (full(fd, hdr, sizeof(hdr), false) || zoid_header_decode(hdr, 1u << 30, h, NULL))
        return -1;
    if (h->length > cap) { /* read and forget */
        char sink[65536];
        for (uint32_t left = h->length; left;) {
            uint32_t k = left < sizeof(sink) ? left : sizeof(sink);
            if (full(fd, sink, k, false))
                return -1;
            left -= k;
        }
        return 0;
    }
    return h->length ? full(fd, buf, h->length, false) : 0;
}

/* Connect and handshake (no token); the raw descriptor, or -1. */
static int handshake(void)
{
    int fd = raw_connect();
    if (fd < 0)
        return -1;
    struct zoid_header h;
    unsigned char buf[256];
    if (read_frame(fd, &h, buf, sizeof(buf)) || h.kind != ZOID_CHALLENGE ||
        send_frame(fd, ZOID_AUTH, 0, 0, NULL, 0) || read_frame(fd, &h, buf, sizeof(buf)) ||
        h.kind != ZOID_WELCOME) {
        raw_close(fd);
        return -1;
    }
    return fd;
}

static int sleeps(bool wait_replies)
{
    int fd = handshake();
    if (fd < 0)
        return 1;
    uint64_t ns = (uint64_t)ms * 1000000u;
    long sent = 0;
    for (long i = 0; i < count; i++)
        sent += !send_frame(fd, ZOID_CALL, ZOID_CORE_SLEEP, (uint64_t)i + 1, &ns, sizeof(ns));
    if (!wait_replies && linger_ms) /* so that the calls run before it leaves */
        nanosleep(&(struct timespec){linger_ms / 1000, (linger_ms % 1000) * 1000000}, NULL);
    long replies = 0, errors = 0;
    int first_error = 0;
    double t0 = now_s();
    for (long i = 0; wait_replies && i < sent; i++) {
        struct zoid_header h;
        if (read_frame(fd, &h, NULL, 0))
            break;
        replies++;
        if (h.error && !errors++)
            first_error = h.error;
    }
    printf(
        "{\"sent\":%ld,\"replies\":%ld,\"errors\":%ld,\"first_error\":\"%s\",\"seconds\":%.3f}\n",
        sent, replies, errors, first_error ? strerror(first_error) : "", now_s() - t0);
    raw_close(fd);
    return 0;
}

static int noread(void)
{
    int fd = handshake();
    if (fd < 0)
        return 1;
    char *buf = calloc(1, size);
    if (!buf)
        return 1;
    double t0 = now_s(), sent_at = t0;
    long sent = 0;
    for (long i = 0; i < count; i++) { /* the daemon answers each with as many bytes */
        if (send_frame(fd, ZOID_CALL, ZOID_CORE_ECHO, (uint64_t)i + 1, buf, (uint32_t)size))
            break;
        sent++;
        sent_at = now_s();
    }
    /* Wait, without reading, for the daemon to give up on us (its shutdown: RDHUP). */
    struct pollfd pf = {.fd = fd, .events = POLLRDHUP};
    double dropped = -1;
    while (now_s() - t0 < (double)hold_s) {
        if (poll(&pf, 1, 20) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            dropped = now_s() - sent_at;
            break;
        }
    }
    printf("{\"sent\":%ld,\"dropped_after_s\":%.3f}\n", sent, dropped);
    free(buf);
    raw_close(fd);
    return 0;
}

static int conns(void)
{
    struct zoid_client **c = calloc((size_t)count, sizeof(*c));
    if (!c)
        return 1;
    long ok = 0;
    char first[256] = "";
    for (long i = 0; i < count; i++) {
        struct zepto_err err = {0};
        if (zoid_connect(server, NULL, &c[ok], &err) == 0)
            ok++;
        else if (!first[0])
            snprintf(first, sizeof(first), "%s", err.msg);
    }
    printf("{\"connected\":%ld,\"first_error\":\"%s\"}\n", ok, first);
    fflush(stdout);
    /* Hold them until told (stdin closed) or hold_s passed. */
    struct pollfd pf = {.fd = 0, .events = POLLIN};
    double t0 = now_s();
    while (now_s() - t0 < (double)hold_s)
        if (poll(&pf, 1, 50) == 1) {
            char b[64];
            if (read(0, b, sizeof(b)) <= 0)
                break;
        }
    for (long i = 0; i < ok; i++)
        zoid_close(c[i]);
    free(c);
    return 0;
}

static int flood(void)
{
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl)) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int *fds = calloc((size_t)count, sizeof(int));
    if (!fds)
        return 1;
    long ok = 0, failed = 0;
    double t0 = now_s();
    /* Connections held, never spoken on; non-blocking connects (a full backlog: EAGAIN, try
     * again 1 ms later). */
    while (now_s() - t0 < (double)hold_s) {
        int fd = ok < count ? raw_connect_nb() : -1;
        if (fd >= 0) {
            fds[ok++] = fd;
            continue;
        }
        failed += ok < count;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    printf("{\"open\":%ld,\"failed\":%ld}\n", ok, failed);
    for (long i = 0; i < ok; i++)
        close(fds[i]);
    free(fds);
    return 0;
}

static void *big_one(void *arg)
{
    long *result = arg;
    int fd = handshake();
    if (fd < 0)
        return NULL;
    char *buf = calloc(1, size);
    if (!buf) {
        raw_close(fd);
        return NULL;
    }
    /* Pipelined: all sent, then the replies (a writer thread would be needed for more frames
     * than the socket holds: the daemon takes them all or stops reading). */
    long sent = 0;
    for (long i = 0; i < count; i++)
        if (!send_frame(fd, ZOID_CALL, ZOID_CORE_SINK, (uint64_t)i + 1, buf, (uint32_t)size))
            sent++;
    for (long i = 0; i < sent; i++) {
        struct zoid_header h;
        if (read_frame(fd, &h, NULL, 0))
            break;
        *result += !h.error;
    }
    free(buf);
    raw_close(fd);
    return NULL;
}

static int big(void)
{
    pthread_t th[256];
    long ok[256] = {0};
    if (clients > 256)
        clients = 256;
    double t0 = now_s();
    for (long i = 0; i < clients; i++)
        pthread_create(&th[i], NULL, big_one, &ok[i]);
    long total = 0;
    for (long i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        total += ok[i];
    }
    printf("{\"calls\":%ld,\"ok\":%ld,\"seconds\":%.3f}\n", clients * count, total, now_s() - t0);
    return 0;
}

static void *trickle_one(void *arg)
{
    long *pieces = arg;
    int fd = handshake();
    if (fd < 0)
        return NULL;
    struct zoid_header h = {
        .kind = ZOID_CALL, .function = ZOID_CORE_SINK, .call = 1, .length = (uint32_t)size};
    unsigned char hdr[ZOID_HEADER_SIZE], piece[4096] = {0};
    zoid_header_encode(&h, hdr);
    if (!full(fd, hdr, sizeof(hdr), true))
        for (size_t sent = 0; sent + sizeof(piece) <= size / 2; sent += sizeof(piece)) {
            if (full(fd, piece, sizeof(piece), true))
                break;
            ++*pieces;
            nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
        }
    nanosleep(&(struct timespec){hold_s, 0}, NULL);
    raw_close(fd);
    return NULL;
}

/* Frames that never end: each client trickles half a large payload, then stops. */
static int trickle(void)
{
    pthread_t th[256];
    long pieces[256] = {0};
    if (clients > 256)
        clients = 256;
    double t0 = now_s();
    for (long i = 0; i < clients; i++)
        pthread_create(&th[i], NULL, trickle_one, &pieces[i]);
    long total = 0;
    for (long i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        total += pieces[i];
    }
    printf("{\"clients\":%ld,\"pieces\":%ld,\"seconds\":%.3f}\n", clients, total, now_s() - t0);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},    {"count", required_argument, NULL, 'n'},
        {"ms", required_argument, NULL, 'm'},        {"size", required_argument, NULL, 'z'},
        {"hold", required_argument, NULL, 'h'},      {"clients", required_argument, NULL, 'c'},
        {"linger-ms", required_argument, NULL, 'l'}, {0, 0, 0, 0}};
    if (argc < 2)
        goto bad;
    const char *mode = argv[1];
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 'n': count = atol(optarg); break;
        case 'm': ms = atol(optarg); break;
        case 'z': size = (size_t)atol(optarg); break;
        case 'h': hold_s = atol(optarg); break;
        case 'c': clients = atol(optarg); break;
        case 'l': linger_ms = atol(optarg); break;
        default: goto bad;
        }
    }
    if (!server || count < 1)
        goto bad;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "sleeps"))
        return sleeps(false);
    if (!strcmp(mode, "hold"))
        return sleeps(true);
    if (!strcmp(mode, "noread"))
        return noread();
    if (!strcmp(mode, "conns"))
        return conns();
    if (!strcmp(mode, "flood"))
        return flood();
    if (!strcmp(mode, "big"))
        return big();
    if (!strcmp(mode, "trickle"))
        return trickle();
bad:
    fprintf(stderr,
            "usage: zoid_abuse sleeps|hold|noread|conns|flood|big|trickle --server unix:PATH "
            "[--count N] [--ms MS] [--size BYTES] [--hold S] [--clients C]\n");
    return 2;
}
