/*
 * The shm: transport's connection set-up and descriptors on its socket (shm_setup.c): the daemon
 * creates, seals and passes each connection's region at accept, the client checks and maps it at
 * connect; afterwards the daemon lends the client descriptors on the same socket (lend_fd), which
 * the client takes by tag (take_fd). The rings and the waking are shm.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zoid/core/shm_int.h"
#include "zoid/core/shm_ring.h"
#include "zoid/core/transport.h"

#define HELLO_BYTES 16 /* SHM_MAGIC, the request and reply rings' sizes (le32 each) */

/* ---- descriptors on the socket (the region at connect, lent files after) ---- */

/* Sends the n bytes at b with descriptor `what` attached: sendmsg's result. */
static ssize_t send_fd(int sock, const void *b, size_t n, int what)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl = {0};
    struct iovec iov = {(void *)b, n};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
    struct cmsghdr *ch = CMSG_FIRSTHDR(&m);
    ch->cmsg_level = SOL_SOCKET;
    ch->cmsg_type = SCM_RIGHTS;
    ch->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(ch), &what, sizeof(int));
    return sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Receives up to n bytes into b (recvmsg with flags, close-on-exec) and the first descriptor
 * that came with them into *got (-1: none; any more are closed: one per message). recvmsg's
 * result (errno kept); *cut when the kernel dropped descriptors that did not fit. */
static ssize_t recv_fd(int sock, void *b, size_t n, int flags, int *got, bool *cut)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } ctl;
    struct iovec iov = {b, n};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
    ssize_t r = recvmsg(sock, &m, flags | MSG_CMSG_CLOEXEC);
    int e = errno;
    *got = -1;
    *cut = r > 0 && (m.msg_flags & MSG_CTRUNC);
    for (struct cmsghdr *h = r > 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
            int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k; i++) {
                int f;
                memcpy(&f, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
                if (*got < 0)
                    *got = f;
                else
                    close(f);
            }
        }
    errno = e;
    return r;
}

/* ---- descriptors lent to the client ---- */

/* A lent descriptor travels with its tag (le64) as the only bytes of its message: nothing else
 * goes from the daemon to the client on the socket after the hello. */
#define LEND_BYTES 8

