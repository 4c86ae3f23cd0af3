/*
 * The client side of bench/zoid_coalesce.sh and integration.zoid_coalesce: N client processes,
 * each with its own connection to a daemon, doing the same thing at the same instant (released
 * together by a pipe), through the posix protocol's stubs (explicit offsets, as MPI ranks do).
 * Prints one JSON object.
 *
 *   read  ADDR PATH N CHUNK LOCAL        every client: access, stat, open, then PATH read whole
 *                                        in CHUNK-byte preads; each checks its bytes against
 *                                        LOCAL (the same file, read directly)
 *   write ADDR PATH N BLOCK TOTAL strict|relaxed LOCAL [kill]
 *                                        client i writes blocks i, i+N, ... of a TOTAL-byte file
 *                                        (a pattern of the offset), then closes it; once all
 *                                        are done, the parent fsyncs the file through the daemon
 *                                        (in the time: a collective close); the file is checked
 *                                        through LOCAL. With kill, client 0 is
 *                                        killed (SIGKILL) once half its blocks are answered; its
 *                                        answered blocks must reach the file too
 *   local LOCAL N CHUNK                  the floors of read, without zoid: every client opens
 *   raw LOCAL N CHUNK                    LOCAL and reads it whole in CHUNK-byte preads from the
 *                                        page cache (local), or receives it whole over its own
 *                                        unix socket from a sender process of its own that
 *                                        writes it from the page cache (raw: the transport with
 *                                        no protocol and no backend read); the same check
 *   order ADDR PATH LOCAL                one relaxed client: 4 KiB of 'A' at 0 and 4 KiB of 'C' at
 *                                        8 MiB (both held by the daemon), then 1 MiB of 'B' at 0
 *                                        (large and aligned: straight to the backend, after the
 *                                        'A' it overlaps). Before the close, LOCAL must hold the
 *                                        'B's and nothing at 8 MiB yet (still held); after it,
 *                                        both. With ZOID_COALESCE_FLUSH_MS long enough not to
 *                                        flush in between
 *   ident ADDR SECRET DIRFILE N ROUNDS LOCAL
 *                                        half the clients root, half uid 65534, ROUNDS times
 *                                        each: access(SECRET, R_OK), stat(DIRFILE), open and
 *                                        read SECRET; root must succeed (the right bytes),
 *                                        65534 must get EACCES every time
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zepto/zoid.h"
#include "zposix.h"
#include "zposix_client.h"

#define MAXN 256

struct result {
    int ok;       /* 1: everything as expected */
    int errors;   /* violations or failures */
    int64_t done; /* blocks answered (write), bytes read (read) */
    char why[160];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t word_at(int64_t off)
{
    return (uint64_t)(off / 8) * 0x9E3779B97F4A7C15u ^ 0x5bd1e995u;
}

static void fill(unsigned char *p, size_t n, int64_t off)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = word_at(off + (int64_t)i);
        memcpy(p + i, &w, 8);
    }
}

static bool check(const unsigned char *p, size_t n, int64_t off)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = word_at(off + (int64_t)i);
        if (memcmp(p + i, &w, 8))
            return false;
    }
    return true;
}

static int client_connect(const char *addr)
{
    struct zoid_client *c;
    struct zepto_err err = {0};
    if (zoid_connect(addr, NULL, &c, &err)) {
        fprintf(stderr, "zoid_coalesce: %s: %s\n", addr, err.msg);
        return -1;
    }
    zposix_zoid_use(c);
    uint64_t id;
    uint8_t secret[ZP_SECRET_BYTES];
    return zp_session_new(ZP_VERSION, &id, secret, sizeof(secret)) < 0 ? -1 : 0;
}

static void bad(struct result *r, const char *fmt, const char *what, int e)
{
    r->errors++;
    if (!r->why[0])
        snprintf(r->why, sizeof(r->why), fmt, what, strerror(e));
}

/* ---- the modes, one client's part ---- */

static const unsigned char *local_map; /* the file as the kernel has it (read mode) */
static size_t local_len;

typedef ssize_t (*pread_fn)(int fd, void *buf, size_t n, int64_t off);

static ssize_t zp_pread_at(int h, void *buf, size_t n, int64_t off)
{
    return zp_pread(h, buf, n, off);
}

static ssize_t pread_at(int fd, void *buf, size_t n, int64_t off)
{
    return pread(fd, buf, n, (off_t)off);
}

