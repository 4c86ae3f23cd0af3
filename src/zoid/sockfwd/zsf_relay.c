/*
 * The sockfwd relay: where the bytes of forwarded connections flow. One listening TCP socket
 * (every address of the I/O node, an ephemeral port, named in CONNECT's reply) and a thread
 * that accepts on it. A client presents the 32-byte cookie CONNECT gave it (within 5 s); the
 * relay answers one byte and then moves data with splice() through a pipe, one thread per
 * direction, so that neither direction can block the other.
 *
 * Ends: an EOF is passed on as a half-close (shutdown SHUT_WR); an error on either side closes
 * both with a reset. The client's socket has SO_LINGER 0 while it is relayed, so that a daemon
 * that dies (SIGKILL: the kernel closes its sockets) resets the program's connection — an error
 * (ECONNRESET), never a silent EOF that looks like a complete transfer, nor a hang.
 *
 * Cookies not presented within 10 s are dropped with their destination socket. At most
 * MAX_PAIRS connections are relayed at once (CONNECT answers EAGAIN beyond).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zoid/sockfwd/zsf.h"
#include "zepto/zoid_sockfwd.h"

#define MAX_PENDING 256
#define MAX_PAIRS   1024
#define PENDING_MS  10000
#define HELLO_MS    5000
#define PIPE_BYTES  (256 * 1024)

struct pending {
    bool used;
    uint8_t cookie[ZSF_COOKIE_LEN];
    int fd;
    long deadline; /* ms, CLOCK_MONOTONIC */
};

/* A relayed connection: a is the client's socket, b the destination's. */
struct pair {
    int a, b;
    atomic_int refs;   /* one per direction's thread */
    atomic_bool reset; /* an error: both close with a reset */
    struct pair *next; /* in the list of live pairs, for stop */
    struct pair **pprev;
};

static const struct zoid_host *host;
static int lfd = -1;
static pthread_t acceptor;
static atomic_bool stopping;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gone = PTHREAD_COND_INITIALIZER;
static struct pending pend[MAX_PENDING];
static struct pair *pairs;
static int npairs; /* live pairs plus pending cookies: the relay's load */

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Drops expired cookies; under mu. */
static void expire(long now)
{
    for (int i = 0; i < MAX_PENDING; i++)
        if (pend[i].used && pend[i].deadline <= now) {
            close(pend[i].fd);
            pend[i].used = false;
            npairs--;
        }
}

int zsf__relay_add(int fd, uint32_t uid, uint8_t cookie[32])
{
    (void)uid;
    uint8_t c[ZSF_COOKIE_LEN];
    if (getrandom(c, sizeof(c), 0) != (ssize_t)sizeof(c))
        return -EAGAIN;
    pthread_mutex_lock(&mu);
    long now = now_ms();
    expire(now);
    int slot = -1;
    for (int i = 0; i < MAX_PENDING && slot < 0; i++)
        if (!pend[i].used)
            slot = i;
    if (slot < 0 || npairs >= MAX_PAIRS) {
        pthread_mutex_unlock(&mu);
        return -EAGAIN;
    }
    pend[slot] = (struct pending){.used = true, .fd = fd, .deadline = now + PENDING_MS};
    memcpy(pend[slot].cookie, c, sizeof(c));
    npairs++;
    pthread_mutex_unlock(&mu);
    memcpy(cookie, c, sizeof(c));
    return 0;
}

/* The destination socket of cookie c, taken out of the table; -1 when none. Compares every
 * entry in full (no early exit on a matching prefix). */
static int take(const uint8_t *c)
{
    int fd = -1;
    pthread_mutex_lock(&mu);
    expire(now_ms());
    for (int i = 0; i < MAX_PENDING; i++) {
        if (!pend[i].used)
            continue;
        uint8_t diff = 0;
        for (int k = 0; k < ZSF_COOKIE_LEN; k++)
            diff |= (uint8_t)(pend[i].cookie[k] ^ c[k]);
        if (!diff) {
            fd = pend[i].fd;
            pend[i].used = false; /* one use; npairs stays: the pair takes its place */
        }
    }
    pthread_mutex_unlock(&mu);
    return fd;
}

