/*
 * A program run under `zepto zoid run` by the zoid_preload_* tests: each mode exercises one part
 * of the interposer with plain libc calls and checks the results itself (exit 0, or 1 with one
 * line on stderr naming what differed). Modes that wait for the test script (fault injection)
 * poll for a file the script creates.
 *
 *   stdio DIR         fopen/fprintf/fgets/fseek/ftell/fread/fwrite/fdopen/freopen(stdout)
 *   dir DIR           opendir/readdir/telldir/seekdir/rewinddir/scandir/getdents via fdopendir
 *   threads DIR N     N threads writing their own files and regions of one shared file
 *   fork DIR          a child writing through an inherited descriptor; locks; dup2
 *   misc DIR          dup/fcntl/lseek/pread/pwrite/readv/writev/ftruncate/stat/mmap/rename/...
 *   writeloop FILE    writes 64 KiB blocks until a write fails; exit 3 on EIO
 *   stale FILE SIGNAL after the daemon restarts (SIGNAL appears): old fd EBADF/ESTALE, new opens
 * work relaxed FILE N    N small writes, then close; the data must all be there closeerr FILE
 * SIGNAL  a buffered write, then (daemon killed) close must fail
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *mode;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: line %d: ", mode, __LINE__);                                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, " (errno %s)\n", strerror(errno));                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static char *cat(const char *dir, const char *name)
{
    static _Thread_local char buf[8][4096]; /* per thread: the writers call it at once */
    static _Thread_local int i;
    char *b = buf[i++ % 8];
    snprintf(b, 4096, "%s/%s", dir, name);
    return b;
}

/* Waits up to 30 s for path to exist (the script's signal). */
static void wait_for(const char *path)
{
    for (int i = 0; i < 3000; i++) {
        if (!access(path, F_OK))
            return;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "%s: %s never appeared\n", mode, path);
    exit(1);
}

static void touch_local(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0, "create %s", path);
    close(fd);
}

