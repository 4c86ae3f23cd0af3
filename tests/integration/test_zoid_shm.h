/*
 * The shm: transport's own checks, included by test_zoid.c when it runs on shm
 * (ZOID_TEST_TRANSPORT=shm): the region is sealed, an idle client costs no CPU, and a hostile
 * client that corrupts its ring indices or wake words is dropped alone, and a waiter spins only
 * for a daemon on another CPU.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "zoid/core/shm_ring.h"
#include "../helpers/zoid_shm_hello.h"

/* A raw shm connection: the socket, and the region mapped (NULL when it could not be had). */
static unsigned char *raw_shm(const char *path, int *sock, int *mfd)
{
    *sock = raw_unix(path);
    *mfd = -1;
    if (*sock < 0)
        return NULL;
    return zoid_shm_hello(*sock, mfd);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Waits (bounded) until the daemon closes the socket. */
static bool dropped(int s)
{
    return closed_by_daemon(s);
}

static void shm_checks(const char *path, const char *addr, struct zoid_client *witness)
{
    /* The region cannot be truncated or grown by the client (no SIGBUS in the daemon). */
    int s, mfd;
    unsigned char *base = raw_shm(path, &s, &mfd);
    CHECK(base != NULL, "a raw shm connection gets its region");
    if (!base)
        return;
    CHECK(ftruncate(mfd, 4096) != 0 && errno == EPERM, "the region is sealed against shrinking");
    CHECK(ftruncate(mfd, SHM_REGION * 2) != 0 && errno == EPERM,
          "the region is sealed against growing");
    /* Corrupted ring indices: the request ring's head far past its tail. */
    struct shm_ctl *c0 = (struct shm_ctl *)base;
    atomic_store(&c0->head, 0x80000000u);
    ssize_t w = write(s, "", 1); /* the doorbell */
    (void)w;
    CHECK(dropped(s), "a client whose ring head is corrupted is dropped");
    munmap(base, SHM_REGION);
    close(mfd);
    close(s);
    CHECK(zoid_call(witness, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0,
          "other clients are unaffected by the corrupted ring");

    /* Garbage in the wake words and the reply ring's tail, then bytes that are no frame: the
     * daemon drops this client alone. */
    base = raw_shm(path, &s, &mfd);
    if (base) {
        struct shm_ctl *c1 = c0 = (struct shm_ctl *)base;
        c1++;
        atomic_store(&c0->rwait, 0xdeadbeefu);
        atomic_store(&c1->wwait, 0xdeadbeefu);
        atomic_store(&c1->tail, 0x12345678u);
        unsigned char junk[64];
        memset(junk, 0xff, sizeof(junk));
        memcpy(base + SHM_CTL_BYTES, junk, sizeof(junk)); /* no frame at all */
        atomic_store(&c0->head, sizeof(junk));
        w = write(s, "", 1);
        CHECK(dropped(s), "a client with garbage wake words and tail is dropped");
        munmap(base, SHM_REGION);
        close(mfd);
        close(s);
    }
    CHECK(zoid_call(witness, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0,
          "other clients are unaffected by the garbage");

    /* An idle connected client costs (about) no CPU: 1 s asleep in zoid_poll. */
    struct zoid_client *c = connect_to(addr, NULL, NULL);
    double t0 = cpu_s();
    uint64_t w0 = now_ms();
    while (now_ms() - w0 < 1000)
        zoid_poll(c, 1000 - (int)(now_ms() - w0));
    double used = cpu_s() - t0;
    CHECK(used < 0.05, "an idle shm client used %.3f s of CPU in 1 s", used);
    zoid_close(c);
}

/* Sets the affinity of every thread of process pid (pid 0: this thread only). */
static void pin(pid_t pid, const cpu_set_t *set)
{
    if (!pid) {
        sched_setaffinity(0, sizeof(*set), set);
        return;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *tasks = opendir(path);
    for (struct dirent *e; tasks && (e = readdir(tasks));)
        if (e->d_name[0] != '.')
            sched_setaffinity(atoi(e->d_name), sizeof(*set), set);
    if (tasks)
        closedir(tasks);
}

static cpu_set_t one_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return set;
}

/* The CPU a client spending 1 s of spin budget (ZOID_SHM_SPIN) uses over five 100 ms calls,
 * with the daemon's threads on dcpu and the client on ccpu. */
static double spin_cost(const char *addr, pid_t daemon, int dcpu, int ccpu, const cpu_set_t *all)
{
    cpu_set_t d = one_cpu(dcpu), c1 = one_cpu(ccpu);
    pin(daemon, &d);
    pin(0, &c1);
    setenv("ZOID_SHM_SPIN", "1000000", 1);
    struct zoid_client *c = connect_to(addr, NULL, NULL);
    unsetenv("ZOID_SHM_SPIN");
    double used = -1;
    if (c && zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0) {
        uint64_t ns = 100000000;
        struct iovec req = {&ns, sizeof(ns)};
        double t0 = cpu_s();
        for (int i = 0; i < 5; i++)
            if (zoid_call(c, 0, ZOID_CORE_SLEEP, &req, 1, NULL, 0, NULL, 0))
                t0 = -1;
        used = t0 < 0 ? -1 : cpu_s() - t0;
    }
    if (c)
        zoid_close(c);
    pin(daemon, all);
    pin(0, all);
    return used;
}

/* A waiter does not spin for a daemon on its own CPU (the spin would only hold off the thread
 * it waits for); on another CPU it does, as long as its budget says. */
static void shm_spin_placement(const char *addr, pid_t daemon)
{
    cpu_set_t allowed;
    int cpus[2], n = 0;
    if (sched_getaffinity(0, sizeof(allowed), &allowed))
        CPU_ZERO(&allowed);
    for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
        if (CPU_ISSET(i, &allowed))
            cpus[n++] = i;
    if (!n) {
        printf("skip: spinning and placement: no CPU in this process's affinity\n");
        return;
    }
    double same = spin_cost(addr, daemon, cpus[0], cpus[0], &allowed);
    CHECK(same >= 0 && same < 0.05,
          "a client on the daemon's CPU slept through 0.5 s of calls: %.3f s of CPU", same);
    if (n < 2) {
        printf("skip: spinning across CPUs: one CPU allowed\n");
        return;
    }
    double cross = spin_cost(addr, daemon, cpus[0], cpus[1], &allowed);
    CHECK(cross > 0.1, "a client on another CPU spun for its reply: %.3f s of CPU in 0.5 s", cross);
}