/* Reads fd whole in CHUNK-byte reads (through zoid or not), each checked against the file as the
 * kernel has it; r->done counts the bytes read. */
static void read_checked(pread_fn rd, int fd, const char *path, size_t chunk, struct result *r)
{
    unsigned char *buf = malloc(chunk);
    for (int64_t off = 0; buf;) {
        ssize_t n = rd(fd, buf, chunk, off);
        if (n < 0) {
            bad(r, "pread %s: %s", path, errno);
            break;
        }
        if ((size_t)off + (size_t)n > local_len || memcmp(buf, local_map + off, (size_t)n)) {
            bad(r, "%s: %s", "wrong bytes", EIO);
            break;
        }
        off += n;
        r->done = off;
        if ((size_t)n < chunk)
            break;
    }
    free(buf);
    if ((size_t)r->done != local_len)
        bad(r, "%s: %s", "short file", EIO);
}

static void do_read(const char *path, size_t chunk, struct result *r)
{
    struct stat st;
    if (zp_faccessat(ZP_ROOT, path, R_OK, 0))
        bad(r, "access %s: %s", path, errno);
    if (zp_fstatat(ZP_ROOT, path, &st, 0))
        bad(r, "stat %s: %s", path, errno);
    int h = zp_openat(ZP_ROOT, path, O_RDONLY, 0);
    if (h < 0) {
        bad(r, "open %s: %s", path, errno);
        return;
    }
    read_checked(zp_pread_at, h, path, chunk, r);
    zp_close(h);
}

static void do_write(const char *path, int i, int n, size_t block, int64_t total, int relaxed,
                     int killme, int report_fd, struct result *r)
{
    if (zp_consistency(relaxed ? ZP_RELAXED : ZP_STRICT) < 0)
        bad(r, "%s: %s", "zp_consistency", errno);
    int h = zp_openat(ZP_ROOT, path, O_WRONLY | O_CREAT, 0644);
    if (h < 0) {
        bad(r, "open %s: %s", path, errno);
        return;
    }
    unsigned char *buf = malloc(block);
    int64_t nblocks = total / (int64_t)block, mine = 0;
    for (int64_t b = i; b < nblocks; b += n)
        mine++;
    for (int64_t b = i, k = 0; buf && b < nblocks; b += n, k++) {
        if (killme && k == mine / 2) {
            /* Half answered: tell the parent how many, and wait for SIGKILL. */
            if (write(report_fd, &k, sizeof(k)) != sizeof(k))
                _exit(3);
            for (;;)
                pause();
        }
        fill(buf, block, b * (int64_t)block);
        if (zp_pwrite(h, buf, block, b * (int64_t)block) != (ssize_t)block) {
            bad(r, "pwrite %s: %s", path, errno);
            break;
        }
        r->done++;
    }
    free(buf);
    if (zp_close(h))
        bad(r, "close %s: %s", path, errno);
}

static void do_ident(const char *secret, const char *dirfile, int denied, int rounds,
                     struct result *r)
{
    unsigned char buf[4096];
    for (int k = 0; k < rounds; k++) {
        struct stat st;
        int a = zp_faccessat(ZP_ROOT, secret, R_OK, 0), ea = errno;
        int s = zp_fstatat(ZP_ROOT, dirfile, &st, 0), es = errno;
        int h = zp_openat(ZP_ROOT, secret, O_RDONLY, 0), eh = errno;
        ssize_t got = h >= 0 ? zp_pread(h, buf, sizeof(buf), 0) : -1;
        if (h >= 0)
            zp_close(h);
        if (denied) {
            if (a == 0 || ea != EACCES)
                bad(r, "access %s as 65534: %s (want EACCES)", secret, a ? ea : 0);
            if (s == 0 || es != EACCES)
                bad(r, "stat %s as 65534: %s (want EACCES)", dirfile, s ? es : 0);
            if (h >= 0 || eh != EACCES)
                bad(r, "open %s as 65534: %s (want EACCES)", secret, h >= 0 ? 0 : eh);
        } else {
            if (a)
                bad(r, "access %s as root: %s", secret, ea);
            if (s)
                bad(r, "stat %s as root: %s", dirfile, es);
            if (h < 0)
                bad(r, "open %s as root: %s", secret, eh);
            else if (got < 0 || (size_t)got > local_len || memcmp(buf, local_map, (size_t)got))
                bad(r, "read %s as root: %s", secret, got < 0 ? errno : EIO);
        }
    }
}

