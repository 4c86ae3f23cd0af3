/*
 * Payloads left in the socket (src/zoid/core/daemon_tail.c) on a call whose client is the other
 * end of a socketpair: zoid_call_payload_to_file and zoid_call_payload_read take exactly the
 * call's bytes (the next frame's stay in the socket), a file gets them at its offset or position,
 * what the function leaves is dropped; bad input (no call, a pipe, an O_APPEND or read-only file,
 * a pipe holding a reply file) is refused without taking a byte; a client that goes half way
 * gives a short count and is told to go; on unix, bytes another process sent into the frame are
 * never taken (-EPROTO, "a frame from two senders").
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "zepto/zoid_plugin.h"
#include "zoid/core/daemon.h"
#include "zoid/core/transport.h"

static unsigned char byte_at(size_t i)
{
    return (unsigned char)(i * 13 + (i >> 11));
}

struct pair {
    struct zoid_peer peer;
    struct zoid_call call;
    int other; /* the client's end */
};

static void pair_open(struct pair *p, size_t tail)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    memset(p, 0, sizeof(*p));
    p->peer.t = &zoid_unix_transport;
    p->peer.fd = sv[0];
    atomic_store(&p->peer.last_ns, zb_mono_read());
    atomic_store(&p->peer.tail_left, (uint32_t)tail);
    p->other = sv[1];
    int big = 16 << 20; /* every byte written before it is read: nothing here runs alongside */
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
    zoid_call_init(&p->call, &p->peer, 0, 64u << 20);
    p->call.tail_left = tail;
}

static void send_pattern(int fd, size_t from, size_t n)
{
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = byte_at(from + i);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    free(b);
}

/* The next bytes in the socket are the next frame's: "NEXT". */
static void next_frame_intact(struct pair *p)
{
    char b[8] = "";
    assert_int_equal(recv(p->peer.fd, b, sizeof(b), MSG_DONTWAIT), 4);
    assert_memory_equal(b, "NEXT", 4);
}

static int scratch_file(int flags)
{
    char path[] = "/tmp/zepto-payload-tail-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int f2 = open(path, flags);
    unlink(path);
    close(fd);
    assert_true(f2 >= 0);
    return f2;
}

static void file_is(int fd, size_t off, size_t n, size_t from)
{
    unsigned char *b = malloc(n);
    assert_int_equal(pread(fd, b, n, (off_t)off), (ssize_t)n);
    for (size_t i = 0; i < n; i++)
        if (b[i] != byte_at(from + i))
            fail_msg("byte %zu of the file is %#x, not %#x", off + i, b[i], byte_at(from + i));
    free(b);
}

static void moves_to_file(void **state)
{
    (void)state;
    const size_t n = (3u << 20) + 5;
    struct pair p;
    pair_open(&p, n);
    send_pattern(p.other, 0, n);
    assert_int_equal(write(p.other, "NEXT", 4), 4);
    int fd = scratch_file(O_RDWR);
    assert_int_equal(zoid_call_payload_left(&p.call), n);
    assert_int_equal(zoid_call_payload_to_file(&p.call, fd, 4097, 1u << 20), 1 << 20);
    assert_int_equal(zoid_call_payload_left(&p.call), n - (1u << 20));
    assert_int_equal(lseek(fd, 100, SEEK_SET), 100); /* the rest at the file's position */
    assert_int_equal(zoid_call_payload_to_file(&p.call, fd, -1, SIZE_MAX), n - (1u << 20));
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 100 + (off_t)(n - (1u << 20)));
    assert_int_equal(zoid_call_payload_left(&p.call), 0);
    assert_int_equal(atomic_load(&p.peer.tail_left), 0);
    assert_false(atomic_load(&p.peer.mid_frame));
    file_is(fd, 100, n - (1u << 20), 1u << 20);
    assert_int_equal(zoid_call_payload_to_file(&p.call, fd, 0, 10), 0); /* nothing left */
    next_frame_intact(&p);
    assert_null(atomic_load(&p.peer.kill_why));
    close(fd);
    close(p.peer.fd);
    close(p.other);
}

static void reads_and_drops(void **state)
{
    (void)state;
    const size_t n = 300000;
    struct pair p;
    pair_open(&p, n);
    send_pattern(p.other, 0, n);
    assert_int_equal(write(p.other, "NEXT", 4), 4);
    unsigned char b[1000];
    assert_int_equal(zoid_call_payload_read(&p.call, b, sizeof(b)), sizeof(b));
    for (size_t i = 0; i < sizeof(b); i++)
        assert_int_equal(b[i], byte_at(i));
    assert_int_equal(zoid__payload_discard(&p.call), 0); /* what the function left */
    assert_int_equal(zoid_call_payload_left(&p.call), 0);
    next_frame_intact(&p);
    close(p.peer.fd);
    close(p.other);
}

