/*
 * Writes whose bytes the daemon splices from the client's socket into the file (its payload left
 * in the socket, zoid_host_payload_tail), sent by reference from unix: clients, through the
 * posix plugin's generated client stubs and raw frames: the file holds exactly the bytes written
 * for every shape (just below and at the size spliced, unaligned, several MiB, at the file
 * position, O_APPEND, a relaxed session's gathered and direct writes); a call whose arguments do
 * not match its payload, or whose handle is bad, is refused and its bytes dropped without
 * breaking the connection; a client that stops half way through its bytes holds up nobody else
 * and is dropped when it goes; on unix: bytes another process put into the middle of a frame
 * never reach the file.
 *
 * queued (a daemon with one thread, --stall-timeout 1s and the test plugin): a write that waits
 * behind another call for longer than the stall bound completes (its bytes are awaited from when
 * its call runs, not from when its header came), and a client that stops half way through its
 * bytes is still dropped within the bound.
 *
 * usage: test_zoid_splice_write ADDR EXPORT spliced|copied|queued
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ZD_FILE "zoid_splice_write.c"
#include "zoid_driver.h"
#include "zepto/zoid.h"
#include "zepto/zoid_codec.h"
#include "zposix.h"
#include "zposix_client.h"

#define HEAD (sizeof(int) + sizeof(size_t) + sizeof(int64_t))

static bool expect_spliced;
static uint64_t sid;
static uint8_t secret[ZP_SECRET_BYTES];
static struct zoid_client *main_client;

static unsigned char byte_at(uint64_t i, unsigned seed)
{
    return (unsigned char)(((i + seed) * 2654435761u) >> 13);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The file's bytes [off, off + n) are pattern `seed` (as at its offset from `base`). */
static bool file_has(int line, const char *rel, uint64_t off, size_t n, uint64_t base,
                     unsigned seed)
{
    unsigned char *b = malloc(n ? n : 1);
    int fd = open(local(rel), O_RDONLY);
    ssize_t r = fd < 0 ? -1 : pread(fd, b, n, (off_t)off);
    if (fd >= 0)
        close(fd);
    bool ok = r == (ssize_t)n;
    if (!ok)
        fail(line, "%s: read %zd of %zu at %llu", rel, r, n, (unsigned long long)off);
    for (size_t i = 0; ok && i < n; i++)
        if (b[i] != byte_at(off - base + i, seed)) {
            fail(line, "%s: byte %llu is %#x, not %#x", rel, (unsigned long long)(off + i), b[i],
                 byte_at(off - base + i, seed));
            ok = false;
        }
    free(b);
    return ok;
}

static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = byte_at(i, seed);
    return b;
}

/* One write through the daemon at off (ZP_CUR: the position), all of it taken. */
static void write_check(int line, int h, const char *rel, int64_t off, size_t n, unsigned seed)
{
    unsigned char *b = pattern(n, seed);
    int64_t at = off == ZP_CUR ? zp_lseek(h, 0, SEEK_CUR) : off;
    ssize_t w = zp_pwrite(h, b, n, off);
    if (w != (ssize_t)n)
        fail(line, "pwrite(%zu at %lld): %zd (%s)", n, (long long)off, w,
             w < 0 ? strerror(errno) : "short");
    else
        file_has(line, rel, (uint64_t)at, n, (uint64_t)at, seed);
    free(b);
}

