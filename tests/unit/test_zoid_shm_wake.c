/*
 * Proves the waking rules of the shm: transport (src/zoid/core/shm.c) on a real connection made
 * in one process: a writer of the daemon that waits for room never takes the client's doorbell
 * byte off the socket (the daemon's epoll needs it to learn of the next request), still notices
 * a client that has gone, and gives up at its deadline while signals keep interrupting it (the
 * daemon signals a call's thread at every sweep once its client is gone or its time is up); a
 * ring a worker watches (hold) takes frames without a doorbell, and rings again once it stops.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "zoid/core/transport.h"
#include "zoid_shm_pair.h"

/* The client's first frame: it rings (the daemon starts asleep in its epoll). */
static void ring(struct pair *p)
{
    char req[24] = "request";
    struct iovec r = {req, sizeof(req)};
    assert_int_equal(p->t->sendv(p->cfd, &r, 1, 1000), 0);
}

/* The daemon's reply of 2 MiB, larger than the ring and never read: sendv's result, and in *took
 * how long it waited. */
static int big_reply(struct pair *p, int timeout_ms, uint64_t *took)
{
    size_t big = 2u << 20;
    char *reply = calloc(1, big);
    assert_non_null(reply);
    struct iovec v = {reply, big};
    uint64_t t0 = zb_mono_read();
    int rc = p->t->sendv(p->dfd, &v, 1, timeout_ms);
    *took = zb_mono_read() - t0;
    free(reply);
    return rc;
}

/* The client's first frame rings; the daemon's reply makes its writer sleep for room past two of
 * its 250 ms slices: the doorbell byte must still be there for the epoll afterwards. */
static void writer_leaves_the_doorbell(void **state)
{
    (void)state;
    struct pair p = {.cfd = -1};
    pair_open(&p);
    ring(&p);
    assert_int_equal(queued(p.dfd), 1);
    uint64_t took;
    assert_int_equal(big_reply(&p, 600, &took), -ETIMEDOUT);
    assert_int_equal(queued(p.dfd), 1);
    pair_close(&p);
}

/* Without draining, a writer waiting for room still sees its client go (well before the
 * 5 s send timeout). */
static void writer_notices_a_gone_client(void **state)
{
    (void)state;
    struct pair p = {.cfd = -1};
    pair_open(&p);
    ring(&p);
    p.t->close(p.cfd);
    p.cfd = -1;
    uint64_t took;
    assert_int_equal(big_reply(&p, 5000, &took), -ECONNRESET);
    assert_true(took < 2000000000u);
    pair_close(&p);
}

/* Reads the 24-byte frame of ring() on the daemon's side, then finds the ring empty (which arms
 * the doorbell again and takes the bytes rung so far). */
static void daemon_reads(struct pair *p)
{
    char got[24];
    assert_int_equal(p->t->recv_nb(p->dfd, got, sizeof(got)), (long)sizeof(got));
    assert_string_equal(got, "request");
    errno = 0;
    assert_int_equal(p->t->recv_nb(p->dfd, got, sizeof(got)), -1);
    assert_int_equal(errno, EAGAIN);
}

/* The first two CPUs this test may run on (-1: fewer), and the mask to put back. */
static int cpus[2] = {-1, -1};
static cpu_set_t allowed;

static void find_cpus(void)
{
    assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(allowed), &allowed), 0);
    cpus[0] = cpus[1] = -1;
    for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, &allowed))
            cpus[k++] = c;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(set), &set), 0);
}

static void unpin(void)
{
    assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(allowed), &allowed), 0);
}

/* ring() from a thread on the second CPU (the test's own thread is on the first). */
static void *ring_on_cpu1(void *arg)
{
    pin(cpus[1]);
    ring(arg);
    return NULL;
}

static void ring_from_cpu1(struct pair *p)
{
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, ring_on_cpu1, p), 0);
    pthread_join(th, NULL);
}

/* A worker watching the ring (hold on: daemon_own.c) gets the client's next frame without a
 * doorbell byte, sees it with ready(); once it stops watching (hold off), the client rings
 * again. The client on another CPU than the watcher. */
