/*
 * The interposer's socket forwarding (`zepto zoid run --sockets`, docs/zoid-sockets.md): what
 * sock.c and sockfwd_dns.c use of sockfwd.c.
 */
#ifndef ZEPTO_ZOID_PRELOAD_SOCKFWD_H
#define ZEPTO_ZOID_PRELOAD_SOCKFWD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "zepto/zoid_sockfwd.h"

/* connect(fd, sa, len) through the daemon when it is to be forwarded: 0 or -1 with errno set;
 * ZPL_SF_LOCAL when the call is not forwarded (libc's connect is the caller's to make). */
#define ZPL_SF_LOCAL 1
int zpl_sf_connect(int fd, const struct sockaddr *sa, socklen_t len);
/* getpeername of a forwarded socket: 0 (the destination, not the relay) or ZPL_SF_LOCAL. */
int zpl_sf_peername(int fd, struct sockaddr *sa, socklen_t *len);
/* Whether forwarding is on and this call is not the library's own. */
bool zpl_sf_on(void);
/* RESOLVE at the daemon: the number of addresses in out, or -errno (-ENOENT: no such name). */
int zpl_sf_resolve(const char *name, int family, struct zsf_dest out[ZSF_MAX_ADDRS]);

#endif
