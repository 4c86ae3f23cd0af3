/*
 * Name resolution and getpeername for socket forwarding (`zepto zoid run --sockets`).
 *
 * getaddrinfo() of a host name (not a number, not localhost) asks the daemon (RESOLVE): the
 * compute node may have no resolver, or not the one whose answers the I/O node can reach. Each
 * address it returns is expanded by libc's getaddrinfo with AI_NUMERICHOST, so that the service,
 * the socket types and the list's memory are libc's own (freeaddrinfo frees it). A name the
 * daemon does not know, or a daemon that cannot be reached, falls back to local resolution.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zoid/preload/sockfwd.h"
#include "zoid/preload/zpl.h"

ZPL_REAL_DECL(getaddrinfo);
ZPL_REAL_DECL(getpeername);

#if defined(__USE_GNU) && defined(__GNUC__)
#define ZPL_SA(a) ((a).__sockaddr__)
#else
#define ZPL_SA(a) (a)
#endif
typedef int (*peer_fn)(int, struct sockaddr *, socklen_t *);

/* Whether node is to be resolved by the daemon. */
static bool remote_name(const char *node, const struct addrinfo *h)
{
    unsigned char buf[16];
    if (!node || !*node || !zpl_sf_on())
        return false;
    if (h && ((h->ai_flags & (AI_NUMERICHOST | AI_PASSIVE)) ||
              (h->ai_family != AF_UNSPEC && h->ai_family != AF_INET && h->ai_family != AF_INET6) ||
              (h->ai_socktype != 0 && h->ai_socktype != SOCK_STREAM)))
        return false;
    if (inet_pton(AF_INET, node, buf) == 1 || inet_pton(AF_INET6, node, buf) == 1)
        return false;
    size_t n = strlen(node);
    if (!strcasecmp(node, "localhost") || (n > 10 && !strcasecmp(node + n - 10, ".localhost")))
        return false;
    return n <= ZSF_MAX_NAME;
}

ZPL_API int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                        struct addrinfo **res)
{
    if (!remote_name(node, hints))
        return REAL(getaddrinfo)(node, service, hints, res);
    int fam = !hints || hints->ai_family == AF_UNSPEC ? 0 : hints->ai_family == AF_INET ? 4 : 6;
    struct zsf_dest d[ZSF_MAX_ADDRS];
    int n = zpl_sf_resolve(node, fam, d);
    if (n <= 0)
        return REAL(getaddrinfo)(node, service, hints, res);
    struct addrinfo h = hints ? *hints : (struct addrinfo){0};
    bool canon = h.ai_flags & AI_CANONNAME;
    h.ai_flags =
        (h.ai_flags & ~(AI_CANONNAME | AI_ADDRCONFIG | AI_V4MAPPED | AI_ALL)) | AI_NUMERICHOST;
    h.ai_canonname = NULL;
    h.ai_addr = NULL;
    h.ai_next = NULL;
    struct addrinfo *head = NULL, **tail = &head;
    int last = EAI_NONAME;
    for (int i = 0; i < n; i++) {
        char a[INET6_ADDRSTRLEN];
        struct addrinfo *r;
        if (!inet_ntop(d[i].family == 4 ? AF_INET : AF_INET6, d[i].addr, a, sizeof(a)))
            continue;
        h.ai_family = d[i].family == 4 ? AF_INET : AF_INET6;
        if (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != h.ai_family)
            continue;
        if ((last = REAL(getaddrinfo)(a, service, &h, &r)))
            continue;
        *tail = r;
        while (*tail)
            tail = &(*tail)->ai_next;
    }
    if (!head)
        return last;
    if (canon)
        head->ai_canonname = strdup(node);
    *res = head;
    return 0;
}

ZPL_API int getpeername(int fd, __SOCKADDR_ARG arg, socklen_t *len)
{
    struct sockaddr *sa = ZPL_SA(arg);
    if (zpl_sf_peername(fd, sa, len) == 0)
        return 0;
    return ((peer_fn)zpl__real("getpeername", &zpl__slot_getpeername))(fd, sa, len);
}
