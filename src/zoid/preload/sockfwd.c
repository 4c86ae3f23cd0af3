/*
 * Socket forwarding in the interposer (`zepto zoid run --sockets`, docs/zoid-sockets.md).
 *
 * A connect() of a TCP socket to an address that is not loopback is not made by the kernel of
 * this node: the sockfwd plugin of the daemon connects (CONNECT), then this library opens a TCP
 * connection to the daemon's relay, presents the cookie CONNECT gave, and puts that connection
 * in place of the program's socket (dup3 onto the same number, with its file status flags,
 * close-on-exec and common options). The program holds a real, connected kernel socket: send,
 * recv, read, write, poll, select, epoll, shutdown, close, non-blocking mode and fork all behave
 * as they do locally, with no further interposition and no thread of ours; the relay in the
 * daemon moves the bytes. getpeername() answers the destination, not the relay.
 *
 * The calls to the daemon use a connection of their own (not the posix session), opened at the
 * first forwarded connect and again after a fork or a failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zepto/zoid.h"
#include "zepto/zoid_settings.h"
#include "zoid/preload/sockfwd.h"
#include "zoid/preload/zpl.h"

#define RELAY_MS 5000 /* reaching the relay and its answer */
#define TABLE    64   /* forwarded sockets remembered for getpeername */

typedef int (*addr_fn)(int, const struct sockaddr *, socklen_t);
ZPL_REAL_DECL(connect);
#define REAL_CONNECT ((addr_fn)zpl__real("connect", &zpl__slot_connect))

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool enabled;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct zoid_client *client; /* under mu */
static pid_t client_pid;
static struct sockaddr_storage relay; /* the daemon's host, port filled per connect */
static socklen_t relay_len;

struct peer {
    int fd;
    ino_t ino; /* the socket's inode: the entry is stale once fd names another socket */
    struct sockaddr_storage sa;
    socklen_t len;
};
static struct peer peers[TABLE];
static unsigned next_peer;

static void init(void)
{
    const char *v = zoid_setting(ZOID_SET_SOCKETS, NULL);
    enabled = v && v[0] == '1' && !v[1];
}

bool zpl_sf_on(void)
{
    if (zpl_busy)
        return false;
    pthread_once(&once, init);
    return enabled;
}

/* The relay's host: the daemon's, from ZOID_SERVER (tcp:HOST:PORT, tcp:[V6]:PORT); loopback for
 * a unix daemon. 0 or -errno. */
static int relay_host(void)
{
    const char *s = zoid_setting(ZOID_SET_SERVER, NULL);
    char host[256];
    if (!s || strncmp(s, "tcp:", 4)) {
        struct sockaddr_in *a = (struct sockaddr_in *)&relay;
        *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        relay_len = sizeof(*a);
        return 0;
    }
    s += 4;
    const char *end;
    if (*s == '[') {
        end = strchr(++s, ']');
    } else
        end = strrchr(s, ':');
    if (!end || (size_t)(end - s) >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, (size_t)(end - s));
    host[end - s] = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res)) /* zpl_busy: libc's, not ours */
        return -EHOSTUNREACH;
    memcpy(&relay, res->ai_addr, res->ai_addrlen);
    relay_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* A call to the sockfwd plugin on the library's connection (made when needed); zoid_call's
 * code. A transport failure drops the connection, so that the next call makes a new one. */
