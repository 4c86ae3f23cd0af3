/*
 * The posix plugin of `zepto zoid serve` through its generated client stubs: every zp_* function
 * with good and bad input, compared where it makes sense with the same call made locally on the
 * export; escapes from the export; sessions (attach, other sessions' handles, the table released
 * with the last connection); identity (clients of another uid, forked with setresuid: what they
 * may not read, who owns what they create, supplementary groups).
 *
 * usage: test_zoid_posix_ops ADDR EXPORT DAEMON_PID
 *        test_zoid_posix_ops ADDR relaxed   (only: the daemon's default is relaxed)
 *        test_zoid_posix_ops ADDR nobody    (run by setpriv as uid 65534, after a full run)
 * The daemon (zoid_posix_ops.sh starts it) runs as root and exports EXPORT; this driver runs as
 * root too (it forks the other uids). Exit 0, 1 on a failure, 77 when not root.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zepto/zoid.h"
#include "zposix.h"
#include "zposix_client.h"

static int failures;
static const char *addr, *export_dir;
static int daemon_pid;

static void failf(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL line %d: ", line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            failf(__LINE__, __VA_ARGS__);                                                          \
    } while (0)

/* expr succeeds (>= 0); its value. */
static long ok_(long r, int e, const char *what, int line)
{
    if (r < 0)
        failf(line, "%s: -1, %s", what, strerror(e));
    return r;
}
static long last_;
static int last_errno_;
#define OK(expr)                                                                                   \
    (errno = 0, last_ = (long)(expr), last_errno_ = errno, ok_(last_, last_errno_, #expr, __LINE__))

/* expr fails with errno err. */
static void err_(long r, int e, int want, const char *what, int line)
{
    if (r != -1 || e != want)
        failf(line, "%s: %ld (%s), expected -1 %s", what, r, r < 0 ? strerror(e) : "-",
              strerror(want));
}
#define ERR(expr, want)                                                                            \
    (errno = 0, last_ = (long)(expr), last_errno_ = errno,                                         \
     err_(last_, last_errno_, want, #expr, __LINE__))

/* The remote and the local call give the same result (value, or errno). */
#define SAME(rexpr, lexpr)                                                                         \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long r_ = (long)(rexpr);                                                                   \
        int re_ = errno;                                                                           \
        errno = 0;                                                                                 \
        long l_ = (long)(lexpr);                                                                   \
        int le_ = errno;                                                                           \
        if (r_ != l_ || (r_ < 0 && re_ != le_))                                                    \
            failf(__LINE__, "%s: %ld (%s), locally %ld (%s)", #rexpr, r_,                          \
                  r_ < 0 ? strerror(re_) : "-", l_, l_ < 0 ? strerror(le_) : "-");                 \
    } while (0)

static struct zoid_client *connect_or_die(void)
{
    struct zoid_client *c;
    struct zepto_err err = {0};
    if (zoid_connect(addr, NULL, &c, &err)) {
        fprintf(stderr, "connect %s: %s\n", addr, err.msg);
        exit(1);
    }
    return c;
}

static void use(struct zoid_client *c)
{
    zposix_zoid_use(c);
}

static char *local(const char *rel)
{
    static char buf[8][PATH_MAX];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], PATH_MAX, "%s/%s", export_dir, rel);
    return buf[i];
}

static int count_fds(int pid)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/fd", pid);
    DIR *d = opendir(p);
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void put_file(const char *rel, const char *data, mode_t mode)
{
    int fd = open(local(rel), O_CREAT | O_WRONLY | O_TRUNC, mode);
    if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data)) {
        perror(rel);
        exit(1);
    }
    fchmod(fd, mode);
    close(fd);
}

/* ---- sessions ---- */

static uint64_t sid;
static uint8_t secret[ZP_SECRET_BYTES];

static void test_session(void)
{
    uint8_t s2[ZP_SECRET_BYTES];
    uint64_t id2;
    ERR(zp_session_new(ZP_VERSION + 7, &id2, s2, sizeof(s2)), EPROTONOSUPPORT);
    ERR(zp_session_new(ZP_VERSION, &id2, s2, 8), EINVAL);
    int cons = (int)OK(zp_session_new(ZP_VERSION, &sid, secret, sizeof(secret)));
    CHECK(cons == ZP_STRICT, "default consistency %d", cons);
    CHECK(sid != 0, "session id 0");
}

/* ---- descriptors ---- */

