/*
 * Included by test_zoid.c (its daemon, CHECK, the test plugin's calls): large request payloads
 * read in place (shm: views) through the test plugin's digest functions, which take them so.
 * On shm: a payload from 64 KiB to the request ring's size comes in place and any other is
 * copied; on unix: every one is copied; either way the plugin sees exactly the bytes sent,
 * one call at a time (the ring wrapping at different places), from four threads sharing a
 * connection (views and copies of one ring interleaved), and after its client was killed while a
 * slow call held its payload in place (the call reads it after the client went; the daemon and
 * the next client are unharmed).
 */
#include "zoid/core/shm_ring.h"

static uint64_t fnv(const unsigned char *b, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 167 + seed * 13 + (i >> 10));
}

/* The test plugin's digest (fn 5) or digest_slow (6) of b: 0 or the call's error; the digest
 * and whether the payload came in place. */
static int digest_call(struct zoid_client *c, uint16_t fn, const unsigned char *b, size_t n,
                       uint64_t *h, uint32_t *in_place)
{
    unsigned char out[12];
    struct iovec in = {(void *)b, n}, rep = {out, sizeof(out)};
    size_t got = 0;
    int rc = zoid_call(c, TEST_PLUGIN, fn, &in, 1, &rep, 1, &got, 0);
    if (!rc && got != sizeof(out))
        rc = -EPROTO;
    memcpy(h, out, 8);
    memcpy(in_place, out + 8, 4);
    return rc;
}

struct digester {
    struct zoid_client *c;
    unsigned seed, bad, calls;
};

static void *digest_loop(void *arg)
{
    struct digester *g = arg;
    static const size_t sizes[] = {100u << 10, 700u << 10, 5000, SHM_REQ_RING_BYTES, 64u << 10};
    unsigned char *b = malloc(SHM_REQ_RING_BYTES);
    for (unsigned i = 0; b && i < 40; i++) {
        size_t n = sizes[(i + g->seed) % 5];
        fill(b, n, g->seed * 100 + i);
        uint64_t h;
        uint32_t ip;
        g->calls++;
        if (digest_call(g->c, 5, b, n, &h, &ip) || h != fnv(b, n))
            g->bad++;
    }
    free(b);
    return NULL;
}

static void in_place_tests(void)
{
    struct daemon d;
    char addr[320], pdir[320];
    snprintf(addr, sizeof(addr), "%s:%s/in-place.sock", scheme, dir);
    snprintf(pdir, sizeof(pdir), "--plugin-dir=%s/good", plugins);
    start(&d, addr, pdir, "--max-payload=8M");
    struct zoid_client *a = connect_to(addr, NULL, NULL);
    if (!a) {
        CHECK(0, "no daemon with the test plugin on %s", addr);
        stop(&d, SIGKILL);
        return;
    }
    bool shm = !strcmp(scheme, "shm");
    size_t big = 3u << 20;
    unsigned char *b = malloc(big);
    static const size_t sizes[] = {4096,
                                   (64u << 10) - 1,
                                   64u << 10,
                                   300007,
                                   SHM_REQ_RING_BYTES - 4096,
                                   SHM_REQ_RING_BYTES,
                                   SHM_REQ_RING_BYTES + 1,
                                   3u << 20};
    for (unsigned s = 0; b && s < sizeof(sizes) / sizeof(sizes[0]); s++)
        for (unsigned k = 0; k < 3; k++) { /* the ring wraps at another place each time */
            size_t n = sizes[s];
            fill(b, n, s * 3 + k);
            uint64_t h = 0;
            uint32_t ip = 9;
            int rc = digest_call(a, 5, b, n, &h, &ip);
            uint32_t want = shm && n >= (64u << 10) && n <= SHM_REQ_RING_BYTES;
            CHECK(rc == 0 && h == fnv(b, n) && ip == want,
                  "%s: a payload of %zu bytes: rc %d, digest %s, in place %u (expected %u)", scheme,
                  n, rc, h == fnv(b, n) ? "right" : "WRONG", ip, want);
        }

    /* Four threads on one connection: views and copies of one ring interleaved. */
    struct digester g[4];
    pthread_t th[4];
    for (unsigned i = 0; i < 4; i++) {
        g[i] = (struct digester){.c = a, .seed = i + 1};
        pthread_create(&th[i], NULL, digest_loop, &g[i]);
    }
    unsigned bad = 0, calls = 0;
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += g[i].bad;
        calls += g[i].calls;
    }
    CHECK(calls == 160 && bad == 0, "%s: 4 threads sharing a connection: %u of %u digests wrong",
          scheme, bad, calls);

    /* A client killed while its slow call holds its 512 KiB payload (in place on shm:). */
    int rc;
    uint32_t begun = u32_call(a, 7, &rc);
    pid_t pid = fork();
    if (pid == 0) {
        struct zoid_client *c = connect_to(addr, NULL, NULL);
        size_t n = 512u << 10;
        unsigned char *p = calloc(1, n);
        uint32_t ms = 5000;
        uint64_t h;
        uint32_t ip;
        if (c && p) {
            memcpy(p, &ms, sizeof(ms));
            digest_call(c, 6, p, n, &h, &ip);
        }
        _exit(0);
    }
    uint64_t give_up = now_ms() + 5000;
    while (u32_call(a, 7, &rc) == begun && !rc && now_ms() < give_up) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    CHECK(u32_call(a, 7, &rc) == begun + 1, "%s: the slow call began", scheme);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    bool cancelled = false;
    give_up = now_ms() + 5000; /* the slow call ends (cut short), reading its payload then */
    while (!cancelled && now_ms() < give_up) {
        char text[16384] = "";
        FILE *f = fopen(d.log, "r");
        if (f) {
            size_t k = fread(text, 1, sizeof(text) - 1, f);
            text[k] = 0;
            fclose(f);
        }
        cancelled = strstr(text, "1 calls cancelled (client gone)") != NULL;
        if (!cancelled) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    CHECK(cancelled, "%s: the killed client's slow call ended (the daemon says so)", scheme);
    for (unsigned k = 0; b && k < 3; k++) {
        fill(b, SHM_REQ_RING_BYTES, 77 + k);
        uint64_t h = 0;
        uint32_t ip = 9;
        rc = digest_call(a, 5, b, SHM_REQ_RING_BYTES, &h, &ip);
        CHECK(rc == 0 && h == fnv(b, SHM_REQ_RING_BYTES) && ip == (uint32_t)shm,
              "%s: after the killed client: rc %d, in place %u", scheme, rc, ip);
    }
    free(b);
    zoid_close(a);
    CHECK(stop(&d, SIGTERM) == 0, "%s: the daemon with in-place payloads stops cleanly", scheme);
}
