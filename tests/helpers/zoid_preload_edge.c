/*
 * A program for the zoid_preload_edges test: the edges where the interposer must fail loudly
 * rather than lose data or crash. Run under `zepto zoid run`; each mode prints what went wrong
 * and exits 1, or exits 0.
 *
 *   closerange DIR LOCAL  a raw close_range(3, ~0) drops the library's connection; later
 *                         forwarded writes must still arrive (or fail), never land in LOCAL,
 *                         which the program has put on every high descriptor number
 *   sockets DIR           bind/connect/sendto of a unix socket on a forwarded path: EOPNOTSUPP
 *   efault                invalid path pointers give EFAULT
 *   refused DIR           an open in DIR fails with EACCES (the daemon's socket refuses us)
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int bad;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAIL: %s (errno %d: %s)\n", what, errno, strerror(errno));
        bad = 1;
    }
}

static char *cat(const char *dir, const char *name)
{
    static char buf[4][4096];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
    return b;
}

static int put(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, s, strlen(s));
    int rc = close(fd);
    return n == (ssize_t)strlen(s) && !rc ? 0 : -1;
}

static int do_closerange(const char *dir, const char *local)
{
    int fd = open(cat(dir, "before"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0, "open before");
    check(write(fd, "one\n", 4) == 4, "write before");
    check(close(fd) == 0, "close before");
    int kept = open(cat(dir, "kept"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check(kept >= 0, "open kept");
    /* What a daemonising program does: every descriptor above 2 goes, around the C library. */
    check(syscall(SYS_close_range, 3u, ~0u, 0u) == 0, "raw close_range");
    /* The program then owns every high number the library's socket could have had. */
    int l;
    do /* lowest numbers first, up to the forwarded descriptor's old one */
        l = open(local, O_WRONLY | O_CREAT | O_APPEND, 0644);
    while (l >= 0 && l < kept);
    check(l >= 0, "open local");
    /* The kernel gave the forwarded descriptor's old number to the local file: its writes are
     * local. */
    check(l != kept || write(l, "local\n", 6) == 6, "write to the local file");
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int soft = rl.rlim_cur > (1 << 20) ? (1 << 20) : (int)rl.rlim_cur;
    for (int k = l + 1; k < soft; k++)
        if (k >= soft - 64 || (k >= 4032 && k <= 4128))
            syscall(SYS_dup3, l, k, 0);
    check(put(cat(dir, "after"), "two\n") == 0, "forwarded write after close_range");
    fd = open(cat(dir, "after"), O_RDONLY);
    char buf[16] = {0};
    check(fd >= 0 && read(fd, buf, sizeof(buf)) == 4 && !strcmp(buf, "two\n"),
          "read back after close_range");
    if (fd >= 0)
        close(fd);
    /* glibc's close_range and closefrom too. */
    closefrom(3);
    check(put(cat(dir, "closefrom"), "three\n") == 0, "forwarded write after closefrom");
    return bad;
}

static void sun_of(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
}

static void one_sock(const char *path)
{
    struct sockaddr_un sa;
    sun_of(&sa, path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    check(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == -1 && errno == EOPNOTSUPP,
          "bind on a forwarded path is EOPNOTSUPP");
    close(s);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    errno = 0;
    check(connect(s, (struct sockaddr *)&sa, sizeof(sa)) == -1 && errno == EOPNOTSUPP,
          "connect to a forwarded path is EOPNOTSUPP");
    close(s);
    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    errno = 0;
    check(sendto(s, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)) == -1 && errno == EOPNOTSUPP,
          "sendto a forwarded path is EOPNOTSUPP");
    struct iovec iov = {"x", 1};
    struct msghdr mh = {
        .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
    errno = 0;
    check(sendmsg(s, &mh, 0) == -1 && errno == EOPNOTSUPP, "sendmsg to a forwarded path");
    close(s);
}

static int do_sockets(const char *dir)
{
    one_sock(cat(dir, "abs.sock"));
    check(chdir(dir) == 0, "chdir into the mount");
    one_sock("rel.sock");
    /* A local path and an abstract name still work. */
    struct sockaddr_un sa;
    sun_of(&sa, "");
    sa.sun_path[0] = 0;
    memcpy(sa.sun_path + 1, "zpl-edge", 8);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    check(bind(s, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 9)) == 0,
          "bind of an abstract name");
    close(s);
    return bad;
}

static int do_efault(void)
{
    const char *bp = (const char *)1;
    struct stat st;
    errno = 0;
    check(open(bp, O_RDONLY) == -1 && errno == EFAULT, "open((char*)1) is EFAULT");
    errno = 0;
    check(stat(bp, &st) == -1 && errno == EFAULT, "stat((char*)1) is EFAULT");
    errno = 0;
    check(mkdir(bp, 0755) == -1 && errno == EFAULT, "mkdir((char*)1) is EFAULT");
    errno = 0;
    check(unlink(bp) == -1 && errno == EFAULT, "unlink((char*)1) is EFAULT");
    errno = 0;
    check(rename(bp, "/zoid-mnt/x") == -1 && errno == EFAULT, "rename((char*)1) is EFAULT");
    const char *null_path = NULL;
    __asm__("" : "+r"(null_path)); /* declared nonnull: the test is what a program may do */
    errno = 0;
    check(rename(null_path, "/zoid-mnt/x") == -1 && errno == EFAULT, "rename(NULL) is EFAULT");
    errno = 0;
    check(link(null_path, "/zoid-mnt/x") == -1 && errno == EFAULT, "link(NULL) is EFAULT");
    errno = 0;
    check(opendir(bp) == NULL && errno == EFAULT, "opendir((char*)1) is EFAULT");
    errno = 0;
    check(fopen(bp, "r") == NULL && errno == EFAULT, "fopen((char*)1) is EFAULT");
    errno = 0;
    check(chdir(bp) == -1 && errno == EFAULT, "chdir((char*)1) is EFAULT");
    errno = 0;
    check(symlink(bp, "/zoid-mnt/lnk") == -1 && errno == EFAULT,
          "symlink((char*)1, forwarded) is EFAULT");
    errno = 0;
    check(access(bp, F_OK) == -1 && errno == EFAULT, "access((char*)1) is EFAULT");
    return bad;
}

static int do_refused(const char *dir)
{
    errno = 0;
    int fd = open(cat(dir, "x"), O_RDONLY);
    check(fd == -1 && errno == EACCES, "open with the socket refused is EACCES");
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "closerange"))
        return do_closerange(argv[2], argv[3]);
    if (argc >= 3 && !strcmp(argv[1], "sockets"))
        return do_sockets(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "efault"))
        return do_efault();
    if (argc >= 3 && !strcmp(argv[1], "refused"))
        return do_refused(argv[2]);
    fprintf(stderr, "usage: zoid_preload_edge closerange|sockets|efault|refused ...\n");
    return 2;
}
