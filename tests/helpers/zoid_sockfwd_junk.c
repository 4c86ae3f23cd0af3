/*
 * A hostile client of the sockfwd plugin (tests/integration/zoid_sockets.sh): sends the daemon
 * N random requests (random function ids 0..7, random lengths 0..300, half of them starting with
 * a valid version and family byte), each of which must be answered by an error (EINVAL for a
 * malformed request, EACCES for a destination not allowed, an error for a function that does
 * not exist; names to resolve always carry a NUL, so the daemon looks none up) within the call
 * timeout, never by success and never by a lost connection. usage: zoid_sockfwd_junk ADDR N SEED;
 * exit 0 when all were refused, 1 otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "zepto/zoid.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: zoid_sockfwd_junk ADDR N SEED\n");
        return 2;
    }
    struct zoid_client *c;
    struct zepto_err err = {0};
    if (zoid_connect(argv[1], NULL, &c, &err)) {
        fprintf(stderr, "connect: %s\n", err.msg);
        return 1;
    }
    int n = atoi(argv[2]);
    srand((unsigned)atoi(argv[3]));
    int bad = 0;
    for (int i = 0; i < n; i++) {
        uint8_t req[300], rep[64];
        size_t len = (size_t)(rand() % (int)sizeof(req)), got = 0;
        for (size_t k = 0; k < len; k++)
            req[k] = (uint8_t)rand();
        if (i % 2 && len >= 2) {
            req[0] = 1;
            req[1] = (uint8_t)(i % 4 ? 4 : 6);
        }
        if (i % 3 == 0)
            len = i % 6 ? 20 : 2 + (size_t)(i % 40); /* the lengths the decoders accept */
        uint16_t fn = (uint16_t)(rand() % 8);
        if (fn == 1 && len >= 3)
            req[2 + (len - 2) / 2] = 0; /* no random name lookups (a resolver may be slow) */
        struct iovec q = {req, len}, r = {rep, sizeof(rep)};
        int rc = zoid_call(c, 3, fn, &q, 1, &r, 1, &got, 10000);
        int e = zoid_errno(rc);
        /* A RESOLVE of a random name may legitimately find nothing (ENOENT) or fail (EAGAIN,
         * EIO); a CONNECT of a random allowed-looking address is refused (EACCES). */
        if (!rc || !zoid_is_remote(rc)) {
            fprintf(stderr, "request %d (fn %u, %zu bytes): %s\n", i, fn, len,
                    rc ? zoid_strerror(rc) : "succeeded");
            bad++;
            if (!zoid_is_remote(rc) && rc)
                break;
        }
        (void)e;
    }
    zoid_close(c);
    return bad ? 1 : 0;
}