static void test_shapes(void)
{
    uint64_t spliced = counter(ZPC_write_spliced_bytes);
    int h = zp_openat(ZP_ROOT, "w.dat", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(h >= 0, "open w.dat: %s", strerror(errno));
    if (h < 0)
        return;
    write_check(__LINE__, h, "w.dat", 0, (64u << 10) - 1 - HEAD, 1);  /* below: read whole */
    write_check(__LINE__, h, "w.dat", 3, 64u << 10, 2);               /* the smallest spliced */
    write_check(__LINE__, h, "w.dat", 4097, (1u << 20) + 1, 3);       /* unaligned */
    write_check(__LINE__, h, "w.dat", 1u << 20, (3u << 20) + 777, 4); /* more than a pipe */
    write_check(__LINE__, h, "w.dat", 12345, 8u << 20, 5);            /* large */
    /* At the file position: it advances by what each write took. */
    CHECK(zp_lseek(h, 999, SEEK_SET) == 999, "lseek: %s", strerror(errno));
    write_check(__LINE__, h, "w.dat", ZP_CUR, 2u << 20, 6);
    int64_t pos = zp_lseek(h, 0, SEEK_CUR);
    CHECK(pos == 999 + (2 << 20), "position %lld after a write at it", (long long)pos);
    zp_close(h);
    uint64_t moved = counter(ZPC_write_spliced_bytes) - spliced;
    if (expect_spliced)
        CHECK(moved >= (14u << 20), "only %llu bytes spliced, expected the large writes' 14 MiB",
              (unsigned long long)moved);
    else
        CHECK(moved == 0, "%llu bytes spliced where the transport cannot leave them in a socket",
              (unsigned long long)moved);

    /* O_APPEND (no splice into such a file): two appends follow each other. */
    h = zp_openat(ZP_ROOT, "a.dat", O_CREAT | O_WRONLY | O_TRUNC | O_APPEND, 0644);
    CHECK(h >= 0, "open a.dat: %s", strerror(errno));
    unsigned char *b = pattern(1u << 20, 7);
    CHECK(zp_pwrite(h, b, 1u << 20, ZP_CUR) == 1 << 20, "append 1: %s", strerror(errno));
    CHECK(zp_pwrite(h, b, 1u << 20, ZP_CUR) == 1 << 20, "append 2: %s", strerror(errno));
    zp_close(h);
    file_has(__LINE__, "a.dat", 0, 1u << 20, 0, 7);
    file_has(__LINE__, "a.dat", 1u << 20, 1u << 20, 1u << 20, 7);
    free(b);
}

/* A relaxed session: gathered small writes, then a large aligned one that goes straight to the
 * file after them (spliced), then more gathered ones over it; after fsync the file is all of it
 * in order. */
static void test_relaxed(void)
{
    CHECK(zp_consistency(ZP_RELAXED) >= 0, "relaxed: %s", strerror(errno));
    int h = zp_openat(ZP_ROOT, "r.dat", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(h >= 0, "open r.dat: %s", strerror(errno));
    unsigned char *small = pattern(4096, 8), *big = pattern(2u << 20, 9);
    CHECK(zp_pwrite(h, small, 4096, 0) == 4096, "small: %s", strerror(errno));
    CHECK(zp_pwrite(h, big, 2u << 20, 1u << 20) == 2 << 20, "big: %s", strerror(errno));
    CHECK(zp_pwrite(h, small, 4096, (1u << 20) + 8192) == 4096, "small over big: %s",
          strerror(errno));
    CHECK(zp_fsync(h, 0) == 0, "fsync: %s", strerror(errno));
    file_has(__LINE__, "r.dat", 0, 4096, 0, 8);
    file_has(__LINE__, "r.dat", 1u << 20, 8192, 1u << 20, 9);
    file_has(__LINE__, "r.dat", (1u << 20) + 8192, 4096, (1u << 20) + 8192, 8);
    file_has(__LINE__, "r.dat", (1u << 20) + 12288, (2u << 20) - 12288, 1u << 20, 9);
    zp_close(h);
    free(small);
    free(big);
    zp_consistency(ZP_STRICT);
}

/* A raw zp_pwrite call: head (h, n, off) and `len` bytes of payload. */
static int raw_pwrite(struct zoid_client *c, int h, size_t n, int64_t off, const void *p,
                      size_t len, ssize_t *ret, int *err)
{
    unsigned char head[HEAD], rep[sizeof(ssize_t) + 4];
    struct zoid_writer w;
    zoid_writer_init(&w, head, sizeof(head));
    zoid_put_int(&w, h, sizeof(int));
    zoid_put_uint(&w, n, sizeof(size_t));
    zoid_put_int(&w, off, sizeof(int64_t));
    struct iovec rq[2] = {{head, sizeof(head)}, {(void *)p, len}}, rp = {rep, sizeof(rep)};
    size_t got = 0;
    int rc = zoid_call(c, ZPOSIX_ZOID_PLUGIN_ID, ZPOSIX_ZOID_FN_ZP_PWRITE, rq, 2, &rp, 1, &got, 0);
    if (!rc && got == sizeof(rep)) {
        *ret = (ssize_t)zoid_load_int(rep, sizeof(ssize_t));
        *err = (int)zoid_load_int(rep + sizeof(ssize_t), 4);
    }
    return rc;
}

/* Calls refused with their bytes in the socket: the bytes are dropped, the connection goes on. */
static void test_refused(struct zoid_client *c)
{
    int h = zp_openat(ZP_ROOT, "x.dat", O_CREAT | O_RDWR | O_TRUNC, 0644);
    unsigned char *b = pattern(1u << 20, 10);
    ssize_t ret = 0;
    int err = 0;
    int rc = raw_pwrite(c, h, 5, 0, b, 1u << 20, &ret, &err); /* n is not the payload's */
    CHECK(rc == -(ZOID_REMOTE + EPROTO),
          "arguments that do not match the payload: %d, expected EPROTO", rc);
    rc = raw_pwrite(c, 9999, 1u << 20, 0, b, 1u << 20, &ret, &err);
    CHECK(rc == 0 && ret == -1 && err == EBADF, "a bad handle: %d, %zd, %s", rc, ret,
          strerror(err));
    rc = raw_pwrite(c, h, 1u << 20, 4096, b, 1u << 20, &ret, &err);
    CHECK(rc == 0 && ret == 1 << 20, "the next write on the connection: %d, %zd (%s)", rc, ret,
          strerror(err));
    file_has(__LINE__, "x.dat", 4096, 1u << 20, 4096, 10);
    struct stat st;
    CHECK(stat(local("x.dat"), &st) == 0 && st.st_size == 4096 + (1 << 20),
          "x.dat is %lld bytes: a refused call's bytes were written", (long long)st.st_size);
    zp_close(h);
    free(b);
}

/* The socket a new client connection got: the one socket descriptor that was not there before. */
static int socket_of_new(const bool *before)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = -1;
    while (d && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        struct stat st;
        if (e->d_name[0] != '.' && fd < 1024 && !before[fd] && fstat(fd, &st) == 0 &&
            S_ISSOCK(st.st_mode))
            found = fd;
    }
    if (d)
        closedir(d);
    return found;
}

static void sockets_now(bool *set)
{
    for (int fd = 0; fd < 1024; fd++) {
        struct stat st;
        set[fd] = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    }
}

/* A frame begun by hand on a fresh connection: the header of a zp_pwrite of n bytes at off and
 * the first `first` of them. Returns the connection's socket (its client kept in *cp). */
static int begin_frame(struct zoid_client **cp, int h, size_t n, int64_t off, size_t first,
                       unsigned seed)
{
    static bool before[1024];
    sockets_now(before);
    *cp = connect_or_die();
    int s = socket_of_new(before);
    zposix_zoid_use(*cp); /* the same session: h is its handle there too */
    int rc = zp_session_attach(sid, secret, sizeof(secret));
    zposix_zoid_use(main_client);
    if (s < 0 || rc < 0)
        return -1;
    unsigned char hdr[ZOID_HEADER_SIZE], head[HEAD];
    struct zoid_header zh = {.kind = ZOID_CALL,
                             .plugin = ZPOSIX_ZOID_PLUGIN_ID,
                             .function = ZPOSIX_ZOID_FN_ZP_PWRITE,
                             .call = 1u << 30,
                             .length = (uint32_t)(HEAD + n)};
    zoid_header_encode(&zh, hdr);
    struct zoid_writer w;
    zoid_writer_init(&w, head, sizeof(head));
    zoid_put_int(&w, h, sizeof(int));
    zoid_put_uint(&w, n, sizeof(size_t));
    zoid_put_int(&w, off, sizeof(int64_t));
    unsigned char *b = pattern(first, seed);
    bool ok = write(s, hdr, sizeof(hdr)) == sizeof(hdr) && write(s, head, HEAD) == HEAD &&
              write(s, b, first) == (ssize_t)first;
    free(b);
    return ok ? s : -1;
}

/* A client that stops half way through a write's bytes: another client's writes and calls go
 * on meanwhile (each under 5 s, far from the stalled one's 30), and the stopped one's going
 * leaves the daemon whole. */
static void test_stalled(int h)
{
    struct zoid_client *hc;
    int s = begin_frame(&hc, h, 4u << 20, 0, 100u << 10, 11);
    CHECK(s >= 0, "a hand-made frame could not be begun");
    unsigned char *b = pattern(1u << 20, 12);
    double worst = 0;
    for (int i = 0; i < 20; i++) {
        double t0 = now_s();
        ssize_t w = zp_pwrite(h, b, 1u << 20, (int64_t)(8u << 20));
        double dt = now_s() - t0;
        worst = dt > worst ? dt : worst;
        CHECK(w == 1 << 20, "a write beside a stalled client: %zd (%s)", w, strerror(errno));
    }
    /* A bound far from the stalled one's 30 s (what a write waiting for it would take), and far
     * above a loaded machine's 1 MiB write. */
    CHECK(worst < 5.0, "a write beside a stalled client took %.3f s", worst);
    file_has(__LINE__, "s.dat", 8u << 20, 1u << 20, 8u << 20, 12);
    zoid_close(hc); /* closes s: the daemon drops it mid-frame */
    ssize_t w = zp_pwrite(h, b, 1u << 20, 0);
    CHECK(w == 1 << 20, "a write after the stalled client went: %zd (%s)", w, strerror(errno));
    free(b);
}

/* Whether the daemon ends the connection of socket s within secs (a blocking read: the
 * library's socket is non-blocking). */
static bool dropped(int s, int secs)
{
    struct timeval tv = {secs, 0};
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[256];
    ssize_t r;
    while ((r = read(s, buf, sizeof(buf))) > 0)
        ;
    return r == 0 || errno == ECONNRESET;
}

/* unix: a second process writes into the middle of a frame on the same socket: its bytes never
 * reach the file (the connection is dropped as "a frame from two senders"). */
static void test_two_senders(int h)
{
    struct zoid_client *hc;
    int s = begin_frame(&hc, h, 2u << 20, 0, 256u << 10, 13);
    CHECK(s >= 0, "a hand-made frame could not be begun");
    if (s < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        unsigned char *b = malloc(1u << 20);
        memset(b, 0xee, 1u << 20);
        ssize_t w = 0;
        for (int i = 0; i < 2 && w >= 0; i++)
            w = write(s, b, 1u << 20);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    /* The daemon drops the connection: the socket ends. */
    CHECK(dropped(s, 10), "the connection was not dropped: %s", strerror(errno));
    zoid_close(hc);
    /* A run of 64 of the other process's bytes (the pattern never has one). */
    unsigned char *f = malloc(2u << 20);
    int fd = open(local("s.dat"), O_RDONLY);
    ssize_t n = fd < 0 ? -1 : pread(fd, f, 2u << 20, 0);
    close(fd);
    CHECK(n > 0, "s.dat could not be read back");
    for (ssize_t i = 0, run = 0; i < n; i++) {
        run = f[i] == 0xee ? run + 1 : 0;
        if (run == 64) {
            fail(__LINE__, "another process's bytes reached the file at %zd", i - 63);
            break;
        }
    }
    free(f);
}

/* The test plugin's digest_slow (zoid_test_plugin.c): holds the daemon's one thread. */
#define TEST_PLUGIN 4242
#define DIGEST_SLOW 6
#define SLOW_MS     2500u

/* Whether a thread of the daemon (pid in $ZOID_QUEUE_PID) sleeps in (clock_)nanosleep now: the
 * slow call has the daemon's one thread (/proc/PID/task/T/syscall; root reads it). */
static bool slow_call_running(void)
{
    const char *pid = getenv("ZOID_QUEUE_PID");
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%s/task", pid ? pid : "0");
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        char path[384];
        long nr = -1;
        snprintf(path, sizeof(path), "%s/%s/syscall", dir, e->d_name);
        FILE *f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
        if (f && fscanf(f, "%ld", &nr) != 1)
            nr = -1;
        if (f)
            fclose(f);
        found = nr == SYS_nanosleep || nr == SYS_clock_nanosleep;
    }
    if (d)
        closedir(d);
    return found;
}

static void test_queued(int h)
{
    unsigned char *b = pattern(1u << 20, 14);
    double waited = 0;
    /* The write goes once the slow call is seen running (else the daemon could take the write
     * first: it did, in an ASan build); if it still did not wait, again. */
    for (int attempt = 0; attempt < 3 && waited < 1.5; attempt++) {
        struct zoid_client *slow = connect_or_die();
        uint32_t ms = SLOW_MS;
        unsigned char req[sizeof(ms) + 16] = {0}, rep[16];
        memcpy(req, &ms, sizeof(ms));
        struct iovec rq = {req, sizeof(req)}, rp = {rep, sizeof(rep)};
        struct zoid_call_handle *hd = NULL;
        int rc = zoid_call_begin(slow, TEST_PLUGIN, DIGEST_SLOW, &rq, 1, &rp, 1, 0, &hd);
        CHECK(rc == 0, "the slow call: %s", zoid_strerror(rc));
        for (double t = now_s(); !slow_call_running() && now_s() - t < 0.5;) {
            struct timespec tick = {0, 1000000};
            nanosleep(&tick, NULL); /* polling /proc: nothing to wait on */
        }
        double t0 = now_s();
        ssize_t w = zp_pwrite(h, b, 1u << 20, 0);
        waited = now_s() - t0;
        CHECK(w == 1 << 20, "a write queued %.1f s behind a slow call: %zd (%s)", waited, w,
              strerror(errno));
        size_t got = 0;
        rc = hd ? zoid_call_end(hd, &got) : rc;
        CHECK(rc == 0, "the slow call's reply: %s", zoid_strerror(rc));
        zoid_close(slow);
    }
    CHECK(waited >= 1.5, "the write never waited behind the slow call (%.2f s): nothing tested",
          waited);
    file_has(__LINE__, "s.dat", 0, 1u << 20, 0, 14);
    free(b);

    /* A frame stopped half way: dropped once the bound (1 s) passes, at the next sweep. */
    struct zoid_client *hc;
    int s = begin_frame(&hc, h, 4u << 20, 0, 100u << 10, 15);
    CHECK(s >= 0, "a hand-made frame could not be begun");
    if (s < 0)
        return;
    double t0 = now_s();
    bool gone = dropped(s, 20);
    double dt = now_s() - t0;
    CHECK(gone, "a stalled frame was not dropped: %s", strerror(errno));
    CHECK(dt < 10, "a stalled frame was dropped after %.1f s (--stall-timeout 1s)", dt);
    zoid_close(hc);
}

int main(int argc, char **argv)
{
    if (argc != 4 ||
        (strcmp(argv[3], "spliced") && strcmp(argv[3], "copied") && strcmp(argv[3], "queued"))) {
        fprintf(stderr, "usage: test_zoid_splice_write ADDR EXPORT spliced|copied|queued\n");
        return 2;
    }
    addr = argv[1];
    export_dir = argv[2];
    expect_spliced = !strcmp(argv[3], "spliced");
    signal(SIGPIPE, SIG_IGN);
    struct zoid_client *c = main_client = connect_or_die();
    zposix_zoid_use(c);
    if (zp_session_new(ZP_VERSION, &sid, secret, sizeof(secret)) < 0) {
        fprintf(stderr, "session: %s\n", strerror(errno));
        return 1;
    }
    bool queued = !strcmp(argv[3], "queued");
    if (!queued) {
        test_shapes();
        test_relaxed();
        test_refused(c);
    }
    int h = zp_openat(ZP_ROOT, "s.dat", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(h >= 0, "open s.dat: %s", strerror(errno));
    if (h >= 0 && queued) {
        test_queued(h);
    } else if (h >= 0 && !strncmp(addr, "shm:", 4)) {
        /* shm: frames are not hand-made on its socket */
    } else if (h >= 0) {
        test_stalled(h);
        if (!strncmp(addr, "unix:", 5))
            test_two_senders(h);
    }
    if (failures)
        fprintf(stderr, "%s: %d failures\n", addr, failures);
    else
        printf("%s: writes %s: ok\n", addr, argv[3]);
    return failures ? 1 : 0;
}
