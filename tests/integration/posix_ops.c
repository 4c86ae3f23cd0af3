/*
 * posix_ops: a fixed script of POSIX operations run inside one directory, printing one normalised
 * line per step, so that two runs can be compared with diff. tests/integration/zoid_compare.sh
 * runs it in a local directory, through the interposer (`zepto zoid run --mount PREFIX --
 * posix_ops PREFIX/dir`) and through the FUSE mount (`posix_ops MOUNT/dir`): the outputs must be
 * identical. It is linked dynamically so that libzoid-preload.so can interpose every call.
 *
 * usage: posix_ops ABSOLUTE_EMPTY_DIR        (exit 0 when the script ran to its end)
 *
 * A line is "LABEL = RESULT": RESULT is the return value ("fd" for a new descriptor, whose number
 * is the kernel's or the interposer's choice), or "-1 ENAME" (the errno's name), followed for
 * reads by the byte count and an FNV-1a checksum of the data, for stats by the fields below.
 *
 * Normalisation, the same in every mode (there is no mode-specific one: d_type, st_nlink of
 * directories and FIFOs come out the same locally, through the interposer and through FUSE):
 * - stat: type, permission bits, size, nlink, uid and gid ("self" for the caller's own ids). Not
 *   inode or device numbers, st_blocks or st_blksize (file-system and mode specific), nor times,
 *   except where the script set them explicitly (utimensat/futimens) and reads them back, and
 *   "did a write change mtime" (compared, not printed).
 * - directories: no size (it is the file system's business: ext4 says 4096, tmpfs counts
 *   entries, and the local directory and the export need not be on the same file system).
 * - directory listings: sorted by name, "." and ".." included (every Linux file system returns
 *   them), each with its d_type; names with bytes outside printable ASCII are printed \xHH,
 *   names longer than 40 bytes as their first 8 bytes, length and checksum.
 * - paths from getcwd: printed relative to the script's directory (which differs by mode).
 * - F_GETFL: only O_ACCMODE | O_APPEND | O_NONBLOCK (the kernel adds O_LARGEFILE and may add
 *   others that say nothing about the forwarding).
 * - F_GETLK: within one process, a lock never conflicts with the process's own POSIX locks,
 *   whereas the daemon's open-file-description locks conflict between two handles: the script
 *   only queries through the descriptor holding the lock, where both say F_UNLCK.
 * - FIFOs: opened O_RDWR | O_NONBLOCK only (a blocking open would block a daemon worker through
 *   the interposer; on FUSE the client's kernel opens them itself, as locally).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *dir; /* the script's directory, absolute */
static int dirfd_;      /* an O_DIRECTORY descriptor of it */

/* ---- printing ---------------------------------------------------------------------------- */

static const char *ename(int e)
{
    static char buf[32];
    const char *n = e ? strerrorname_np(e) : "0";
    if (n)
        return n;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

static uint32_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

/* A name printable on one line: bytes outside printable ASCII as \xHH, long names shortened to
 * their first bytes, length and checksum. */
static const char *pname(const char *s)
{
    static char buf[4][160];
    static int k;
    char *o = buf[k++ % 4];
    size_t n = strlen(s), j = 0;
    if (n > 40) {
        char head[9];
        for (size_t i = 0; i < 8; i++)
            head[i] = (unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e ? '?' : s[i];
        head[8] = 0;
        snprintf(o, sizeof buf[0], "%s...(len %zu, %08x)", head, n, fnv(s, n));
        return o;
    }
    for (size_t i = 0; i < n && j + 5 < sizeof buf[0]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '\\')
            j += (size_t)snprintf(o + j, 5, "\\x%02x", c);
        else
            o[j++] = (char)c;
    }
    o[j] = 0;
    return o;
}

static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* The result of a call returning an integer (r) with errno e. */
static void res(const char *label, long r, int e)
{
    if (r == -1)
        line("%s = -1 %s", label, ename(e));
    else
        line("%s = %ld", label, r);
}

/* A call returning a new descriptor: "fd" rather than its number. */
static int resfd(const char *label, int fd, int e)
{
    if (fd < 0)
        line("%s = -1 %s", label, ename(e));
    else
        line("%s = fd", label);
    return fd;
}

/* Evaluate EXPR with errno cleared, then print. */
#define R(label, expr)                                                                             \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(expr);                                                                    \
        res(label, r_, errno);                                                                     \
    } while (0)
#define RFD(var, label, expr)                                                                      \
    do {                                                                                           \
        errno = 0;                                                                                 \
        int fd_ = (expr);                                                                          \
        var = resfd(label, fd_, errno);                                                            \
    } while (0)

/* DIR/rel, in a rotating set of buffers (long enough for the long-path steps). */
static const char *P(const char *rel)
{
    static char buf[4][3 * PATH_MAX];
    static int k;
    char *o = buf[k++ % 4];
    snprintf(o, sizeof buf[0], "%s/%s", dir, rel);
    return o;
}

static const char *ftype(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFIFO: return "fifo";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFSOCK: return "sock";
    default: return "???";
    }
}

static const char *ids(unsigned id, unsigned self)
{
    static char buf[2][16];
    static int k;
    char *o = buf[k++ % 2];
    if (id == self)
        return "self";
    snprintf(o, sizeof buf[0], "%u", id);
    return o;
}

static void pstat(const char *label, int r, int e, const struct stat *st)
{
    if (r != 0) {
        line("%s = -1 %s", label, ename(e));
        return;
    }
    char size[32] = "-";
    if (!S_ISDIR(st->st_mode))
        snprintf(size, sizeof size, "%lld", (long long)st->st_size);
    line("%s = 0 %s mode=%04o size=%s nlink=%lu uid=%s gid=%s", label, ftype(st->st_mode),
         (unsigned)(st->st_mode & 07777), size, (unsigned long)st->st_nlink,
         ids(st->st_uid, geteuid()), ids(st->st_gid, getegid()));
}

#define STAT(label, call)                                                                          \
    do {                                                                                           \
        struct stat st_;                                                                           \
        memset(&st_, 0, sizeof st_);                                                               \
        errno = 0;                                                                                 \
        int r_ = call;                                                                             \
        pstat(label, r_, errno, &st_);                                                             \
    } while (0)

