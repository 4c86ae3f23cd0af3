/*
 * The sockfwd plugin's functions: CONNECT (check the destination against the allow-list, open
 * the connection as the caller, hand it to the relay) and RESOLVE (name resolution on the I/O
 * node). Requests are decoded by zsf_wire.c; every refusal is logged.
 *
 * "As the caller": the destination socket is created with the caller's file-system uid and gid
 * (setfsuid/setfsgid on this thread only, restored at once). The kernel records them as the
 * socket's owner (sk_uid), so netfilter's owner match (`iptables -A OUTPUT -m owner --uid-owner`)
 * and `ss -e` see the user, not the daemon. Over TCP the caller is whoever the transport says
 * (the daemon's own uid for a token holder, nobody with --insecure).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zoid/sockfwd/zsf.h"
#include "zepto/zoid_sockfwd.h"

#define MAX_RULES       256
#define CONNECT_TIMEOUT 20000 /* ms: the daemon's connect to the destination */

static struct zsf_rule rules[MAX_RULES];
static size_t nrules;
static uint16_t relay_port;

int zoid_sockfwd_allow(const char *spec, struct zepto_err *err)
{
    int n = zsf_rule_parse(spec, rules + nrules, MAX_RULES - nrules);
    if (n < 0)
        return zepto_fail(err, EINVAL,
                          "--allow-connect '%s': expected CIDR:PORTS (10.0.0.0/8:80,443, "
                          "192.0.2.7:8000-8100, [fd00::]/8:*), at most %d rules",
                          spec ? spec : "", MAX_RULES);
    nrules += (size_t)n;
    return 0;
}

static int zsf_init(struct zoid_host *host)
{
    if (!nrules) {
        zoid_host_log(host, ZOID_LOG_INFO, "no --allow-connect: socket forwarding refuses all");
        return 0;
    }
    int rc = zsf__relay_start(host, &relay_port);
    if (rc)
        zoid_host_log(host, ZOID_LOG_ERR, "socket relay: %s", strerror(-rc));
    else
        zoid_host_log(host, ZOID_LOG_INFO, "socket forwarding: %zu rule(s), relay on port %u",
                      nrules, (unsigned)relay_port);
    return rc;
}

static void zsf_fini(void *state)
{
    (void)state;
    if (nrules)
        zsf__relay_stop();
}

/* The thread's file-system ids for the socket's owner; the previous ones are returned. */
static void as_user(uint32_t uid, uint32_t gid, uint32_t *ouid, uint32_t *ogid)
{
    *ogid = (uint32_t)syscall(SYS_setfsgid, gid);
    *ouid = (uint32_t)syscall(SYS_setfsuid, uid);
}

