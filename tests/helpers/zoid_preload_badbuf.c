/*
 * Bad buffers handed to forwarded calls (run under `zepto zoid run`; built without the
 * sanitizers, as the interposer goes first): every call the kernel would answer EFAULT is EFAULT
 * here too (or, on a descriptor the daemon lent, the kernel's own short count), the program does
 * not crash, and the descriptor (and the library's connection) keeps working for the next call.
 *
 *   zoid_preload_badbuf DIR    DIR is a forwarded directory; exit 0 when all held, 1 otherwise
 *
 * Socket calls with an address that cannot be read are EFAULT too. The buffers: an address in the
 * first page, a PROT_NONE page, a read-only page (for calls that write into it), a buffer running
 * off the end of its mapping, and large ones (2 MiB, the size that goes by reference or splices)
 * with an unmapped or PROT_NONE last page.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096u
#define BIG  (2u << 20)

static int bad;

static void check(int ok, const char *what, const char *buf_name, size_t n)
{
    if (!ok) {
        fprintf(stderr, "FAIL: %s with %s (%zu bytes): errno %d (%s)\n", what, buf_name, n, errno,
                strerror(errno));
        bad = 1;
    }
}

struct badbuf {
    const char *name;
    char *p;
    size_t n;
    int for_reads_only; /* readable, not writable: bad only for calls that write into it */
    int bad_at_start;   /* its first bytes are bad (a stat buffer is only its first bytes) */
};

/* A good write and read at offset 0 of fd: the descriptor and the connection still work. */
static void still_works(int fd, const char *after)
{
    char got[8] = {0};
    errno = 0;
    int ok =
        pwrite(fd, "alive", 5, 0) == 5 && pread(fd, got, 5, 0) == 5 && !memcmp(got, "alive", 5);
    if (!ok) {
        fprintf(stderr, "FAIL: the descriptor stopped working after %s: errno %d (%s)\n", after,
                errno, strerror(errno));
        bad = 1;
    }
}

#define EXPECT_EFAULT(expr, what, b)                                                               \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(expr);                                                                    \
        check(r_ == -1 && errno == EFAULT, what " is EFAULT", (b)->name, (b)->n);                  \
        still_works(fd, what);                                                                     \
    } while (0)

/* A read or write: EFAULT, or (a descriptor the daemon lent: the kernel's own answer) a short
 * count, of the good bytes before the bad ones. */
#define EXPECT_SHORT(expr, what, b, whole)                                                         \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(expr);                                                                    \
        check((r_ == -1 && errno == EFAULT) || (r_ >= 0 && (size_t)r_ < (whole)),                  \
              what " is EFAULT or short", (b)->name, (b)->n);                                      \
        still_works(fd, what);                                                                     \
    } while (0)