static void refuses_bad_input(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 1u << 20);
    send_pattern(p.other, 0, 1u << 20);
    int fd = scratch_file(O_RDWR), app = scratch_file(O_RDWR | O_APPEND),
        ro = scratch_file(O_RDONLY), pfd[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(zoid_call_payload_to_file(NULL, fd, 0, 10), -EINVAL);
    assert_int_equal(zoid_call_payload_to_file(&p.call, -1, 0, 10), -EINVAL);
    assert_int_equal(zoid_call_payload_to_file(&p.call, pfd[1], 0, 10), -EINVAL);
    assert_int_equal(zoid_call_payload_to_file(&p.call, app, 0, 10), -EINVAL);
    assert_int_equal(zoid_call_payload_to_file(&p.call, ro, 0, 10), -EBADF);
    assert_int_equal(zoid_call_payload_to_file(&p.call, fd, 0, 0), 0);
    p.call.file_len = 1; /* the thread's pipe holds this call's reply */
    assert_int_equal(zoid_call_payload_to_file(&p.call, fd, 0, 10), -EBUSY);
    p.call.file_len = 0;
    assert_int_equal(zoid_call_payload_read(NULL, NULL, 0), -EINVAL);
    assert_int_equal(zoid_call_payload_read(&p.call, NULL, 10), -EINVAL);
    assert_int_equal(zoid_call_payload_left(NULL), 0);
    assert_int_equal(zoid_host_payload_tail(NULL, 0, 0), -EINVAL);
    struct zoid_host h = {0}; /* no daemon */
    assert_int_equal(zoid_host_payload_tail(&h, 1, 20), -EINVAL);
    /* Nothing was taken: the bytes are all still there for a good call. */
    assert_int_equal(zoid_call_payload_left(&p.call), 1u << 20);
    assert_int_equal(zoid_call_payload_to_file(&p.call, fd, 0, 1u << 20), 1 << 20);
    file_is(fd, 0, 1u << 20, 0);
    close(fd);
    close(app);
    close(ro);
    close(pfd[0]);
    close(pfd[1]);
    close(p.peer.fd);
    close(p.other);
}

static void client_gone_half_way(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 1u << 20);
    send_pattern(p.other, 0, 100000);
    close(p.other);
    int fd = scratch_file(O_RDWR);
    assert_int_equal(zoid_call_payload_to_file(&p.call, fd, 0, 1u << 20), 100000);
    file_is(fd, 0, 100000, 0);
    assert_non_null(atomic_load(&p.peer.kill_why));
    assert_int_equal(zoid_call_payload_read(&p.call, (char[8]){0}, 8), -ECONNRESET);
    close(fd);
    close(p.peer.fd);
}

static void two_senders(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 2000);
    int on = 1;
    assert_int_equal(setsockopt(p.peer.fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
    p.peer.passcred = true;
    p.peer.frame_cred =
        (struct zoid_cred){.valid = true, .pid = getpid(), .uid = getuid(), .gid = getgid()};
    send_pattern(p.other, 0, 1000);
    pid_t pid = fork();
    if (pid == 0) {
        unsigned char b[1000];
        memset(b, 0xee, sizeof(b));
        _exit(write(p.other, b, sizeof(b)) == (ssize_t)sizeof(b) ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    int fd = scratch_file(O_RDWR);
    assert_int_equal(zoid_call_payload_to_file(&p.call, fd, 0, 2000), 1000);
    assert_string_equal(atomic_load(&p.peer.kill_why), "a frame from two senders");
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal(sb.st_size, 1000); /* the other process's bytes are not in the file */
    file_is(fd, 0, 1000, 0);
    close(fd);
    close(p.peer.fd);
    close(p.other);
}

/* The client's side: a request sent by reference (unix: sendv_ref) arrives whole; to a reader
 * gone it fails with ECONNRESET, and the SIGPIPE the splice raises neither kills the process nor
 * stays pending. */
static void sent_by_reference(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int big = 4 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
    const size_t n = (1u << 20) + 77;
    unsigned char *b = malloc(n), *got = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = byte_at(i);
    char head[5] = "HEAD";
    struct iovec iov[2] = {{head, 4}, {b, n}};
    assert_non_null(zoid_unix_transport.sendv_ref);
    assert_int_equal(zoid_unix_transport.sendv_ref(sv[0], iov, 2, 2000), 0);
    memset(b, 0, n); /* after the send: what was sent are the pages as they were until read */
    size_t at = 0;
    char h[4];
    assert_int_equal(recv(sv[1], h, 4, MSG_WAITALL), 4);
    assert_memory_equal(h, "HEAD", 4);
    while (at < n) {
        ssize_t r = recv(sv[1], got + at, n - at, 0);
        assert_true(r > 0);
        at += (size_t)r;
    }
    for (size_t i = 0; i < n; i++)
        if (got[i] != byte_at(i) && got[i] != 0)
            fail_msg("byte %zu is %#x", i, got[i]);
    assert_int_equal(zoid_unix_transport.sent_read(sv[0], 1000), 0);
    close(sv[1]); /* the reader goes */
    for (size_t i = 0; i < n; i++)
        b[i] = byte_at(i);
    assert_int_equal(zoid_unix_transport.sendv_ref(sv[0], iov + 1, 1, 2000), -ECONNRESET);
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    assert_int_equal(sigismember(&pending, SIGPIPE), 0);
    close(sv[0]);
    free(b);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(moves_to_file),     cmocka_unit_test(reads_and_drops),
        cmocka_unit_test(refuses_bad_input), cmocka_unit_test(client_gone_half_way),
        cmocka_unit_test(two_senders),       cmocka_unit_test(sent_by_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