static int sf_call(uint16_t fn, const void *req, size_t rlen, void *rep, size_t cap, size_t *got)
{
    struct iovec q = {(void *)req, rlen}, r = {rep, cap};
    int rc;
    pthread_mutex_lock(&mu);
    if (client && client_pid != getpid()) { /* a forked child: the parent's connection */
        zoid_close(client);
        client = NULL;
    }
    if (!client) {
        struct zepto_err err = {0};
        zpl_busy++;
        rc = zoid_connect(NULL, NULL, &client, &err);
        if (!rc && (rc = relay_host())) {
            zoid_close(client);
            client = NULL;
        }
        zpl_busy--;
        if (rc) {
            client = NULL;
            pthread_mutex_unlock(&mu);
            return rc < 0 ? rc : -rc;
        }
        client_pid = getpid();
    }
    struct zoid_client *c = client;
    pthread_mutex_unlock(&mu);
    /* Calls from several threads share the connection (zoid_call pipelines them). */
    ZP_CALL(rc, zoid_call(c, ZSF_PLUGIN_ID, fn, &q, 1, &r, 1, got, 30000));
    if (rc && !zoid_is_remote(rc)) {
        pthread_mutex_lock(&mu);
        if (client == c) {
            zoid_close(c);
            client = NULL;
        }
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

int zpl_sf_resolve(const char *name, int family, struct zsf_dest out[ZSF_MAX_ADDRS])
{
    uint8_t req[ZSF_MAX_NAME + 2], rep[1 + ZSF_MAX_ADDRS * ZSF_ADDR_LEN];
    int n = zsf_resolve_encode(name, family, req, sizeof(req));
    if (n < 0)
        return n;
    size_t got = 0;
    int rc = sf_call(ZSF_FN_RESOLVE, req, (size_t)n, rep, sizeof(rep), &got);
    if (rc)
        return -zoid_errno(rc);
    n = zsf_resolved_decode(rep, got, out);
    return n < 0 ? -EIO : n;
}

/* The destination of (sa, len) when it is to be forwarded (an IPv4-mapped IPv6 address as
 * IPv4): true. Loopback, unspecified and port 0 stay local. */
static bool dest_of(const struct sockaddr *sa, socklen_t len, struct zsf_dest *d)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    sa_family_t fam;
    if (!sa || len < sizeof(fam) || len > sizeof(struct sockaddr_storage) ||
        !zpl_mem_ok(sa, len, false))
        return false; /* the kernel's to refuse (EFAULT, EINVAL) */
    memcpy(&fam, sa, sizeof(fam));
    *d = (struct zsf_dest){0};
    if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in s;
        memcpy(&s, sa, sizeof(s));
        d->family = 4;
        d->port = ntohs(s.sin_port);
        memcpy(d->addr, &s.sin_addr, 4);
    } else if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 s;
        memcpy(&s, sa, sizeof(s));
        d->port = ntohs(s.sin6_port);
        if (!memcmp(&s.sin6_addr, mapped, 12)) {
            d->family = 4;
            memcpy(d->addr, (uint8_t *)&s.sin6_addr + 12, 4);
        } else {
            d->family = 6;
            memcpy(d->addr, &s.sin6_addr, 16);
            static const uint8_t any[16], lo[16] = {[15] = 1};
            if (!memcmp(d->addr, any, 16) || !memcmp(d->addr, lo, 16))
                return false;
        }
    } else
        return false;
    if (d->family == 4 && (d->addr[0] == 127 || d->addr[0] == 0))
        return false;
    return d->port != 0;
}

static ino_t ino_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) ? 0 : st.st_ino;
}

/* The entry of fd when it is still the forwarded socket; under mu. */
static struct peer *peer_find(int fd)
{
    ino_t ino = 0;
    for (unsigned i = 0; i < TABLE; i++)
        if (peers[i].len && peers[i].fd == fd) {
            if (!ino)
                ino = ino_of(fd);
            if (peers[i].ino == ino)
                return &peers[i];
        }
    return NULL;
}

int zpl_sf_peername(int fd, struct sockaddr *sa, socklen_t *len)
{
    if (!zpl_sf_on())
        return ZPL_SF_LOCAL;
    /* The kernel's EFAULT for an out-parameter that cannot be written (the real call says it). */
    if (!len || !zpl_mem_ok(len, sizeof(*len), true) || !zpl_mem_ok(sa, *len, true))
        return ZPL_SF_LOCAL;
    pthread_mutex_lock(&mu);
    struct peer *p = peer_find(fd);
    if (p) {
        if (sa && *len)
            memcpy(sa, &p->sa, *len < p->len ? *len : p->len);
        *len = p->len;
    }
    pthread_mutex_unlock(&mu);
    return p ? 0 : ZPL_SF_LOCAL;
}

