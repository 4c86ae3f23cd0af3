/*
 * The socket plumbing of the raw baselines (raw_pingpong.c, raw_stream.c, zoid_stream.c): what a
 * minimal program does with a unix or TCP stream socket, and nothing more, so that zoid's figures
 * can be set against the transport itself. Blocking sockets, TCP_NODELAY on both ends as zoid sets
 * it.
 */
#ifndef ZEPTO_BENCH_RAW_SOCK_H
#define ZEPTO_BENCH_RAW_SOCK_H

#include <stddef.h>
#include <stdint.h>

/* "unix:PATH" or "tcp:A.B.C.D:PORT" (PORT 0: any free port; the chosen one is written back into
 * the address, so that the client connects where the server listens). */
struct raw_addr {
    int family; /* AF_UNIX or AF_INET */
    char text[160];
    unsigned char sa[128]; /* a struct sockaddr_un or sockaddr_in */
    unsigned salen;
};

/* 0, or -1 after printing why on stderr. */
int raw_addr_parse(const char *s, struct raw_addr *a);
/* A listening socket; call it before fork() so that the client never races the server. */
int raw_listen(struct raw_addr *a);
int raw_accept(int lfd);
int raw_connect(const struct raw_addr *a);
/* Every byte, or -1 (errno set; 0 at the end of the stream counts as an error). */
int raw_read_all(int fd, void *buf, size_t len);
int raw_write_all(int fd, const void *buf, size_t len);
const char *raw_transport(const struct raw_addr *a);
uint64_t raw_now_ns(void);
/* Exits with a message naming what failed. */
void raw_die(const char *what) __attribute__((noreturn));

#endif