static int do_stdio(const char *dir)
{
    FILE *f = fopen(cat(dir, "s.txt"), "w");
    CHECK(f, "fopen w");
    for (int i = 0; i < 1000; i++)
        CHECK(fprintf(f, "line %d\n", i) > 0, "fprintf");
    CHECK(fileno(f) >= 0, "fileno of a forwarded stream");
    CHECK(fclose(f) == 0, "fclose");
    f = fopen(cat(dir, "s.txt"), "r+");
    CHECK(f, "fopen r+");
    char line[64];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n++;
    CHECK(n == 1000, "fgets read %d lines", n);
    CHECK(ftell(f) == 8890, "ftell %ld", ftell(f));
    CHECK(fseek(f, 5, SEEK_SET) == 0, "fseek");
    CHECK(fgets(line, sizeof(line), f) && !strcmp(line, "0\n"), "fgets after fseek: %s", line);
    CHECK(fseek(f, 0, SEEK_END) == 0 && fwrite("tail\n", 1, 5, f) == 5, "append");
    CHECK(fclose(f) == 0, "fclose r+");
    struct stat st;
    CHECK(stat(cat(dir, "s.txt"), &st) == 0 && st.st_size == 8895, "size %ld", (long)st.st_size);
    int fd = open(cat(dir, "s.txt"), O_RDONLY);
    CHECK(fd >= 0, "open");
    f = fdopen(fd, "r");
    CHECK(f && fgets(line, sizeof(line), f) && !strcmp(line, "line 0\n"), "fdopen read");
    fclose(f);
    f = fopen(cat(dir, "a.txt"), "a");
    CHECK(f && fputs("one\n", f) >= 0 && fclose(f) == 0, "fopen a");
    f = fopen(cat(dir, "a.txt"), "a+");
    CHECK(f && fputs("two\n", f) >= 0 && fclose(f) == 0, "fopen a+");
    f = fopen(cat(dir, "a.txt"), "r");
    CHECK(f && fread(line, 1, sizeof(line), f) == 8 && !memcmp(line, "one\ntwo\n", 8), "a+ data");
    fclose(f);
    CHECK(!fopen(cat(dir, "nope/x"), "r") && errno == ENOENT, "fopen missing");
    CHECK(!fopen(cat(dir, "a.txt"), "wx") && errno == EEXIST, "fopen wx");
    /* stdout onto a forwarded file, and back through the file's contents. */
    fflush(stdout);
    CHECK(freopen(cat(dir, "out.txt"), "w", stdout), "freopen stdout");
    printf("to stdout %d\n", 42);
    fflush(stdout);
    f = fopen(cat(dir, "out.txt"), "r");
    CHECK(f && fgets(line, sizeof(line), f) && !strcmp(line, "to stdout 42\n"), "freopen data");
    fclose(f);
    /* mkstemp in the mount. */
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/tmpXXXXXX", dir);
    fd = mkstemp(tmpl);
    CHECK(fd >= 0 && write(fd, "t", 1) == 1 && close(fd) == 0, "mkstemp");
    CHECK(unlink(tmpl) == 0, "unlink temp");
    return 0;
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int do_dir(const char *dir)
{
    CHECK(mkdir(cat(dir, "d"), 0755) == 0, "mkdir");
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof(name), "d/entry-with-a-longish-name-%03d", i);
        int fd = open(cat(dir, name), O_CREAT | O_WRONLY, 0644);
        CHECK(fd >= 0, "create %s", name);
        close(fd);
    }
    DIR *d = opendir(cat(dir, "d"));
    CHECK(d, "opendir");
    CHECK(dirfd(d) >= 0, "dirfd");
    int n = 0;
    long mid = -1;
    char mid_name[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        n++;
        if (n == 150) {
            mid = telldir(d);
        } else if (n == 151) {
            snprintf(mid_name, sizeof(mid_name), "%s", e->d_name);
        }
    }
    CHECK(n == 302, "readdir saw %d entries", n);
    seekdir(d, mid);
    e = readdir(d);
    CHECK(e && !strcmp(e->d_name, mid_name), "seekdir: %s, not %s", e ? e->d_name : "-", mid_name);
    rewinddir(d);
    n = 0;
    while (readdir(d))
        n++;
    CHECK(n == 302, "after rewinddir %d", n);
    CHECK(closedir(d) == 0, "closedir");
    struct dirent **list;
    n = scandir(cat(dir, "d"), &list, NULL, cmp_names);
    CHECK(n == 302 && !strcmp(list[2]->d_name, "entry-with-a-longish-name-000"), "scandir %d", n);
    while (n--)
        free(list[n]);
    free(list);
    int fd = open(cat(dir, "d"), O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0, "open dir");
    d = fdopendir(fd);
    CHECK(d && readdir(d), "fdopendir");
    closedir(d);
    /* chdir into the mount: relative names and getcwd. */
    CHECK(chdir(cat(dir, "d")) == 0, "chdir");
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, cat(dir, "d")), "getcwd %s", cwd);
    CHECK(access("entry-with-a-longish-name-007", F_OK) == 0, "relative access");
    CHECK(chdir("..") == 0 && getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, dir), "chdir .. %s", cwd);
    fd = open("d", O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0 && fchdir(fd) == 0, "fchdir");
    close(fd);
    CHECK(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, cat(dir, "d")), "getcwd after fchdir %s", cwd);
    CHECK(chdir("/") == 0 && getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/"), "back to local");
    char *rp = realpath(cat(dir, "d/../d/./entry-with-a-longish-name-001"), NULL);
    CHECK(rp && !strcmp(rp, cat(dir, "d/entry-with-a-longish-name-001")), "realpath %s", rp);
    free(rp);
    return 0;
}

struct th {
    const char *dir;
    int id, shared;
};