/* A connected socket to d, created as uid/gid, blocking; or -errno. */
static int dial(struct zoid_call *call, const struct zsf_dest *d, uint32_t uid, uint32_t gid)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (d->family == 4) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        s->sin_port = htons(d->port);
        memcpy(&s->sin_addr, d->addr, 4);
        sl = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(d->port);
        memcpy(&s->sin6_addr, d->addr, 16);
        sl = sizeof(*s);
    }
    uint32_t ou, og;
    as_user(uid, gid, &ou, &og);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int e = errno;
    as_user(ou, og, &ou, &og);
    if (fd < 0)
        return -e;
    int rc = connect(fd, (struct sockaddr *)&ss, sl) ? -errno : 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (rc == -EINPROGRESS || rc == -EINTR) {
        if (zoid_call_cancelled(call)) {
            rc = -ECANCELED;
            break;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= CONNECT_TIMEOUT) {
            rc = -ETIMEDOUT;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n = poll(&p, 1, 100);
        if (n < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        if (n > 0) {
            int soe = 0;
            socklen_t l = sizeof(soe);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soe, &l);
            rc = -soe;
        }
    }
    if (rc) {
        close(fd);
        return rc;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static int fn_connect(struct zoid_call *call, const void *payload, size_t len)
{
    const struct zoid_identity *id = zoid_call_identity(call);
    struct zsf_dest d;
    char ds[80];
    if (zsf_connect_decode(payload, len, &d)) {
        zoid_call_log(call, ZOID_LOG_WARN, "%s: malformed connect request (%zu bytes)", id->peer,
                      len);
        return -EINVAL;
    }
    zsf_dest_str(&d, ds, sizeof(ds));
    if (!zsf_allowed(rules, nrules, &d)) {
        zoid_call_log(call, ZOID_LOG_WARN,
                      "uid %u (%s): connect to %s refused: not allowed by "
                      "--allow-connect",
                      (unsigned)id->uid, id->peer, ds);
        return -EACCES;
    }
    int fd = dial(call, &d, id->uid, id->gid);
    if (fd < 0) {
        zoid_call_log(call, ZOID_LOG_INFO, "uid %u: connect to %s: %s", (unsigned)id->uid, ds,
                      strerror(-fd));
        return fd;
    }
    uint8_t *rep = zoid_reply_reserve(call, ZSF_CONNECTED_LEN);
    if (!rep) {
        int e = errno;
        close(fd);
        return -e;
    }
    int rc = zsf__relay_add(fd, id->uid, rep);
    if (rc) {
        zoid_call_log(call, ZOID_LOG_WARN, "uid %u: connect to %s: relay full", (unsigned)id->uid,
                      ds);
        close(fd);
        return rc;
    }
    rep[ZSF_COOKIE_LEN] = (uint8_t)(relay_port >> 8);
    rep[ZSF_COOKIE_LEN + 1] = (uint8_t)relay_port;
    zoid_call_log(call, ZOID_LOG_INFO, "uid %u (%s): connected to %s", (unsigned)id->uid, id->peer,
                  ds);
    return 0;
}

static int fn_resolve(struct zoid_call *call, const void *payload, size_t len)
{
    char name[ZSF_MAX_NAME + 1];
    int family;
    if (zsf_resolve_decode(payload, len, name, &family))
        return -EINVAL;
    if (!nrules)
        return -EACCES;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_family = family == 4   ? AF_INET
                                          : family == 6 ? AF_INET6
                                                        : AF_UNSPEC},
                    *res;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc)
        return rc == EAI_NONAME || rc == EAI_NODATA ? -ENOENT
               : rc == EAI_AGAIN                    ? -EAGAIN
               : rc == EAI_SYSTEM                   ? -errno
                                                    : -EIO;
    uint8_t out[1 + ZSF_MAX_ADDRS * ZSF_ADDR_LEN] = {0};
    int n = 0;
    for (struct addrinfo *a = res; a && n < ZSF_MAX_ADDRS; a = a->ai_next) {
        uint8_t e[ZSF_ADDR_LEN] = {0};
        if (a->ai_family == AF_INET) {
            e[0] = 4;
            memcpy(e + 1, &((struct sockaddr_in *)a->ai_addr)->sin_addr, 4);
        } else if (a->ai_family == AF_INET6) {
            e[0] = 6;
            memcpy(e + 1, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, 16);
        } else
            continue;
        bool dup = false;
        for (int i = 0; i < n && !dup; i++)
            dup = !memcmp(out + 1 + i * ZSF_ADDR_LEN, e, ZSF_ADDR_LEN);
        if (!dup)
            memcpy(out + 1 + n++ * ZSF_ADDR_LEN, e, ZSF_ADDR_LEN);
    }
    freeaddrinfo(res);
    if (!n)
        return -ENOENT;
    out[0] = (uint8_t)n;
    return zoid_reply_append(call, out, 1 + (size_t)n * ZSF_ADDR_LEN);
}

static const zoid_fn functions[] = {[ZSF_FN_CONNECT] = fn_connect, [ZSF_FN_RESOLVE] = fn_resolve};
static const char *const names[] = {[ZSF_FN_CONNECT] = "connect", [ZSF_FN_RESOLVE] = "resolve"};

static const struct zoid_plugin plugin = {
    .api = ZOID_PLUGIN_API,
    .id = ZSF_PLUGIN_ID,
    .name = "sockfwd",
    .nfunctions = 2,
    .functions = functions,
    .function_names = names,
    .init = zsf_init,
    .fini = zsf_fini,
};

const struct zoid_plugin *zoid_sockfwd_plugin_register(void)
{
    return &plugin;
}