static void test_io(void)
{
    mkdir(local("r"), 0755);
    int h = (int)OK(zp_openat(ZP_ROOT, "r/f", O_CREAT | O_RDWR | O_TRUNC, 0640));
    CHECK(h >= 0, "handle %d", h);
    OK(zp_pwrite(h, "hello world", 11, 0));
    char buf[64] = {0};
    CHECK(zp_pread(h, buf, 5, 6) == 5 && !memcmp(buf, "world", 5), "pread: %.5s", buf);
    /* The rest of the buffer comes back zeroed; past the end: 0. */
    memset(buf, 'x', sizeof(buf));
    CHECK(zp_pread(h, buf, 20, 6) == 5 && buf[5] == 0, "short pread");
    CHECK(zp_pread(h, buf, 8, 100) == 0, "pread past the end");
    /* ZP_CUR: the file position. */
    CHECK(zp_lseek(h, 0, SEEK_CUR) == 0, "position");
    CHECK(zp_pread(h, buf, 6, ZP_CUR) == 6 && zp_lseek(h, 0, SEEK_CUR) == 6, "read advances");
    CHECK(zp_pwrite(h, "W", 1, ZP_CUR) == 1 && zp_lseek(h, 0, SEEK_CUR) == 7, "write advances");
    CHECK(zp_lseek(h, 0, SEEK_END) == 11, "seek end");
    ERR(zp_lseek(h, -5, SEEK_SET), EINVAL);
    ERR(zp_lseek(h, 0, 99), EINVAL);
    ERR(zp_pread(h, buf, 4, -7), EINVAL);
    OK(zp_fsync(h, 0));
    OK(zp_fsync(h, 1));
    /* Locally: the same bytes. */
    char lb[64] = {0};
    int lfd = open(local("r/f"), O_RDONLY);
    CHECK(read(lfd, lb, sizeof(lb)) == 11 && !memcmp(lb, "hello World", 11), "local: %s", lb);
    close(lfd);
    OK(zp_ftruncate(h, 3));
    struct stat st, lst;
    OK(zp_fstatat(h, "", &st, AT_EMPTY_PATH));
    OK(stat(local("r/f"), &lst));
    CHECK(st.st_size == 3 && st.st_ino == lst.st_ino && st.st_mode == lst.st_mode &&
              st.st_uid == lst.st_uid && st.st_nlink == lst.st_nlink,
          "fstat: size %ld ino %lu mode %o", (long)st.st_size, (unsigned long)st.st_ino,
          st.st_mode);
    ERR(zp_ftruncate(h, -1), EINVAL);
    OK(zp_fallocate(h, 0, 0, 8192));
    OK(zp_fstatat(h, "", &st, AT_EMPTY_PATH));
    CHECK(st.st_size == 8192, "fallocate: size %ld", (long)st.st_size);
    ERR(zp_fallocate(h, 0, -1, 10), EINVAL);
    /* O_APPEND: ZP_CUR writes go to the end. */
    int ha = (int)OK(zp_openat(ZP_ROOT, "r/f", O_WRONLY | O_APPEND, 0));
    CHECK(zp_pwrite(ha, "END", 3, ZP_CUR) == 3, "append");
    OK(zp_fstatat(ha, "", &st, AT_EMPTY_PATH));
    CHECK(st.st_size == 8195, "appended: size %ld", (long)st.st_size);
    ERR(zp_pread(ha, buf, 4, 0), EBADF); /* write-only */
    /* fcntl */
    int fl = (int)OK(zp_fcntl(ha, F_GETFL, 0));
    CHECK((fl & O_APPEND) && (fl & O_ACCMODE) == O_WRONLY, "F_GETFL %o", fl);
    OK(zp_fcntl(ha, F_SETFL, 0));
    fl = (int)OK(zp_fcntl(ha, F_GETFL, 0));
    CHECK(!(fl & O_APPEND), "F_SETFL did not clear O_APPEND: %o", fl);
    CHECK(zp_fcntl(ha, F_GETFD, 0) == 0, "F_GETFD not 0");
    OK(zp_fcntl(ha, F_SETFD, FD_CLOEXEC));
    CHECK(zp_fcntl(ha, F_GETFD, 0) == FD_CLOEXEC, "F_SETFD");
    ERR(zp_fcntl(ha, F_DUPFD, 0), EINVAL);
    ERR(zp_fcntl(ha, 12345, 0), EINVAL);
    /* dup: the same open file description (offset, status flags), its own FD_CLOEXEC. */
    int hd = (int)OK(zp_dup(ha));
    CHECK(hd != ha, "dup gave the same handle");
    CHECK(zp_fcntl(hd, F_GETFD, 0) == 0, "dup keeps FD_CLOEXEC");
    OK(zp_lseek(ha, 17, SEEK_SET));
    CHECK(zp_lseek(hd, 0, SEEK_CUR) == 17, "dup: offset not shared");
    OK(zp_close(ha));
    CHECK(zp_lseek(hd, 0, SEEK_CUR) == 17, "dup dies with the original");
    OK(zp_close(hd));
    ERR(zp_close(hd), EBADF);
    /* fstatfs / statfs: the export's file system. */
    struct statfs sf, lsf;
    OK(zp_fstatfs(h, &sf));
    OK(statfs(export_dir, &lsf));
    CHECK(sf.f_type == lsf.f_type && sf.f_bsize == lsf.f_bsize, "fstatfs");
    OK(zp_statfs(ZP_ROOT, "r", &sf));
    CHECK(sf.f_type == lsf.f_type, "statfs");
    OK(zp_close(h));
    /* Bad handles. */
    int bad[] = {-1, -5, 4095, 4096, 99999, h};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int b = bad[i];
        ERR(zp_close(b), EBADF);
        ERR(zp_dup(b), EBADF);
        ERR(zp_pread(b, buf, 4, 0), EBADF);
        ERR(zp_pwrite(b, "x", 1, 0), EBADF);
        ERR(zp_lseek(b, 0, SEEK_SET), EBADF);
        ERR(zp_fsync(b, 0), EBADF);
        ERR(zp_ftruncate(b, 0), EBADF);
        ERR(zp_fallocate(b, 0, 0, 1), EBADF);
        ERR(zp_fcntl(b, F_GETFL, 0), EBADF);
        ERR(zp_fcntl(b, F_GETFD, 0), EBADF);
        struct flock lk = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
        ERR(zp_lock(b, F_GETLK, &lk), EBADF);
        ERR(zp_flock(b, LOCK_SH), EBADF);
        char d[512];
        ERR(zp_getdents(b, d, sizeof(d)), EBADF);
        ERR(zp_fstatfs(b, &sf), EBADF);
        ERR(zp_fstatat(b, "", &st, AT_EMPTY_PATH), EBADF);
        ERR(zp_openat(b, "f", O_RDONLY, 0), EBADF);
        ERR(zp_mkdirat(b, "x", 0755), EBADF);
    }
    /* The ROOT handle with AT_EMPTY_PATH: the export itself. */
    OK(zp_fstatat(ZP_ROOT, "", &st, AT_EMPTY_PATH));
    OK(stat(export_dir, &lst));
    CHECK(st.st_ino == lst.st_ino, "ROOT is not the export");
    ERR(zp_fstatat(ZP_ROOT, "", &st, 0), ENOENT);
}

/* Directory listing, non-UTF-8 names included. */
static void test_getdents(void)
{
    mkdir(local("r/ls"), 0755);
    const char *names[] = {"a", "b c", "\xff\xfe-latin", "\xc3\x28", "d"};
    size_t n = sizeof(names) / sizeof(names[0]);
    for (size_t i = 0; i < n; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "r/ls/%s", names[i]);
        int h = (int)OK(zp_openat(ZP_ROOT, rel, O_CREAT | O_WRONLY, 0600));
        zp_close(h);
        CHECK(access(local(rel), F_OK) == 0, "not created locally: %s", rel);
    }
    int dh = (int)OK(zp_openat(ZP_ROOT, "r/ls", O_RDONLY | O_DIRECTORY, 0));
    char buf[256]; /* small: several calls */
    size_t seen = 0, total = 0;
    for (;;) {
        long got = OK(zp_getdents(dh, buf, sizeof(buf)));
        if (got <= 0)
            break;
        for (long off = 0; off < got;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *e = (void *)(buf + off);
            total++;
            for (size_t i = 0; i < n; i++)
                if (!strcmp(e->name, names[i])) {
                    seen++;
                    CHECK(e->type == DT_REG, "type of %s: %d", e->name, e->type);
                }
            off += e->reclen;
        }
    }
    CHECK(seen == n && total == n + 2, "getdents: %zu of %zu names, %zu entries", seen, n, total);
    char tiny[8];
    OK(zp_lseek(dh, 0, SEEK_SET));
    ERR(zp_getdents(dh, tiny, sizeof(tiny)), EINVAL);
    int hf = (int)OK(zp_openat(ZP_ROOT, "r/f", O_RDONLY, 0));
    ERR(zp_getdents(hf, buf, sizeof(buf)), ENOTDIR);
    /* A regular file as a directory handle. */
    struct stat st;
    ERR(zp_openat(hf, "x", O_RDONLY, 0), ENOTDIR);
    ERR(zp_fstatat(hf, "x", &st, 0), ENOTDIR);
    ERR(zp_mkdirat(hf, "x", 0755), ENOTDIR);
    ERR(zp_unlinkat(hf, "x", 0), ENOTDIR);
    zp_close(hf);
    zp_close(dh);
}