static void data_calls(int fd, int dirfd, const char *link, const struct badbuf *b)
{
    struct iovec v[2] = {{(void *)"ab", 2}, {b->p, b->n}};
    if (!b->for_reads_only) {
        EXPECT_SHORT(write(fd, b->p, b->n), "write", b, b->n);
        EXPECT_SHORT(pwrite(fd, b->p, b->n, 4096), "pwrite", b, b->n);
        EXPECT_SHORT(writev(fd, v, 2), "writev", b, b->n + 2);
        EXPECT_SHORT(pwritev(fd, v, 2, 8192), "pwritev", b, b->n + 2);
    }
    /* Something to read: reads of a file's end would move nothing and need no buffer. */
    static char filler[BIG + 4096];
    memset(filler, 'f', sizeof(filler));
    if (pwrite(fd, filler, sizeof(filler), 0) != (ssize_t)sizeof(filler) || lseek(fd, 0, SEEK_SET))
        check(0, "filling the file to read", "big", BIG + 4096);
    EXPECT_SHORT(read(fd, b->p, b->n), "read", b, b->n);
    EXPECT_SHORT(pread(fd, b->p, b->n, 0), "pread", b, b->n);
    EXPECT_SHORT(readv(fd, v, 2), "readv", b, b->n + 2);
    if (ftruncate(fd, 5))
        check(0, "ftruncate", "fd", 5);
    if (b->n >= sizeof(struct stat) && b->bad_at_start) {
        EXPECT_EFAULT(fstat(fd, (struct stat *)(void *)b->p), "fstat", b);
        EXPECT_EFAULT(fstatfs(fd, (struct statfs *)(void *)b->p), "fstatfs", b);
        EXPECT_EFAULT(fstatvfs(fd, (struct statvfs *)(void *)b->p), "fstatvfs", b);
        EXPECT_EFAULT(getdents64(dirfd, b->p, b->n), "getdents64", b);
        EXPECT_EFAULT(readlink(link, b->p, b->n), "readlink", b);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: zoid_preload_badbuf DIR\n");
        return 2;
    }
    char path[4096], link[4096];
    snprintf(path, sizeof(path), "%s/badbuf.dat", argv[1]);
    snprintf(link, sizeof(link), "%s/badbuf.lnk", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int dirfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    unlink(link);
    if (fd < 0 || dirfd < 0 || symlink("badbuf.dat", link)) {
        perror(argv[1]);
        return 1;
    }

    /* Three pages: read-write, PROT_NONE, read-only; then a big buffer whose last page is
     * PROT_NONE, and one whose last page is unmapped. */
    char *m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *big = mmap(NULL, 2 * BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || big == MAP_FAILED)
        return 1;
    memset(m, 'm', 3 * PAGE);
    memset(big, 'b', 2 * BIG);
    mprotect(m + PAGE, PAGE, PROT_NONE);
    mprotect(m + 2 * PAGE, PAGE, PROT_READ);
    mprotect(big + BIG - PAGE, PAGE, PROT_NONE);
    munmap(big + 2 * BIG - PAGE, PAGE);
    const struct badbuf bufs[] = {
        {"an address in page 0", (char *)(uintptr_t)16, 10, 0, 1},
        {"a PROT_NONE page", m + PAGE, 200, 0, 1},
        {"a read-only page", m + 2 * PAGE, 200, 1, 1},
        {"a buffer running into a PROT_NONE page", m + PAGE - 50, 100, 0, 0},
        {"a buffer running into a PROT_NONE page", big + BIG - PAGE + 50 - 100000, 100000, 0, 0},
        {"a big buffer ending in a PROT_NONE page", big, BIG, 0, 0},
        {"a big buffer ending in an unmapped page", big + BIG, BIG, 0, 0},
    };
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        data_calls(fd, dirfd, link, &bufs[i]);

    /* A count larger than the buffer, of a file shorter than the buffer: the kernel copies the
     * file's bytes and never reaches the bad page, and so must zoid (a program that works
     * locally must not get EFAULT). The same for a write of the buffer's good part. */
    char *tail = m + PAGE - 100; /* 100 good bytes, then the PROT_NONE page */
    memset(tail, 'z', 100);
    check(ftruncate(fd, 0) == 0 && pwrite(fd, "0123456789", 10, 0) == 10, "a 10-byte file", "fd",
          10);
    errno = 0;
    ssize_t got10 = pread(fd, tail, 1u << 20, 0);
    check(got10 == 10 && !memcmp(tail, "0123456789", 10),
          "a 1 MiB read of a 10-byte file into 100 good bytes gives the 10", "tail", 100);
    errno = 0;
    ssize_t put = pwrite(fd, tail + 90, 1000, 0);
    check(put == 10 || (put == -1 && errno == EFAULT),
          "a 1000-byte write of 10 good bytes writes those 10 (or is EFAULT)", "tail", 1000);
    still_works(fd, "the short read and write");
    check(ftruncate(fd, 5) == 0, "ftruncate", "fd", 5);

    /* A lock description that cannot be read (or, F_GETLK, written). */
    const struct badbuf lb = {"a struct flock in a PROT_NONE page", m + PAGE, 32, 0, 1};
    EXPECT_EFAULT(fcntl(fd, F_SETLK, (struct flock *)(void *)lb.p), "fcntl F_SETLK", &lb);
    EXPECT_EFAULT(fcntl(fd, F_GETLK, (struct flock *)(void *)lb.p), "fcntl F_GETLK", &lb);
    const struct badbuf rb = {"a struct flock in a read-only page", m + 2 * PAGE, 32, 1, 1};
    EXPECT_EFAULT(fcntl(fd, F_GETLK, (struct flock *)(void *)rb.p), "fcntl F_GETLK", &rb);

    /* Times and a vector that cannot be read. */
    const struct badbuf tb = {"times in a PROT_NONE page", m + PAGE, 32, 0, 1};
    EXPECT_EFAULT(futimens(fd, (const struct timespec *)(void *)tb.p), "futimens", &tb);
    const struct badbuf vb = {"an iovec array in a PROT_NONE page", m + PAGE, 2, 0, 1};
    EXPECT_EFAULT(writev(fd, (const struct iovec *)(void *)vb.p, 2), "writev", &vb);
    EXPECT_EFAULT(readv(fd, (const struct iovec *)(void *)vb.p, 2), "readv", &vb);

    /* The file is in step with what the program did. */
    struct stat st;
    char got[16] = {0};
    errno = 0;
    check(!fstat(fd, &st) && st.st_size == 5, "the file's size after ftruncate", "fstat",
          (size_t)st.st_size);
    check(pread(fd, got, sizeof(got), 0) == 5 && !memcmp(got, "alive", 5), "the file's bytes",
          "pread", 5);
    /* A good write from the good part of the big buffer goes whole. */
    check(pwrite(fd, big, BIG - PAGE, 0) == (ssize_t)(BIG - PAGE), "a big good pwrite", "big",
          BIG - PAGE);
    /* Socket addresses and messages the interposer looks at (for unix paths beneath the mount
     * and for --sockets): the kernel's EFAULT, not a crash. */
    int us = socket(AF_INET, SOCK_DGRAM, 0), ts = socket(AF_INET, SOCK_STREAM, 0);
    const struct badbuf ab = {"an address in a PROT_NONE page", m + PAGE, 16, 0, 1};
    EXPECT_EFAULT(connect(ts, (const struct sockaddr *)(void *)ab.p, 16), "connect", &ab);
    EXPECT_EFAULT(bind(us, (const struct sockaddr *)(void *)ab.p, 16), "bind", &ab);
    EXPECT_EFAULT(sendto(us, "x", 1, 0, (const struct sockaddr *)(void *)ab.p, 16), "sendto", &ab);
    EXPECT_EFAULT(sendmsg(us, (const struct msghdr *)(void *)ab.p, 0), "sendmsg", &ab);
    close(us);
    close(ts);
    check(close(fd) == 0, "close", "fd", 0);
    close(dirfd);
    unlink(link);
    if (!bad)
        printf("bad buffers: EFAULT, and the descriptor kept working\n");
    return bad;
}
