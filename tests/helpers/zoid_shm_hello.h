/*
 * What a raw test client of the shm: transport does first (tests/helpers/zoid_abuse.c,
 * tests/integration/test_zoid_shm.h): take the daemon's hello (SHM_MAGIC and the region's memfd,
 * SCM_RIGHTS) from the socket and map the region. Header only, included after
 * src/zoid/core/shm_ring.h (SHM_MAGIC, SHM_REGION), which each includer reaches its own way.
 */
#ifndef ZEPTO_TEST_ZOID_SHM_HELLO_H
#define ZEPTO_TEST_ZOID_SHM_HELLO_H

#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* The region mapped (SHM_REGION bytes), or NULL; *mfd is its memfd (close it), or -1. */
static unsigned char *zoid_shm_hello(int sock, int *mfd)
{
    unsigned char hello[16];
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {hello, sizeof(hello)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl)};
    *mfd = -1;
    ssize_t n = recvmsg(sock, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC);
    struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
    if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
        memcpy(mfd, CMSG_DATA(h), sizeof(int));
    if (n != (ssize_t)sizeof(hello) || memcmp(hello, SHM_MAGIC, 8) || *mfd < 0)
        return NULL;
    void *base = mmap(NULL, SHM_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, *mfd, 0);
    return base == MAP_FAILED ? NULL : base;
}

#endif
