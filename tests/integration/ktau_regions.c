/*
 * The program of the ktau ground-truth test: four timed regions with known kernel work.
 *   A: 20,000 getppid system calls
 *   B: sleeps 200 ms (blocked)
 *   C: touches 256 MiB of fresh memory, one 4 KiB page at a time (65,536 page faults)
 *   D: spins 200 ms at SCHED_FIFO 1 on CPU 0 while a thread at SCHED_FIFO 2 on the same CPU,
 *      woken at the start of D, spins for 60 ms: D is preempted for as long as that thread ran
 * It prints what it did as KEY=VALUE lines (d_preempt_ns: the preempting thread's own measure of
 * its run; "d=skipped REASON" when real-time scheduling is not allowed).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zepto/ktau.h"

#define A_CALLS      20000
#define B_SLEEP_NS   200000000ull
#define C_BYTES      (256ull << 20)
#define D_SPIN_NS    200000000ull
#define D_PREEMPT_NS 60000000ull

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static sem_t wake;
static uint64_t preempt_ns;

static int pin_fifo(pthread_t t, int prio)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    int rc = pthread_setaffinity_np(t, sizeof(set), &set);
    struct sched_param sp = {.sched_priority = prio};
    return rc ? rc : pthread_setschedparam(t, SCHED_FIFO, &sp);
}

static void *preempter(void *arg)
{
    (void)arg;
    while (sem_wait(&wake) && errno == EINTR)
        ;
    uint64_t t0 = now_ns();
    while (now_ns() - t0 < D_PREEMPT_NS)
        ;
    preempt_ns = now_ns() - t0;
    return NULL;
}

static void region_d(void)
{
    pthread_t th;
    sem_init(&wake, 0, 0);
    if (pthread_create(&th, NULL, preempter, NULL)) {
        printf("d=skipped pthread_create failed\n");
        return;
    }
    int rc = pin_fifo(th, 2);
    if (!rc)
        rc = pin_fifo(pthread_self(), 1);
    if (rc) {
        printf("d=skipped SCHED_FIFO on CPU 0 not allowed (%s)\n", strerror(rc));
        sem_post(&wake);
        pthread_join(th, NULL);
        return;
    }
    ktau_start("D");
    uint64_t t0 = now_ns();
    sem_post(&wake); /* the preempter takes CPU 0 from here */
    while (now_ns() - t0 < D_SPIN_NS)
        ;
    ktau_stop("D");
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
    pthread_join(th, NULL);
    printf("d_spin_ns=%llu\nd_preempt_ns=%llu\n", (unsigned long long)(now_ns() - t0),
           (unsigned long long)preempt_ns);
}

int main(void)
{
    ktau_start("A");
    for (int i = 0; i < A_CALLS; i++)
        syscall(SYS_getppid);
    ktau_stop("A");
    printf("a_calls=%d\n", A_CALLS);

    {
        KTAU_REGION("B");
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)B_SLEEP_NS};
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
    }
    printf("b_sleep_ns=%llu\n", B_SLEEP_NS);

    char *mem = mmap(NULL, C_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    madvise(mem, C_BYTES, MADV_NOHUGEPAGE); /* 4 KiB pages: one fault each */
    ktau_start("C");
    for (uint64_t off = 0; off < C_BYTES; off += 4096)
        mem[off] = 1;
    ktau_stop("C");
    munmap(mem, C_BYTES);
    printf("c_pages=%llu\n", C_BYTES / 4096);

    region_d();
    fflush(stdout);
    return 0;
}