static void test_locks(struct zoid_client *c1, struct zoid_client *c2)
{
    /* c2 in a session of its own: OFD locks of two sessions conflict. */
    use(c2);
    uint64_t id2;
    uint8_t s2[ZP_SECRET_BYTES];
    OK(zp_session_new(ZP_VERSION, &id2, s2, sizeof(s2)));
    int h2 = (int)OK(zp_openat(ZP_ROOT, "r/f", O_RDWR, 0));
    use(c1);
    int h1 = (int)OK(zp_openat(ZP_ROOT, "r/f", O_RDWR, 0));
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    OK(zp_lock(h1, F_SETLK, &lk));
    use(c2);
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
    ERR(zp_lock(h2, F_SETLK, &q), EAGAIN);
    OK(zp_lock(h2, F_GETLK, &q));
    CHECK(q.l_type == F_WRLCK && q.l_start == 0 && q.l_len == 10 && q.l_pid == -1,
          "F_GETLK: type %d start %ld len %ld pid %d", q.l_type, (long)q.l_start, (long)q.l_len,
          q.l_pid);
    /* F_SETLKW: the daemon waits a while, then EINTR (the caller retries). */
    q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
    ERR(zp_lock(h2, F_SETLKW, &q), EINTR);
    struct flock free_ = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 20, .l_len = 1};
    OK(zp_lock(h2, F_SETLKW, &free_));
    ERR(zp_lock(h2, 12345, &q), EINVAL);
    use(c1);
    lk.l_type = F_UNLCK;
    OK(zp_lock(h1, F_SETLK, &lk));
    use(c2);
    q = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
    OK(zp_lock(h2, F_SETLK, &q));
    /* flock */
    OK(zp_flock(h2, LOCK_EX));
    use(c1);
    ERR(zp_flock(h1, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    ERR(zp_flock(h1, LOCK_SH), EINTR);
    use(c2);
    OK(zp_flock(h2, LOCK_UN));
    use(c1);
    OK(zp_flock(h1, LOCK_SH));
    /* A handle of another session: EBADF (c1 has no handle h1 + 50). */
    use(c2);
    int foreign = h1 + 50;
    ERR(zp_close(foreign), EBADF);
    OK(zp_close(h2));
    use(c1);
    OK(zp_close(h1));
}

/* ---- paths, compared with local calls on a mirror ---- */

static void test_paths(void)
{
    mkdir(local("r/m"), 0755);
    mkdir(local("l"), 0755);
    int rd = (int)OK(zp_openat(ZP_ROOT, "r/m", O_RDONLY | O_DIRECTORY, 0));
    int ld = open(local("l"), O_RDONLY | O_DIRECTORY);
    struct stat rs, ls;
    /* mkdir / rmdir / unlink */
    SAME(zp_mkdirat(rd, "d", 0750), mkdirat(ld, "d", 0750));
    SAME(zp_mkdirat(rd, "d", 0750), mkdirat(ld, "d", 0750));
    SAME(zp_mkdirat(rd, "d/e/", 0700), mkdirat(ld, "d/e/", 0700));
    SAME(zp_mkdirat(rd, "nope/x", 0700), mkdirat(ld, "nope/x", 0700));
    SAME(zp_mkdirat(rd, "d/.", 0700), mkdirat(ld, "d/.", 0700));
    SAME(zp_mkdirat(rd, "d/e/..", 0700), mkdirat(ld, "d/e/..", 0700));
    SAME(zp_mkdirat(rd, "", 0700), mkdirat(ld, "", 0700));
    SAME(zp_unlinkat(rd, "d", AT_REMOVEDIR), unlinkat(ld, "d", AT_REMOVEDIR));
    SAME(zp_unlinkat(rd, "d", 0), unlinkat(ld, "d", 0));
    SAME(zp_unlinkat(rd, "d/e", 7), unlinkat(ld, "d/e", 7));
    SAME(zp_unlinkat(rd, "d/e/.", AT_REMOVEDIR), unlinkat(ld, "d/e/.", AT_REMOVEDIR));
    SAME(zp_unlinkat(rd, "d/e/", AT_REMOVEDIR), unlinkat(ld, "d/e/", AT_REMOVEDIR));
    SAME(zp_unlinkat(rd, "d/e", AT_REMOVEDIR), unlinkat(ld, "d/e", AT_REMOVEDIR));
    /* files: create, stat, access, truncate, chmod, chown, utimens */
    int rh = (int)OK(zp_openat(rd, "f", O_CREAT | O_EXCL | O_WRONLY, 0604));
    int lh = openat(ld, "f", O_CREAT | O_EXCL | O_WRONLY, 0604);
    SAME(zp_openat(rd, "f", O_CREAT | O_EXCL | O_WRONLY, 0604),
         openat(ld, "f", O_CREAT | O_EXCL | O_WRONLY, 0604));
    SAME(zp_pwrite(rh, "0123456789", 10, 0), pwrite(lh, "0123456789", 10, 0));
    SAME(zp_openat(rd, "f/", O_RDONLY, 0), openat(ld, "f/", O_RDONLY, 0));
    SAME(zp_openat(rd, "f", O_RDONLY | O_DIRECTORY, 0), openat(ld, "f", O_RDONLY | O_DIRECTORY, 0));
    SAME(zp_openat(rd, "missing", O_RDONLY, 0), openat(ld, "missing", O_RDONLY, 0));
    SAME(zp_openat(rd, "", O_RDONLY, 0), openat(ld, "", O_RDONLY, 0));
    SAME(zp_truncate(rd, "f", 4), truncate(local("l/f"), 4));
    SAME(zp_truncate(rd, "f", -4), truncate(local("l/f"), -4));
    SAME(zp_truncate(rd, "d", 0), truncate(local("l/d"), 0));
    SAME(zp_fstatat(rd, "f", &rs, 0), fstatat(ld, "f", &ls, 0));
    CHECK(rs.st_size == ls.st_size && rs.st_mode == ls.st_mode, "stat f: %ld %o / %ld %o",
          (long)rs.st_size, rs.st_mode, (long)ls.st_size, ls.st_mode);
    SAME(zp_fstatat(rd, "f", &rs, 0x4000000), fstatat(ld, "f", &ls, 0x4000000));
    SAME(zp_faccessat(rd, "f", R_OK | W_OK, 0), faccessat(ld, "f", R_OK | W_OK, 0));
    SAME(zp_faccessat(rd, "f", X_OK, 0), faccessat(ld, "f", X_OK, 0));
    SAME(zp_faccessat(rd, "nope", F_OK, 0), faccessat(ld, "nope", F_OK, 0));
    SAME(zp_faccessat(rd, "f", 64, 0), faccessat(ld, "f", 64, 0));
    SAME(zp_fchmodat(rd, "f", 0751, 0), fchmodat(ld, "f", 0751, 0));
    SAME(zp_fchownat(rd, "f", 123, 456, 0), fchownat(ld, "f", 123, 456, 0));
    SAME(zp_fchownat(rd, "f", (uint32_t)-1, 789, 0), fchownat(ld, "f", (uid_t)-1, 789, 0));
    int64_t t[4] = {1000000000, 5, 1200000000, 7};
    struct timespec lt[2] = {{1000000000, 5}, {1200000000, 7}};
    SAME(zp_utimensat(rd, "f", t, 4, 0), utimensat(ld, "f", lt, 0));
    ERR(zp_utimensat(rd, "f", t, 3, 0), EINVAL);
    int64_t omit[4] = {0, ZP_UTIME_OMIT, 0, ZP_UTIME_NOW};
    struct timespec lomit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    SAME(zp_utimensat(rd, "f", omit, 4, 0), utimensat(ld, "f", lomit, 0));
    SAME(zp_fstatat(rd, "f", &rs, 0), fstatat(ld, "f", &ls, 0));
    CHECK(rs.st_mode == ls.st_mode && rs.st_uid == ls.st_uid && rs.st_gid == ls.st_gid &&
              rs.st_atim.tv_sec == 1000000000 && rs.st_atim.tv_nsec == 5 &&
              rs.st_mtime > 1200000000,
          "metadata: mode %o uid %u gid %u atime %ld.%ld", rs.st_mode, rs.st_uid, rs.st_gid,
          (long)rs.st_atim.tv_sec, rs.st_atim.tv_nsec);
    OK(zp_utimensat(rh, "", NULL, 0, AT_EMPTY_PATH));
    OK(zp_fchmodat(rh, "", 0640, AT_EMPTY_PATH));
    OK(zp_fstatat(rd, "f", &rs, 0));
    CHECK((rs.st_mode & 07777) == 0640, "fchmod: %o", rs.st_mode);
    OK(zp_fchownat(rh, "", 0, 0, AT_EMPTY_PATH));
    struct statx rx, lx;
    SAME(zp_statx(rd, "f", 0, STATX_BASIC_STATS | STATX_BTIME, &rx),
         statx(ld, "f", 0, STATX_BASIC_STATS | STATX_BTIME, &lx));
    CHECK(rx.stx_size == lx.stx_size && S_ISREG(rx.stx_mode) && (rx.stx_mask & STATX_INO),
          "statx: size %llu mode %o mask %x", (unsigned long long)rx.stx_size, rx.stx_mode,
          rx.stx_mask);
    SAME(zp_statx(rd, "f", 0x40000000, STATX_BASIC_STATS, &rx),
         statx(ld, "f", 0x40000000, STATX_BASIC_STATS, &lx));
    SAME(zp_statx(rd, "nope", 0, STATX_BASIC_STATS, &rx),
         statx(ld, "nope", 0, STATX_BASIC_STATS, &lx));
    OK(zp_statx(rh, "", AT_EMPTY_PATH, STATX_SIZE, &rx));
    CHECK(rx.stx_size == 4, "statx of a handle: %llu", (unsigned long long)rx.stx_size);
    /* links */
    SAME(zp_symlinkat("f", rd, "sl"), symlinkat("f", ld, "sl"));
    SAME(zp_symlinkat("f", rd, "sl"), symlinkat("f", ld, "sl"));
    SAME(zp_symlinkat("/etc/passwd", rd, "abs"), symlinkat("/etc/passwd", ld, "abs"));
    char rb[64] = {0}, lb[64] = {0};
    SAME(zp_readlinkat(rd, "sl", rb, sizeof(rb)), readlinkat(ld, "sl", lb, sizeof(lb)));
    CHECK(!strcmp(rb, "f"), "readlink: %s", rb);
    SAME(zp_readlinkat(rd, "abs", rb, 4), readlinkat(ld, "abs", lb, 4));
    CHECK(!memcmp(rb, "/etc", 4), "readlink truncated: %.4s", rb);
    SAME(zp_readlinkat(rd, "f", rb, sizeof(rb)), readlinkat(ld, "f", lb, sizeof(lb)));
    SAME(zp_readlinkat(rd, "nope", rb, sizeof(rb)), readlinkat(ld, "nope", lb, sizeof(lb)));
    SAME(zp_readlinkat(rd, "sl", rb, 0), readlinkat(ld, "sl", lb, 0));
    SAME(zp_fstatat(rd, "sl", &rs, AT_SYMLINK_NOFOLLOW),
         fstatat(ld, "sl", &ls, AT_SYMLINK_NOFOLLOW));
    CHECK(S_ISLNK(rs.st_mode) && S_ISLNK(ls.st_mode), "lstat of a symlink");
    SAME(zp_fstatat(rd, "sl", &rs, 0), fstatat(ld, "sl", &ls, 0));
    CHECK(S_ISREG(rs.st_mode), "stat through a symlink");
    SAME(zp_fchmodat(rd, "sl", 0600, AT_SYMLINK_NOFOLLOW),
         fchmodat(ld, "sl", 0600, AT_SYMLINK_NOFOLLOW));
    SAME(zp_fchownat(rd, "sl", 5, 5, AT_SYMLINK_NOFOLLOW),
         fchownat(ld, "sl", 5, 5, AT_SYMLINK_NOFOLLOW));
    SAME(zp_fstatat(rd, "sl", &rs, AT_SYMLINK_NOFOLLOW),
         fstatat(ld, "sl", &ls, AT_SYMLINK_NOFOLLOW));
    CHECK(rs.st_uid == 5 && ls.st_uid == 5, "lchown: %u", rs.st_uid);
    SAME(zp_utimensat(rd, "sl", t, 4, AT_SYMLINK_NOFOLLOW),
         utimensat(ld, "sl", lt, AT_SYMLINK_NOFOLLOW));
    SAME(zp_linkat(rd, "f", rd, "hard", 0), linkat(ld, "f", ld, "hard", 0));
    SAME(zp_linkat(rd, "f", rd, "hard", 0), linkat(ld, "f", ld, "hard", 0));
    SAME(zp_linkat(rd, "sl", rd, "hsl", 0), linkat(ld, "sl", ld, "hsl", 0));
    SAME(zp_linkat(rd, "sl", rd, "hsl2", AT_SYMLINK_FOLLOW),
         linkat(ld, "sl", ld, "hsl2", AT_SYMLINK_FOLLOW));
    SAME(zp_linkat(rd, "f", rd, "h3", 0x1000000), linkat(ld, "f", ld, "h3", 0x1000000));
    SAME(zp_fstatat(rd, "hsl2", &rs, AT_SYMLINK_NOFOLLOW),
         fstatat(ld, "hsl2", &ls, AT_SYMLINK_NOFOLLOW));
    CHECK(S_ISREG(rs.st_mode) && rs.st_nlink == 3, "link -L: mode %o nlink %lu", rs.st_mode,
          (unsigned long)rs.st_nlink);
    SAME(zp_linkat(rh, "", rd, "byhandle", AT_EMPTY_PATH),
         linkat(lh, "", ld, "byhandle", AT_EMPTY_PATH));
    OK(zp_fstatat(rd, "byhandle", &rs, 0));
    /* rename */
    SAME(zp_renameat2(rd, "hard", rd, "moved", 0), renameat2(ld, "hard", ld, "moved", 0));
    SAME(zp_renameat2(rd, "moved", rd, "f", RENAME_NOREPLACE),
         renameat2(ld, "moved", ld, "f", RENAME_NOREPLACE));
    SAME(zp_renameat2(rd, "sl", rd, "f", RENAME_EXCHANGE),
         renameat2(ld, "sl", ld, "f", RENAME_EXCHANGE));
    SAME(zp_fstatat(rd, "f", &rs, AT_SYMLINK_NOFOLLOW), fstatat(ld, "f", &ls, AT_SYMLINK_NOFOLLOW));
    CHECK(S_ISLNK(rs.st_mode), "RENAME_EXCHANGE");
    SAME(zp_renameat2(rd, "nope", rd, "x", 0), renameat2(ld, "nope", ld, "x", 0));
    SAME(zp_renameat2(rd, "moved", rd, "x", 0x80), renameat2(ld, "moved", ld, "x", 0x80));
    SAME(zp_renameat2(rd, ".", rd, "x", 0), renameat2(ld, ".", ld, "x", 0));
    SAME(zp_mkdirat(rd, "dd", 0755), mkdirat(ld, "dd", 0755));
    SAME(zp_renameat2(rd, "dd", rd, "dd/sub", 0), renameat2(ld, "dd", ld, "dd/sub", 0));
    /* ".." from a directory handle, staying in the export (retried from the export). */
    int ro = (int)OK(zp_openat(rd, "../f", O_RDONLY, 0));
    zp_close(ro);
    SAME(zp_mkdirat(rd, "dd/../dd2", 0755), mkdirat(ld, "dd/../dd2", 0755));
    OK(zp_fstatat(rd, "../m/dd2", &rs, 0));
    /* mknod: a fifo, a regular file */
    SAME(zp_mknodat(rd, "fifo", S_IFIFO | 0644, 0), mknodat(ld, "fifo", S_IFIFO | 0644, 0));
    SAME(zp_mknodat(rd, "reg", S_IFREG | 0600, 0), mknodat(ld, "reg", S_IFREG | 0600, 0));
    SAME(zp_mknodat(rd, "reg", S_IFREG | 0600, 0), mknodat(ld, "reg", S_IFREG | 0600, 0));
    SAME(zp_fstatat(rd, "fifo", &rs, 0), fstatat(ld, "fifo", &ls, 0));
    CHECK(S_ISFIFO(rs.st_mode), "mkfifo");
    SAME(zp_unlinkat(rd, "fifo", 0), unlinkat(ld, "fifo", 0));
    SAME(zp_unlinkat(rd, "f/", 0), unlinkat(ld, "f/", 0));
    SAME(zp_unlinkat(rd, "dd2", 0), unlinkat(ld, "dd2", 0));
    /* The modes are the client's: the daemon's umask (022 in tests) does not mask them. */
    int hu = (int)OK(zp_openat(rd, "um", O_CREAT | O_WRONLY, 0666));
    OK(zp_fstatat(hu, "", &rs, AT_EMPTY_PATH));
    CHECK((rs.st_mode & 0777) == 0666, "created with 0666: %o", rs.st_mode & 0777);
    zp_close(hu);
    OK(zp_mkdirat(rd, "umd", 0777));
    OK(zp_mknodat(rd, "umn", S_IFREG | 0666, 0));
    OK(zp_fstatat(rd, "umd", &rs, 0));
    CHECK((rs.st_mode & 0777) == 0777, "mkdir 0777: %o", rs.st_mode & 0777);
    OK(zp_fstatat(rd, "umn", &rs, 0));
    CHECK((rs.st_mode & 0777) == 0666, "mknod 0666: %o", rs.st_mode & 0777);
    /* statfs of a path */
    struct statfs rsf, lsf;
    SAME(zp_statfs(rd, "reg", &rsf), statfs(local("l/reg"), &lsf));
    SAME(zp_statfs(rd, "nope", &rsf), statfs(local("l/nope"), &lsf));
    /* Long names and paths. */
    char name[300], path[5000];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    SAME(zp_openat(rd, name, O_CREAT | O_WRONLY, 0600), openat(ld, name, O_CREAT | O_WRONLY, 0600));
    SAME(zp_mkdirat(rd, name, 0700), mkdirat(ld, name, 0700));
    SAME(zp_fstatat(rd, name, &rs, 0), fstatat(ld, name, &ls, 0));
    name[255] = '\0';
    SAME(zp_mkdirat(rd, name, 0700), mkdirat(ld, name, 0700));
    for (size_t i = 0; i + 2 < sizeof(path); i += 2)
        memcpy(path + i, "a/", 2);
    path[sizeof(path) - 1] = '\0';
    ERR(zp_openat(rd, path, O_RDONLY, 0), ENAMETOOLONG);
    ERR(zp_mkdirat(rd, path, 0700), ENAMETOOLONG);
    ERR(zp_fstatat(rd, path, &rs, 0), ENAMETOOLONG);
    ERR(zp_unlinkat(rd, path, 0), ENAMETOOLONG);
    ERR(zp_symlinkat("x", rd, path), ENAMETOOLONG);
    OK(zp_close(rh));
    close(lh);
    OK(zp_close(rd));
    close(ld);
}

/* ---- escapes ---- */

static void test_escapes(void)
{
    struct stat st;
    char buf[64];
    /* A file outside the export that must stay untouched. */
    char outside[PATH_MAX];
    snprintf(outside, sizeof(outside), "%s/../outside-secret", export_dir);
    put_file("../outside-secret", "secret", 0644);
    mkdir(local("esc"), 0755);
    symlink("/", local("esc/root"));
    symlink("/etc/passwd", local("esc/passwd"));
    symlink("../../outside-secret", local("esc/rel"));
    symlink("/proc/self/root", local("esc/proc"));
    symlink("../..", local("esc/up"));
    int dh = (int)OK(zp_openat(ZP_ROOT, "esc", O_RDONLY | O_DIRECTORY, 0));
    const char *paths[] = {"../../etc/passwd",
                           "../outside-secret",
                           "esc/root/etc/passwd",
                           "esc/passwd",
                           "esc/rel",
                           "esc/proc/etc/passwd",
                           "/etc/passwd",
                           "/proc/self/root/etc/passwd",
                           "esc/up/outside-secret",
                           "..",
                           "esc/../../outside-secret",
                           "/"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const char *p = paths[i];
        errno = 0;
        int h = zp_openat(ZP_ROOT, p, O_RDONLY, 0);
        CHECK(h == -1 && (errno == EXDEV || errno == ELOOP), "open %s: %d %s", p, h,
              strerror(errno));
        errno = 0;
        int r = zp_fstatat(ZP_ROOT, p, &st, 0);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "stat %s: %s", p, strerror(errno));
        errno = 0;
        r = zp_fchmodat(ZP_ROOT, p, 0777, 0);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "chmod %s: %s", p, strerror(errno));
        errno = 0;
        r = zp_truncate(ZP_ROOT, p, 0);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "truncate %s: %s", p, strerror(errno));
        errno = 0;
        r = zp_fchownat(ZP_ROOT, p, 1, 1, 0);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "chown %s: %s", p, strerror(errno));
        errno = 0;
        r = zp_utimensat(ZP_ROOT, p, NULL, 0, 0);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "utimens %s: %s", p, strerror(errno));
        errno = 0;
        r = zp_linkat(ZP_ROOT, p, ZP_ROOT, "esc/stolen", AT_SYMLINK_FOLLOW);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "link -L %s: %s", p, strerror(errno));
        /* The same from a directory handle, with one more "..". */
        if (p[0] == '/')
            continue;
        char q[256];
        snprintf(q, sizeof(q), "../%s", p);
        errno = 0;
        h = zp_openat(dh, q, O_RDONLY, 0);
        CHECK(h == -1 && (errno == EXDEV || errno == ELOOP), "open (dirh) %s: %d %s", q, h,
              strerror(errno));
    }
    const char *names[] = {"../escaped", "../../escaped", "/tmp/escaped", "esc/up/escaped",
                           "esc/root/tmp/escaped"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *p = names[i];
        errno = 0;
        int r = zp_mkdirat(ZP_ROOT, p, 0755);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "mkdir %s: %s", p, strerror(errno));
        r = zp_openat(ZP_ROOT, p, O_CREAT | O_WRONLY, 0644);
        CHECK(r == -1, "create %s", p);
        errno = 0;
        r = zp_symlinkat("x", ZP_ROOT, p);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "symlink %s: %s", p, strerror(errno));
        errno = 0;
        r = zp_mknodat(ZP_ROOT, p, S_IFREG | 0600, 0);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "mknod %s: %s", p, strerror(errno));
        errno = 0;
        r = zp_renameat2(ZP_ROOT, "r/f", ZP_ROOT, p, 0);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "rename to %s: %s", p,
              strerror(errno));
        errno = 0;
        r = zp_linkat(ZP_ROOT, "r/f", ZP_ROOT, p, 0);
        CHECK(r == -1 && (errno == EXDEV || errno == ELOOP), "link to %s: %s", p, strerror(errno));
    }
    CHECK(access("/tmp/escaped", F_OK) != 0, "/tmp/escaped was created");
    ERR(zp_unlinkat(ZP_ROOT, "../outside-secret", 0), EXDEV);
    ERR(zp_unlinkat(ZP_ROOT, "..", AT_REMOVEDIR), EXDEV);
    ERR(zp_unlinkat(ZP_ROOT, "esc/up/outside-secret", 0), EXDEV);
    ERR(zp_renameat2(ZP_ROOT, "../outside-secret", ZP_ROOT, "got", 0), EXDEV);
    ERR(zp_linkat(ZP_ROOT, "../outside-secret", ZP_ROOT, "got", 0), EXDEV);
    ERR(zp_readlinkat(ZP_ROOT, "esc/up/x", buf, sizeof(buf)), EXDEV);
    struct statfs sfs;
    ERR(zp_statfs(ZP_ROOT, "esc/root", &sfs), EXDEV);
    ERR(zp_faccessat(ZP_ROOT, "esc/passwd", R_OK, 0), EXDEV);
    /* The symlinks themselves are fine (not followed). */
    OK(zp_fstatat(ZP_ROOT, "esc/root", &st, AT_SYMLINK_NOFOLLOW));
    CHECK(zp_readlinkat(ZP_ROOT, "esc/root", buf, sizeof(buf)) == 1 && buf[0] == '/',
          "readlink of esc/root");
    struct stat o;
    CHECK(stat(outside, &o) == 0 && o.st_size == 6 && (o.st_mode & 0777) == 0644,
          "the file outside the export changed");
    OK(zp_close(dh));
}

