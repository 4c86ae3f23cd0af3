/*
 * Proves the daemon's in-place reads of the shm: transport (views, src/zoid/core/shm.c) on a
 * real connection made in one process: a view is contiguous where the payload wraps the ring's
 * end, keeps its bytes while it is held (the client cannot write over them, and bytes copied
 * meanwhile do not free them), gives the whole ring back when it ends, is one at a time, waits
 * for a whole payload without calling a part of one news (no busy re-arming) while the doorbell
 * still wakes it, and sees a client that went mid-payload.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "zoid/core/shm_ring.h"
#include "zoid_shm_pair.h"

#define CAP SHM_REQ_RING_BYTES

/* n bytes of a pattern that differs with seed and position. */
static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 131 + seed + (i >> 12));
    return b;
}

static int client_send(struct pair *p, const void *b, size_t n, int timeout_ms)
{
    struct iovec v = {(void *)b, n};
    return p->t->sendv(p->cfd, &v, 1, timeout_ms);
}

/* The daemon copies n bytes out (recv_nb, as its frame reader does) and checks them. */
static void daemon_copies(struct pair *p, const unsigned char *want, size_t n)
{
    unsigned char *got = malloc(n ? n : 1);
    assert_non_null(got);
    size_t have = 0;
    while (have < n) {
        long r = p->t->recv_nb(p->dfd, got + have, n - have);
        assert_true(r > 0);
        have += (size_t)r;
    }
    assert_memory_equal(got, want, n);
    free(got);
}

/* The daemon's view of the next n bytes, checked against want. */
static const unsigned char *daemon_views(struct pair *p, const unsigned char *want, size_t n)
{
    assert_true(p->t->view_ok(p->dfd, n));
    const void *at = NULL;
    assert_int_equal(p->t->view(p->dfd, n, &at), (long)n);
    assert_memory_equal(at, want, n);
    return at;
}

static void sizes_a_view_takes(void **state)
{
    (void)state;
    struct pair p = {.cfd = -1};
    pair_open(&p);
    assert_false(p.t->view_ok(p.dfd, 1000));       /* small: copied */
    assert_false(p.t->view_ok(p.dfd, CAP + 1));    /* larger than the ring */
    assert_false(p.t->view_ok(p.cfd, 256u << 10)); /* the client's end never views */
    assert_true(p.t->view_ok(p.dfd, CAP));
    pair_close(&p);
}

/* A payload that begins 1000 bytes before the ring's end is seen whole and in order; its end
 * frees the ring. */
static void a_view_spans_the_ring_end(void **state)
{
    (void)state;
    struct pair p = {.cfd = -1};
    pair_open(&p);
    unsigned char *fill = pattern(CAP - 1000, 1), *big = pattern(256u << 10, 2);
    assert_int_equal(client_send(&p, fill, CAP - 1000, 1000), 0);
    daemon_copies(&p, fill, CAP - 1000);
    assert_int_equal(client_send(&p, big, 256u << 10, 1000), 0);
    daemon_views(&p, big, 256u << 10);
    p.t->view_end(p.dfd);
    /* nothing read since: the end of the view alone gives the whole ring back */
    unsigned char *whole = pattern(CAP, 9);
    assert_int_equal(client_send(&p, whole, CAP, 200), 0);
    daemon_copies(&p, whole, CAP);
    free(whole);
    free(fill);
    free(big);
    pair_close(&p);
}

/* While a view is held the client cannot write over it, even after the daemon copied what came
 * after it; a second view waits for the first; once it ends the whole ring is free again. */
static void a_held_view_keeps_its_bytes(void **state)
{
    (void)state;
    struct pair p = {.cfd = -1};
    pair_open(&p);
    size_t n = CAP - 8192;
    unsigned char *a = pattern(n, 3), *b = pattern(16384, 4), *whole = pattern(CAP, 5);
    assert_int_equal(client_send(&p, a, n, 1000), 0);
    const unsigned char *at = daemon_views(&p, a, n);
    assert_false(p.t->view_ok(p.dfd, 64u << 10)); /* one at a time */
    /* 8 KiB fit after the view, the rest waits for room */
    assert_int_equal(client_send(&p, b, 16384, 200), -ETIMEDOUT);
    daemon_copies(&p, b, 8192);
    assert_int_equal(client_send(&p, "x", 1, 100), -ETIMEDOUT); /* the view still holds */
    assert_memory_equal(at, a, n);
    p.t->view_end(p.dfd);
    assert_int_equal(client_send(&p, whole, CAP, 200), 0); /* all of the ring is free */
    daemon_views(&p, whole, CAP);
    p.t->view_end(p.dfd);
    free(a);
    free(b);
    free(whole);
    pair_close(&p);
}

/* Half a payload is not news (ready says 0, arming says nothing to read: no thread is sent to
 * look at it again and again); the doorbell the view armed rings when the rest comes. */
static void a_partial_payload_is_not_news(void **state)
{
    (void)state;
    struct pair p = {.cfd = -1};
    pair_open(&p);
    size_t n = 200u << 10;
    unsigned char *b = pattern(n, 6);
    assert_int_equal(client_send(&p, b, n / 2, 1000), 0);
    char junk[64];
    while (recv(p.dfd, junk, sizeof(junk), MSG_DONTWAIT) > 0) { /* the first doorbell */
    }
    assert_true(p.t->view_ok(p.dfd, n));
    const void *at = NULL;
    errno = 0;
    assert_int_equal(p.t->view(p.dfd, n, &at), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(p.t->ready(p.dfd), 0);
    assert_false(p.t->arm(p.dfd));
    assert_int_equal(client_send(&p, b + n / 2, n - n / 2, 1000), 0);
    assert_true(queued(p.dfd) >= 1); /* rung */
    assert_true(p.t->ready(p.dfd) > 0);
    daemon_views(&p, b, n);
    p.t->view_end(p.dfd);
    free(b);
    pair_close(&p);
}

/* A client gone in the middle of a payload: the view says the stream ended (0), at the latest
 * once the doorbell before the end is taken (as the daemon's next read after its epoll). */
static void a_client_gone_mid_payload(void **state)
{
    (void)state;
    struct pair p = {.cfd = -1};
    pair_open(&p);
    size_t n = 128u << 10;
    unsigned char *b = pattern(n, 7);
    assert_int_equal(client_send(&p, b, n / 2, 1000), 0);
    p.t->close(p.cfd);
    p.cfd = -1;
    const void *at = NULL;
    long r = p.t->view(p.dfd, n, &at); /* the doorbell it rang first may be taken first */
    if (r < 0 && errno == EAGAIN)
        r = p.t->view(p.dfd, n, &at);
    assert_int_equal(r, 0);
    free(b);
    pair_close(&p);
}

int main(void)
{
    setenv("ZOID_SHM_SPIN", "off", 1); /* nothing here waits for a peer in another thread */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_a_view_takes),
        cmocka_unit_test(a_view_spans_the_ring_end),
        cmocka_unit_test(a_held_view_keeps_its_bytes),
        cmocka_unit_test(a_partial_payload_is_not_news),
        cmocka_unit_test(a_client_gone_mid_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
