/*
 * Interposed socket calls that name a unix socket by path: bind, connect, sendto, sendmsg and
 * sendmmsg; connect also hands TCP connections to socket forwarding (sockfwd.c) first.
 *
 * The protocol has no sockets: a unix socket on a forwarded path can be neither created nor
 * reached through the daemon. Such a call fails with EOPNOTSUPP instead of letting the kernel
 * put the socket (or look for it) under the process's real working directory. A relative path
 * that climbs out of a forwarded working directory is given to the kernel made absolute, as for
 * every other call. Abstract names and other families pass through untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "zoid/preload/sockfwd.h"
#include "zoid/preload/zpl.h"

/* glibc declares the address argument as a transparent union in GNU C: the definitions take the
 * same type, and this is the pointer in it. */
#if defined(__USE_GNU) && defined(__GNUC__)
#define ZPL_SA(a) ((a).__sockaddr__)
#else
#define ZPL_SA(a) (a)
#endif

/* libc's functions with a plain pointer for the address. */
typedef int (*addr_fn)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
#define REAL_A(fn, type) ((type)zpl__real(#fn, &zpl__slot_##fn))

ZPL_REAL_DECL(bind);
ZPL_REAL_DECL(connect);
ZPL_REAL_DECL(sendto);
ZPL_REAL_DECL(sendmsg);
ZPL_REAL_DECL(sendmmsg);

/* Checks a socket address: 0 to pass `sa` as it is, 1 when *out holds the address to pass
 * instead (a path made absolute), -1 with errno set (EOPNOTSUPP on a forwarded path). */
static int check_addr(const void *sa, socklen_t len, struct sockaddr_un *out, socklen_t *olen)
{
    const size_t base = offsetof(struct sockaddr_un, sun_path);
    if (!sa || len <= base || !zpl_on())
        return 0;
    /* An address that cannot be read (or is longer than any: EINVAL) is the kernel's to refuse. */
    if (len > sizeof(struct sockaddr_storage) || !zpl_mem_ok(sa, len, false))
        return 0;
    sa_family_t fam;
    memcpy(&fam, sa, sizeof(fam));
    if (fam != AF_UNIX)
        return 0;
    char path[sizeof(out->sun_path) + 1];
    size_t n = len - base < sizeof(out->sun_path) ? len - base : sizeof(out->sun_path);
    memcpy(path, (const char *)sa + base, n);
    path[n] = 0;
    if (!path[0]) /* abstract, or unnamed */
        return 0;
    struct zpl_path p;
    int rc = zpl_resolve(AT_FDCWD, path, &p);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        zpl_path_done(&p);
        errno = EOPNOTSUPP; /* no socket can be made or reached through the daemon */
        return -1;
    }
    if (rc != 2)
        return 0;
    size_t pl = strlen(p.rel);
    if (pl >= sizeof(out->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->sun_family = AF_UNIX;
    memcpy(out->sun_path, p.rel, pl);
    *olen = (socklen_t)(base + pl + 1);
    return 1;
}

/* bind and connect: the address checked (and made absolute when it must be), then libc's. */
static int addr_call(addr_fn real, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct sockaddr_un u;
    socklen_t ul;
    int rc = check_addr(sa, len, &u, &ul);
    if (rc < 0)
        return -1;
    return rc ? real(fd, (struct sockaddr *)&u, ul) : real(fd, sa, len);
}

ZPL_API int bind(int fd, __CONST_SOCKADDR_ARG arg, socklen_t len)
{
    return addr_call(REAL_A(bind, addr_fn), fd, ZPL_SA(arg), len);
}

ZPL_API int connect(int fd, __CONST_SOCKADDR_ARG arg, socklen_t len)
{
    /* A TCP connection forwarded through the daemon (--sockets; sockfwd.c). */
    int rc = zpl_sf_connect(fd, ZPL_SA(arg), len);
    if (rc != ZPL_SF_LOCAL)
        return rc;
    return addr_call(REAL_A(connect, addr_fn), fd, ZPL_SA(arg), len);
}

ZPL_API ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG arg,
                       socklen_t len)
{
    const struct sockaddr *sa = ZPL_SA(arg);
    struct sockaddr_un u;
    socklen_t ul;
    int rc = check_addr(sa, len, &u, &ul);
    if (rc < 0)
        return -1;
    return rc ? REAL_A(sendto, sendto_fn)(fd, buf, n, flags, (struct sockaddr *)&u, ul)
              : REAL_A(sendto, sendto_fn)(fd, buf, n, flags, sa, len);
}

ZPL_API ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
    struct sockaddr_un u;
    socklen_t ul;
    if (m && !zpl_mem_ok(m, sizeof(*m), false))
        return REAL(sendmsg)(fd, m, flags); /* the kernel's EFAULT */
    int rc = m ? check_addr(m->msg_name, m->msg_namelen, &u, &ul) : 0;
    if (rc < 0)
        return -1;
    if (!rc)
        return REAL(sendmsg)(fd, m, flags);
    struct msghdr c = *m;
    c.msg_name = &u;
    c.msg_namelen = ul;
    return REAL(sendmsg)(fd, &c, flags);
}

ZPL_API int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    /* Each address is checked first: one forwarded path fails the whole call (nothing sent).
     * When a path must be made absolute, the messages go one by one through sendmsg. */
    bool rewrite = false;
    if (n > IOV_MAX)
        n = IOV_MAX; /* as the kernel (UIO_MAXIOV): the rest is not looked at */
    if (v && !zpl_mem_ok(v, (size_t)n * sizeof(*v), true))
        return REAL(sendmmsg)(fd, v, n, flags); /* the kernel's EFAULT */
    for (unsigned int i = 0; v && i < n; i++) {
        struct sockaddr_un u;
        socklen_t ul;
        int rc = check_addr(v[i].msg_hdr.msg_name, v[i].msg_hdr.msg_namelen, &u, &ul);
        if (rc < 0)
            return -1;
        rewrite |= rc == 1;
    }
    if (!rewrite)
        return REAL(sendmmsg)(fd, v, n, flags);
    unsigned int i = 0;
    for (; i < n; i++) {
        ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);
        if (r < 0)
            return i ? (int)i : -1;
        v[i].msg_len = (unsigned int)r;
    }
    return (int)i;
}