static void linger0(int fd, bool on)
{
    struct linger l = {.l_onoff = on, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void pair_put(struct pair *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    pthread_mutex_lock(&mu);
    *p->pprev = p->next;
    if (p->next)
        p->next->pprev = p->pprev;
    npairs--;
    pthread_cond_broadcast(&gone);
    pthread_mutex_unlock(&mu);
    bool reset = atomic_load(&p->reset);
    linger0(p->a, reset);
    linger0(p->b, reset);
    close(p->a);
    close(p->b);
    free(p);
}

/* Copies src to dst until EOF (then half-closes dst) or an error (then resets the pair). */
static void pump(struct pair *p, int src, int dst)
{
    int pp[2];
    bool ok = false;
    if (!pipe2(pp, O_CLOEXEC)) {
        fcntl(pp[1], F_SETPIPE_SZ, PIPE_BYTES);
        for (;;) {
            ssize_t n = splice(src, NULL, pp[1], NULL, PIPE_BYTES, SPLICE_F_MOVE);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                ok = n == 0;
                break;
            }
            while (n > 0) {
                ssize_t m = splice(pp[0], NULL, dst, NULL, (size_t)n, SPLICE_F_MOVE);
                if (m < 0 && errno == EINTR)
                    continue;
                if (m <= 0)
                    break;
                n -= m;
            }
            if (n > 0)
                break;
        }
        close(pp[0]);
        close(pp[1]);
    }
    if (ok && !atomic_load(&p->reset)) {
        shutdown(dst, SHUT_WR);
    } else {
        atomic_store(&p->reset, true);
        shutdown(p->a, SHUT_RDWR);
        shutdown(p->b, SHUT_RDWR);
    }
}

static void *back(void *arg) /* destination -> client */
{
    struct pair *p = arg;
    pump(p, p->b, p->a);
    pair_put(p);
    return NULL;
}

/* A connection on the relay port: its cookie, then the client -> destination direction. */
static void *serve(void *arg)
{
    int a = (int)(intptr_t)arg;
    uint8_t c[ZSF_COOKIE_LEN];
    size_t got = 0;
    long deadline = now_ms() + HELLO_MS;
    while (got < sizeof(c)) {
        long left = deadline - now_ms();
        struct pollfd pf = {.fd = a, .events = POLLIN};
        if (left <= 0 || poll(&pf, 1, (int)left) == 0)
            break;
        ssize_t n = recv(a, c + got, sizeof(c) - got, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
        if (n > 0)
            got += (size_t)n;
    }
    int b = got == sizeof(c) ? take(c) : -1;
    if (b < 0) {
        zoid_host_log(host, ZOID_LOG_WARN,
                      "relay: a connection without a valid cookie "
                      "closed");
        linger0(a, true);
        close(a);
        return NULL;
    }
    struct pair *p = calloc(1, sizeof(*p));
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024); /* logging needs more than 64 KiB */
    if (!p) {
        close(b);
        goto fail;
    }
    *p = (struct pair){.a = a, .b = b, .refs = 2};
    pthread_mutex_lock(&mu);
    p->next = pairs;
    if (pairs)
        pairs->pprev = &p->next;
    p->pprev = &pairs;
    pairs = p;
    pthread_mutex_unlock(&mu);
    int one = 1;
    setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    linger0(a, true); /* the daemon's death resets the program's connection */
    const uint8_t ok = 0;
    if (send(a, &ok, 1, MSG_NOSIGNAL) != 1 || pthread_create(&t, &at, back, p)) {
        atomic_store(&p->reset, true);
        atomic_store(&p->refs, 1);
        pair_put(p);
        pthread_attr_destroy(&at);
        return NULL;
    }
    pthread_attr_destroy(&at);
    pump(p, a, b);
    pair_put(p);
    return NULL;
fail:
    pthread_attr_destroy(&at);
    pthread_mutex_lock(&mu);
    npairs--;
    pthread_mutex_unlock(&mu);
    linger0(a, true);
    close(a);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024); /* logging needs more than 64 KiB */
    while (!atomic_load(&stopping)) {
        int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (a < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (atomic_load(&stopping))
                break;
            /* out of descriptors or memory: rest, never spin */
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        pthread_t t;
        if (pthread_create(&t, &at, serve, (void *)(intptr_t)a)) {
            linger0(a, true);
            close(a);
        }
    }
    pthread_attr_destroy(&at);
    return NULL;
}

int zsf__relay_start(const struct zoid_host *h, uint16_t *port)
{
    host = h;
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    int zero = 0;
    lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd >= 0 && (setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
                     bind(lfd, (struct sockaddr *)&s6, sizeof(s6)))) {
        close(lfd);
        lfd = -1;
    }
    if (lfd < 0) { /* no IPv6 on this host */
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&s4, sizeof(s4))) {
            int e = errno;
            if (lfd >= 0)
                close(lfd);
            lfd = -1;
            return -e;
        }
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (listen(lfd, 256) || getsockname(lfd, (struct sockaddr *)&ss, &sl)) {
        int e = errno;
        close(lfd);
        lfd = -1;
        return -e;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    /* The relay's threads take no signals: the daemon's are for its own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&acceptor, NULL, accept_loop, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        close(lfd);
        lfd = -1;
        return -rc;
    }
    return 0;
}

void zsf__relay_stop(void)
{
    if (lfd < 0)
        return;
    atomic_store(&stopping, true);
    shutdown(lfd, SHUT_RDWR); /* wakes accept */
    pthread_join(acceptor, NULL);
    close(lfd);
    lfd = -1;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < MAX_PENDING; i++)
        if (pend[i].used) {
            close(pend[i].fd);
            pend[i].used = false;
            npairs--;
        }
    for (struct pair *p = pairs; p; p = p->next) {
        atomic_store(&p->reset, true);
        shutdown(p->a, SHUT_RDWR);
        shutdown(p->b, SHUT_RDWR);
    }
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 2;
    while (pairs && pthread_cond_timedwait(&gone, &mu, &dl) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&mu);
}