/* ---- the floors (no zoid) ---- */

static void do_local(const char *path, size_t chunk, struct result *r)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        bad(r, "open %s: %s", path, errno);
        return;
    }
    read_checked(pread_at, fd, path, chunk, r);
    close(fd);
}

/* The sender of raw: the file from the page cache onto the socket, CHUNK bytes a call. */
static void raw_send(int sock, const char *path, size_t chunk)
{
    int fd = open(path, O_RDONLY);
    unsigned char *buf = malloc(chunk);
    if (fd < 0 || !buf)
        _exit(8);
    for (int64_t off = 0;;) {
        ssize_t n = pread(fd, buf, chunk, (off_t)off);
        if (n <= 0)
            break;
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(sock, buf + w, (size_t)(n - w));
            if (k <= 0)
                _exit(9);
            w += k;
        }
        off += n;
    }
    _exit(0);
}

static void do_raw(int sock, size_t chunk, struct result *r)
{
    unsigned char *buf = malloc(chunk);
    while (buf && (size_t)r->done < local_len) {
        size_t fill_to = 0;
        while (fill_to < chunk && (size_t)r->done + fill_to < local_len) {
            ssize_t k = read(sock, buf + fill_to, chunk - fill_to);
            if (k <= 0)
                break;
            fill_to += (size_t)k;
        }
        if (!fill_to || memcmp(buf, local_map + r->done, fill_to)) {
            bad(r, "%s: %s", fill_to ? "wrong bytes" : "short stream", EIO);
            break;
        }
        r->done += (int64_t)fill_to;
    }
    free(buf);
    if ((size_t)r->done != local_len)
        bad(r, "%s: %s", "short file", EIO);
}

/* ---- order: a large aligned write and held bytes it overlaps (one client, in-process) ---- */

/* 0 when LOCAL's [off, off + n) is all c (size at least off + n). */
static int local_is(const char *local, int64_t off, size_t n, int c)
{
    int fd = open(local, O_RDONLY);
    unsigned char *b = malloc(n);
    int bad_bytes = fd < 0 || !b || pread(fd, b, n, (off_t)off) != (ssize_t)n;
    for (size_t i = 0; !bad_bytes && i < n; i++)
        bad_bytes = b[i] != c;
    free(b);
    if (fd >= 0)
        close(fd);
    return bad_bytes;
}