static void *writer(void *arg)
{
    struct th *t = arg;
    char name[64], buf[4096];
    snprintf(name, sizeof(name), "t%d", t->id);
    int fd = open(cat(t->dir, name), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        return "open";
    memset(buf, 'a' + t->id % 26, sizeof(buf));
    for (int i = 0; i < 64; i++) {
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
            return "write";
        if (pwrite(t->shared, buf, sizeof(buf), ((off_t)t->id * 64 + i) * 4096) != 4096)
            return "pwrite";
    }
    return close(fd) ? "close" : NULL;
}

static int do_threads(const char *dir, int n)
{
    pthread_t tid[64];
    struct th t[64];
    int shared = open(cat(dir, "shared"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(shared >= 0 && n <= 64, "open shared");
    for (int i = 0; i < n; i++) {
        t[i] = (struct th){dir, i, shared};
        CHECK(!pthread_create(&tid[i], NULL, writer, &t[i]), "pthread_create");
    }
    for (int i = 0; i < n; i++) {
        void *r;
        pthread_join(tid[i], &r);
        CHECK(!r, "thread %d: %s", i, (char *)r);
    }
    char buf[4096];
    for (int i = 0; i < n * 64; i++) {
        CHECK(pread(shared, buf, sizeof(buf), (off_t)i * 4096) == 4096 &&
                  buf[0] == 'a' + (i / 64) % 26 && buf[4095] == buf[0],
              "shared block %d", i);
    }
    close(shared);
    return 0;
}

static int do_fork(const char *dir)
{
    int fd = open(cat(dir, "f.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "parent1\n", 8) == 8, "parent write");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (!pid) {
        /* The inherited descriptor shares the offset; closing it leaves the parent's. */
        if (write(fd, "child\n", 6) != 6 || close(fd))
            _exit(1);
        int fd2 = open(cat(dir, "child.txt"), O_CREAT | O_WRONLY, 0644);
        _exit(fd2 >= 0 && write(fd2, "c", 1) == 1 && close(fd2) == 0 ? 0 : 2);
    }
    int ws;
    CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && !WEXITSTATUS(ws), "child status %d", ws);
    CHECK(write(fd, "parent2\n", 8) == 8 && close(fd) == 0, "parent write after child");
    char buf[64] = "";
    fd = open(cat(dir, "f.txt"), O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 22 && !strcmp(buf, "parent1\nchild\nparent2\n"),
          "contents '%s'", buf);
    close(fd);
    CHECK(access(cat(dir, "child.txt"), F_OK) == 0, "child's own open");
    /* Locks across processes: the child cannot take what the parent holds. */
    fd = open(cat(dir, "lock"), O_CREAT | O_RDWR, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    CHECK(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK");
    pid = fork();
    if (!pid) {
        int f2 = open(cat(dir, "lock"), O_RDWR);
        struct flock g = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
        int r = fcntl(f2, F_SETLK, &g);
        _exit(r == -1 && (errno == EAGAIN || errno == EACCES) ? 0 : 3);
    }
    CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && !WEXITSTATUS(ws),
          "lock conflict in child: %d", ws);
    CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0 && flock(fd, LOCK_UN) == 0, "flock");
    close(fd);
    return 0;
}

static int do_misc(const char *dir)
{
    int fd = open(cat(dir, "m"), O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd > 2, "open");
    struct iovec iov[3] = {{"abc", 3}, {"", 0}, {"defg", 4}};
    CHECK(writev(fd, iov, 3) == 7, "writev");
    CHECK(lseek(fd, 0, SEEK_CUR) == 7 && lseek(fd, 1, SEEK_SET) == 1, "lseek");
    char a[4] = "", b[8] = "";
    struct iovec r[2] = {{a, 3}, {b, 8}};
    CHECK(readv(fd, r, 2) == 6 && !memcmp(a, "bcd", 3) && !memcmp(b, "efg", 3), "readv");
    CHECK(pwrite(fd, "XY", 2, 100) == 2 && pread(fd, b, 2, 100) == 2 && !memcmp(b, "XY", 2),
          "pwrite/pread");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 102 && S_ISREG(st.st_mode) &&
              (st.st_mode & 0777) == 0600,
          "fstat size %ld mode %o", (long)st.st_size, st.st_mode);
    CHECK(ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5, "ftruncate");
    int d = dup(fd);
    CHECK(d > 2 && d != fd && lseek(d, 0, SEEK_CUR) == lseek(fd, 0, SEEK_CUR), "dup");
    CHECK(dup2(fd, 50) == 50 && write(50, "Z", 1) == 1, "dup2");
    CHECK(fcntl(fd, F_GETFL) >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, "F_GETFL");
    CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC, "F_SETFD");
    int d3 = fcntl(fd, F_DUPFD_CLOEXEC, 60);
    CHECK(d3 >= 60 && fcntl(d3, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC");
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENODEV,
          "mmap must fail with ENODEV");
    CHECK(fsync(fd) == 0 && fdatasync(fd) == 0, "fsync");
    close(d);
    close(50);
    close(d3);
    CHECK(close(fd) == 0, "close");
    CHECK(close(fd) == -1 && errno == EBADF, "double close");
    CHECK(rename(cat(dir, "m"), cat(dir, "m2")) == 0 && access(cat(dir, "m"), F_OK) == -1 &&
              errno == ENOENT,
          "rename");
    CHECK(rename(cat(dir, "m2"), "/tmp/zoid-preload-not-here") == -1 && errno == EXDEV,
          "rename across the mount: EXDEV");
    CHECK(link(cat(dir, "m2"), cat(dir, "m3")) == 0 && stat(cat(dir, "m2"), &st) == 0 &&
              st.st_nlink == 2,
          "link");
    CHECK(symlink("m2", cat(dir, "ln")) == 0 && lstat(cat(dir, "ln"), &st) == 0 &&
              S_ISLNK(st.st_mode),
          "symlink");
    char t[16] = "";
    CHECK(readlink(cat(dir, "ln"), t, sizeof(t)) == 2 && !memcmp(t, "m2", 2), "readlink");
    CHECK(chmod(cat(dir, "m2"), 0640) == 0 && stat(cat(dir, "ln"), &st) == 0 &&
              (st.st_mode & 0777) == 0640,
          "chmod");
    struct timespec ts[2] = {{1000000000, 0}, {1200000000, 5}};
    CHECK(utimensat(AT_FDCWD, cat(dir, "m2"), ts, 0) == 0 && stat(cat(dir, "m2"), &st) == 0 &&
              st.st_mtime == 1200000000,
          "utimensat");
    CHECK(truncate(cat(dir, "m2"), 1) == 0 && stat(cat(dir, "m2"), &st) == 0 && st.st_size == 1,
          "truncate");
    CHECK(mkdir(cat(dir, "sub"), 0700) == 0 && rmdir(cat(dir, "sub")) == 0, "mkdir/rmdir");
    CHECK(unlink(cat(dir, "m3")) == 0 && unlink(cat(dir, "ln")) == 0, "unlink");
    CHECK(open(cat(dir, "missing"), O_RDONLY) == -1 && errno == ENOENT, "ENOENT");
    CHECK(open(cat(dir, "../../etc/passwd"), O_RDONLY) >= 0 || errno != EXDEV,
          "a path leaving the mount lexically is local");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0, "open mount root");
    int f2 = openat(dfd, "m2", O_RDONLY);
    CHECK(f2 >= 0 && fstatat(dfd, "m2", &st, 0) == 0 && st.st_size == 1, "openat/fstatat");
    CHECK(faccessat(dfd, "m2", R_OK, 0) == 0 && unlinkat(dfd, "m2", 0) == 0, "unlinkat");
    struct statx sx;
    CHECK(statx(dfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0 && S_ISDIR(sx.stx_mode),
          "statx AT_EMPTY_PATH");
    close(f2);
    close(dfd);
    return 0;
}

static int do_writeloop(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0, "open");
    static char buf[65536];
    for (long i = 0;; i++) {
        if (write(fd, buf, sizeof(buf)) < 0) {
            int e = errno;
            fprintf(stderr, "writeloop: write %ld: %s\n", i, strerror(e));
            return e == EIO ? 3 : 4;
        }
    }
}

static int do_stale(const char *path, const char *signal)
{
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "before", 6) == 6, "open and write");
    printf("ready\n");
    fflush(stdout);
    wait_for(signal);
    char buf[8];
    ssize_t r = read(fd, buf, sizeof(buf));
    CHECK(r == -1 && (errno == EBADF || errno == ESTALE || errno == EIO), "stale read gave %zd", r);
    r = write(fd, "x", 1);
    CHECK(r == -1 && (errno == EBADF || errno == ESTALE || errno == EIO), "stale write gave %zd",
          r);
    /* A descriptor of the old session stays stale; new opens work. */
    r = read(fd, buf, sizeof(buf));
    CHECK(r == -1 && (errno == EBADF || errno == ESTALE), "stale read after reconnect gave %zd", r);
    close(fd);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 6 && !memcmp(buf, "before", 6),
          "a new open after the restart");
    close(fd);
    return 0;
}