/* ---- sessions across connections ---- */

static void test_attach(struct zoid_client *c1)
{
    use(c1);
    int h = (int)OK(zp_openat(ZP_ROOT, "r/f", O_RDONLY, 0));
    struct zoid_client *c2 = connect_or_die();
    use(c2);
    uint8_t wrong[ZP_SECRET_BYTES];
    memcpy(wrong, secret, sizeof(wrong));
    wrong[3] ^= 1;
    ERR(zp_session_attach(sid, wrong, sizeof(wrong)), EPERM);
    ERR(zp_session_attach(sid, secret, 8), EPERM);
    ERR(zp_session_attach(sid + 1000, secret, sizeof(secret)), ENOENT);
    char b[4];
    ERR(zp_pread(h, b, 1, 0), EBADF); /* c2's own session so far */
    OK(zp_session_attach(sid, secret, sizeof(secret)));
    CHECK(zp_pread(h, b, 1, 0) == 1, "the handle is not shared after attach");
    /* Handles opened on either connection are the session's. */
    int h2 = (int)OK(zp_openat(ZP_ROOT, "r/f", O_RDONLY, 0));
    use(c1);
    CHECK(zp_pread(h2, b, 1, 0) == 1, "a handle opened by the attached connection");
    /* A handle closes with the connection that owns it (the one that opened it) unless another
     * connection of the session adopted it; zp_adopt is all or nothing. */
    int h3 = (int)OK(zp_openat(ZP_ROOT, "r/f", O_RDONLY, 0));
    use(c2);
    int32_t bad[2] = {h3, 4000}, mine = h;
    ERR(zp_adopt(bad, 2), EBADF);
    int32_t *many = calloc(4097, sizeof(*many)); /* above a session's table */
    CHECK(many != NULL, "calloc");
    ERR(zp_adopt(many, 4097), EINVAL);
    free(many);
    OK(zp_adopt(&mine, 1));
    /* The table lives while one connection does. */
    int before = count_fds(daemon_pid);
    zoid_close(c1);
    use(c2);
    CHECK(zp_pread(h, b, 1, 0) == 1, "the session died with the first connection");
    int gone = 0;
    for (int i = 0; i < 500 && !gone; i++) {
        gone = zp_pread(h3, b, 1, 0) == -1 && errno == EBADF;
        struct timespec ts = {0, 10000000};
        if (!gone)
            nanosleep(&ts, NULL);
    }
    CHECK(gone, "a handle outlived the connection that owned it (or a failed adopt moved it)");
    zoid_close(c2);
    zposix_zoid_use(NULL);
    int after = before;
    for (int i = 0; i < 500 && after > before - 2; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        after = count_fds(daemon_pid);
    }
    CHECK(after <= before - 2, "the daemon's descriptors: %d before, %d after", before, after);
    /* Another uid may not attach even with the secret. */
    struct zoid_client *c3 = connect_or_die();
    use(c3);
    uint64_t id3;
    uint8_t s3[ZP_SECRET_BYTES];
    OK(zp_session_new(ZP_VERSION, &id3, s3, sizeof(s3)));
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
            _exit(3);
        struct zoid_client *c = connect_or_die();
        zposix_zoid_use(c);
        errno = 0;
        int r = zp_session_attach(id3, s3, sizeof(s3));
        _exit(r == -1 && errno == EPERM ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "another uid attached (status %d)",
          status);
    zoid_close(c3);
    zposix_zoid_use(NULL);
}

