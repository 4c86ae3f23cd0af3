/*
 * ZOID transports: where frames travel. A transport is a small table of functions (connect,
 * listen, accept, send vector, receive vector, close, and who the peer is), chosen once from
 * the address's scheme, so that a shared-memory or libfabric transport can be added later
 * without touching the client or the daemon. unix: and tcp: both work on socket descriptors.
 */
#ifndef ZEPTO_ZOID_TRANSPORT_H
#define ZEPTO_ZOID_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "zepto/zepto.h"
#include "zepto/zoid_plugin.h"

/* tcp: a peer silent this long is gone (keepalive + TCP_USER_TIMEOUT); ZOID_TCP_TIMEOUT sets it. */
#define ZOID_TCP_TIMEOUT_S 20

struct zoid_addr {
    char scheme[8]; /* "unix", "shm" or "tcp" */
    char path[108]; /* unix, shm */
    char host[256]; /* tcp */
    char port[8];   /* tcp */
};

/* Payloads under this size are never read in place (a copy of them costs little). */
#define ZOID_VIEW_MIN (64u << 10)

struct zoid_transport {
    const char *scheme;
    /* A connected descriptor, within timeout_ms. */
    int (*connect)(const struct zoid_addr *a, int timeout_ms, int *fd, struct zepto_err *err);
    /* A listening descriptor (non-blocking). */
    int (*listen)(const struct zoid_addr *a, int backlog, int *fd, struct zepto_err *err);
    /* A new connection (non-blocking), -EAGAIN when none is waiting. */
    int (*accept)(int lfd, int *fd);
    /* Who is at the other end. */
    void (*identify)(int fd, struct zoid_identity *id);
    /* Whether the address is on this host only. */
    bool (*is_loopback)(const struct zoid_addr *a);
    /* Sends every byte of iov, waiting up to timeout_ms in total for room (-1: forever). */
    int (*sendv)(int fd, const struct iovec *iov, int n, int timeout_ms);
    /* Receives exactly the bytes of iov, waiting up to timeout_ms in total; -ECONNRESET at the
     * end of the stream, -ETIMEDOUT. Signals do not interrupt it: a frame is never cut. */
    int (*recvv)(int fd, const struct iovec *iov, int n, int timeout_ms);
    /* Waits until data can be read: 0, -ETIMEDOUT, or -EINTR when a signal arrived. */
    int (*wait)(int fd, int timeout_ms);
    /* Makes fd's plain receives block for at most slice_ms (recv_some); every other transfer
     * stays non-blocking. NULL where waiting in poll first is faster (unix sockets). */
    int (*set_slice)(int fd, int slice_ms);
    /* Receives 1 to len bytes, blocking at most the slice (set_slice) for the first: the count,
     * -ECONNRESET at the end of the stream, -ETIMEDOUT, -EINTR when a signal arrived first.
     * Saves the wait (poll) before a read that would block anyway. */
    long (*recv_some)(int fd, void *buf, size_t len);
    void (*close)(int fd);
    /* The daemon's read where it is not a socket's recv (shm): 1 to len bytes without
     * blocking, 0 at the end, -1 with errno (EAGAIN: nothing now; the descriptor becomes
     * readable when there is). NULL on sockets. */
    long (*recv_nb)(int fd, void *buf, size_t len);
    /* The daemon's reader hands fd back to its epoll (shm): says whether bytes are ready that
     * the descriptor's readiness does not show. */
    bool (*arm)(int fd);
    /* A daemon's worker watches fd's incoming bytes itself (on: the peer need not wake it; false
     * when watching is no use, the peer last ran on this CPU) or stops (off: wake-ups wanted
     * again, ordered before a following ready). NULL on sockets. */
    bool (*hold)(int fd, bool on);
    /* Bytes ready to read without a system call: > 0, 0, < 0 for a broken stream (shm). */
    long (*ready)(int fd);
    /* The daemon reads a payload in place (shm): whether the next len bytes may be (view_ok);
     * then view, as recv_nb but all len bytes at once, *at pointing into the transport's memory
     * (returns len); they stay there, and the peer cannot write over them, until view_end,
     * which the call's thread calls when it is done with them. NULL on sockets. */
    bool (*view_ok)(int fd, size_t len); /* never below ZOID_VIEW_MIN */
    long (*view)(int fd, size_t len, const void **at);
    void (*view_end)(int fd);
    /* The daemon lends the client a descriptor of its own (a file the client opened through
     * it), tagged, ahead of the reply that says so: 0, -EAGAIN (the client has not taken the
     * ones lent before: the socket is full), -errno. NULL where descriptors cannot travel (shm:
     * only: its socket carries nothing else towards the client). */
    int (*lend_fd)(int fd, int what, uint64_t tag);
    /* The client takes the descriptor lent with tag: the new descriptor (close-on-exec), or
     * -EAGAIN (none came), -EPROTO (something other than a lent descriptor came). Descriptors
     * lent with another tag (an earlier call given up on) are closed. */
    int (*take_fd)(int fd, uint64_t tag);
    /* Sends iov, then len bytes out of the pipe pipe_rd (a reply straight from a file's pages:
     * splice, no copy through user space), as sendv; -EIO when the pipe holds fewer. NULL where
     * a pipe cannot feed the descriptor (shm). */
    int (*sendv_pipe)(int fd, const struct iovec *iov, int n, int pipe_rd, size_t len,
                      int timeout_ms);
    /* A client's request, as sendv, but its large entries (64 KiB and more) go by reference:
     * their pages, not a copy, until the daemon reads them. Only for memory the caller leaves
     * alone until the daemon has read it (its reply came, or sent_read said so). NULL: not
     * offered (tcp: loopback would hand the pages to the reader with the data acknowledged). */
    int (*sendv_ref)(int fd, const struct iovec *iov, int n, int timeout_ms);
    /* Waits until the peer has read every byte sent (up to timeout_ms): 0 or -ETIMEDOUT. */
    int (*sent_read)(int fd, int timeout_ms);
};

/* unix: (the shm: transport builds on it) and shm: (shm.c). */
extern const struct zoid_transport zoid_unix_transport, zoid_shm_transport;
int zoid_unix_connect(const struct zoid_addr *a, int timeout_ms, int *fd, struct zepto_err *err);
int zoid_unix_listen(const struct zoid_addr *a, int backlog, int *fd, struct zepto_err *err);
int zoid_sock_accept(int lfd, int *fd);
int zoid_sock_sendv_pipe(int fd, const struct iovec *iov, int n, int pipe_rd, size_t len,
                         int timeout_ms);
void zoid_unix_identify(int fd, struct zoid_identity *id);
bool zoid_unix_loopback(const struct zoid_addr *a);

/* shm: how long a waiter spins before it sleeps (ZOID_SHM_SPIN), in ns; -1: busy-poll. */
long zoid_shm_spin_ns(void);

/* Parses "unix:PATH", "shm:PATH" or "tcp:HOST:PORT" ("tcp:[::1]:PORT" for IPv6) and returns its
 * transport. */
int zoid_addr_parse(const char *s, struct zoid_addr *a, const struct zoid_transport **t,
                    struct zepto_err *err);

/* The stream helpers both socket transports use. */
int zoid_sock_sendv(int fd, const struct iovec *iov, int n, int timeout_ms);
int zoid_sock_recvv(int fd, const struct iovec *iov, int n, int timeout_ms);

#endif
