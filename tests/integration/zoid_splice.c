/*
 * Reads the daemon sends straight from the file's pages (zoid_reply_file, splice) through the
 * posix plugin's generated client stubs: the bytes of reads of every shape (unaligned, larger
 * than the 1 MiB one reply takes from a file, short at the end, past it, at the file position)
 * are the file's, and the counter says whether they were spliced; clients killed while their
 * spliced reply is on its way leave nothing behind for the calls after them; a file truncated
 * and regrown under reads never gives a reply of the wrong length.
 *
 * usage: test_zoid_splice ADDR EXPORT spliced|copied
 * (zoid_splice.sh starts the daemons: unix and tcp splice, shm and ZOID_POSIX_SPLICE=0 copy.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ZD_FILE "zoid_splice.c"
#include "zoid_driver.h"
#include "zepto/zoid.h"
#include "zepto/zoid_codec.h"
#include "zposix.h"
#include "zposix_client.h"

#define SIZE ((3u << 20) + 777) /* three replies' worth from the file, and a tail */

static bool expect_spliced;
static uint64_t sid;
static uint8_t secret[ZP_SECRET_BYTES];

static unsigned char byte_at(uint64_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

static void make_file(const char *rel, size_t size)
{
    unsigned char *b = malloc(size);
    for (size_t i = 0; i < size; i++)
        b[i] = byte_at(i);
    int fd = open(local(rel), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, b, size) != (ssize_t)size) {
        perror(rel);
        exit(1);
    }
    close(fd);
    free(b);
}

/* One read through the daemon, checked against the file's bytes. */
static void read_check(int line, int h, uint64_t off, size_t n)
{
    unsigned char *b = malloc(n ? n : 1);
    memset(b, 0xa5, n);
    ssize_t r = zp_pread(h, b, n, (int64_t)off);
    size_t want = off >= SIZE ? 0 : SIZE - off < n ? SIZE - off : n;
    if (r != (ssize_t)want) {
        fail(line, "pread(%zu at %llu): %zd (%s), expected %zu", n, (unsigned long long)off, r,
             r < 0 ? strerror(errno) : "-", want);
    } else {
        for (size_t i = 0; i < want; i++)
            if (b[i] != byte_at(off + i)) {
                fail(line, "pread(%zu at %llu): byte %zu is %#x, not %#x", n,
                     (unsigned long long)off, i, b[i], byte_at(off + i));
                break;
            }
    }
    free(b);
}

static void test_shapes(int h)
{
    uint64_t spliced = counter(ZPC_read_spliced_bytes);
    read_check(__LINE__, h, 0, 64u << 10);           /* the smallest spliced */
    read_check(__LINE__, h, 1, 1u << 20);            /* unaligned: 257 pages for 256 */
    read_check(__LINE__, h, 4093, (3u << 20) - 5);   /* more than one reply takes */
    read_check(__LINE__, h, SIZE - 100, 1u << 20);   /* short at the end */
    read_check(__LINE__, h, SIZE, 1u << 20);         /* at the end */
    read_check(__LINE__, h, SIZE + 12345, 1u << 20); /* past it */
    read_check(__LINE__, h, 8192, 4096);             /* small: copied */
    read_check(__LINE__, h, 777, (64u << 10) - 1);   /* just below the size spliced */

    /* At the file position: it advances by what each read returned, spliced or not. */
    if (zp_lseek(h, 12345, SEEK_SET) != 12345)
        fail(__LINE__, "lseek: %s", strerror(errno));
    unsigned char *b = malloc(2u << 20);
    uint64_t pos = 12345;
    for (int i = 0; i < 3; i++) {
        ssize_t r = zp_pread(h, b, 2u << 20, ZP_CUR);
        size_t want = SIZE - pos < (2u << 20) ? SIZE - pos : 2u << 20;
        CHECK(r == (ssize_t)want, "read at the position %llu: %zd, expected %zu",
              (unsigned long long)pos, r, want);
        if (r != (ssize_t)want)
            break;
        for (size_t k = 0; k < want; k++)
            if (b[k] != byte_at(pos + k)) {
                fail(__LINE__, "read at the position %llu: byte %zu wrong", (unsigned long long)pos,
                     k);
                break;
            }
        pos += want;
    }
    free(b);
    int64_t at = zp_lseek(h, 0, SEEK_CUR);
    CHECK(at == SIZE, "position %lld after reading to the end, expected %u", (long long)at, SIZE);

    uint64_t moved = counter(ZPC_read_spliced_bytes) - spliced;
    if (expect_spliced)
        CHECK(moved >= (4u << 20), "only %llu bytes spliced, expected the large reads' >= 4 MiB",
              (unsigned long long)moved);
    else
        CHECK(moved == 0, "%llu bytes spliced where the client's transport cannot take them so",
              (unsigned long long)moved);
}

/* A child that begins a read of 16 MiB + 4 KiB (a reply that cannot fit in its socket's buffer,
 * and too large to be shared: never coalesced with another client's) and stops before reading it;
 * killed once the daemon has spliced its first 1 MiB. Its reply's bytes left in the daemon thread's
 * pipe must not go to anyone else. */