int zoid__shm_lend_fd(int fd, int what, uint64_t tag)
{
    unsigned char b[LEND_BYTES];
    for (int i = 0; i < LEND_BYTES; i++)
        b[i] = (unsigned char)(tag >> (8 * i));
    ssize_t r = send_fd(fd, b, sizeof(b), what);
    if (r == (ssize_t)sizeof(b))
        return 0;
    if (r >= 0)
        return -EIO; /* cut: the client's next take finds a broken message (EPROTO) */
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

int zoid__shm_take_fd(int fd, uint64_t tag)
{
    for (;;) {
        unsigned char b[LEND_BYTES];
        int got;
        bool cut;
        ssize_t n = recv_fd(fd, b, sizeof(b), MSG_DONTWAIT, &got, &cut);
        if (n < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (n == 0)
            return -ECONNRESET;
        if (n != LEND_BYTES || got < 0 || cut) {
            if (got >= 0)
                close(got);
            return -EPROTO;
        }
        uint64_t t = 0;
        for (int i = 0; i < LEND_BYTES; i++)
            t |= (uint64_t)b[i] << (8 * i);
        if (t == tag)
            return got;
        close(got); /* lent for a call its caller gave up on */
    }
}

/* The daemon's side: a fresh sealed region for each connection, passed to the client. */
int zoid__shm_accept(int lfd, int *fd)
{
    int rc = zoid_sock_accept(lfd, fd);
    if (rc)
        return rc;
    int mfd = memfd_create("zoid-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    unsigned char *base = MAP_FAILED;
    struct shm_conn *s = NULL;
    if (mfd < 0 || ftruncate(mfd, SHM_REGION) ||
        fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
        goto fail;
    base = zoid__shm_map_daemon(mfd);
    if (base == MAP_FAILED)
        goto fail;
    unsigned char hello[HELLO_BYTES] = {0};
    memcpy(hello, SHM_MAGIC, 8);
    for (int i = 0; i < 4; i++) {
        hello[8 + i] = (unsigned char)(SHM_REQ_RING_BYTES >> (8 * i));
        hello[12 + i] = (unsigned char)(SHM_REP_RING_BYTES >> (8 * i));
    }
    if (send_fd(*fd, hello, sizeof(hello), mfd) != (ssize_t)sizeof(hello))
        goto fail;
    /* the daemon starts asleep in its epoll: the first request rings */
    atomic_store(&((struct shm_ctl *)base)->rwait, SHM_DOORBELL);
    if (!(s = zoid__shm_attach(base, true)) || (rc = zoid__shm_conn_set(*fd, s))) {
        errno = s ? -rc : ENOMEM;
        goto fail;
    }
    close(mfd);
    return 0;
fail:
    rc = -errno;
    zoid__shm_free(s);
    if (base != MAP_FAILED)
        munmap(base, SHM_DAEMON_SPAN);
    if (mfd >= 0)
        close(mfd);
    close(*fd);
    *fd = -1;
    return rc == -EAGAIN ? -ECONNABORTED : rc; /* -EAGAIN would mean "none waiting" */
}

int zoid__shm_greets(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (n == 0)
        return 0;
    char magic[8];
    return n == 1 &&
                   recv(fd, magic, sizeof(magic), MSG_PEEK | MSG_DONTWAIT) ==
                       (ssize_t)sizeof(magic) &&
                   !memcmp(magic, SHM_MAGIC, sizeof(magic))
               ? 1
               : -1;
}

/* The client's side: the region comes first on a fresh connection. */
int zoid__shm_connect(const struct zoid_addr *a, int timeout_ms, int *fd, struct zepto_err *err)
{
    int s, rc = zoid_unix_connect(a, timeout_ms, &s, err);
    if (rc)
        return rc;
    unsigned char hello[HELLO_BYTES];
    struct pollfd p = {.fd = s, .events = POLLIN};
    ssize_t n = -1;
    int mfd = -1;
    bool cut = false;
    if (poll(&p, 1, timeout_ms) == 1)
        n = recv_fd(s, hello, sizeof(hello), MSG_WAITALL, &mfd, &cut);
    const char *why = NULL;
    uint32_t ring = 0, rep = 0;
    for (int i = 0; n == (ssize_t)sizeof(hello) && i < 4; i++) {
        ring |= (uint32_t)hello[8 + i] << (8 * i);
        rep |= (uint32_t)hello[12 + i] << (8 * i);
    }
    struct stat st;
    if (n != (ssize_t)sizeof(hello) || memcmp(hello, SHM_MAGIC, 8))
        why = n < 0 ? "no answer" : "the daemon does not speak shm (a unix: daemon?)";
    else if (ring != SHM_REQ_RING_BYTES || rep != SHM_REP_RING_BYTES || mfd < 0)
        why = "an unknown shared region (another zoid version?)";
    else if (fstat(mfd, &st) || st.st_size != (off_t)SHM_REGION ||
             (fcntl(mfd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
                 (F_SEAL_SHRINK | F_SEAL_GROW))
        why = "a shared region of the wrong size or unsealed";
    unsigned char *base = MAP_FAILED;
    if (!why) {
        base = mmap(NULL, SHM_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
        if (base == MAP_FAILED)
            why = strerror(errno);
    }
    if (mfd >= 0)
        close(mfd);
    struct shm_conn *c = why ? NULL : zoid__shm_attach(base, false);
    if (!why && (!c || zoid__shm_conn_set(s, c)))
        why = "out of memory";
    if (why) {
        zoid__shm_free(c);
        if (base != MAP_FAILED)
            munmap(base, SHM_REGION);
        close(s);
        return zepto_fail(err, EPROTO, "shm:%s: %s", a->path, why);
    }
    *fd = s;
    return 0;
}
