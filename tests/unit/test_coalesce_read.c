/*
 * Read coalescing's table (src/zoid/posix/coalesce_read.c) on its own: a read gets the file's
 * bytes, a second read of the same range is served from what the first left (retained), a change
 * through the daemon (zpc_invalidate) ends that, and the cost of a read does not grow with the
 * entries a sequential reader leaves behind (a walk over them made 4 KiB reads ~30x slower).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "zoid/posix/coalesce.h"

/* What coalesce_stat.c gives the daemon. */
struct zpc_config zpc_cfg = {.reads = true, .writes = true, .window_us = 200, .retain_ms = 1000};
_Atomic uint64_t zpc_count[ZPC_NCOUNTERS];
_Atomic unsigned zpc_lent_files; /* coalesce_meta.c's */

/* The daemon's, for calls this test does not make (it reads with no call: nothing spliced). */
void **zoid_call_client_state(struct zoid_call *call)
{
    (void)call;
    return NULL;
}

ssize_t zoid_reply_file(struct zoid_call *call, void *region, int fd, int64_t off, size_t n)
{
    (void)call, (void)region, (void)fd, (void)off, (void)n;
    return -EOPNOTSUPP;
}

uint64_t zpc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A scratch file of size bytes, each 4 KiB block filled with its index; opened as a zp_file. */
static struct zp_file open_scratch(size_t size)
{
    char path[] = "/dev/shm/zepto-coalesce-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        char tpath[] = "/tmp/zepto-coalesce-XXXXXX";
        memcpy(path, tpath, sizeof(tpath));
        fd = mkstemp(path);
    }
    assert_true(fd >= 0);
    unlink(path);
    unsigned char block[4096];
    for (size_t b = 0; b < size / sizeof(block); b++) {
        memset(block, (int)(b & 0xff), sizeof(block));
        assert_int_equal(pwrite(fd, block, sizeof(block), (off_t)(b * sizeof(block))),
                         sizeof(block));
    }
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    struct zp_file f = {.fd = fd, .dev = st.st_dev, .ino = st.st_ino, .reg = true};
    atomic_store(&f.flags, O_RDWR);
    return f;
}

static void reads_retains_invalidates(void **state)
{
    (void)state;
    struct zp_file f = open_scratch(64 << 10);
    unsigned char buf[4096];
    assert_int_equal(zpc_pread(NULL, &f, buf, sizeof(buf), 8192), sizeof(buf));
    assert_int_equal(buf[0], 2);
    assert_int_equal(buf[4095], 2);
    uint64_t retained = atomic_load(&zpc_count[ZPC_read_retained]);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(zpc_pread(NULL, &f, buf, sizeof(buf), 8192), sizeof(buf));
    assert_int_equal(buf[100], 2);
    assert_int_equal(atomic_load(&zpc_count[ZPC_read_retained]), retained + 1);

    /* A write through the daemon: the range is read again, and shows the new bytes. */
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(pwrite(f.fd, buf, 16, 8192), 16);
    zpc_invalidate(f.dev, f.ino);
    uint64_t backend = atomic_load(&zpc_count[ZPC_read_backend_ops]);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(zpc_pread(NULL, &f, buf, sizeof(buf), 8192), sizeof(buf));
    assert_int_equal(buf[0], 0x77);
    assert_int_equal(buf[16], 2);
    assert_int_equal(atomic_load(&zpc_count[ZPC_read_backend_ops]), backend + 1);
    close(f.fd);
}

static double now_s(void)
{
    return (double)zpc_now_ns() / 1e9;
}

/* Seconds for reads [from, to) of 4 KiB at their offsets. */
static double read_blocks(struct zp_file *f, size_t from, size_t to)
{
    unsigned char buf[4096];
    double t0 = now_s();
    for (size_t b = from; b < to; b++) {
        assert_int_equal(zpc_pread(NULL, f, buf, sizeof(buf), (int64_t)(b * sizeof(buf))),
                         sizeof(buf));
        assert_int_equal(buf[0], b & 0xff);
    }
    return now_s() - t0;
}

/* A sequential reader of one file in 4 KiB blocks leaves an entry per block (retained 1 s, up to
 * the memory bound): the last reads of 16,384 must cost about what the first ones did. The
 * ratio is judged within one run, the best of three (a busy machine slows both ends alike). */
static void cost_does_not_grow(void **state)
{
    (void)state;
    enum { BLOCKS = 16384, PART = 2048 };
    double best = 1e9;
    for (int attempt = 0; attempt < 3 && best >= 3; attempt++) {
        struct zp_file f = open_scratch((size_t)BLOCKS * 4096);
        double first = read_blocks(&f, 0, PART);
        read_blocks(&f, PART, BLOCKS - PART);
        double last = read_blocks(&f, BLOCKS - PART, BLOCKS);
        double ratio = last / (first > 1e-6 ? first : 1e-6);
        printf("first %d reads %.1f ms, last %d %.1f ms: %.2fx\n", PART, first * 1e3, PART,
               last * 1e3, ratio);
        if (ratio < best)
            best = ratio;
        zpc_invalidate(f.dev, f.ino);
        close(f.fd);
    }
    assert_true(best < 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_retains_invalidates),
        cmocka_unit_test(cost_does_not_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