/* The daemon's soft limit of open files (from /proc/PID/limits), or -1. */
static long daemon_nofile(void)
{
    char p[64], line[256];
    snprintf(p, sizeof(p), "/proc/%d/limits", daemon_pid);
    FILE *f = fopen(p, "r");
    long n = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "Max open files", 14))
            n = strtol(line + 14, NULL, 10);
    if (f)
        fclose(f);
    return n;
}

/* The per-session handle limit. */
static void test_emfile(void)
{
    long lim = daemon_nofile();
    if (lim >= 0 && lim < 4096 + 256) {
        printf("the daemon may open %ld files: the 4096-handle limit is not tested\n", lim);
        return;
    }
    struct zoid_client *c = connect_or_die();
    use(c);
    int last = -1, n = 0;
    for (;;) {
        errno = 0;
        int h = zp_openat(ZP_ROOT, "r/f", O_RDONLY, 0);
        if (h < 0)
            break;
        last = h;
        n++;
    }
    CHECK(errno == EMFILE && n == 4096 && last == 4095, "limit: %d handles, then %s", n,
          strerror(errno));
    OK(zp_close(17));
    CHECK(zp_openat(ZP_ROOT, "r/f", O_RDONLY, 0) == 17, "the lowest free handle");
    zoid_close(c);
    zposix_zoid_use(NULL);
}

