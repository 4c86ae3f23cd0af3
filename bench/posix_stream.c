/*
 * A file-throughput loop made only of pread/pwrite, for bench/zoid_posix.sh: the same measurement
 * as its fio jobs, in a program whose every call the interposer forwards (fio also uses calls it
 * may not: shared memory, fadvise, fallocate). Sequential or random (block-aligned offsets, an
 * xorshift sequence) reads or writes of BS-byte blocks within the first SIZE bytes of FILE, for
 * SECONDS; the file is created and extended to SIZE first when it is shorter. The time includes
 * the final close, so that writes a relaxed client still holds are counted only once they are
 * sent. Prints one JSON object.
 *
 * usage: bench_posix_stream read|write|randread|randwrite FILE BS SIZE SECONDS
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_posix_stream read|write|randread|randwrite FILE BS SIZE SECONDS\n"
                    "example: bench_posix_stream randwrite /mnt/io/f 4096 268435456 5\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 6)
        return usage();
    const char *mode = argv[1], *path = argv[2];
    int wr = strstr(mode, "write") != NULL, rnd = strncmp(mode, "rand", 4) == 0;
    if (strcmp(mode + (rnd ? 4 : 0), wr ? "write" : "read") != 0)
        return usage();
    char *end;
    unsigned long long bs = strtoull(argv[3], &end, 10), size;
    if (*end || bs == 0 || bs > (64u << 20))
        return usage();
    size = strtoull(argv[4], &end, 10);
    if (*end || size < bs)
        return usage();
    double secs = strtod(argv[5], &end);
    if (*end || secs <= 0)
        return usage();

    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        fprintf(stderr, "bench_posix_stream: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 ||
        ((unsigned long long)st.st_size < size && ftruncate(fd, (off_t)size) != 0)) {
        fprintf(stderr, "bench_posix_stream: sizing %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *buf = aligned_alloc(4096, (bs + 4095) / 4096 * 4096);
    if (!buf)
        return 1;
    memset(buf, 0x5a, bs);
    unsigned long long blocks = size / bs, off = 0, ops = 0;
    uint64_t x = 88172645463325252ull;
    double t0 = now(), deadline = t0 + secs, t;
    do {
        /* Check the clock every 16 blocks: cheap next to a forwarded call, fine-grained enough. */
        for (int i = 0; i < 16; i++) {
            if (rnd) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                off = (x % blocks) * bs;
            } else if (off + bs > size) {
                off = 0;
            }
            ssize_t n = wr ? pwrite(fd, buf, bs, (off_t)off) : pread(fd, buf, bs, (off_t)off);
            if (n != (ssize_t)bs) {
                fprintf(stderr, "bench_posix_stream: %s at %llu: %s\n", wr ? "pwrite" : "pread",
                        off, n < 0 ? strerror(errno) : "short");
                return 1;
            }
            ops++;
            if (!rnd)
                off += bs;
        }
        t = now();
    } while (t < deadline);
    if (close(fd) != 0) {
        fprintf(stderr, "bench_posix_stream: close: %s\n", strerror(errno));
        return 1;
    }
    t = now() - t0;
    printf("{\"mode\":\"%s\",\"bs\":%llu,\"ops\":%llu,\"seconds\":%.6f,\"bw_bytes\":%.0f,"
           "\"iops\":%.1f}\n",
           mode, bs, ops, t, (double)(ops * bs) / t, (double)ops / t);
    free(buf);
    return 0;
}
