/*
 * The code `zepto zoid gen` writes from zoid_gen_all.h, through a real daemon: the generated
 * stubs over libzoid, the generated dispatch in a plugin `zepto zoid serve` loaded. Runs the
 * transport-independent checks (zoid_gen_checks.c) and what only a daemon can show: errno across
 * the wire, the caller's identity as the plugin sees it, per-client state and its release when a
 * connection closes, many threads on one connection, and the daemon's reply limit.
 * Usage: test_zoid_gen_daemon (with ZOID_SERVER naming the daemon).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "zepto/zepto.h"
#include "zepto/zoid.h"
#include "zoid_gen_all.h"
#include "all_client.h"
#include "zoid_gen_checks.h"

int zg_calls(void)
{
    return -1; /* libzoid does not count */
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void)
{
    const char *addr = getenv("ZOID_SERVER");
    if (!addr || !*addr) {
        fprintf(stderr, "test_zoid_gen_daemon: ZOID_SERVER is not set\n");
        return 2;
    }
    struct zepto_err err = {0};
    struct zoid_client *c1 = NULL, *c2 = NULL;
    if (zoid_connect(addr, NULL, &c1, &err) || zoid_connect(addr, NULL, &c2, &err)) {
        fprintf(stderr, "test_zoid_gen_daemon: %s: %s\n", addr, err.msg);
        return 1;
    }
    EQ_I(all_zoid_use(c1), 0);

    zg_every_scalar_type();
    zg_strings();
    zg_arrays();
    zg_objects();
    zg_split_phase();

    /* errno travels back; a call that succeeds leaves the caller's alone. */
    errno = 0;
    EQ_I(all_fail(ENOENT), -1);
    EQ_ERRNO(ENOENT);
    errno = 0;
    EQ_D(all_fail_double(EDOM), -1.5);
    EQ_ERRNO(EDOM);
    errno = 4242;
    EQ_I(all_echo_int(9), 9);
    EQ_ERRNO(4242);

    /* The identity the daemon read from SO_PEERCRED, as the plugin sees it. */
    EQ_U(all_uid(), getuid());

    /* Per-client state: each connection counts on its own. */
    EQ_I(all_count(), 1);
    EQ_I(all_count(), 2);
    EQ_I(all_zoid_use(c2), 0);
    EQ_I(all_count(), 1);
    EQ_I(all_zoid_use(c1), 0);
    EQ_I(all_count(), 3);

    /* Many threads share one connection. */
    zg_threads(8);

    /* An out array larger than the daemon's reply limit: EMSGSIZE, and the connection lives. */
    size_t n = zoid_max_payload(c1); /* 2 bytes each: twice the limit */
    uint16_t *big = malloc(n * sizeof(*big));
    errno = 0;
    EQ_I(all_fill_u16(big, n, 0), -1);
    EQ_ERRNO(EMSGSIZE);
    free(big);
    EQ_I(all_echo_int(-5), -5);

    /* Closing c2 releases its state: the gone hook runs in the daemon (asynchronously, so the
     * count is polled, with a deadline). The daemon loaded the plugin once. */
    int before = all_released();
    EQ_I(before >= 1000 && before < 2000, 1);
    zoid_close(c2);
    double deadline = now_s() + 5;
    int after = before;
    while ((after = all_released()) == before && now_s() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    EQ_I(after, before + 1);

    zoid_close(c1);
    if (zg_failures) {
        fprintf(stderr, "%d failure(s)\n", zg_failures);
        return 1;
    }
    printf("ok: every annotation kind through the daemon\n");
    return 0;
}