static int do_order(const char *addr, const char *path, const char *local)
{
    char why[160] = "";
    const size_t big = 1u << 20, small = 4096;
    const int64_t far = 8 << 20;
    unsigned char *b = malloc(big);
    int h = -1;
    struct stat st;
    if (!b || client_connect(addr) || zp_consistency(ZP_RELAXED) < 0) {
        snprintf(why, sizeof(why), "connect or zp_consistency: %s", strerror(errno));
    } else if ((h = zp_openat(ZP_ROOT, path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
        snprintf(why, sizeof(why), "open %s: %s", path, strerror(errno));
    } else if (memset(b, 'A', small),
               zp_pwrite(h, b, small, 0) != (ssize_t)small ||
                   (memset(b, 'C', small), zp_pwrite(h, b, small, far)) != (ssize_t)small ||
                   (memset(b, 'B', big), zp_pwrite(h, b, big, 0)) != (ssize_t)big) {
        snprintf(why, sizeof(why), "pwrite %s: %s", path, strerror(errno));
    } else if (local_is(local, 0, big, 'B')) {
        snprintf(why, sizeof(why), "before the close, %s lacks the 1 MiB write (held?)", local);
    } else if (stat(local, &st) || st.st_size > far) {
        snprintf(why, sizeof(why), "before the close, %s has the held 4 KiB at 8 MiB (flushed)",
                 local);
    } else if (zp_close(h)) {
        h = -1;
        snprintf(why, sizeof(why), "close %s: %s", path, strerror(errno));
    } else if (h = -1, local_is(local, 0, big, 'B') || local_is(local, far, small, 'C')) {
        snprintf(why, sizeof(why), "after the close, %s is not B..., C at 8 MiB", local);
    }
    if (h >= 0 && why[0])
        zp_close(h);
    free(b);
    printf("{\"mode\":\"order\",\"ok\":%s,\"why\":\"%s\"}\n", why[0] ? "false" : "true", why);
    return why[0] ? 1 : 0;
}

/* ---- the parent ---- */

static int map_local(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        fprintf(stderr, "zoid_coalesce: %s: %s\n", path, strerror(errno));
        return -1;
    }
    local_len = (size_t)st.st_size;
    local_map = local_len ? mmap(NULL, local_len, PROT_READ, MAP_SHARED, fd, 0) : NULL;
    close(fd);
    if (local_len && local_map == MAP_FAILED) {
        fprintf(stderr, "zoid_coalesce: mmap %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_zoid_coalesce read ADDR PATH N CHUNK LOCAL\n"
                    "       bench_zoid_coalesce write ADDR PATH N BLOCK TOTAL strict|relaxed "
                    "LOCAL [kill]\n"
                    "       bench_zoid_coalesce ident ADDR SECRET DIRFILE N ROUNDS LOCAL\n"
                    "       bench_zoid_coalesce local|raw LOCAL N CHUNK\n"
                    "       bench_zoid_coalesce order ADDR PATH LOCAL\n");
    return 2;
}

static long num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "zoid_coalesce: '%s': a number from %ld to %ld\n", s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *mode = argv[1];
    if (!strcmp(mode, "order"))
        return argc == 5 ? do_order(argv[2], argv[3], argv[4]) : usage();
    int n;
    size_t chunk = 0, block = 0;
    int64_t total = 0;
    int relaxed = 0, killme = 0, rounds = 0;
    const char *addr = NULL, *path = NULL, *dirfile = NULL, *local;
    bool floor = !strcmp(mode, "local") || !strcmp(mode, "raw");
    if (!strcmp(mode, "read") && argc == 7) {
        addr = argv[2], path = argv[3], n = (int)num(argv[4], 1, MAXN);
        chunk = (size_t)num(argv[5], 8, 64 << 20), local = argv[6];
    } else if (!strcmp(mode, "write") && (argc == 9 || argc == 10)) {
        addr = argv[2], path = argv[3], n = (int)num(argv[4], 1, MAXN);
        block = (size_t)num(argv[5], 8, 16 << 20), total = num(argv[6], 8, 1l << 34);
        relaxed = !strcmp(argv[7], "relaxed");
        if (!relaxed && strcmp(argv[7], "strict"))
            return usage();
        local = argv[8];
        killme = argc == 10 && !strcmp(argv[9], "kill");
        if (block % 8 || total % (int64_t)block || (argc == 10 && !killme))
            return usage();
    } else if (floor && argc == 5) {
        local = argv[2], n = (int)num(argv[3], 1, MAXN), chunk = (size_t)num(argv[4], 8, 64 << 20);
    } else if (!strcmp(mode, "ident") && argc == 8) {
        addr = argv[2], path = argv[3], dirfile = argv[4], n = (int)num(argv[5], 2, MAXN);
        rounds = (int)num(argv[6], 1, 100000), local = argv[7];
    } else {
        return usage();
    }
    if (strcmp(mode, "write") && map_local(local))
        return 1;

    int go[2], res[2], rep[2];
    if (pipe(go) || pipe(res) || pipe(rep))
        return 1;
    pid_t pids[MAXN];
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] < 0)
            return 1;
        if (pids[i])
            continue;
        close(go[1]);
        close(res[0]);
        close(rep[0]);
        struct result r = {.ok = 0};
        int denied = !strcmp(mode, "ident") && i % 2;
        if (denied && (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
                       setresuid(65534, 65534, 65534)))
            _exit(4);
        int sv[2] = {-1, -1};
        pid_t sender = -1;
        if (!strcmp(mode, "raw")) {
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
                _exit(5);
            sender = fork();
            if (sender < 0)
                _exit(5);
            if (sender == 0) {
                close(sv[0]);
                char c;
                if (read(go[0], &c, 1) != 0)
                    _exit(6);
                raw_send(sv[1], local, chunk);
            }
            close(sv[1]);
        } else if (!floor && client_connect(addr)) {
            _exit(5);
        }
        char c;
        if (read(go[0], &c, 1) != 0) /* EOF: released */
            _exit(6);
        if (!strcmp(mode, "read"))
            do_read(path, chunk, &r);
        else if (!strcmp(mode, "local"))
            do_local(local, chunk, &r);
        else if (!strcmp(mode, "raw"))
            do_raw(sv[0], chunk, &r);
        else if (!strcmp(mode, "write"))
            do_write(path, i, n, block, total, relaxed, killme && i == 0, rep[1], &r);
        else
            do_ident(path, dirfile, denied, rounds, &r);
        r.ok = r.errors == 0;
        if (sender > 0) /* its CPU time counts in the parent's children's */
            waitpid(sender, NULL, 0);
        ssize_t w = write(res[1], &r, sizeof(r));
        _exit(w == sizeof(r) ? 0 : 7);
    }
    close(go[0]);
    close(res[1]);
    close(rep[1]);
    /* Everyone connected: the connections are made before the clock starts. */
    usleep(200000);
    double t0 = now();
    close(go[1]);
    int64_t half = -1;
    int expect = n, errors = 0, got = 0;
    char why[160] = "";
    if (killme) {
        if (read(rep[0], &half, sizeof(half)) != sizeof(half))
            errors++;
        kill(pids[0], SIGKILL);
        expect = n - 1;
    }
    struct result r;
    while (got < expect && read(res[0], &r, sizeof(r)) == sizeof(r)) {
        got++;
        errors += r.errors;
        if (!why[0] && r.why[0])
            snprintf(why, sizeof(why), "%s", r.why);
    }
    if (!strcmp(mode, "write") && !killme) {
        /* The collective end of a checkpoint: one fsync of the file, through the daemon. */
        int h = client_connect(addr) ? -1 : zp_openat(ZP_ROOT, path, O_WRONLY, 0);
        if (h < 0 || zp_fsync(h, 0) || zp_close(h)) {
            errors++;
            snprintf(why, sizeof(why), "final fsync of %s: %s", path, strerror(errno));
        }
    }
    double wall = now() - t0;
    for (int i = 0; i < n; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (!(killme && i == 0) && (!WIFEXITED(st) || WEXITSTATUS(st))) {
            errors++;
            if (!why[0])
                snprintf(why, sizeof(why), "client %d ended with status %d", i, st);
        }
    }
    if (got < expect)
        errors += expect - got;

    int64_t dead_ok = -1;
    if (!strcmp(mode, "write")) {
        /* The file, as the kernel has it: every block of the live clients; with a client
         * killed, once the daemon has flushed (polled, at most 3 s): the flush may still be
         * running when the clients are done (whichever close is the last, or the timer), and it
         * writes a stripe with holes one run at a time (a look between two runs saw the first
         * half of the file whole and 480 blocks of the second not yet written). */
        int64_t nblocks = total / (int64_t)block, bad_blocks = 0;
        unsigned char *buf = malloc(block);
        int fd = open(local, O_RDONLY);
        for (int pass = 0; pass < 300; pass++) {
            bad_blocks = 0;
            dead_ok = 0;
            for (int64_t b = 0; fd >= 0 && buf && b < nblocks; b++) {
                int owner = (int)(b % n);
                int64_t k = b / n;
                bool want = !(killme && owner == 0) || k < half;
                if (!want)
                    continue;
                bool okb = pread(fd, buf, block, b * (int64_t)block) == (ssize_t)block &&
                           check(buf, block, b * (int64_t)block);
                if (killme && owner == 0)
                    dead_ok += okb;
                else
                    bad_blocks += !okb;
            }
            if (!killme || (dead_ok == half && !bad_blocks))
                break;
            usleep(10000);
        }
        if (fd < 0 || !buf || bad_blocks) {
            errors++;
            if (!why[0])
                snprintf(why, sizeof(why), "%" PRId64 " blocks of live clients wrong in %s",
                         bad_blocks, local);
        }
        if (killme && dead_ok != half) {
            errors++;
            if (!why[0])
                snprintf(why, sizeof(why),
                         "killed client: %" PRId64 " of %" PRId64 " answered blocks in the file",
                         dead_ok, half);
        }
        free(buf);
        if (fd >= 0)
            close(fd);
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru); /* the clients (and raw's senders): CPU time, all of it */
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    printf("{\"mode\":\"%s\",\"clients\":%d,\"wall_s\":%.6f,\"clients_cpu_s\":%.3f,\"ok\":%s,"
           "\"errors\":%d",
           mode, n, wall, cpu, errors ? "false" : "true", errors);
    if (killme)
        printf(",\"killed_answered\":%" PRId64 ",\"killed_in_file\":%" PRId64, half, dead_ok);
    printf(",\"why\":\"%s\"}\n", why);
    return errors ? 1 : 0;
}
