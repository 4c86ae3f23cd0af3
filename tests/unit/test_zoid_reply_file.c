/*
 * Replies straight from a file (src/zoid/core/reply_file.c, zoid_reply_file) on a call whose
 * client is the other end of a socketpair: the frame that goes out carries the file's bytes in
 * place of the region, with what the plugin wrote before and after it; the count is short at the
 * end of a file and at the 1 MiB one reply takes; bad input (a region the call did not reserve,
 * a second file, a descriptor that cannot be spliced, a transport without sendv_pipe) is refused
 * without a side effect; a reply that could not go leaves the thread's pipe empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "zoid/core/daemon.h"
#include "zoid/core/transport.h"

#define FILE_SIZE ((2u << 20) + 333)

static int file_fd = -1;

static unsigned char byte_at(size_t i)
{
    return (unsigned char)(i * 7 + (i >> 9));
}

static int setup(void **state)
{
    (void)state;
    char path[] = "/tmp/zepto-reply-file-XXXXXX";
    file_fd = mkstemp(path);
    if (file_fd < 0)
        return -1;
    unlink(path);
    unsigned char *b = malloc(FILE_SIZE);
    for (size_t i = 0; i < FILE_SIZE; i++)
        b[i] = byte_at(i);
    ssize_t w = write(file_fd, b, FILE_SIZE);
    free(b);
    return w == (ssize_t)FILE_SIZE ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    close(file_fd);
    return 0;
}

struct pair {
    struct zoid_peer peer;
    int other; /* the client's end */
};

static void pair_open(struct pair *p, const struct zoid_transport *t)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    memset(&p->peer, 0, sizeof(p->peer));
    p->peer.t = t;
    p->peer.fd = sv[0];
    p->peer.send_timeout_ms = 2000;
    pthread_mutex_init(&p->peer.send_mu, NULL);
    p->other = sv[1];
    int big = 8 << 20; /* the whole frame fits: nothing here reads while it is sent */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
}

static void pair_close(struct pair *p)
{
    close(p->peer.fd);
    close(p->other);
    pthread_mutex_destroy(&p->peer.send_mu);
}

/* Reads the frame the call sent: its payload (malloc'd) and length. */
static unsigned char *frame_of(struct pair *p, struct zoid_header *h)
{
    unsigned char hdr[ZOID_HEADER_SIZE];
    const struct iovec hv = {hdr, sizeof(hdr)};
    assert_int_equal(zoid_sock_recvv(p->other, &hv, 1, 2000), 0);
    assert_int_equal(zoid_header_decode(hdr, UINT32_MAX, h, NULL), 0);
    unsigned char *b = malloc(h->length + 1);
    const struct iovec bv = {b, h->length};
    assert_int_equal(zoid_sock_recvv(p->other, &bv, 1, 2000), 0);
    return b;
}

/* A reply of a 4-byte head, n bytes from the file at off, and a 4-byte tail. */
static void reply_with_file(size_t off, size_t n, ssize_t want_count)
{
    struct pair p;
    pair_open(&p, &zoid_unix_transport);
    struct zoid_call c;
    zoid_call_init(&c, &p.peer, 0, 64u << 20);
    assert_int_equal(zoid_reply_append(&c, "HEAD", 4), 0);
    unsigned char *region = zoid_reply_reserve(&c, n);
    assert_non_null(region);
    ssize_t k = zoid_reply_file(&c, region, file_fd, (int64_t)off, n);
    assert_int_equal(k, want_count);
    memset(region + k, 0x5a, n - (size_t)k); /* what the plugin fills itself */
    assert_int_equal(zoid_reply_append(&c, "TAIL", 4), 0);
    assert_int_equal(zoid_call_finish(&c, 0), 0);

    struct zoid_header h;
    unsigned char *b = frame_of(&p, &h);
    assert_int_equal(h.length, 8 + n);
    assert_memory_equal(b, "HEAD", 4);
    for (size_t i = 0; i < (size_t)k; i++)
        if (b[4 + i] != byte_at(off + i))
            fail_msg("byte %zu of the file's bytes at %zu: %#x, not %#x", i, off, b[4 + i],
                     byte_at(off + i));
    for (size_t i = (size_t)k; i < n; i++)
        if (b[4 + i] != 0x5a)
            fail_msg("byte %zu after the file's: %#x", i, b[4 + i]);
    assert_memory_equal(b + 4 + n, "TAIL", 4);
    free(b);
    pair_close(&p);
}

