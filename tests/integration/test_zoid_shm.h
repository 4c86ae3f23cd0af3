/*
 * The shm: transport's own checks, included by test_zoid.c when it runs on shm
 * (ZOID_TEST_TRANSPORT=shm): the region is sealed, an idle client costs no CPU, and a hostile
 * client that corrupts its ring indices or wake words is dropped alone.
 */
#include <fcntl.h>
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
