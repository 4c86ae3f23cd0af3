/*
 * An N-to-1 checkpoint without MPI, for the zoid coalescing tests: N processes (fork) write the
 * 4 KiB blocks of one file round-robin (process i writes blocks i, i+N, i+2N, ...), each block
 * filled with a pattern of its number, with plain pwrite(2). Run under `zepto zoid run` or on a
 * FUSE mount. Usage: zoid_strided_writer FILE NPROC NBLOCKS; exit 0 when every write succeeded.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK 4096

static int child(const char *path, long me, long n, long blocks)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    unsigned char buf[BLOCK];
    for (long b = me; b < blocks; b += n) {
        for (int i = 0; i < BLOCK; i++)
            buf[i] = (unsigned char)(b * 131 + i * 7);
        if (pwrite(fd, buf, BLOCK, (off_t)b * BLOCK) != BLOCK) {
            perror("pwrite");
            return 1;
        }
    }
    return close(fd) ? 1 : 0;
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
    for (long i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            return 1;
        }
        if (p == 0)
            _exit(child(argv[1], i, n, blocks));
    }
    int bad = 0, st;
    while (wait(&st) > 0)
        bad |= !WIFEXITED(st) || WEXITSTATUS(st);
    return bad;
}
