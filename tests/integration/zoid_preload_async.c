/*
 * Driver of zoid_preload_async.sh, run under the interposer: read-ahead and write-behind
 * (issue 15) give the same results as local I/O.
 *
 *   zoid_preload_async mirror FWD LOCAL SEED  the same random mix of write (runs of small ones
 *                                            too), pwrite, read, pread, lseek, ftruncate,
 *                                            truncate, stat and dup'd
 *                                            descriptors on a forwarded file and a local one,
 *                                            every result and
 *                                            the final contents compared; exits 1 on the first
 *                                            difference (printed)
 *   zoid_preload_async fill FILE MIB          MIB blocks of 1 MiB written with write(), then
 *                                            fsync and close: prints "write N: ERR", "fsync: ERR"
 *                                            or "close: ERR" for the first failure, or "ok"
 *   zoid_preload_async smallstat FILE OUT    copies FILE to OUT in 4 KiB reads, with a stat, an
 *                                            open and a mkdir beside FILE every 20 reads
 *   zoid_preload_async behind FILE DIR [noclose]  opens FILE, writes 256 KiB, creates
 *                                            DIR/open, waits for DIR/go, writes 512 KiB, creates
 *                                            DIR/written, closes FILE (or exits without)
 *   zoid_preload_async endless FILE           1 MiB blocks written with write() over the first
 *                                            16 MiB of FILE again and again until one fails:
 *                                            prints "write N: ERR" (or "close: ERR") and exits 0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB    (1u << 20)
#define FMAX   (12u * MIB)  /* the files stay below this */
#define BEHIND (256u << 10) /* a write-behind block (larger ones are sent at once, split) */