static void carries_the_file(void **state)
{
    (void)state;
    reply_with_file(0, 64u << 10, 64u << 10);
    reply_with_file(12345, 300000, 300000);           /* unaligned */
    reply_with_file(0, 3u << 20, 1u << 20);           /* one reply takes 1 MiB from a file */
    reply_with_file(FILE_SIZE - 1000, 4096, 1000);    /* the end of the file */
    reply_with_file(FILE_SIZE + 5, 4096, 0);          /* past it */
}

static void refuses_bad_input(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, &zoid_unix_transport);
    struct zoid_call c;
    zoid_call_init(&c, &p.peer, 0, 64u << 20);
    unsigned char elsewhere[4096];
    assert_int_equal(zoid_reply_file(&c, elsewhere, file_fd, 0, 4096), -EINVAL); /* no reply */
    unsigned char *region = zoid_reply_reserve(&c, 8192);
    assert_non_null(region);
    assert_int_equal(zoid_reply_file(NULL, region, file_fd, 0, 4096), -EINVAL);
    assert_int_equal(zoid_reply_file(&c, NULL, file_fd, 0, 4096), -EINVAL);
    assert_int_equal(zoid_reply_file(&c, region, -1, 0, 4096), -EINVAL);
    assert_int_equal(zoid_reply_file(&c, elsewhere, file_fd, 0, 4096), -EINVAL);
    assert_int_equal(zoid_reply_file(&c, region + 4096, file_fd, 0, 8192), -EINVAL); /* beyond */
    assert_int_equal(zoid_reply_file(&c, region + 1, file_fd, 0, SIZE_MAX), -EINVAL); /* wraps */
    /* A descriptor splice cannot read: the plugin is told, and reads itself. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ssize_t r = zoid_reply_file(&c, region, sv[0], 0, 4096);
    assert_true(r < 0);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(zoid_reply_file(&c, region, file_fd, 0, 4096), 4096);
    assert_int_equal(zoid_reply_file(&c, region + 4096, file_fd, 0, 4096), -EBUSY);
    /* The call fails after all: nothing of the file goes, and the pipe is emptied. */
    assert_int_equal(zoid_call_finish(&c, EIO), 0);
    struct zoid_header h;
    free(frame_of(&p, &h));
    assert_int_equal(h.error, EIO);
    assert_int_equal(h.length, 0);
    assert_int_equal(zoid__reply_pipe(), -1);
    pair_close(&p);
    reply_with_file(100, 4096, 4096); /* and the next reply is right */

    /* shm: has no sendv_pipe. */
    pair_open(&p, &zoid_shm_transport);
    zoid_call_init(&c, &p.peer, 0, 64u << 20);
    region = zoid_reply_reserve(&c, 4096);
    assert_int_equal(zoid_reply_file(&c, region, file_fd, 0, 4096), -EOPNOTSUPP);
    zoid_call_finish(&c, EIO);
    pair_close(&p);
}

/* The client is gone while the reply's file bytes wait in the pipe: the send fails, the
 * connection is dropped, and the pipe left empty for the thread's next reply. */
static void client_gone(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, &zoid_unix_transport);
    int small = 4096;
    setsockopt(p.peer.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    struct zoid_call c;
    zoid_call_init(&c, &p.peer, 0, 64u << 20);
    unsigned char *region = zoid_reply_reserve(&c, 1u << 20);
    assert_int_equal(zoid_reply_file(&c, region, file_fd, 0, 1u << 20), 1u << 20);
    close(p.other);
    p.other = open("/dev/null", O_RDONLY); /* for pair_close */
    assert_int_equal(zoid_call_finish(&c, 0), -ECONNRESET);
    assert_true(atomic_load(&p.peer.closed));
    assert_int_equal(zoid__reply_pipe(), -1);
    pair_close(&p);
    reply_with_file(0, 1u << 20, 1u << 20);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon: a send to a client gone is an error, not death */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(carries_the_file),
        cmocka_unit_test(refuses_bad_input),
        cmocka_unit_test(client_gone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