/* Many threads on one session. */
static void *hammer(void *arg)
{
    int h = *(int *)arg;
    long bad = 0;
    for (int i = 0; i < 300; i++) {
        char w[32], r[32] = {0};
        int n = snprintf(w, sizeof(w), "thread %p %d", (void *)&bad, i);
        int64_t off = (int64_t)((uintptr_t)arg % 1000) * 64;
        if (zp_pwrite(h, w, (size_t)n, off) != n || zp_pread(h, r, (size_t)n, off) != n ||
            memcmp(w, r, (size_t)n))
            bad++;
        int t = zp_dup(h);
        if (t < 0 || zp_close(t))
            bad++;
    }
    return (void *)bad;
}

static void test_threads(void)
{
    struct zoid_client *c = connect_or_die();
    use(c);
    int h = (int)OK(zp_openat(ZP_ROOT, "r/threads", O_CREAT | O_RDWR, 0600));
    pthread_t t[6];
    int hs[6];
    for (int i = 0; i < 6; i++) {
        hs[i] = h;
        pthread_create(&t[i], NULL, hammer, &hs[i]);
    }
    long bad = 0;
    for (int i = 0; i < 6; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    CHECK(bad == 0, "%ld bad results from threads", bad);
    zoid_close(c);
    zposix_zoid_use(NULL);
}

/* ---- identity ---- */

/* Runs fn as uid/gid with groups, in a child; its exit status (0: fine). */
static int as_user(uid_t uid, gid_t gid, const gid_t *groups, size_t n, int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(n, groups) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
            _exit(100);
        struct zoid_client *c = connect_or_die();
        zposix_zoid_use(c);
        _exit(fn());
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

static const char *tag = "fork"; /* in the names nobody_checks creates */

static int nobody_checks(void)
{
    int bad = 0;
    char mine[64], mydir[64];
    snprintf(mine, sizeof(mine), "id/open/mine-%s", tag);
    snprintf(mydir, sizeof(mydir), "id/open/mydir-%s", tag);
    struct stat st;
    errno = 0;
    if (zp_openat(ZP_ROOT, "id/secret", O_RDONLY, 0) != -1 || errno != EACCES) {
        fprintf(stderr, "FAIL: 65534 read a 0600 root file (%s)\n", strerror(errno));
        bad++;
    }
    errno = 0;
    if (zp_faccessat(ZP_ROOT, "id/secret", R_OK, 0) != -1 || errno != EACCES) {
        fprintf(stderr, "FAIL: access R_OK as 65534: %s\n", strerror(errno));
        bad++;
    }
    errno = 0;
    if (zp_truncate(ZP_ROOT, "id/secret", 0) != -1 || errno != EACCES) {
        fprintf(stderr, "FAIL: truncate as 65534: %s\n", strerror(errno));
        bad++;
    }
    errno = 0;
    if (zp_fchmodat(ZP_ROOT, "id/secret", 0666, 0) != -1 || errno != EPERM) {
        fprintf(stderr, "FAIL: chmod as 65534: %s\n", strerror(errno));
        bad++;
    }
    errno = 0;
    if (zp_unlinkat(ZP_ROOT, "id/secret", 0) != -1 || errno != EACCES) {
        fprintf(stderr, "FAIL: unlink in a root dir as 65534: %s\n", strerror(errno));
        bad++;
    }
    errno = 0;
    if (zp_fstatat(ZP_ROOT, "id/private/x", &st, 0) != -1 || errno != EACCES) {
        fprintf(stderr, "FAIL: stat in a 0700 root dir as 65534: %s\n", strerror(errno));
        bad++;
    }
    /* What it creates is its own. */
    int h = zp_openat(ZP_ROOT, mine, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (h < 0 || zp_fstatat(h, "", &st, AT_EMPTY_PATH) || st.st_uid != 65534 ||
        st.st_gid != 65534) {
        fprintf(stderr, "FAIL: create as 65534: h %d uid %u gid %u\n", h, st.st_uid, st.st_gid);
        bad++;
    }
    if (zp_mkdirat(ZP_ROOT, mydir, 0755)) {
        fprintf(stderr, "FAIL: mkdir as 65534: %s\n", strerror(errno));
        bad++;
    }
    errno = 0;
    if (zp_fchownat(ZP_ROOT, mine, 0, 0, 0) != -1 || errno != EPERM) {
        fprintf(stderr, "FAIL: chown to root as 65534: %s\n", strerror(errno));
        bad++;
    }
    /* Without the group: no access to the group's file. */
    errno = 0;
    if (zp_openat(ZP_ROOT, "id/group", O_RDONLY, 0) != -1 || errno != EACCES) {
        fprintf(stderr, "FAIL: read a group file without the group: %s\n", strerror(errno));
        bad++;
    }
    return bad ? 1 : 0;
}

static int group_checks(void)
{
    int h = zp_openat(ZP_ROOT, "id/group", O_RDONLY, 0);
    if (h < 0) {
        fprintf(stderr, "FAIL: read a group file with the group as supplementary: %s\n",
                strerror(errno));
        return 1;
    }
    return 0;
}

static int denied_secret(void)
{
    errno = 0;
    return zp_openat(ZP_ROOT, "id/secret", O_RDONLY, 0) == -1 && errno == EACCES ? 0 : 1;
}

static void test_identity(void)
{
    mkdir(local("id"), 0755);
    put_file("id/secret", "top secret", 0600);
    mkdir(local("id/private"), 0700);
    put_file("id/private/x", "x", 0644);
    mkdir(local("id/open"), 0777);
    chmod(local("id/open"), 0777);
    put_file("id/group", "group data", 0640);
    chown(local("id/group"), 0, 4242);
    CHECK(as_user(65534, 65534, NULL, 0, nobody_checks) == 0, "checks as uid 65534");
    struct stat st;
    CHECK(stat(local("id/open/mine-fork"), &st) == 0 && st.st_uid == 65534, "owner of mine: %u",
          st.st_uid);
    gid_t g[] = {4242};
    CHECK(as_user(65534, 65534, g, 1, group_checks) == 0, "supplementary groups");
    /* Worker threads that served 65534 serve root as root again (and the other way round). */
    struct zoid_client *c = connect_or_die();
    use(c);
    for (int i = 0; i < 8; i++) {
        int h = (int)OK(zp_openat(ZP_ROOT, "id/secret", O_RDONLY, 0));
        OK(zp_close(h));
        CHECK(as_user(65534, 65534, NULL, 0, denied_secret) == 0, "65534 read the secret");
    }
    zoid_close(c);
    zposix_zoid_use(NULL);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[2], "nobody")) {
        /* Run by setpriv as uid 65534 after a full run (which made the files of id/). */
        addr = argv[1];
        tag = "setpriv";
        zposix_zoid_use(connect_or_die());
        return nobody_checks();
    }
    if (argc == 3 && !strcmp(argv[2], "relaxed")) {
        /* A daemon started with --consistency relaxed: what new sessions are told. */
        addr = argv[1];
        zposix_zoid_use(connect_or_die());
        int c = (int)OK(zp_session_new(ZP_VERSION, &sid, secret, sizeof(secret)));
        CHECK(c == ZP_RELAXED, "consistency %d, expected relaxed", c);
        return failures ? 1 : 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: test_zoid_posix_ops ADDR EXPORT DAEMON_PID | ADDR relaxed\n");
        return 2;
    }
    if (geteuid() != 0) {
        printf("skip: needs root (to fork clients of other uids)\n");
        return 77;
    }
    addr = argv[1];
    export_dir = argv[2];
    daemon_pid = atoi(argv[3]);
    struct zoid_client *c1 = connect_or_die(), *c2 = connect_or_die();
    use(c1);
    test_session();
    test_io();
    test_getdents();
    test_locks(c1, c2);
    use(c1);
    test_paths();
    test_escapes();
    zoid_close(c2);
    test_attach(c1); /* closes c1 */
    test_emfile();
    test_threads();
    test_identity();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
