/*
 * Fuzzes the client's side of lent descriptors (shm_setup.c's take_fd, behind zoid_take_fd): the
 * input is what a hostile daemon sends on the connection's socket, messages of any length, some
 * carrying one or two descriptors (of /dev/null or of a directory). Whatever it sends, a take
 * returns a descriptor only for a whole message of the tag asked for, closes every other
 * descriptor it received (none leaks), and never blocks or crashes.
 */
#include "../../src/zoid/core/shm.c"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>

static int sv[2] = {-1, -1};
static int null_fd = -1, dir_fd = -1;

static void setup(void)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dir_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (null_fd < 0 || dir_fd < 0)
        abort();
}

/* Sends len bytes, with k descriptors (0-2) attached. */
static void put(const uint8_t *b, size_t len, int k, bool dir)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 2)];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct iovec iov = {(void *)b, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (k) {
        int fds[2] = {dir ? dir_fd : null_fd, null_fd};
        m.msg_control = &ctl;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)k);
        struct cmsghdr *ch = CMSG_FIRSTHDR(&m);
        ch->cmsg_level = SOL_SOCKET;
        ch->cmsg_type = SCM_RIGHTS;
        ch->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)k);
        memcpy(CMSG_DATA(ch), fds, sizeof(int) * (size_t)k);
    }
    if (sendmsg(sv[1], &m, MSG_DONTWAIT) < 0 && errno != EAGAIN)
        abort();
}

static int lowest_free(void)
{
    int fd = dup(0);
    if (fd >= 0)
        close(fd);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sv[0] < 0)
        setup();
    if (size < 8)
        return 0;
    uint64_t tag = 0;
    for (int i = 0; i < 8; i++)
        tag |= (uint64_t)data[i] << (8 * i);
    int free_before = lowest_free();
    size_t at = 8;
    /* messages: a kind byte (bit 0-1: descriptors attached, bit 2: a directory), a length byte,
     * then that many bytes */
    while (at + 2 <= size) {
        int kind = data[at], len = data[at + 1];
        at += 2;
        if ((size_t)len > size - at)
            len = (int)(size - at);
        put(data + at, (size_t)len, kind & 3 ? (kind & 3) == 3 ? 2 : 1 : 0, kind & 4);
        at += (size_t)len;
    }
    for (int i = 0; i < 64; i++) {
        int fd = zoid_shm_transport.take_fd(sv[0], tag);
        if (fd >= 0) {
            if (fcntl(fd, F_GETFD) < 0 || !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
                abort(); /* a descriptor that is not open, or not close-on-exec */
            close(fd);
            continue;
        }
        if (fd != -EAGAIN && fd != -EPROTO)
            abort();
        if (fd == -EAGAIN)
            break;
    }
    /* what is left on the socket, and its descriptors, goes */
    char junk[4096];
    while (recv(sv[0], junk, sizeof(junk), MSG_DONTWAIT) > 0)
        ;
    if (lowest_free() != free_before)
        abort(); /* a descriptor leaked */
    return 0;
}
