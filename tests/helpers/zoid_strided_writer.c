/*
 * An N-to-1 checkpoint without MPI, for the zoid coalescing tests: N processes (fork) write the
 * 4 KiB blocks of one file round-robin (process i writes blocks i, i+N, i+2N, ...), each block
 * filled with a pattern of its number, with plain pwrite(2). As ranks do around a collective
 * open and close, they all have the file open before any writes, and all have written before any
 * closes (two barriers on pipes): on a loaded machine the processes otherwise ran one after the
 * other, and each close was the "last writer's" close that flushes. Run under `zepto zoid run` or
 * on a FUSE mount. Usage: zoid_strided_writer FILE NPROC NBLOCKS; exit 0 when every write
 * succeeded.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK 4096

/* ready: children -> parent, one byte each per barrier; go[k]: the parent closes its write end to
 * let every child past barrier k (each child closed its copies of the write ends). */
static int ready[2], go[2][2];

/* Barrier k: this child says it is there and waits for the end of go[k]. */
static int barrier(int k)
{
    char c = 0;
    return write(ready[1], &c, 1) == 1 && read(go[k][0], &c, 1) == 0 ? 0 : -1;
}

static int child(const char *path, long me, long n, long blocks)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        perror(path);
    if (barrier(0) || fd < 0) {
        barrier(1); /* the parent counts every child at each barrier */
        return 1;
    }
    unsigned char buf[BLOCK];
    for (long b = me; b < blocks; b += n) {
        for (int i = 0; i < BLOCK; i++)
            buf[i] = (unsigned char)(b * 131 + i * 7);
        if (pwrite(fd, buf, BLOCK, (off_t)b * BLOCK) != BLOCK) {
            perror("pwrite");
            barrier(1);
            return 1;
        }
    }
    if (barrier(1))
        return 1;
    return close(fd) ? 1 : 0;
}

/* The parent's side of barrier k: waits for every child's byte, then lets them all go on. Every
 * child comes, failed or not; one killed before it came leaves the wait to the caller's timeout
 * (the tests run it under `timeout`). */
static int release(long n, int k)
{
    char c;
    int rc = 0;
    for (long i = 0; i < n && !rc; i++)
        if (read(ready[0], &c, 1) != 1)
            rc = -1;
    close(go[k][1]);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: zoid_strided_writer FILE NPROC NBLOCKS\n");
        return 2;
    }
    long n = atol(argv[2]), blocks = atol(argv[3]);
    if (n < 1 || n > 256 || blocks < 1) {
        fprintf(stderr, "zoid_strided_writer: bad NPROC or NBLOCKS\n");
        return 2;
    }
    if (pipe(ready) || pipe(go[0]) || pipe(go[1])) {
        perror("pipe");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            return 1;
        }
        if (p == 0) {
            close(ready[0]);
            close(go[0][1]);
            close(go[1][1]);
            _exit(child(argv[1], i, n, blocks));
        }
    }
    close(ready[1]);
    int bad = release(n, 0), st;
    bad |= release(n, 1);
    while (wait(&st) > 0)
        bad |= !WIFEXITED(st) || WEXITSTATUS(st);
    return bad;
}
