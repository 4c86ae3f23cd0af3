/*
 * Checks of `zepto zoid mount` that the shell cannot make (tests/integration/zoid_fuse_*.sh):
 *
 *   zoid_fuse_check mmap MOUNTED_FILE EXPORT_FILE
 *       writes through a shared writable mapping of a file on the mount, then reads the file on
 *       the export (the daemon's side) and through a private mapping: all three agree.
 *   zoid_fuse_check raw FILE_ON_MOUNT_A FILE_ON_MOUNT_B
 *       strict read-after-write between two mounts (two clients), both files open all along:
 *       each write through A, of the same size at the same offset, is what B reads next.
 *   zoid_fuse_check locks FILE_ON_MOUNT_A FILE_ON_MOUNT_B
 *       record locks and flock taken through one mount conflict with the other's; a blocking
 *       lock waits until the other mount releases.
 *
 * Exit 0 when every check passed, 1 with a line per failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAP_BYTES (1u << 20)

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static int open_or_die(const char *path, int flags)
{
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        fprintf(stderr, "FAIL: open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

static int check_mmap(const char *mounted, const char *exported)
{
    int fd = open_or_die(mounted, O_RDWR | O_CREAT | O_TRUNC);
    CHECK(ftruncate(fd, MAP_BYTES) == 0, "ftruncate: %s", strerror(errno));
    unsigned char *m = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "FAIL: mmap MAP_SHARED of %s: %s\n", mounted, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < MAP_BYTES; i++)
        m[i] = (unsigned char)(i * 7 + i / 4096);
    CHECK(msync(m, MAP_BYTES, MS_SYNC) == 0, "msync: %s", strerror(errno));
    munmap(m, MAP_BYTES);
    close(fd);

    /* The daemon's copy. */
    unsigned char *buf = malloc(MAP_BYTES);
    int efd = open_or_die(exported, O_RDONLY);
    ssize_t n = pread(efd, buf, MAP_BYTES, 0);
    CHECK(n == (ssize_t)MAP_BYTES, "export read %zd bytes", n);
    size_t bad = 0;
    for (size_t i = 0; i < MAP_BYTES && n == (ssize_t)MAP_BYTES; i++)
        bad += buf[i] != (unsigned char)(i * 7 + i / 4096);
    CHECK(bad == 0, "%zu bytes differ on the export after msync", bad);
    close(efd);

    /* A private read-only mapping through the mount. */
    fd = open_or_die(mounted, O_RDONLY);
    m = mmap(NULL, MAP_BYTES, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(m != MAP_FAILED, "mmap MAP_PRIVATE: %s", strerror(errno));
    if (m != MAP_FAILED) {
        CHECK(memcmp(m, buf, MAP_BYTES) == 0, "the private mapping differs from the export");
        munmap(m, MAP_BYTES);
    }
    close(fd);
    free(buf);
    return failures ? 1 : 0;
}

static int check_raw(const char *a, const char *b)
{
    int fa = open_or_die(a, O_RDWR | O_CREAT | O_TRUNC);
    int fb = open_or_die(b, O_RDONLY);
    char w[4096], r[4096];
    for (int i = 0; i < 200 && !failures; i++) {
        memset(w, 'a' + i % 26, sizeof(w));
        snprintf(w, sizeof(w), "round %d", i);
        CHECK(pwrite(fa, w, sizeof(w), 0) == (ssize_t)sizeof(w), "pwrite: %s", strerror(errno));
        ssize_t n = pread(fb, r, sizeof(r), 0);
        CHECK(n == (ssize_t)sizeof(r) && memcmp(w, r, sizeof(r)) == 0,
              "round %d: B read %zd bytes starting '%.12s', A wrote '%.12s'", i, n, r, w);
    }
    /* A growing file: B sees the new end at once. */
    for (int i = 1; i <= 50 && !failures; i++) {
        CHECK(pwrite(fa, w, 100, (off_t)(4096 + 100 * i)) == 100, "pwrite: %s", strerror(errno));
        off_t end = lseek(fb, 0, SEEK_END);
        CHECK(end == 4196 + 100 * i, "append %d: B sees size %lld", i, (long long)end);
    }
    close(fa);
    close(fb);
    return failures ? 1 : 0;
}

struct waiter {
    int fd;
    int rc;
    struct timespec got;
};

static void *blocking_lock(void *arg)
{
    struct waiter *w = arg;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    w->rc = fcntl(w->fd, F_SETLKW, &fl);
    clock_gettime(CLOCK_MONOTONIC, &w->got);
    return NULL;
}

static int check_locks(const char *a, const char *b)
{
    int fa = open_or_die(a, O_RDWR | O_CREAT);
    int fb = open_or_die(b, O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    CHECK(fcntl(fa, F_SETLK, &fl) == 0, "A F_SETLK: %s", strerror(errno));
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
    errno = 0;
    CHECK(fcntl(fb, F_SETLK, &q) == -1 && (errno == EAGAIN || errno == EACCES),
          "B F_SETLK on A's range: %s", strerror(errno));
    q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
    CHECK(fcntl(fb, F_GETLK, &q) == 0 && q.l_type == F_WRLCK && q.l_start == 0 && q.l_len == 10,
          "B F_GETLK: type %d start %lld len %lld", q.l_type, (long long)q.l_start,
          (long long)q.l_len);
    q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 20, .l_len = 5};
    CHECK(fcntl(fb, F_SETLK, &q) == 0, "B F_SETLK on a free range: %s", strerror(errno));

    /* B waits for A's range; A releases after 200 ms. */
    struct waiter w = {.fd = fb, .rc = -2};
    pthread_t t;
    pthread_create(&t, NULL, blocking_lock, &w);
    struct timespec d = {0, 200 * 1000000}, rel;
    nanosleep(&d, NULL);
    clock_gettime(CLOCK_MONOTONIC, &rel);
    fl.l_type = F_UNLCK;
    CHECK(fcntl(fa, F_SETLK, &fl) == 0, "A unlock: %s", strerror(errno));
    pthread_join(t, NULL);
    CHECK(w.rc == 0, "B F_SETLKW: %s", strerror(errno));
    CHECK(w.got.tv_sec > rel.tv_sec || (w.got.tv_sec == rel.tv_sec && w.got.tv_nsec >= rel.tv_nsec),
          "B's blocking lock returned before A released");

    /* flock: whole-file locks between the mounts. */
    int ga = open_or_die(a, O_RDONLY), gb = open_or_die(b, O_RDONLY);
    CHECK(flock(ga, LOCK_EX | LOCK_NB) == 0, "A flock: %s", strerror(errno));
    errno = 0;
    CHECK(flock(gb, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK, "B flock while A holds: %s",
          strerror(errno));
    CHECK(flock(ga, LOCK_UN) == 0, "A flock unlock: %s", strerror(errno));
    CHECK(flock(gb, LOCK_SH | LOCK_NB) == 0, "B flock after A released: %s", strerror(errno));
    close(ga);
    close(gb);
    close(fa);
    close(fb);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "mmap"))
        return check_mmap(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "raw"))
        return check_raw(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "locks"))
        return check_locks(argv[2], argv[3]);
    fprintf(stderr, "usage: zoid_fuse_check mmap|raw|locks PATH PATH\n");
    return 2;
}
