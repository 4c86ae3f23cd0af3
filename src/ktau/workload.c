/*
 * zepto-ktau-workload: the short program `zepto report` runs under `zepto ktau run` to show what
 * the kernel of this node does inside typical work. Each region is a libktau timer:
 *   syscalls     N getppid system calls (the cost of entering the kernel)
 *   sleep        20 sleeps of 5 ms (blocked time, and how late the timer wakes us)
 *   first_touch  fresh memory touched one 4 KiB page at a time (a page fault each)
 *   file_io      a file written, fsync'ed and read back (syscalls, blocking on the disk)
 *   compute      a loop on the CPU (what interrupts, softirqs and other tasks take from it)
 *   contention   the loop again with a second thread pinned to the same CPU (preemption)
 * Usage: zepto-ktau-workload [--quick] [DIR] (DIR: where file_io writes its file, default
 * /tmp). It prints what it did as KEY=VALUE lines; exit 1 when a region could not run (the
 * others still ran), 2 for bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zepto/ktau.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile uint64_t sink;

static void spin(uint64_t ns)
{
    uint64_t t0 = now_ns(), x = 0;
    while (now_ns() - t0 < ns)
        x++;
    sink += x;
}

static void syscalls(unsigned n)
{
    KTAU_REGION("syscalls");
    for (unsigned i = 0; i < n; i++)
        syscall(SYS_getppid);
}

static void sleeps(unsigned n, long ns)
{
    KTAU_REGION("sleep");
    for (unsigned i = 0; i < n; i++) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = ns};
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
    }
}

static int first_touch(size_t bytes)
{
    char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    madvise(mem, bytes, MADV_NOHUGEPAGE); /* 4 KiB pages: one fault each */
    ktau_start("first_touch");
    for (size_t off = 0; off < bytes; off += 4096)
        mem[off] = 1;
    ktau_stop("first_touch");
    munmap(mem, bytes);
    return 0;
}

static int file_io(const char *dir, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/zepto-ktau-workload.%d", dir, (int)getpid());
    char *buf = malloc(1 << 20);
    if (!buf)
        return -ENOMEM;
    memset(buf, 0x5a, 1 << 20);
    int rc = 0;
    ktau_start("file_io");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = -errno;
    for (size_t done = 0; !rc && done < bytes; done += 1 << 20)
        if (write(fd, buf, 1 << 20) != 1 << 20)
            rc = -EIO;
    if (!rc && fsync(fd))
        rc = -errno;
    if (!rc && lseek(fd, 0, SEEK_SET))
        rc = -errno;
    for (size_t done = 0; !rc && done < bytes; done += 1 << 20)
        if (read(fd, buf, 1 << 20) != 1 << 20)
            rc = -EIO;
    if (fd >= 0)
        close(fd);
    ktau_stop("file_io");
    unlink(path);
    free(buf);
    return rc;
}

static int pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

struct rival {
    int cpu;
    uint64_t ns;
};

static void *rival_main(void *arg)
{
    struct rival *r = arg;
    pin_self(r->cpu);
    ktau_start("rival");
    spin(r->ns);
    ktau_stop("rival");
    return NULL;
}

static void contention(int cpu, uint64_t ns)
{
    struct rival r = {.cpu = cpu, .ns = ns};
    pthread_t th;
    ktau_start("contention");
    int made = !pthread_create(&th, NULL, rival_main, &r);
    spin(ns);
    if (made)
        pthread_join(th, NULL);
    ktau_stop("contention");
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    const char *dir = argc > 1 + quick ? argv[1 + quick] : "/tmp";
    if (argc > 2 + quick || (argc > 1 && argv[1][0] == '-' && !quick)) {
        fprintf(stderr, "usage: zepto-ktau-workload [--quick] [DIR]\n");
        return 2;
    }
    unsigned ncalls = quick ? 10000 : 20000;
    size_t touch = quick ? 32u << 20 : 64u << 20;
    size_t io = quick ? 8u << 20 : 16u << 20;
    uint64_t loop = quick ? 100000000u : 200000000u;

    int cpu = sched_getcpu();
    if (cpu < 0 || pin_self(cpu))
        cpu = -1;

    ktau_start("workload");
    syscalls(ncalls);
    sleeps(20, 5000000);
    int rc = first_touch(touch), failed = rc != 0;
    if (rc)
        fprintf(stderr, "zepto-ktau-workload: first_touch: %s\n", strerror(-rc));
    rc = file_io(dir, io);
    failed |= rc != 0;
    if (rc)
        fprintf(stderr, "zepto-ktau-workload: file_io in %s: %s\n", dir, strerror(-rc));
    {
        KTAU_REGION("compute");
        spin(loop);
    }
    if (cpu >= 0)
        contention(cpu, loop / 2);
    ktau_stop("workload");
    printf("syscalls=%u\nsleeps=20\nsleep_ns=5000000\nfirst_touch_pages=%zu\nfile_io_bytes=%zu\n"
           "compute_ns=%llu\ncontention_cpu=%d\n",
           ncalls, touch / 4096, io, (unsigned long long)loop, cpu);
    return failed; /* 1: a region could not run (said above); the others were timed */
}
