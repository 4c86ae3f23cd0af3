/*
 * Both ends of one shm: connection made in one process, for the unit tests of the transport
 * (test_zoid_shm_wake.c, test_zoid_shm_view.c): pair_open listens in a fresh directory, connects
 * from a thread and accepts; pair_close closes both ends (cfd -1: already closed).
 */
#ifndef TEST_ZOID_SHM_PAIR_H
#define TEST_ZOID_SHM_PAIR_H

/* after <cmocka.h> (its asserts) */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

/* Bytes waiting on a socket (the daemon's side: the client's doorbells). */
static int queued(int fd)
{
    int n = -1;
    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

#endif