static void a_watched_ring_needs_no_doorbell(void **state)
{
    (void)state;
    find_cpus();
    if (cpus[1] < 0) {
        printf("skipped: needs 2 CPUs (a client on another CPU than its watcher)\n");
        skip();
    }
    pin(cpus[0]);
    struct pair p = {.cfd = -1};
    pair_open(&p);
    ring_from_cpu1(&p);
    assert_int_equal(queued(p.dfd), 1);
    daemon_reads(&p);
    assert_int_equal(queued(p.dfd), 0);
    assert_int_equal(p.t->ready(p.dfd), 0);
    assert_true(p.t->hold(p.dfd, true));
    ring_from_cpu1(&p);
    assert_int_equal(queued(p.dfd), 0);
    assert_int_equal(p.t->ready(p.dfd), 24);
    daemon_reads(&p);
    assert_true(p.t->hold(p.dfd, false));
    ring_from_cpu1(&p);
    assert_int_equal(queued(p.dfd), 1);
    assert_int_equal(p.t->ready(p.dfd), 24);
    assert_int_equal(p.t->ready(-1), -EBADF);
    assert_false(p.t->hold(-1, true));
    pair_close(&p);
    unpin();
}

/* A client that last wrote from the watcher's own CPU is not watched: spinning there would only
 * hold it off. */
static void a_ring_written_from_the_same_cpu_is_not_watched(void **state)
{
    (void)state;
    find_cpus();
    pin(cpus[0]);
    struct pair p = {.cfd = -1};
    pair_open(&p);
    ring(&p);
    daemon_reads(&p);
    assert_false(p.t->hold(p.dfd, true));
    ring(&p);
    assert_int_equal(queued(p.dfd), 1); /* the doorbell is still wanted */
    pair_close(&p);
    unpin();
}

/* Interrupts `target` every 50 ms for at most 4 s, or until told to stop. */
struct pester {
    pthread_t target;
    atomic_bool stop;
};

static void on_signal(int sig)
{
    (void)sig;
}

static void *pester_main(void *arg)
{
    struct pester *ps = arg;
    for (int i = 0; i < 80 && !atomic_load(&ps->stop); i++) {
        pthread_kill(ps->target, SIGUSR1);
        nanosleep(&(struct timespec){0, 50000000}, NULL); /* the pace of the signals */
    }
    return NULL;
}

/* The reply (larger than the ring, never read) of a writer interrupted every 50 ms: it stops at
 * its 600 ms deadline, or at once when the client goes (checked also between signals). */
static void interrupted_writer(bool client_goes)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: futex waits end */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    struct pair p = {.cfd = -1};
    pair_open(&p);
    if (client_goes) {
        p.t->close(p.cfd);
        p.cfd = -1;
    }
    struct pester ps = {.target = pthread_self()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pester_main, &ps), 0);
    uint64_t took;
    int rc = big_reply(&p, 600, &took);
    atomic_store(&ps.stop, true);
    pthread_join(th, NULL);
    assert_int_equal(rc, client_goes ? -ECONNRESET : -ETIMEDOUT);
    if (took > 3000000000u)
        fail_msg("the writer took %.1f s (its deadline: 0.6 s)", (double)took / 1e9);
    pair_close(&p);
    signal(SIGUSR1, SIG_DFL);
}

static void signals_do_not_restart_the_deadline(void **state)
{
    (void)state;
    interrupted_writer(false);
}

static void signals_do_not_hide_a_gone_client(void **state)
{
    (void)state;
    interrupted_writer(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_leaves_the_doorbell),
        cmocka_unit_test(writer_notices_a_gone_client),
        cmocka_unit_test(a_watched_ring_needs_no_doorbell),
        cmocka_unit_test(a_ring_written_from_the_same_cpu_is_not_watched),
        cmocka_unit_test(signals_do_not_restart_the_deadline),
        cmocka_unit_test(signals_do_not_hide_a_gone_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
