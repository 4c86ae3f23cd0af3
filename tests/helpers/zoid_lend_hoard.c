/*
 * A client that asks the daemon to lend it descriptors (zp_lend) and never takes them
 * (tests/integration/zoid_preload_lend.sh): each lent descriptor waits in the connection's
 * socket, holding the file open. It opens PATH (beneath the export) once, asks up to COUNT
 * times, prints one JSON line ({"lent": N, "refused": M, "errno": E of the first refusal}), then
 * holds the connection HOLD seconds (or until stdin closes) so that the test can measure what
 * other clients see meanwhile.
 *
 *   zoid_lend_hoard --server shm:P --path NAME [--count N] [--hold S]
 *
 * Exit 0 when it ran (the verdict is the caller's), 2 for bad usage, 1 when it could not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/zoid.h"
#include "zposix.h"
#include "zposix_client.h"

static long number(const char *s, const char *name)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 10000000) {
        fprintf(stderr, "zoid_lend_hoard: %s '%s': expected 0..10000000\n", name, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *server = NULL, *path = NULL;
    long count = 10000, hold = 0;
    static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                         {"path", required_argument, NULL, 'p'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"hold", required_argument, NULL, 'h'},
                                         {0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 's': server = optarg; break;
        case 'p': path = optarg; break;
        case 'n': count = number(optarg, "--count"); break;
        case 'h': hold = number(optarg, "--hold"); break;
        default: return 2;
        }
    }
    if (!server || !path || optind != argc) {
        fprintf(stderr,
                "usage: zoid_lend_hoard --server shm:P --path NAME [--count N] [--hold S]\n");
        return 2;
    }
    struct zepto_err err = {0};
    struct zoid_client *c;
    if (zoid_connect(server, NULL, &c, &err)) {
        fprintf(stderr, "zoid_lend_hoard: %s\n", err.msg);
        return 1;
    }
    zposix_zoid_use(c);
    uint64_t sid;
    uint8_t secret[16];
    int h = zp_session_new(ZP_VERSION, &sid, secret, sizeof(secret)) < 0
                ? -1
                : zp_openat(ZP_ROOT, path, O_RDONLY, 0);
    if (h < 0) {
        fprintf(stderr, "zoid_lend_hoard: %s: %s\n", path, strerror(errno));
        return 1;
    }
    long lent = 0, refused = 0;
    int first = 0;
    for (long i = 0; i < count; i++) {
        if (zp_lend(h, (uint64_t)i + 1) == 0) {
            lent++;
        } else {
            if (!first)
                first = errno;
            refused++;
            if (errno != EAGAIN)
                break;
        }
    }
    printf("{\"lent\": %ld, \"refused\": %ld, \"errno\": %d}\n", lent, refused, first);
    fflush(stdout);
    struct pollfd p = {.fd = 0, .events = POLLIN};
    if (hold)
        poll(&p, 1, (int)(hold * 1000));
    zoid_close(c);
    return 0;
}
