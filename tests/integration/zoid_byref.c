/*
 * An unmodified program's large writes sent by reference (unix:, the transport's sendv_ref) under
 * `zepto zoid run`: a parent and its forked child writing 1 MiB blocks at once (the child must
 * not share the parent's pipe), a program that closed the transport's pipe and got its numbers
 * back for a pipe of its own (whose bytes must stay its own), and every byte checked in the
 * export.
 *
 * usage: test_zoid_byref MOUNTED_DIR EXPORT_DIR   (run under zepto zoid run)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK  (1u << 20)
#define BLOCKS 12

static int failures;

static unsigned char byte_at(size_t i, unsigned seed)
{
    return (unsigned char)(((i + seed * 7919u) * 2654435761u) >> 13);
}

/* BLOCKS blocks of pattern seed into dir/name, each block's buffer reused (overwritten with the
 * next block's bytes as soon as the write returns). */
static int write_file(const char *dir, const char *name, unsigned seed)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", p, strerror(errno));
        return -1;
    }
    unsigned char *b = malloc(BLOCK);
    int rc = 0;
    for (size_t k = 0; k < BLOCKS && !rc; k++) {
        for (size_t i = 0; i < BLOCK; i++)
            b[i] = byte_at(k * BLOCK + i, seed);
        if (write(fd, b, BLOCK) != (ssize_t)BLOCK) {
            fprintf(stderr, "write %s block %zu: %s\n", p, k, strerror(errno));
            rc = -1;
        }
    }
    free(b);
    close(fd);
    return rc;
}

static void check_file(const char *dir, const char *name, unsigned seed)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    size_t i = 0;
    int ch;
    while (f && (ch = getc(f)) != EOF && ch == byte_at(i, seed))
        i++;
    if (i != (size_t)BLOCK * BLOCKS) {
        fprintf(stderr, "%s: byte %zu is wrong (or the file ends there)\n", p, i);
        failures++;
    }
    if (f)
        fclose(f);
}

/* The 1 MiB pipes among this process's descriptors: the transport's after a large write. */
static int fifos(int *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        struct stat st;
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != dirfd(d) && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
            fcntl(fd, F_GETPIPE_SZ) == 1 << 20)
            out[n++] = fd;
    }
    if (d)
        closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_zoid_byref MOUNTED_DIR EXPORT_DIR\n");
        return 2;
    }
    const char *dir = argv[1], *export_dir = argv[2];
    if (write_file(dir, "first", 1))
        return 1;
    /* Parent and child at once. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(write_file(dir, "child", 2) ? 1 : 0);
    int rc = write_file(dir, "parent", 3);
    int st;
    waitpid(pid, &st, 0);
    if (rc || !WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "writes beside a forked child failed\n");
        failures++;
    }
    /* The transport's pipe closed under it and its numbers taken by a pipe of the program. */
    int fd[8], n = fifos(fd, 8), mine[2] = {-1, -1};
    int rd = -1;
    if (n == 2) { /* which end is which: the one open for writing */
        /* By system calls: the interposer's own bookkeeping of numbers stays out of it. */
        rd = (fcntl(fd[0], F_GETFL) & O_ACCMODE) == O_RDONLY ? fd[0] : fd[1];
        int wr = rd == fd[0] ? fd[1] : fd[0];
        if (syscall(SYS_pipe2, mine, O_NONBLOCK) || syscall(SYS_dup3, mine[0], rd, 0) != rd ||
            syscall(SYS_dup3, mine[1], wr, 0) != wr) {
            fprintf(stderr, "the transport's numbers could not be taken: %s\n", strerror(errno));
            failures++;
            rd = -1;
        }
        syscall(SYS_close, mine[0]);
        syscall(SYS_close, mine[1]);
        if (syscall(SYS_write, wr, "hello", 5) != 5) { /* the program's bytes, in its pipe */
            fprintf(stderr, "the program's pipe takes no bytes: %s\n", strerror(errno));
            failures++;
        }
    } else {
        fprintf(stderr, "%d ends of 1 MiB pipes after large writes, expected the transport's (2)\n",
                n);
        failures++;
    }
    if (write_file(dir, "after", 4))
        failures++;
    int queued = -1;
    char got[8] = "";
    if (rd >= 0 && (syscall(SYS_ioctl, rd, FIONREAD, &queued) || queued != 5 ||
                    syscall(SYS_read, rd, got, 8) != 5 || memcmp(got, "hello", 5))) {
        fprintf(stderr, "the program's own pipe holds %d bytes, not its own 5 (hello)\n", queued);
        failures++;
    }
    check_file(export_dir, "first", 1);
    check_file(export_dir, "child", 2);
    check_file(export_dir, "parent", 3);
    check_file(export_dir, "after", 4);
    if (!failures)
        printf("writes by reference: ok\n");
    return failures ? 1 : 0;
}