static void ptimes(const char *label, const char *path, int flags)
{
    struct stat st;
    errno = 0;
    if (fstatat(AT_FDCWD, path, &st, flags) != 0) {
        line("%s = -1 %s", label, ename(errno));
        return;
    }
    line("%s = 0 atime=%lld.%09ld mtime=%lld.%09ld", label, (long long)st.st_atim.tv_sec,
         st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static void pread_sum(const char *label, ssize_t n, int e, const void *buf)
{
    if (n < 0)
        line("%s = -1 %s", label, ename(e));
    else
        line("%s = %zd sum=%08x", label, n, fnv(buf, (size_t)n));
}

/* The whole content of a file, by path (open/read/close). */
static void pcontent(const char *label, const char *path)
{
    static char buf[1 << 16];
    errno = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        line("%s = -1 %s", label, ename(errno));
        return;
    }
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf && (n = read(fd, buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    close(fd);
    pread_sum(label, (ssize_t)got, 0, buf);
}

struct ent {
    char name[256];
    unsigned char type;
};

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static char dtype(unsigned char t)
{
    switch (t) {
    case DT_REG: return 'f';
    case DT_DIR: return 'd';
    case DT_LNK: return 'l';
    case DT_FIFO: return 'p';
    case DT_UNKNOWN: return '?';
    default: return 'o';
    }
}

/* opendir/readdir/closedir of a path: the sorted listing on one line. */
static void plist(const char *label, const char *path)
{
    static struct ent ents[256];
    size_t n = 0;
    errno = 0;
    DIR *d = opendir(path);
    if (!d) {
        line("%s = -1 %s", label, ename(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256) {
        snprintf(ents[n].name, sizeof ents[n].name, "%s", de->d_name);
        ents[n++].type = de->d_type;
    }
    int e = errno;
    errno = 0;
    int rc = closedir(d);
    qsort(ents, n, sizeof ents[0], ent_cmp);
    char out[8192];
    size_t j = 0;
    for (size_t i = 0; i < n && j + 200 < sizeof out; i++)
        j += (size_t)snprintf(out + j, sizeof out - j, " %s:%c", pname(ents[i].name),
                              dtype(ents[i].type));
    out[j] = 0;
    line("%s = %zu entries (readdir errno %s, closedir %d)%s", label, n, ename(e), rc, out);
}

/* ---- the script ------------------------------------------------------------------------- */

static const char data1[] = "The quick brown fox jumps over the lazy dog.\n";

static void ops_open(void)
{
    int fd, fd2;
    RFD(fd, "open creat 0644 f1", open(P("f1"), O_CREAT | O_WRONLY, 0644));
    R("write f1", write(fd, data1, sizeof data1 - 1));
    R("close f1", close(fd));
    STAT("stat f1", stat(P("f1"), &st_));
    RFD(fd, "open O_CREAT|O_EXCL existing", open(P("f1"), O_CREAT | O_EXCL | O_WRONLY, 0644));
    RFD(fd, "open O_CREAT|O_EXCL new f2", open(P("f2"), O_CREAT | O_EXCL | O_RDWR, 0600));
    R("close f2", close(fd));
    STAT("stat f2", stat(P("f2"), &st_));
    RFD(fd, "open missing", open(P("missing"), O_RDONLY));
    RFD(fd, "open missing/x", open(P("missing/x"), O_RDONLY | O_CREAT, 0644));
    RFD(fd, "open f1/x", open(P("f1/x"), O_RDONLY));
    RFD(fd, "open O_DIRECTORY f1", open(P("f1"), O_RDONLY | O_DIRECTORY));
    RFD(fd, "open O_DIRECTORY dir", open(dir, O_RDONLY | O_DIRECTORY));
    if (fd >= 0) {
        char b[8];
        R("read of a directory", read(fd, b, sizeof b));
        R("write to a directory fd", write(fd, "x", 1));
        close(fd);
    }
    RFD(fd, "open dir O_WRONLY", open(dir, O_WRONLY));
    RFD(fd, "open dir O_RDWR", open(dir, O_RDWR));

    /* O_TRUNC empties; creat() truncates an existing file. */
    RFD(fd, "open O_TRUNC f1", open(P("f1"), O_RDWR | O_TRUNC));
    STAT("fstat after O_TRUNC", fstat(fd, &st_));
    R("write f1 again", write(fd, data1, sizeof data1 - 1));
    R("close", close(fd));
    RFD(fd, "creat f2 (existing, truncates)", creat(P("f2"), 0644));
    R("write f2", write(fd, "0123456789", 10));
    char b[64];
    R("read from creat's O_WRONLY fd", read(fd, b, sizeof b));
    R("close", close(fd));
    STAT("stat f2 (mode kept from creation)", stat(P("f2"), &st_));

    /* O_APPEND: writes go to the end whatever the offset. */
    RFD(fd, "open O_WRONLY|O_APPEND f2", open(P("f2"), O_WRONLY | O_APPEND));
    R("lseek 0 SEEK_SET", lseek(fd, 0, SEEK_SET));
    R("write appended", write(fd, "abc", 3));
    R("lseek 0 SEEK_CUR after append", lseek(fd, 0, SEEK_CUR));
    R("close", close(fd));
    pcontent("content f2", P("f2"));

    /* openat relative to a directory descriptor, and with an absolute path (dirfd ignored). */
    RFD(fd, "openat dirfd f3 O_CREAT", openat(dirfd_, "f3", O_CREAT | O_RDWR, 0640));
    R("write f3", write(fd, "f3", 2));
    R("close", close(fd));
    RFD(fd, "openat dirfd absolute f3", openat(dirfd_, P("f3"), O_RDONLY));
    R("read f3", read(fd, b, sizeof b));
    R("close", close(fd));
    RFD(fd, "openat AT_FDCWD absolute f3", openat(AT_FDCWD, P("f3"), O_RDONLY));
    R("close", close(fd));
    RFD(fd, "openat file-fd as dirfd", open(P("f3"), O_RDONLY));
    RFD(fd2, "openat f3-fd/x", openat(fd, "x", O_RDONLY));
    R("close", close(fd));

    /* Permission-ish errors on the descriptor's access mode. */
    RFD(fd, "open O_RDONLY f1", open(P("f1"), O_RDONLY));
    R("write to O_RDONLY", write(fd, "x", 1));
    R("ftruncate O_RDONLY", ftruncate(fd, 0));
    R("close", close(fd));
    RFD(fd, "open O_WRONLY f1", open(P("f1"), O_WRONLY));
    R("read from O_WRONLY", read(fd, b, sizeof b));
    R("close", close(fd));

    /* Closing what is not open. */
    R("close -1", close(-1));
    R("close 1000", close(1000));
    R("close twice", (fd = open(P("f1"), O_RDONLY), close(fd), close(fd)));
    R("read closed fd", read(fd, b, 1));

    /* umask applies to the creation mode. */
    umask(077);
    RFD(fd, "open O_CREAT 0666 under umask 077", open(P("um"), O_CREAT | O_WRONLY, 0666));
    R("close", close(fd));
    umask(022);
    STAT("stat um", stat(P("um"), &st_));
    RFD(fd, "open O_CREAT 0777 under umask 022", open(P("um2"), O_CREAT | O_WRONLY, 0777));
    R("close", close(fd));
    STAT("stat um2", stat(P("um2"), &st_));
    R("unlink um", unlink(P("um")));
    R("unlink um2", unlink(P("um2")));
    (void)fd2;
}

static void ops_io(void)
{
    int fd;
    char b[256];
    RFD(fd, "open io O_CREAT|O_RDWR", open(P("io"), O_CREAT | O_RDWR | O_TRUNC, 0644));
    R("write 45", write(fd, data1, sizeof data1 - 1));
    R("lseek 0 SEEK_CUR", lseek(fd, 0, SEEK_CUR));
    R("lseek 4 SEEK_SET", lseek(fd, 4, SEEK_SET));
    errno = 0;
    ssize_t n = read(fd, b, 5);
    pread_sum("read 5 at 4", n, errno, b);
    R("lseek 3 SEEK_CUR", lseek(fd, 3, SEEK_CUR));
    n = read(fd, b, 10);
    pread_sum("read 10 at 12", n, errno, b);
    R("lseek -5 SEEK_END", lseek(fd, -5, SEEK_END));
    n = read(fd, b, sizeof b);
    pread_sum("read to EOF", n, errno, b);
    n = read(fd, b, sizeof b);
    pread_sum("read at EOF", n, errno, b);
    R("lseek -100 SEEK_SET", lseek(fd, -100, SEEK_SET));
    R("lseek -100 SEEK_CUR", lseek(fd, -100, SEEK_CUR));
    R("lseek whence 77", lseek(fd, 0, 77));
    R("lseek 0 SEEK_CUR unchanged", lseek(fd, 0, SEEK_CUR));

    /* Beyond EOF: a hole, read back as zeros. */
    R("lseek 4096 SEEK_SET beyond EOF", lseek(fd, 4096, SEEK_SET));
    R("read beyond EOF", read(fd, b, sizeof b));
    R("write at 4096", write(fd, "END", 3));
    STAT("fstat after hole", fstat(fd, &st_));
    memset(b, 0x55, sizeof b);
    n = pread(fd, b, 100, 1000);
    pread_sum("pread hole 100 at 1000", n, errno, b);
    R("lseek 10 SEEK_END", lseek(fd, 10, SEEK_END));
    R("lseek 0 SEEK_CUR", lseek(fd, 0, SEEK_CUR));

    /* pread/pwrite do not move the offset. */
    R("lseek 7 SEEK_SET", lseek(fd, 7, SEEK_SET));
    R("pwrite 5 at 100", pwrite(fd, "HELLO", 5, 100));
    n = pread(fd, b, 5, 100);
    pread_sum("pread 5 at 100", n, errno, b);
    n = pread(fd, b, 10, 4095);
    pread_sum("pread across EOF", n, errno, b);
    n = pread(fd, b, 10, 1 << 20);
    pread_sum("pread far beyond EOF", n, errno, b);
    R("pread negative offset", pread(fd, b, 1, -1));
    R("pwrite negative offset", pwrite(fd, b, 1, -1));
    R("lseek 0 SEEK_CUR still 7", lseek(fd, 0, SEEK_CUR));
    R("write 0 bytes", write(fd, b, 0));
    R("read 0 bytes", read(fd, b, 0));

    /* readv/writev. */
    char a1[] = "alpha-", a2[] = "beta-", a3[] = "gamma";
    struct iovec wv[3] = {{a1, 6}, {a2, 5}, {a3, 5}};
    R("lseek 200 SEEK_SET", lseek(fd, 200, SEEK_SET));
    R("writev 3 iovecs", writev(fd, wv, 3));
    R("lseek 0 SEEK_CUR after writev", lseek(fd, 0, SEEK_CUR));
    char r1[4], r2[7], r3[9];
    memset(r1, 0, sizeof r1), memset(r2, 0, sizeof r2), memset(r3, 0, sizeof r3);
    struct iovec rv[3] = {{r1, sizeof r1}, {r2, sizeof r2}, {r3, sizeof r3}};
    R("lseek 200 SEEK_SET", lseek(fd, 200, SEEK_SET));
    R("readv 3 iovecs", readv(fd, rv, 3));
    line("readv data = %.4s|%.7s|%.5s", r1, r2, r3);
    R("pwritev at 300", pwritev(fd, wv, 2, 300));
    memset(r1, 0, sizeof r1), memset(r2, 0, sizeof r2);
    R("preadv at 300", preadv(fd, rv, 2, 300));
    line("preadv data = %.4s|%.7s", r1, r2);

    R("fsync", fsync(fd));
    R("fdatasync", fdatasync(fd));
    R("fsync bad fd", fsync(1000));

    /* ftruncate shrinks and grows (zeros); truncate by path. */
    R("ftruncate 10", ftruncate(fd, 10));
    STAT("fstat after ftruncate 10", fstat(fd, &st_));
    R("ftruncate 20", ftruncate(fd, 20));
    n = pread(fd, b, sizeof b, 0);
    pread_sum("pread all after grow", n, errno, b);
    R("ftruncate -1", ftruncate(fd, -1));
    R("truncate path 3", truncate(P("io"), 3));
    STAT("fstat after truncate 3", fstat(fd, &st_));
    R("truncate missing", truncate(P("nonexistent"), 3));
    R("truncate dir", truncate(dir, 0));
    R("close", close(fd));
    pcontent("content io", P("io"));

    /* posix_fallocate extends the file. */
    RFD(fd, "open fa", open(P("fa"), O_CREAT | O_RDWR, 0644));
    R("posix_fallocate 0..8192 (returns errno)", posix_fallocate(fd, 0, 8192));
    STAT("fstat after fallocate", fstat(fd, &st_));
    R("posix_fallocate bad len (returns errno)", posix_fallocate(fd, 0, -1));
    R("close", close(fd));
    R("unlink fa", unlink(P("fa")));

    /* A bigger file, several calls, to catch short reads or writes. */
    static char big[1 << 18];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + (i >> 9));
    RFD(fd, "open big", open(P("big"), O_CREAT | O_RDWR | O_TRUNC, 0644));
    R("write 256 KiB", write(fd, big, sizeof big));
    R("lseek 0 SEEK_SET", lseek(fd, 0, SEEK_SET));
    static char back[1 << 18];
    size_t got = 0;
    while (got < sizeof back && (n = read(fd, back + got, sizeof back - got)) > 0)
        got += (size_t)n;
    line("read 256 KiB = %zu sum=%08x equal=%d", got, fnv(back, got),
         got == sizeof big && memcmp(big, back, got) == 0);
    R("close", close(fd));
    R("unlink big", unlink(P("big")));
}

static void ops_stat(void)
{
    int fd;
    STAT("stat f1", stat(P("f1"), &st_));
    STAT("lstat f1", lstat(P("f1"), &st_));
    STAT("stat dir", stat(dir, &st_));
    STAT("stat missing", stat(P("missing"), &st_));
    STAT("stat f1/x", stat(P("f1/x"), &st_));
    STAT("stat empty path", stat("", &st_));
    STAT("fstatat dirfd f1", fstatat(dirfd_, "f1", &st_, 0));
    STAT("fstatat dirfd AT_EMPTY_PATH", fstatat(dirfd_, "", &st_, AT_EMPTY_PATH));
    STAT("fstatat dirfd empty without flag", fstatat(dirfd_, "", &st_, 0));
    RFD(fd, "open f1", open(P("f1"), O_RDONLY));
    STAT("fstat f1", fstat(fd, &st_));
    STAT("fstatat file-fd AT_EMPTY_PATH", fstatat(fd, "", &st_, AT_EMPTY_PATH));
    struct statx sx;
    memset(&sx, 0, sizeof sx);
    errno = 0;
    int r = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx);
    if (r == 0)
        line("statx fd AT_EMPTY_PATH = 0 %s mode=%04o size=%llu nlink=%u basic=%d",
             ftype(sx.stx_mode), sx.stx_mode & 07777u, (unsigned long long)sx.stx_size,
             sx.stx_nlink, (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
    else
        res("statx fd AT_EMPTY_PATH", r, errno);
    R("close", close(fd));
    memset(&sx, 0, sizeof sx);
    errno = 0;
    r = statx(AT_FDCWD, P("f2"), 0, STATX_SIZE | STATX_TYPE | STATX_MODE, &sx);
    if (r == 0)
        line("statx f2 = 0 %s mode=%04o size=%llu", ftype(sx.stx_mode), sx.stx_mode & 07777u,
             (unsigned long long)sx.stx_size);
    else
        res("statx f2", r, errno);
    errno = 0;
    r = statx(dirfd_, "missing", 0, STATX_BASIC_STATS, &sx);
    res("statx missing", r, errno);

    R("access f1 F_OK", access(P("f1"), F_OK));
    R("access f1 R_OK|W_OK", access(P("f1"), R_OK | W_OK));
    R("access f1 X_OK (no x bit)", access(P("f1"), X_OK));
    R("access dir X_OK", access(dir, X_OK));
    R("access missing", access(P("missing"), F_OK));
    R("faccessat dirfd f1 R_OK", faccessat(dirfd_, "f1", R_OK, 0));
    R("faccessat dirfd f1 AT_EACCESS", faccessat(dirfd_, "f1", W_OK, AT_EACCESS));
    R("access bad mode", access(P("f1"), 0100));

    struct statfs sf;
    R("statfs dir (success only)", statfs(dir, &sf));
    RFD(fd, "open f1", open(P("f1"), O_RDONLY));
    R("fstatfs (success only)", fstatfs(fd, &sf));
    R("close", close(fd));
    R("statfs missing", statfs(P("missing"), &sf));
}

static void ops_dirs(void)
{
    R("mkdir d", mkdir(P("d"), 0755));
    R("mkdir d again", mkdir(P("d"), 0755));
    R("mkdir f1 (a file)", mkdir(P("f1"), 0755));
    R("mkdir missing/sub", mkdir(P("missing/sub"), 0755));
    R("mkdirat dirfd d/sub 0700", mkdirat(dirfd_, "d/sub", 0700));
    R("mkdirat dirfd e 0777 (umask 022)", mkdirat(dirfd_, "e", 0777));
    STAT("stat d", stat(P("d"), &st_));
    STAT("stat d/sub", stat(P("d/sub"), &st_));
    STAT("stat e", stat(P("e"), &st_));
    int fd;
    RFD(fd, "open d/file", open(P("d/file"), O_CREAT | O_WRONLY, 0644));
    R("close", close(fd));
    R("rmdir d (not empty)", rmdir(P("d")));
    R("rmdir f1 (a file)", rmdir(P("f1")));
    R("rmdir missing", rmdir(P("missing")));
    R("rmdir e", rmdir(P("e")));
    R("rmdir dir/.", rmdir(P("d/sub/.")));
    R("unlink d (a directory)", unlink(P("d")));
    R("unlink missing", unlink(P("missing")));
    R("unlinkat dirfd d/file", unlinkat(dirfd_, "d/file", 0));
    R("unlinkat AT_REMOVEDIR d/sub", unlinkat(dirfd_, "d/sub", AT_REMOVEDIR));
    R("unlinkat AT_REMOVEDIR f1 (a file)", unlinkat(dirfd_, "f1", AT_REMOVEDIR));
    R("unlinkat bad flag", unlinkat(dirfd_, "f1", 0x4000));
    plist("list dir", dir);
    plist("list d (empty)", P("d"));
    plist("list f1 (a file)", P("f1"));
    plist("list missing", P("missing"));
}

static void ops_rename(void)
{
    int fd;
    RFD(fd, "open ra", open(P("ra"), O_CREAT | O_WRONLY, 0644));
    R("write ra", write(fd, "AAAA", 4));
    R("close", close(fd));
    RFD(fd, "open rb", open(P("rb"), O_CREAT | O_WRONLY, 0600));
    R("write rb", write(fd, "BBBBBBBB", 8));
    R("close", close(fd));
    R("rename ra rc", rename(P("ra"), P("rc")));
    STAT("stat ra (gone)", stat(P("ra"), &st_));
    STAT("stat rc", stat(P("rc"), &st_));
    R("rename missing", rename(P("missing"), P("x")));
    R("renameat2 NOREPLACE rc rb", renameat2(dirfd_, "rc", dirfd_, "rb", RENAME_NOREPLACE));
    R("renameat2 EXCHANGE rc rb", renameat2(dirfd_, "rc", AT_FDCWD, P("rb"), RENAME_EXCHANGE));
    pcontent("content rb (was rc)", P("rb"));
    pcontent("content rc (was rb)", P("rc"));
    STAT("stat rb", stat(P("rb"), &st_));
    R("renameat2 EXCHANGE with missing", renameat2(dirfd_, "rc", dirfd_, "nx", RENAME_EXCHANGE));
    R("renameat2 NOREPLACE|EXCHANGE",
      renameat2(dirfd_, "rc", dirfd_, "rb", RENAME_NOREPLACE | RENAME_EXCHANGE));
    R("rename rc over rb (replaces)", renameat(dirfd_, "rc", dirfd_, "rb"));
    pcontent("content rb", P("rb"));
    R("mkdir rd", mkdir(P("rd"), 0755));
    R("mkdir rd/in", mkdir(P("rd/in"), 0755));
    R("mkdir re", mkdir(P("re"), 0755));
    R("mkdir re/x", mkdir(P("re/x"), 0755));
    R("rename rd over non-empty re", rename(P("rd"), P("re")));
    R("rename rd into itself", rename(P("rd"), P("rd/in/rd")));
    R("rename file over dir", rename(P("rb"), P("rd")));
    R("rename dir over file", rename(P("rd"), P("rb")));
    R("rmdir re/x", rmdir(P("re/x")));
    R("rename rd over empty re", rename(P("rd"), P("re")));
    plist("list re", P("re"));
    R("rename re/in to top", renameat(dirfd_, "re/in", dirfd_, "in"));
    R("rename f to itself", rename(P("rb"), P("rb")));
    R("rmdir in", rmdir(P("in")));
    R("rmdir re", rmdir(P("re")));
    R("unlink rb", unlink(P("rb")));
}

static void ops_links(void)
{
    char b[PATH_MAX];
    R("link f1 h1", link(P("f1"), P("h1")));
    STAT("stat f1 nlink 2", stat(P("f1"), &st_));
    R("link f1 h1 again", link(P("f1"), P("h1")));
    R("link missing", link(P("missing"), P("h2")));
    R("link dir", link(dir, P("h2")));
    R("linkat dirfd f1 h2", linkat(dirfd_, "f1", dirfd_, "h2", 0));
    STAT("stat h2 nlink 3", stat(P("h2"), &st_));
    R("unlink h1", unlink(P("h1")));
    R("unlink h2", unlink(P("h2")));
    STAT("stat f1 nlink 1", stat(P("f1"), &st_));

    R("symlink f1 s1", symlink("f1", P("s1")));
    R("symlink again", symlink("f1", P("s1")));
    R("symlinkat dirfd dangling", symlinkat("nowhere", dirfd_, "s2"));
    R("symlinkat long target", symlinkat("a/b/c/d/../../e", dirfd_, "s3"));
    R("symlink loop s4 -> s5", symlink("s5", P("s4")));
    R("symlink loop s5 -> s4", symlink("s4", P("s5")));
    memset(b, 0, sizeof b);
    errno = 0;
    ssize_t n = readlink(P("s1"), b, sizeof b);
    res("readlink s1", n, errno);
    line("readlink s1 target = %s", b);
    memset(b, 0, sizeof b);
    n = readlinkat(dirfd_, "s3", b, sizeof b);
    res("readlinkat s3", n, errno);
    line("readlinkat s3 target = %s", b);
    memset(b, 0, sizeof b);
    n = readlink(P("s3"), b, 3);
    line("readlink s3 short buffer = %zd %.3s", n, b);
    R("readlink f1 (not a link)", readlink(P("f1"), b, sizeof b));
    R("readlink missing", readlink(P("missing"), b, sizeof b));
    STAT("stat s1 (follows)", stat(P("s1"), &st_));
    STAT("lstat s1", lstat(P("s1"), &st_));
    STAT("stat s2 (dangling)", stat(P("s2"), &st_));
    STAT("lstat s2", lstat(P("s2"), &st_));
    STAT("stat s4 (loop)", stat(P("s4"), &st_));
    STAT("fstatat s1 AT_SYMLINK_NOFOLLOW", fstatat(dirfd_, "s1", &st_, AT_SYMLINK_NOFOLLOW));
    pcontent("content through s1", P("s1"));
    int fd;
    RFD(fd, "open s1 O_NOFOLLOW", open(P("s1"), O_RDONLY | O_NOFOLLOW));
    RFD(fd, "open s4 (loop)", open(P("s4"), O_RDONLY));
    RFD(fd, "open s2 O_CREAT (creates target)", open(P("s2"), O_CREAT | O_WRONLY, 0644));
    R("close", close(fd));
    STAT("stat nowhere", stat(P("nowhere"), &st_));
    R("unlink nowhere", unlink(P("nowhere")));
    R("unlink s1 (the link)", unlink(P("s1")));
    STAT("stat f1 still there", stat(P("f1"), &st_));
    R("unlink s2", unlink(P("s2")));
    R("unlink s3", unlink(P("s3")));
    R("unlink s4", unlink(P("s4")));
    R("unlink s5", unlink(P("s5")));
}

static void ops_attrs(void)
{
    int fd;
    R("chmod f1 0600", chmod(P("f1"), 0600));
    STAT("stat f1", stat(P("f1"), &st_));
    R("chmod f1 04755", chmod(P("f1"), 04755));
    STAT("stat f1", stat(P("f1"), &st_));
    R("chmod missing", chmod(P("missing"), 0600));
    RFD(fd, "open f1", open(P("f1"), O_RDONLY));
    R("fchmod 0640", fchmod(fd, 0640));
    STAT("fstat f1", fstat(fd, &st_));
    R("fchmodat dirfd f1 0644", fchmodat(dirfd_, "f1", 0644, 0));
    R("chown f1 self", chown(P("f1"), geteuid(), getegid()));
    R("chown f1 -1 -1", chown(P("f1"), (uid_t)-1, (gid_t)-1));
    R("fchown self", fchown(fd, geteuid(), getegid()));
    R("fchownat dirfd f1 self", fchownat(dirfd_, "f1", geteuid(), getegid(), 0));
    R("chown missing", chown(P("missing"), geteuid(), getegid()));
    STAT("fstat f1", fstat(fd, &st_));

    struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
    R("utimensat f1 explicit", utimensat(AT_FDCWD, P("f1"), ts, 0));
    ptimes("times f1", P("f1"), 0);
    struct timespec ts2[2] = {{1300000000, 0}, {0, UTIME_OMIT}};
    R("futimens atime only (mtime OMIT)", futimens(fd, ts2));
    ptimes("times f1", P("f1"), 0);
    struct timespec ts3[2] = {{0, UTIME_OMIT}, {1400000000, 5}};
    R("utimensat dirfd mtime only", utimensat(dirfd_, "f1", ts3, 0));
    ptimes("times f1", P("f1"), 0);
    struct timespec bad[2] = {{0, 2000000000}, {0, 0}};
    R("utimensat bad nsec", utimensat(AT_FDCWD, P("f1"), bad, 0));
    R("utimensat missing", utimensat(AT_FDCWD, P("missing"), ts, 0));
    R("symlink sl -> f1", symlink("f1", P("sl")));
    struct timespec ts4[2] = {{1500000000, 0}, {1500000001, 0}};
    R("utimensat sl AT_SYMLINK_NOFOLLOW", utimensat(dirfd_, "sl", ts4, AT_SYMLINK_NOFOLLOW));
    ptimes("times sl (lstat)", P("sl"), AT_SYMLINK_NOFOLLOW);
    ptimes("times f1 (unchanged)", P("f1"), 0);
    R("unlink sl", unlink(P("sl")));
    /* mtime moves when the content changes (compared, not printed). */
    struct stat before, after;
    stat(P("f1"), &before);
    R("close", close(fd));
    RFD(fd, "open f1 O_WRONLY", open(P("f1"), O_WRONLY));
    R("write f1", write(fd, "x", 1));
    R("close", close(fd));
    stat(P("f1"), &after);
    line("mtime changed by write = %d", before.st_mtim.tv_sec != after.st_mtim.tv_sec ||
                                            before.st_mtim.tv_nsec != after.st_mtim.tv_nsec);
    R("utimensat NULL (now)", utimensat(AT_FDCWD, P("f1"), NULL, 0));
    stat(P("f1"), &before);
    line("mtime now later than 2020 = %d", before.st_mtim.tv_sec > 1577836800);
}

static void ops_special(void)
{
    R("mkfifo p1", mkfifo(P("p1"), 0644));
    R("mkfifo p1 again", mkfifo(P("p1"), 0644));
    STAT("stat p1", stat(P("p1"), &st_));
    R("mknod p2 S_IFIFO", mknod(P("p2"), S_IFIFO | 0600, 0));
    STAT("stat p2", stat(P("p2"), &st_));
    R("mknodat dirfd p3 S_IFIFO", mknodat(dirfd_, "p3", S_IFIFO | 0666, 0));
    STAT("stat p3", stat(P("p3"), &st_));
    /* A FIFO opened read-write without blocking; a byte through it. */
    int fd;
    char b[8] = {0};
    RFD(fd, "open p1 O_RDWR|O_NONBLOCK", open(P("p1"), O_RDWR | O_NONBLOCK));
    if (fd >= 0) {
        R("write fifo", write(fd, "z", 1));
        R("read fifo", read(fd, b, sizeof b));
        line("fifo data = %s", b);
        R("read empty fifo", read(fd, b, sizeof b));
        R("lseek on fifo", lseek(fd, 0, SEEK_SET));
        /* Blocks as large as the interposer writes behind and reads ahead in relaxed mode: a
         * pipe has no position to keep, they go as they come. */
        static char big[65536], back[65536];
        for (size_t i = 0; i < sizeof(big); i++)
            big[i] = (char)('a' + i % 26);
        R("write 64 KiB to fifo", write(fd, big, sizeof(big)));
        R("read 4 KiB of fifo", read(fd, back, 4096));
        R("read 4 KiB of fifo again", read(fd, back + 4096, 4096));
        R("read the rest of fifo", read(fd, back + 8192, sizeof(back) - 8192));
        line("fifo 64 KiB back = %d", !memcmp(big, back, sizeof(big)));
        R("close", close(fd));
    }
    R("unlink p1", unlink(P("p1")));
    R("unlink p2", unlink(P("p2")));
    R("unlink p3", unlink(P("p3")));
}

static void ops_fds(void)
{
    int fd, fd2, fd3;
    RFD(fd, "open dd", open(P("dd"), O_CREAT | O_RDWR | O_TRUNC, 0644));
    RFD(fd2, "dup", dup(fd));
    R("write via fd", write(fd, "0123456789", 10));
    R("lseek 0 SEEK_CUR via dup (shared)", lseek(fd2, 0, SEEK_CUR));
    R("lseek 2 SEEK_SET via dup", lseek(fd2, 2, SEEK_SET));
    char b[16] = {0};
    R("read 3 via fd", read(fd, b, 3));
    line("data = %s", b);
    R("dup2 to 100", dup2(fd, 100));
    R("lseek 0 SEEK_CUR via 100", lseek(100, 0, SEEK_CUR));
    R("dup2 100 to 100", dup2(100, 100));
    R("dup2 bad fd", dup2(1000, 101));
    R("dup3 to 101 O_CLOEXEC", dup3(fd, 101, O_CLOEXEC));
    R("F_GETFD 101", fcntl(101, F_GETFD));
    R("F_GETFD 100", fcntl(100, F_GETFD));
    R("dup3 same fd", dup3(fd, fd, 0));
    R("dup3 bad flag", dup3(fd, 102, 0x1));
    R("close 100", close(100));
    R("close 101", close(101));
    R("lseek on closed 100", lseek(100, 0, SEEK_CUR));
    RFD(fd3, "fcntl F_DUPFD 50", fcntl(fd, F_DUPFD, 50));
    line("F_DUPFD >= 50 = %d", fd3 >= 50);
    R("close", close(fd3));
    RFD(fd3, "fcntl F_DUPFD_CLOEXEC", fcntl(fd, F_DUPFD_CLOEXEC, 0));
    R("F_GETFD", fcntl(fd3, F_GETFD));
    R("close", close(fd3));

    int fl = fcntl(fd, F_GETFL);
    line("F_GETFL = %#o", fl & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    R("F_SETFL O_APPEND", fcntl(fd, F_SETFL, fl | O_APPEND));
    fl = fcntl(fd2, F_GETFL);
    line("F_GETFL via dup = %#o", fl & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    R("lseek 0 SEEK_SET", lseek(fd, 0, SEEK_SET));
    R("write appends", write(fd, "AP", 2));
    R("lseek 0 SEEK_CUR", lseek(fd, 0, SEEK_CUR));
    R("F_SETFL 0", fcntl(fd, F_SETFL, 0));
    fl = fcntl(fd, F_GETFL);
    line("F_GETFL = %#o", fl & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    R("F_GETFD", fcntl(fd, F_GETFD));
    R("F_SETFD FD_CLOEXEC", fcntl(fd, F_SETFD, FD_CLOEXEC));
    R("F_GETFD", fcntl(fd, F_GETFD));
    R("F_GETFD via dup (per descriptor)", fcntl(fd2, F_GETFD));
    R("F_SETFD 0", fcntl(fd, F_SETFD, 0));
    R("fcntl bad fd", fcntl(1000, F_GETFL));

    /* Record locks: set, query through the same descriptor (never a conflict), unlock. */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    R("F_SETLK write 0..5", fcntl(fd, F_SETLK, &lk));
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    R("F_GETLK", fcntl(fd, F_GETLK, &q));
    line("F_GETLK l_type is F_UNLCK = %d", q.l_type == F_UNLCK);
    lk.l_type = F_UNLCK;
    R("F_SETLK unlock", fcntl(fd, F_SETLK, &lk));
    lk.l_type = F_RDLCK;
    R("F_SETLKW read lock", fcntl(fd, F_SETLKW, &lk));
    lk.l_type = F_UNLCK;
    R("F_SETLK unlock", fcntl(fd, F_SETLK, &lk));
    lk.l_type = 77;
    R("F_SETLK bad type", fcntl(fd, F_SETLK, &lk));

    /* flock: per open file description; a second open conflicts. */
    R("flock LOCK_EX", flock(fd, LOCK_EX));
    RFD(fd3, "open dd again", open(P("dd"), O_RDONLY));
    R("flock second open LOCK_SH|LOCK_NB", flock(fd3, LOCK_SH | LOCK_NB));
    R("flock dup LOCK_EX|LOCK_NB (same description)", flock(fd2, LOCK_EX | LOCK_NB));
    R("flock LOCK_UN", flock(fd, LOCK_UN));
    R("flock second open LOCK_SH|LOCK_NB", flock(fd3, LOCK_SH | LOCK_NB));
    R("flock LOCK_UN", flock(fd3, LOCK_UN));
    R("flock bad op", flock(fd3, 0));
    R("flock bad fd", flock(1000, LOCK_EX));
    R("close", close(fd3));
    R("close fd", close(fd));
    R("lseek via dup after close of fd", lseek(fd2, 0, SEEK_END));
    R("close dup", close(fd2));
    pcontent("content dd", P("dd"));
    R("unlink dd", unlink(P("dd")));
}

static void ops_stdio(void)
{
    char b[128];
    errno = 0;
    FILE *f = fopen(P("st"), "w");
    res("fopen st w", f ? 0 : -1, errno);
    if (!f)
        return;
    R("fprintf", fprintf(f, "line one %d\nline two %s\n", 42, "x"));
    R("fputs", fputs("line three\n", f));
    R("ftell", ftell(f));
    R("fflush", fflush(f));
    R("fclose", fclose(f));
    pcontent("content st", P("st"));
    f = fopen(P("st"), "r");
    res("fopen st r", f ? 0 : -1, errno);
    if (!f)
        return;
    line("fgets = %s", fgets(b, sizeof b, f) ? pname(b) : "NULL");
    R("ftell", ftell(f));
    R("fseek 5 SEEK_SET", fseek(f, 5, SEEK_SET));
    line("fgets = %s", fgets(b, sizeof b, f) ? pname(b) : "NULL");
    R("fseek -6 SEEK_END", fseek(f, -6, SEEK_END));
    line("fgets = %s", fgets(b, sizeof b, f) ? pname(b) : "NULL");
    const char *eof = fgets(b, sizeof b, f) ? pname(b) : "NULL";
    line("fgets at EOF = %s feof=%d", eof, feof(f) != 0);
    rewind(f);
    R("fread 8", fread(b, 1, 8, f));
    line("fread data = %.8s", b);
    R("fgetc", fgetc(f));
    R("fileno is a descriptor", fileno(f) >= 0);
    R("fclose", fclose(f));
    f = fopen(P("st"), "a+");
    res("fopen st a+", f ? 0 : -1, errno);
    if (f) {
        R("fputs appended", fputs("four\n", f));
        R("fseek 0 SEEK_SET", fseek(f, 0, SEEK_SET));
        line("fgets = %s", fgets(b, sizeof b, f) ? pname(b) : "NULL");
        R("fclose", fclose(f));
    }
    pcontent("content st", P("st"));
    f = fopen(P("missing"), "r");
    res("fopen missing r", f ? 0 : -1, errno);
    f = fopen(P("st"), "wx");
    res("fopen st wx (exists)", f ? 0 : -1, errno);
    if (f)
        fclose(f);
    int fd = open(P("st"), O_RDWR);
    errno = 0;
    f = fdopen(fd, "r+");
    res("fdopen r+", f ? 0 : -1, errno);
    if (f) {
        line("fgets = %s", fgets(b, sizeof b, f) ? pname(b) : "NULL");
        R("fclose", fclose(f));
    }
    errno = 0;
    f = fopen(P("st"), "r");
    FILE *g = f ? freopen(P("f1"), "r", f) : NULL;
    res("freopen f1", g ? 0 : -1, errno);
    if (g) {
        R("fread", fread(b, 1, sizeof b, g));
        R("fclose", fclose(g));
    }
    R("unlink st", unlink(P("st")));
}

static void ops_cwd(void)
{
    char cwd[PATH_MAX], old[PATH_MAX], b[64];
    if (!getcwd(old, sizeof old)) {
        line("getcwd initial failed");
        return;
    }
    R("mkdir cw", mkdir(P("cw"), 0755));
    R("mkdir cw/sub", mkdir(P("cw/sub"), 0755));
    R("chdir cw", chdir(P("cw")));
    errno = 0;
    if (getcwd(cwd, sizeof cwd)) {
        size_t n = strlen(dir);
        line("getcwd = %s", strncmp(cwd, dir, n) == 0 ? pname(cwd + n) : "(outside the dir)");
    } else {
        line("getcwd = -1 %s", ename(errno));
    }
    int fd;
    RFD(fd, "open relative rel", open("rel", O_CREAT | O_RDWR, 0644));
    R("write rel", write(fd, "relative", 8));
    R("close", close(fd));
    STAT("stat relative rel", stat("rel", &st_));
    STAT("stat ../cw/rel", stat("../cw/rel", &st_));
    STAT("stat ./sub", stat("./sub", &st_));
    RFD(fd, "openat AT_FDCWD rel", openat(AT_FDCWD, "rel", O_RDONLY));
    R("read", read(fd, b, sizeof b));
    R("close", close(fd));
    R("mkdir relative sub/deeper", mkdir("sub/deeper", 0755));
    R("rename relative rel sub/rel2", rename("rel", "sub/rel2"));
    R("symlink relative", symlink("sub/rel2", "lnk"));
    pcontent("content via relative link", "lnk");
    R("access relative", access("sub/rel2", R_OK));
    plist("list .", ".");
    R("chdir sub/deeper", chdir("sub/deeper"));
    if (getcwd(cwd, sizeof cwd)) {
        size_t n = strlen(dir);
        line("getcwd = %s", strncmp(cwd, dir, n) == 0 ? pname(cwd + n) : "(outside the dir)");
    }
    R("chdir ..", chdir(".."));
    STAT("stat rel2", stat("rel2", &st_));
    R("chdir missing", chdir("missing"));
    R("chdir a file", chdir("rel2"));
    int dfd = open(P("cw"), O_RDONLY | O_DIRECTORY);
    R("fchdir to cw", fchdir(dfd));
    close(dfd);
    if (getcwd(cwd, sizeof cwd)) {
        size_t n = strlen(dir);
        line("getcwd = %s", strncmp(cwd, dir, n) == 0 ? pname(cwd + n) : "(outside the dir)");
    }
    R("unlink lnk", unlink("lnk"));
    R("unlink sub/rel2", unlink("sub/rel2"));
    R("rmdir sub/deeper", rmdir("sub/deeper"));
    R("rmdir sub", rmdir("sub"));
    R("chdir back", chdir(old));
    R("rmdir cw", rmdir(P("cw")));
}

static void ops_names(void)
{
    char name[300];
    int fd;
    memset(name, 'n', 255);
    name[255] = 0;
    RFD(fd, "create 255-byte name", openat(dirfd_, name, O_CREAT | O_WRONLY, 0644));
    R("close", close(fd));
    STAT("stat 255-byte name", stat(P(name), &st_));
    R("mkdir 255-byte name + d", (name[254] = 'd', mkdir(P(name), 0755)));
    name[254] = 'n';
    memset(name, 'n', 256);
    name[256] = 0;
    RFD(fd, "create 256-byte name", openat(dirfd_, name, O_CREAT | O_WRONLY, 0644));
    STAT("stat 256-byte name", stat(P(name), &st_));
    R("mkdir 256-byte name", mkdir(P(name), 0755));
    R("symlink to a 256-byte name (target length is fine)", symlink(name, P("ln256")));
    R("unlink ln256", unlink(P("ln256")));

    /* Names that are not UTF-8. */
    const char bad[] = {'\xff', '\xfe', 'x', 0};
    RFD(fd, "create \\xff\\xfex", openat(dirfd_, bad, O_CREAT | O_WRONLY, 0644));
    R("write", write(fd, bad, 3));
    R("close", close(fd));
    const char bad2[] = {'d', '\x80', '\xc3', '\x28', 0};
    R("mkdir d\\x80\\xc3(", mkdirat(dirfd_, bad2, 0755));
    plist("list with odd names", dir);
    char path[64];
    snprintf(path, sizeof path, "%s/%s", bad2, bad);
    R("rename into odd dir", renameat(dirfd_, bad, dirfd_, path));
    pcontent("content odd", P(path));
    R("unlink odd", unlinkat(dirfd_, path, 0));
    R("rmdir odd dir", unlinkat(dirfd_, bad2, AT_REMOVEDIR));
    memset(name, 'n', 255);
    name[255] = 0;
    R("unlink 255-byte name", unlink(P(name)));
    name[254] = 'd';
    R("rmdir 255-byte dir", rmdir(P(name)));
}

/* Paths longer than the names: nested directories of 250-byte names, opened by relative paths of
 * exactly PATH_MAX - 1 (fits) and PATH_MAX (ENAMETOOLONG) bytes, and by absolute ones. */
static void ops_longpath(void)
{
    enum { LEVELS = 16, NAMELEN = 250 };
    static char rel[PATH_MAX + 64];
    size_t j = 0;
    int fd, cur = dup(dirfd_), ok = 1;
    for (int i = 0; i < LEVELS; i++) {
        char nm[NAMELEN + 1];
        memset(nm, 'a' + i, NAMELEN);
        nm[NAMELEN] = 0;
        if (mkdirat(cur, nm, 0755) != 0)
            ok = 0;
        int next = openat(cur, nm, O_RDONLY | O_DIRECTORY);
        close(cur);
        cur = next;
        if (cur < 0) {
            ok = 0;
            break;
        }
        memcpy(rel + j, nm, NAMELEN);
        j += NAMELEN;
        rel[j++] = '/';
    }
    line("nested %d levels of %d-byte names = %d", LEVELS, NAMELEN, ok);
    if (cur >= 0)
        close(cur);
    /* j == 16 * 251 = 4016: a file name of 79 bytes makes 4095 (the most a path may have). */
    size_t base = j;
    memset(rel + j, 'f', PATH_MAX - 1 - j);
    rel[PATH_MAX - 1] = 0;
    RFD(fd, "openat relative path of 4095 bytes O_CREAT",
        openat(dirfd_, rel, O_CREAT | O_RDWR, 0644));
    R("write", write(fd, "deep", 4));
    R("close", close(fd));
    STAT("fstatat relative 4095", fstatat(dirfd_, rel, &st_, 0));
    rel[PATH_MAX - 1] = 'f';
    rel[PATH_MAX] = 0;
    RFD(fd, "openat relative path of 4096 bytes", openat(dirfd_, rel, O_CREAT | O_RDWR, 0644));
    STAT("fstatat relative 4096", fstatat(dirfd_, rel, &st_, 0));
    R("mkdirat relative 4096", mkdirat(dirfd_, rel, 0755));
    rel[PATH_MAX - 1] = 0;
    STAT("stat absolute dir/<4095> (longer than PATH_MAX)", stat(P(rel), &st_));
    /* An absolute path of exactly 4095 and 4096 bytes: the directory, slashes, "f1". */
    static char abs[PATH_MAX + 64];
    size_t dl = strlen(dir);
    if (dl + 8 < PATH_MAX) {
        memcpy(abs, dir, dl);
        memset(abs + dl, '/', PATH_MAX - 1 - dl - 2);
        memcpy(abs + PATH_MAX - 3, "f1", 3);
        STAT("stat absolute path of 4095 bytes", stat(abs, &st_));
        memset(abs + dl, '/', PATH_MAX - dl - 2);
        memcpy(abs + PATH_MAX - 2, "f1", 3);
        STAT("stat absolute path of 4096 bytes", stat(abs, &st_));
    }
    /* chdir down the tree in two steps (each path shorter than PATH_MAX), then relative calls
     * where the whole path is longer than PATH_MAX. */
    char cwd[PATH_MAX], half[PATH_MAX], half2[PATH_MAX], fname[PATH_MAX];
    size_t hl = (LEVELS / 2) * (NAMELEN + 1);
    memcpy(half, rel, hl - 1);
    half[hl - 1] = 0;
    memcpy(half2, rel + hl, base - hl - 1);
    half2[base - hl - 1] = 0;
    snprintf(fname, sizeof fname, "%s", rel + base);
    if (getcwd(cwd, sizeof cwd)) {
        R("chdir first half (absolute)", chdir(P(half)));
        R("chdir second half (relative)", chdir(half2));
        STAT("stat deep file relative to cwd", stat(fname, &st_));
        R("chdir back", chdir(cwd));
    }
    /* Remove the tree from the bottom. */
    R("unlinkat deep file", unlinkat(dirfd_, rel, 0));
    int removed = 0;
    for (int i = LEVELS; i > 0; i--) {
        rel[(size_t)i * (NAMELEN + 1) - 1] = 0;
        removed += unlinkat(dirfd_, rel, AT_REMOVEDIR) == 0;
    }
    line("removed nested levels = %d", removed);
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: posix_ops ABSOLUTE_EMPTY_DIR\n"
                        "example: zepto zoid run --server unix:/run/zoid.sock --mount /io -- "
                        "posix_ops /io/scratch\n");
        return 2;
    }
    dir = argv[1];
    umask(022);
    dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
    if (dirfd_ < 0) {
        fprintf(stderr, "posix_ops: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    line("posix_ops 1");
    plist("list empty dir", dir);
    ops_open();
    ops_io();
    ops_stat();
    ops_dirs();
    ops_rename();
    ops_links();
    ops_attrs();
    ops_special();
    ops_fds();
    ops_stdio();
    ops_cwd();
    ops_names();
    ops_longpath();
    plist("list before cleanup", dir);
    R("unlink f1", unlink(P("f1")));
    R("unlink f2", unlink(P("f2")));
    R("unlink f3", unlink(P("f3")));
    R("unlink io", unlink(P("io")));
    R("rmdir d", rmdir(P("d")));
    plist("list at the end", dir);
    close(dirfd_);
    return 0;
}
