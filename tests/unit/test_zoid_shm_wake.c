/*
 * Proves the waking rules of the shm: transport (src/zoid/core/shm.c) on a real connection made
 * in one process: a writer of the daemon that waits for room never takes the client's doorbell
 * byte off the socket (the daemon's epoll needs it to learn of the next request), still notices
 * a client that has gone, and gives up at its deadline while signals keep interrupting it (the
 * daemon signals a call's thread at every sweep once its client is gone or its time is up).
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

struct pair {
    char dir[64];
    struct zoid_addr a;
    const struct zoid_transport *t;
    int lfd, dfd, cfd, crc;
};

static void *client_connect(void *arg)
{
    struct pair *p = arg;
    struct zepto_err err = {0};
    p->crc = p->t->connect(&p->a, 5000, &p->cfd, &err);
    return NULL;
}

/* A daemon end (dfd) and a client end (cfd) of one shm: connection. */
static void pair_open(struct pair *p)
{
    snprintf(p->dir, sizeof(p->dir), "/tmp/zepto-shm-wake.XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    char addr[128];
    snprintf(addr, sizeof(addr), "shm:%s/s", p->dir);
    struct zepto_err err = {0};
    assert_int_equal(zoid_addr_parse(addr, &p->a, &p->t, &err), 0);
    assert_int_equal(p->t->listen(&p->a, 4, &p->lfd, &err), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_connect, p), 0);
    struct pollfd pl = {.fd = p->lfd, .events = POLLIN};
    assert_int_equal(poll(&pl, 1, 5000), 1);
    assert_int_equal(p->t->accept(p->lfd, &p->dfd), 0);
    pthread_join(th, NULL);
    assert_int_equal(p->crc, 0);
}

static void pair_close(struct pair *p)
{
    if (p->cfd >= 0)
        p->t->close(p->cfd);
    p->t->close(p->dfd);
    close(p->lfd);
    char path[128];
    snprintf(path, sizeof(path), "%s/s", p->dir);
    unlink(path);
    rmdir(p->dir);
}

static int queued(int fd)
{
    int n = -1;
    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

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
        cmocka_unit_test(signals_do_not_restart_the_deadline),
        cmocka_unit_test(signals_do_not_hide_a_gone_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