static int do_relaxed(const char *path, int n)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0, "open");
    for (int i = 0; i < n; i++) {
        char line[32];
        int len = snprintf(line, sizeof(line), "%08d\n", i);
        CHECK(write(fd, line, (size_t)len) == len, "write %d", i);
    }
    CHECK(close(fd) == 0, "close");
    return 0;
}

static int do_closeerr(const char *path, const char *signal)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "buffered", 8) == 8, "open and buffered write");
    printf("ready\n");
    fflush(stdout);
    wait_for(signal);
    int rc = close(fd);
    CHECK(rc == -1 && errno == EIO, "close after the daemon died gave %d", rc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: zoid_preload_prog MODE ARGS...\n");
        return 2;
    }
    mode = argv[1];
    const char *a = argv[2];
    if (!strcmp(mode, "stdio"))
        return do_stdio(a);
    if (!strcmp(mode, "dir"))
        return do_dir(a);
    if (!strcmp(mode, "threads"))
        return do_threads(a, argc > 3 ? atoi(argv[3]) : 8);
    if (!strcmp(mode, "fork"))
        return do_fork(a);
    if (!strcmp(mode, "misc"))
        return do_misc(a);
    if (!strcmp(mode, "writeloop"))
        return do_writeloop(a);
    if (!strcmp(mode, "stale") && argc > 3)
        return do_stale(a, argv[3]);
    if (!strcmp(mode, "relaxed") && argc > 3)
        return do_relaxed(a, atoi(argv[3]));
    if (!strcmp(mode, "closeerr") && argc > 3)
        return do_closeerr(a, argv[3]);
    if (!strcmp(mode, "touch")) {
        touch_local(a);
        return 0;
    }
    fprintf(stderr, "zoid_preload_prog: unknown mode %s\n", mode);
    return 2;
}