/* A TCP connection to the relay presenting cookie, answered; the socket, or -errno. */
static int relay_open(const uint8_t *rep)
{
    struct sockaddr_storage a = relay;
    uint16_t port = (uint16_t)(rep[ZSF_COOKIE_LEN] << 8 | rep[ZSF_COOKIE_LEN + 1]);
    if (a.ss_family == AF_INET)
        ((struct sockaddr_in *)&a)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
    int s = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    int rc = REAL_CONNECT(s, (struct sockaddr *)&a, relay_len) ? -errno : 0;
    struct pollfd p = {.fd = s, .events = POLLOUT};
    if (rc == -EINPROGRESS) {
        rc = poll(&p, 1, RELAY_MS) == 1 ? 0 : -ETIMEDOUT;
        int soe = 0;
        socklen_t l = sizeof(soe);
        if (!rc && !getsockopt(s, SOL_SOCKET, SO_ERROR, &soe, &l))
            rc = -soe;
    }
    if (!rc && send(s, rep, ZSF_COOKIE_LEN, MSG_NOSIGNAL) != ZSF_COOKIE_LEN)
        rc = -ECONNRESET;
    uint8_t ok = 1;
    p.events = POLLIN;
    if (!rc && (poll(&p, 1, RELAY_MS) != 1 || recv(s, &ok, 1, 0) != 1 || ok != 0))
        rc = -ECONNRESET;
    if (rc) {
        close(s);
        return rc;
    }
    return s;
}

/* The options a program commonly sets before connect, carried to the relay's socket. */
static void copy_opts(int from, int to)
{
    static const struct {
        int level, name;
    } opts[] = {{IPPROTO_TCP, TCP_NODELAY},
                {SOL_SOCKET, SO_KEEPALIVE},
                {SOL_SOCKET, SO_RCVTIMEO},
                {SOL_SOCKET, SO_SNDTIMEO},
                {SOL_SOCKET, SO_OOBINLINE}};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char v[32];
        socklen_t l = sizeof(v);
        if (!getsockopt(from, opts[i].level, opts[i].name, v, &l))
            setsockopt(to, opts[i].level, opts[i].name, v, l);
    }
}

int zpl_sf_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct zsf_dest d;
    if (!zpl_sf_on() || !dest_of(sa, len, &d))
        return ZPL_SF_LOCAL;
    int type = 0, proto = 0;
    socklen_t l = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) || type != SOCK_STREAM)
        return ZPL_SF_LOCAL;
    l = sizeof(proto);
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) || proto != IPPROTO_TCP)
        return ZPL_SF_LOCAL;
    pthread_mutex_lock(&mu);
    bool again = peer_find(fd) != NULL;
    pthread_mutex_unlock(&mu);
    if (again) {
        errno = EISCONN;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    if (fl < 0 || fdfl < 0)
        return -1;

    uint8_t req[ZSF_CONNECT_LEN], rep[ZSF_CONNECTED_LEN];
    zsf_connect_encode(&d, req);
    size_t got = 0;
    int rc = sf_call(ZSF_FN_CONNECT, req, sizeof(req), rep, sizeof(rep), &got);
    if (rc) {
        /* The daemon's answer (EACCES: not allowed; ECONNREFUSED, ETIMEDOUT, ENETUNREACH...
         * from its connect); no daemon to ask: ECONNREFUSED. */
        errno = zoid_is_remote(rc) ? zoid_errno(rc) : ECONNREFUSED;
        return -1;
    }
    if (got != sizeof(rep)) {
        errno = EIO;
        return -1;
    }
    int s = relay_open(rep);
    if (s < 0) {
        errno = -s;
        return -1;
    }
    copy_opts(fd, s);
    fcntl(s, F_SETFL, fl);
    if (dup3(s, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    close(s);

    pthread_mutex_lock(&mu);
    struct peer *p = &peers[next_peer++ % TABLE];
    p->fd = fd;
    p->ino = ino_of(fd);
    p->len = len < sizeof(p->sa) ? len : sizeof(p->sa);
    memcpy(&p->sa, sa, p->len);
    pthread_mutex_unlock(&mu);
    return 0;
}