static uint64_t rs;
static uint64_t rnd(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

static size_t pick_size(void)
{
    static const size_t sizes[] = {1000, 4096, 65536, 300000, MIB, 3 * MIB + 17};
    return sizes[rnd() % (sizeof(sizes) / sizeof(sizes[0]))];
}

static int fail(int step, const char *what, long long a, long long b)
{
    printf("step %d: %s: forwarded %lld, local %lld\n", step, what, a, b);
    return 1;
}

static int mirror(const char *fwd, const char *loc, uint64_t seed)
{
    rs = seed | 1;
    int f[2], l[2];
    f[0] = open(fwd, O_RDWR | O_CREAT | O_TRUNC, 0644);
    l[0] = open(loc, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (f[0] < 0 || l[0] < 0) {
        perror("open");
        return 1;
    }
    f[1] = dup(f[0]);
    l[1] = dup(l[0]);
    char *wbuf = malloc(4 * MIB), *fb = malloc(4 * MIB), *lb = malloc(4 * MIB);
    if (!wbuf || !fb || !lb || f[1] < 0 || l[1] < 0)
        return 1;
    int64_t seq = 0; /* a running offset, so that runs of sequential calls happen */
    for (int step = 0; step < 400; step++) {
        int d = (int)(rnd() % 8 == 0); /* now and then through the dup */
        size_t n = pick_size();
        int64_t off = (int64_t)(rnd() % (FMAX - 4 * MIB));
        if (rnd() % 3)
            off = seq; /* sequential */
        int op = (int)(rnd() % 14);
        ssize_t rf, rl;
        if (op == 13) { /* small writes at the position, past a write-behind buffer (1 MiB) */
            size_t len = rnd() % 2 ? 4096 : 1000;
            int k = (int)(1300000 / len) + (int)(rnd() % 300);
            for (int i = 0; i < k; i++) {
                for (size_t j = 0; j < len; j++)
                    wbuf[j] = (char)(rnd() >> 24);
                rf = write(f[d], wbuf, len);
                rl = write(l[d], wbuf, len);
                if (rf != rl)
                    return fail(step, "write in a run of small ones", rf, rl);
            }
            continue;
        }
        if (op == 12) { /* small pwrites at several places, some following the last (pieces) */
            int64_t at = off;
            for (int i = 0; i < 40; i++) {
                size_t len = rnd() % 2 ? 4096 : 1000;
                if (rnd() % 2)
                    at = (int64_t)(rnd() % (FMAX - 4 * MIB));
                for (size_t k = 0; k < len; k++)
                    wbuf[k] = (char)(rnd() >> 24);
                rf = pwrite(f[d], wbuf, len, at);
                rl = pwrite(l[d], wbuf, len, at);
                if (rf != rl)
                    return fail(step, "pwrite of a piece", rf, rl);
                at += (int64_t)len;
            }
            continue;
        }
        if (op >= 10) { /* a run of sequential reads (read-ahead), a write ahead of it at times */
            bool at_pos = op == 10;
            static const size_t run_sizes[] = {MIB, 65536 * 3, 4096, 1000};
            size_t bs = run_sizes[rnd() % 4]; /* small ones are read ahead in larger blocks */
            int k = 3 + (int)(rnd() % 6), wr_at = (int)(rnd() % (2 * (unsigned)k));
            for (int i = 0; i < k; i++, off += (int64_t)bs) {
                if (i == wr_at) { /* inside what was read ahead */
                    int64_t wo = (at_pos ? lseek(l[0], 0, SEEK_CUR) : off) + (int64_t)bs + 100;
                    memset(wbuf, 'w' + i, 5000);
                    rf = pwrite(f[1], wbuf, 5000, wo);
                    rl = pwrite(l[1], wbuf, 5000, wo);
                    if (rf != rl)
                        return fail(step, "pwrite in a run", rf, rl);
                }
                memset(fb, 1, bs);
                memset(lb, 2, bs);
                rf = at_pos ? read(f[0], fb, bs) : pread(f[0], fb, bs, off);
                rl = at_pos ? read(l[0], lb, bs) : pread(l[0], lb, bs, off);
                if (rf != rl)
                    return fail(step, "read in a run", rf, rl);
                if (rf > 0 && memcmp(fb, lb, (size_t)rf))
                    return fail(step, "read data in a run", i, 0);
            }
            seq = off;
            continue;
        }
        switch (op) {
        case 0: /* write at the position */
        case 1:
            for (size_t i = 0; i < n; i++)
                wbuf[i] = (char)(rnd() >> 32);
            rf = write(f[d], wbuf, n);
            rl = write(l[d], wbuf, n);
            if (rf != rl)
                return fail(step, "write", rf, rl);
            break;
        case 2: /* pwrite */
            for (size_t i = 0; i < n; i++)
                wbuf[i] = (char)(step + (int)i);
            rf = pwrite(f[d], wbuf, n, off);
            rl = pwrite(l[d], wbuf, n, off);
            if (rf != rl)
                return fail(step, "pwrite", rf, rl);
            seq = off + (int64_t)n;
            break;
        case 3: /* read at the position */
        case 4:
        case 5:
            memset(fb, 1, n);
            memset(lb, 2, n);
            rf = read(f[d], fb, n);
            rl = read(l[d], lb, n);
            if (rf != rl)
                return fail(step, "read", rf, rl);
            if (rf > 0 && memcmp(fb, lb, (size_t)rf))
                return fail(step, "read data", 0, 0);
            break;
        case 6: /* pread, often sequential */
        case 7:
            memset(fb, 1, n);
            memset(lb, 2, n);
            rf = pread(f[d], fb, n, off);
            rl = pread(l[d], lb, n, off);
            if (rf != rl)
                return fail(step, "pread", rf, rl);
            if (rf > 0 && memcmp(fb, lb, (size_t)rf))
                return fail(step, "pread data", 0, 0);
            seq = off + (rf > 0 ? rf : 0);
            break;
        case 8: { /* lseek */
            int wh = (int)(rnd() % 3);
            int64_t o = wh == SEEK_SET   ? off
                        : wh == SEEK_CUR ? (int64_t)(rnd() % MIB)
                                         : -(int64_t)(rnd() % MIB);
            off_t a = lseek(f[d], o, wh), b = lseek(l[d], o, wh);
            if (a != b)
                return fail(step, "lseek", a, b);
            break;
        }
        default: /* ftruncate or truncate by path, rarely; else a stat, which sees every write */
            if (rnd() % 4 == 0) {
                bool by_path = rnd() % 2;
                int a = by_path ? truncate(fwd, off) : ftruncate(f[d], off);
                int b = by_path ? truncate(loc, off) : ftruncate(l[d], off);
                if (a != b)
                    return fail(step, by_path ? "truncate" : "ftruncate", a, b);
            } else {
                struct stat sf, sl;
                if (stat(fwd, &sf) || stat(loc, &sl))
                    return fail(step, "stat", 0, 0);
                if (sf.st_size != sl.st_size)
                    return fail(step, "stat size", sf.st_size, sl.st_size);
            }
            break;
        }
    }
    off_t pf = lseek(f[0], 0, SEEK_CUR), pl = lseek(l[0], 0, SEEK_CUR);
    if (pf != pl)
        return fail(-1, "final position", pf, pl);
    if (close(f[1]) || close(f[0]) || close(l[1]) || close(l[0])) {
        perror("close");
        return 1;
    }
    /* The contents, read back through a new descriptor. */
    f[0] = open(fwd, O_RDONLY);
    l[0] = open(loc, O_RDONLY);
    for (int64_t at = 0;; at += MIB) {
        ssize_t a = read(f[0], fb, MIB), b = read(l[0], lb, MIB);
        if (a != b)
            return fail(-1, "read back", a, b);
        if (a > 0 && memcmp(fb, lb, (size_t)a))
            return fail(-1, "read back data", at, at);
        if (a <= 0)
            break;
    }
    close(f[0]);
    close(l[0]);
    free(wbuf);
    free(fb);
    free(lb);
    printf("ok\n");
    return 0;
}

static int fill(const char *path, int mib)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    char *b = malloc(MIB);
    if (!b)
        return 1;
    memset(b, 'x', MIB);
    for (int i = 0; i < mib; i++) {
        ssize_t r = write(fd, b, MIB);
        if (r != (ssize_t)MIB) {
            printf("write %d: %s\n", i, r < 0 ? strerror(errno) : "short");
            close(fd);
            return 0;
        }
    }
    if (fsync(fd)) {
        printf("fsync: %s\n", strerror(errno));
        close(fd);
        return 0;
    }
    if (close(fd)) {
        printf("close: %s\n", strerror(errno));
        return 0;
    }
    printf("ok\n");
    return 0;
}

static int endless(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *b = malloc(MIB);
    if (fd < 0 || !b) {
        perror("open");
        return 1;
    }
    memset(b, 'e', MIB);
    for (long i = 0;; i++) {
        if (i % 16 == 0 && i && lseek(fd, 0, SEEK_SET) != 0) {
            printf("lseek %ld: %s\n", i, strerror(errno));
            break;
        }
        ssize_t r = write(fd, b, MIB);
        if (r != (ssize_t)MIB) {
            printf("write %ld: %s\n", i, r < 0 ? strerror(errno) : "short");
            break;
        }
    }
    if (close(fd))
        printf("close: %s\n", strerror(errno));
    free(b);
    return 0;
}

/* Polls (at most 20 s) for a local file. */
static int await_file(const char *path)
{
    for (int i = 0; i < 2000; i++) {
        if (!access(path, F_OK))
            return 0;
        usleep(10000);
    }
    fprintf(stderr, "zoid_preload_async: %s did not appear\n", path);
    return -1;
}

static int touch(const char *path)
{
    int m = open(path, O_WRONLY | O_CREAT, 0644);
    if (m < 0)
        return -1;
    return close(m);
}

/* Opens FILE, writes 256 KiB, creates DIR/open, waits for DIR/go, writes 512 KiB more (write()
 * at the file position, then pwrite), creates DIR/written, then closes FILE (or, with noclose,
 * returns from main without closing). */
static int behind(const char *path, const char *dir, bool noclose)
{
    char p[4096];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *b = malloc(MIB);
    if (fd < 0 || !b)
        return 1;
    for (int i = 0; i < 3; i++) {
        if (i == 1) {
            snprintf(p, sizeof(p), "%s/open", dir);
            if (touch(p))
                return 1;
            snprintf(p, sizeof(p), "%s/go", dir);
            if (await_file(p))
                return 1;
        }
        memset(b, 'a' + i, BEHIND);
        ssize_t r = i < 2 ? write(fd, b, BEHIND) : pwrite(fd, b, BEHIND, (off_t)i * BEHIND);
        if (r != (ssize_t)BEHIND) {
            perror("write");
            return 1;
        }
    }
    snprintf(p, sizeof(p), "%s/written", dir);
    if (touch(p))
        return 1;
    if (noclose)
        return 0;
    if (close(fd)) {
        perror("close");
        return 1;
    }
    free(b);
    return 0;
}

/* Copies FILE to OUT in 4 KiB reads, with a stat of FILE, an open and close of it and a mkdir
 * and rmdir of FILE.d every 20 reads (the calls a program makes between its reads: they must not
 * throw away what is read ahead). */
static int smallstat(const char *file, const char *out)
{
    int fd = open(file, O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || o < 0) {
        perror("open");
        return 1;
    }
    char b[4096], dir[4200];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s.d", file);
    for (long i = 0;; i++) {
        ssize_t r = read(fd, b, sizeof(b));
        if (r < 0) {
            perror("read");
            return 1;
        }
        if (r == 0)
            break;
        if (write(o, b, (size_t)r) != r) {
            perror("write");
            return 1;
        }
        if (i % 20 == 19) {
            int other = open(file, O_RDONLY);
            if (stat(file, &st) || other < 0 || close(other) || mkdir(dir, 0755) || rmdir(dir)) {
                perror("stat, open or mkdir");
                return 1;
            }
        }
    }
    return close(fd) || close(o);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "smallstat"))
        return smallstat(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "mirror"))
        return mirror(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    if (argc == 4 && !strcmp(argv[1], "fill"))
        return fill(argv[2], atoi(argv[3]));
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "behind"))
        return behind(argv[2], argv[3], argc == 5 && !strcmp(argv[4], "noclose"));
    if (argc == 3 && !strcmp(argv[1], "endless"))
        return endless(argv[2]);
    fprintf(stderr, "usage: zoid_preload_async mirror FWD LOCAL SEED | fill FILE MIB | "
                    "behind FILE DIR [noclose] | smallstat FILE OUT | endless FILE\n");
    return 2;
}