static void kill_mid_reply(const char *rel)
{
    uint64_t before = counter(ZPC_read_spliced_bytes);
    pid_t pid = fork();
    if (pid == 0) {
        struct zoid_client *c = connect_or_die();
        zposix_zoid_use(c);
        if (zp_session_attach(sid, secret, sizeof(secret)) < 0)
            _exit(3);
        int h = zp_openat(ZP_ROOT, rel, O_RDONLY, 0);
        if (h < 0)
            _exit(4);
        unsigned char req[sizeof(int) + sizeof(size_t) + sizeof(int64_t)];
        struct zoid_writer w;
        zoid_writer_init(&w, req, sizeof(req));
        zoid_put_int(&w, h, sizeof(int));
        zoid_put_uint(&w, (16u << 20) + 4096, sizeof(size_t));
        zoid_put_int(&w, 0, sizeof(int64_t));
        static unsigned char rep[(16u << 20) + 4096 + 64];
        struct iovec rq = {req, sizeof(req)}, rp = {rep, sizeof(rep)};
        struct zoid_call_handle *ch;
        if (zoid_call_begin(c, ZPOSIX_ZOID_PLUGIN_ID, ZPOSIX_ZOID_FN_ZP_PREAD, &rq, 1, &rp, 1, 0,
                            &ch))
            _exit(5);
        raise(SIGSTOP);
        _exit(6); /* never resumed */
    }
    int st;
    if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) {
        fail(__LINE__, "the reading child did not stop: status %#x", st);
        return;
    }
    /* The daemon has the request: wait until its first 1 MiB is in the pipe (10 s at most). */
    struct timespec t0, now, nap = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool seen = false;
    do {
        seen = counter(ZPC_read_spliced_bytes) - before >= (1u << 20);
        if (!seen)
            nanosleep(&nap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!seen && now.tv_sec - t0.tv_sec < 10);
    CHECK(seen, "the daemon spliced nothing for a stopped client's 16 MiB read in 10 s");
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

struct reader {
    int h;
    unsigned seed;
};

static void *verify_reads(void *arg)
{
    struct reader *r = arg;
    for (int i = 0; i < 40; i++) {
        uint64_t off = (uint64_t)(rand_r(&r->seed) % SIZE);
        size_t n = (64u << 10) + (size_t)(rand_r(&r->seed) % (1u << 20));
        read_check(__LINE__, r->h, off, n);
    }
    return NULL;
}

/* After replies cut short, every daemon thread's next spliced reply is right: four threads of
 * reads at once, so that each of the daemon's threads serves some. */
static void test_cut_replies(int h)
{
    make_file("big.dat", 16u << 20);
    for (int i = 0; i < 6; i++)
        kill_mid_reply("big.dat");
    pthread_t t[4];
    struct reader rd[4];
    for (int i = 0; i < 4; i++) {
        rd[i] = (struct reader){h, 7u + (unsigned)i};
        pthread_create(&t[i], NULL, verify_reads, &rd[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

static atomic_bool stop_truncating;

static void *truncate_loop(void *arg)
{
    (void)arg;
    int fd = open(local("moving.dat"), O_WRONLY);
    unsigned seed = 99;
    static unsigned char block[1u << 16];
    memset(block, 0x3c, sizeof(block));
    while (!atomic_load(&stop_truncating)) {
        off_t len = (off_t)(rand_r(&seed) % (2u << 20));
        if (ftruncate(fd, len) || pwrite(fd, block, sizeof(block), len) < 0)
            break;
    }
    close(fd);
    return NULL;
}

/* A file that shrinks and grows under spliced reads: every reply is as long as its header says
 * (the stub refuses anything else with EPROTO), no read returns more than asked. */
static void test_moving_file(void)
{
    make_file("moving.dat", 2u << 20);
    int h = zp_openat(ZP_ROOT, "moving.dat", O_RDONLY, 0);
    CHECK(h >= 0, "open moving.dat: %s", strerror(errno));
    if (h < 0)
        return;
    pthread_t t;
    pthread_create(&t, NULL, truncate_loop, NULL);
    unsigned char *b = malloc(1u << 20);
    unsigned seed = 5;
    for (int i = 0; i < 300; i++) {
        uint64_t off = (uint64_t)(rand_r(&seed) % (2u << 20));
        ssize_t r = zp_pread(h, b, 1u << 20, (int64_t)off);
        if (r < 0 || r > (1 << 20)) {
            fail(__LINE__, "pread of a moving file: %zd (%s)", r, r < 0 ? strerror(errno) : "-");
            break;
        }
    }
    atomic_store(&stop_truncating, true);
    pthread_join(t, NULL);
    free(b);
    zp_close(h);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "spliced") && strcmp(argv[3], "copied"))) {
        fprintf(stderr, "usage: test_zoid_splice ADDR EXPORT spliced|copied\n");
        return 2;
    }
    addr = argv[1];
    export_dir = argv[2];
    expect_spliced = !strcmp(argv[3], "spliced");
    signal(SIGPIPE, SIG_IGN);
    zposix_zoid_use(connect_or_die());
    if (zp_session_new(ZP_VERSION, &sid, secret, sizeof(secret)) < 0) {
        fprintf(stderr, "session: %s\n", strerror(errno));
        return 1;
    }
    make_file("splice.dat", SIZE);
    int h = zp_openat(ZP_ROOT, "splice.dat", O_RDONLY, 0);
    if (h < 0) {
        fprintf(stderr, "open splice.dat: %s\n", strerror(errno));
        return 1;
    }
    test_shapes(h);
    if (expect_spliced)
        test_cut_replies(h);
    test_moving_file();
    if (failures)
        fprintf(stderr, "%s: %d failures\n", addr, failures);
    else
        printf("%s: reads %s: ok\n", addr, argv[3]);
    return failures ? 1 : 0;
}
