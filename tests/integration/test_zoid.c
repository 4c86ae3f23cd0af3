/*
 * The ZOID core end to end: a real daemon (`zepto zoid serve`) and the client library.
 * Proves: calls round-trip (null, echo of 0 B to 16 MiB, source, whoami: the unix identity the
 * plugin sees is ours), 16 threads share one client, calls in two halves (begun, ended in any
 * order, cancelled, timed out; bad input), 1024 clients are served at once, a client
 * killed mid-call is released and the daemon serves on, the daemon killed mid-call gives the
 * waiting client an error within a second, a timed-out or interrupted call leaves the connection
 * usable, garbage / truncated / oversized / half-sent frames close only their own connection,
 * the TCP token handshake accepts the right token and refuses a wrong one, and SIGTERM lets a call
 * in flight finish. Large payloads a plugin takes in place (test_zoid_in_place.h) arrive intact.
 * With a test plugin (tests/helpers/zoid_test_plugin.c): per-client state kept between calls and
 * released (client_gone) when a client closes or is killed, data pushed to a client asynchronously,
 * a plugin's error reaching its caller, and a .so that is no plugin refused at start.
 *
 * usage: test_zoid ZEPTO WORKDIR PLUGINS   (PLUGINS/good holds the test plugin, PLUGINS/bad not)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/spawn.h"
#include "zepto/zoid.h"

static const char *zepto, *dir, *plugins;
static int failures;
/* ZOID_TEST_TRANSPORT=shm runs the transport-independent checks on shm: (default unix:). */
static const char *scheme = "unix";

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            putchar('\n');                                                                         \
            fflush(stdout);                                                                        \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct daemon {
    pid_t pid;
    char addr[300];
    char log[300];
};

/* Starts `zepto zoid serve --listen ADDR --export DIR EXTRA...` and waits until it answers. */
static void start(struct daemon *d, const char *addr, const char *extra1, const char *extra2)
{
    char *argv[16] = {(char *)zepto, "zoid",      "serve",     "--listen", (char *)addr,
                      "--export",    (char *)dir, "--threads", "4"};
    int n = 9;
    if (extra1)
        argv[n++] = (char *)extra1;
    if (extra2)
        argv[n++] = (char *)extra2;
    argv[n] = NULL;
    snprintf(d->addr, sizeof(d->addr), "%s", addr);
    snprintf(d->log, sizeof(d->log), "%s/daemon.log", dir);
    struct zb_spawn_opts so = {.stderr_path = d->log};
    struct zepto_err err = {0};
    if (zb_spawn(argv, &so, &d->pid, &err)) {
        printf("cannot start the daemon: %s\n", err.msg);
        exit(1);
    }
}

/* Connects, retrying while the daemon is still starting (not a sleep: a bounded retry). */
static struct zoid_client *connect_to(const char *addr, const struct zoid_client_opts *o,
                                      int *rc_out)
{
    uint64_t give_up = now_ms() + 5000;
    struct zepto_err err = {0};
    struct zoid_client *c = NULL;
    int rc;
    do {
        rc = zoid_connect(addr, o, &c, &err);
        if (!rc || (rc != -ENOENT && rc != -ECONNREFUSED))
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    } while (now_ms() < give_up);
    if (rc_out)
        *rc_out = rc;
    if (rc && !rc_out)
        printf("connect %s: %s\n", addr, err.msg);
    return c;
}

static int stop(struct daemon *d, int sig)
{
    kill(d->pid, sig);
    int status = -1;
    zb_spawn_wait(d->pid, &status, NULL);
    return status;
}

static int call_u64(struct zoid_client *c, uint16_t fn, uint64_t v, int timeout_ms)
{
    struct iovec in = {&v, sizeof(v)};
    return zoid_call(c, 0, fn, &in, 1, NULL, 0, NULL, timeout_ms);
}

/* ---- round trips ---- */

static void round_trips(struct zoid_client *c)
{
    CHECK(zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0, "null call");
    size_t sizes[] = {0, 1, 4096, 1 << 20, 16u << 20};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        unsigned char *a = malloc(n + 1), *b = calloc(1, n + 1);
        for (size_t i = 0; i < n; i++)
            a[i] = (unsigned char)(i * 7 + k);
        struct iovec in = {a, n}, out = {b, n};
        size_t got = 99;
        int rc = zoid_call(c, 0, ZOID_CORE_ECHO, &in, 1, &out, 1, &got, 0);
        CHECK(rc == 0 && got == n && !memcmp(a, b, n), "echo of %zu bytes: rc %d got %zu", n, rc,
              got);
        free(a);
        free(b);
    }
    /* Scattered into several iovecs, and a reply bigger than the space given. */
    char src[10] = "abcdefghi", x[3], y[7];
    struct iovec in = {src, 10}, out[2] = {{x, 3}, {y, 7}};
    size_t got;
    CHECK(zoid_call(c, 0, ZOID_CORE_ECHO, &in, 1, out, 2, &got, 0) == 0 && got == 10 &&
              !memcmp(x, "abc", 3) && !strcmp(y, "defghi"),
          "echo scattered over two iovecs");
    CHECK(zoid_call(c, 0, ZOID_CORE_ECHO, &in, 1, out, 1, &got, 0) == -EMSGSIZE,
          "a reply larger than the space is EMSGSIZE");
    CHECK(zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0,
          "the connection is usable after EMSGSIZE");
    uint64_t want = 300000;
    unsigned char *big = malloc(want);
    struct iovec req = {&want, sizeof(want)}, rep = {big, want};
    CHECK(zoid_call(c, 0, ZOID_CORE_SOURCE, &req, 1, &rep, 1, &got, 0) == 0 && got == want,
          "source of 300000 bytes");
    free(big);
    uint32_t who[4];
    struct iovec w = {who, sizeof(who)};
    CHECK(zoid_call(c, 0, ZOID_CORE_WHOAMI, NULL, 0, &w, 1, &got, 0) == 0 && got == 16 &&
              who[0] == getuid() && who[1] == getgid() && (pid_t)who[2] == getpid() && who[3] == 1,
          "whoami: uid %u gid %u pid %d verified %u (we are %u %u %d)", who[0], who[1], (int)who[2],
          who[3], getuid(), getgid(), (int)getpid());
    CHECK(zoid_call(c, 77, 0, NULL, 0, NULL, 0, NULL, 0) == -(ZOID_REMOTE + ENOSYS),
          "an unknown plugin: ENOSYS");
    CHECK(zoid_call(c, 0, 99, NULL, 0, NULL, 0, NULL, 0) == -(ZOID_REMOTE + ENOSYS),
          "an unknown function");
    CHECK(zoid_call(c, 0, ZOID_CORE_SOURCE, NULL, 0, NULL, 0, NULL, 0) == -(ZOID_REMOTE + EPROTO),
          "bad arguments: the function's EPROTO");
}

/* ---- threads sharing a client ---- */

struct sharer {
    struct zoid_client *c;
    unsigned seed;
    int bad;
};

static void *share(void *arg)
{
    struct sharer *s = arg;
    for (int i = 0; i < 300; i++) {
        size_t n = 1 + (size_t)rand_r(&s->seed) % 20000;
        unsigned char *a = malloc(n), *b = malloc(n);
        for (size_t k = 0; k < n; k++)
            a[k] = (unsigned char)(s->seed + k);
        struct iovec in = {a, n}, out = {b, n};
        size_t got = 0;
        if (zoid_call(s->c, 0, ZOID_CORE_ECHO, &in, 1, &out, 1, &got, 0) || got != n ||
            memcmp(a, b, n))
            s->bad++;
        free(a);
        free(b);
    }
    return NULL;
}

static void threads_share(struct zoid_client *c)
{
    pthread_t t[16];
    struct sharer s[16];
    for (int i = 0; i < 16; i++) {
        s[i] = (struct sharer){c, (unsigned)i * 7919u + 1, 0};
        pthread_create(&t[i], NULL, share, &s[i]);
    }
    int bad = 0;
    for (int i = 0; i < 16; i++) {
        pthread_join(t[i], NULL);
        bad += s[i].bad;
    }
    CHECK(bad == 0, "16 threads x 300 echoes on one client: %d wrong", bad);
}

/* ---- calls in two halves (zoid_call_begin / end / cancel) ---- */

static void split_calls(struct zoid_client *c, const char *addr)
{
    /* three echoes in flight, ended in reverse order: each its own reply */
    char in[3][8] = {"first", "second", "third"}, out[3][8] = {{0}};
    struct iovec iq[3], ip[3];
    struct zoid_call_handle *h[3];
    for (int i = 0; i < 3; i++) {
        iq[i] = (struct iovec){in[i], sizeof(in[i])};
        ip[i] = (struct iovec){out[i], sizeof(out[i])};
        CHECK(zoid_call_begin(c, 0, ZOID_CORE_ECHO, &iq[i], 1, &ip[i], 1, 0, &h[i]) == 0 && h[i],
              "begin echo %d", i);
    }
    for (int i = 2; i >= 0; i--) {
        size_t got = 0;
        int rc = h[i] ? zoid_call_end(h[i], &got) : -1;
        CHECK(rc == 0 && got == sizeof(in[i]) && !strcmp(out[i], in[i]),
              "end echo %d: rc %d, %zu bytes '%.8s'", i, rc, got, out[i]);
    }
    /* a begun call does not hold the connection: a call made after it returns first */
    uint64_t ns = 300000000ull;
    struct iovec sq = {&ns, sizeof(ns)};
    struct zoid_call_handle *slow = NULL;
    uint64_t t0 = now_ms();
    CHECK(zoid_call_begin(c, 0, ZOID_CORE_SLEEP, &sq, 1, NULL, 0, 0, &slow) == 0, "begin sleep");
    int rc = zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0);
    uint64_t took = now_ms() - t0;
    CHECK(rc == 0 && took < 250, "a null call beside a begun 300 ms call: %d after %llu ms", rc,
          (unsigned long long)took);
    CHECK(slow && zoid_call_end(slow, NULL) == 0 && now_ms() - t0 >= 290,
          "the begun sleep ends after its 300 ms");
    /* cancelled: its reply, when it comes, is dropped; the connection stays in step */
    char junk[8] = "junk", back[8] = {0};
    struct iovec jq = {junk, sizeof(junk)}, jp = {back, sizeof(back)};
    struct zoid_call_handle *gone = NULL;
    CHECK(zoid_call_begin(c, 0, ZOID_CORE_ECHO, &jq, 1, &jp, 1, 0, &gone) == 0, "begin echo");
    zoid_call_cancel(gone);
    char a[5] = "ping", b[5] = {0};
    struct iovec pin = {a, 5}, pout = {b, 5};
    size_t got = 0;
    CHECK(zoid_call(c, 0, ZOID_CORE_ECHO, &pin, 1, &pout, 1, &got, 0) == 0 && !strcmp(b, "ping"),
          "an echo after a cancelled one gets its own reply");
    /* the timeout given to begin bounds end */
    ns = 1000000000ull;
    t0 = now_ms();
    CHECK(zoid_call_begin(c, 0, ZOID_CORE_SLEEP, &sq, 1, NULL, 0, 200, &slow) == 0, "begin 1 s");
    rc = slow ? zoid_call_end(slow, NULL) : 0;
    took = now_ms() - t0;
    CHECK(rc == -ETIMEDOUT && took >= 150 && took < 900,
          "a begun 1 s call with a 200 ms timeout: "
          "%d after %llu ms",
          rc, (unsigned long long)took);
    /* bad input */
    CHECK(zoid_call_end(NULL, &got) == -EINVAL && got == 0, "zoid_call_end(NULL): -EINVAL");
    zoid_call_cancel(NULL);
    void *big = calloc(1, zoid_max_payload(c) + 1u);
    struct iovec bq = {big, zoid_max_payload(c) + 1u};
    struct zoid_call_handle *none = (struct zoid_call_handle *)&got;
    CHECK(big && zoid_call_begin(c, 0, ZOID_CORE_SINK, &bq, 1, NULL, 0, 0, &none) == -EMSGSIZE &&
              !none,
          "begin with a payload over the limit: -EMSGSIZE, no handle");
    free(big);
    CHECK(zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0,
          "the connection is usable after all that");
    /* the client closed while calls begun are in flight: they end at once, the memory goes with
     * the last (LeakSanitizer, ASan) */
    struct zoid_client *k = connect_to(addr, NULL, NULL);
    struct zoid_call_handle *h1 = NULL, *h2 = NULL;
    ns = 2000000000ull;
    CHECK(k && !zoid_call_begin(k, 0, ZOID_CORE_SLEEP, &sq, 1, NULL, 0, -1, &h1) &&
              !zoid_call_begin(k, 0, ZOID_CORE_SLEEP, &sq, 1, NULL, 0, -1, &h2),
          "begin two 2 s calls");
    t0 = now_ms();
    zoid_close(k);
    rc = h1 ? zoid_call_end(h1, NULL) : 0;
    zoid_call_cancel(h2);
    took = now_ms() - t0;
    CHECK(rc == -ECONNRESET && took < 1000,
          "a call begun before zoid_close ends with -ECONNRESET at once: %d after %llu ms", rc,
          (unsigned long long)took);
}

/* ---- 1024 clients ---- */

static void many_clients(const char *addr)
{
    enum { N = 1024 };
    struct zoid_client **cs = calloc(N, sizeof(*cs));
    int ok = 0, served = 0;
    for (int i = 0; i < N; i++) {
        struct zepto_err err = {0};
        if (zoid_connect(addr, NULL, &cs[i], &err) == 0)
            ok++;
        else if (i == ok)
            printf("client %d: %s\n", i, err.msg);
    }
    for (int i = 0; i < N; i++)
        if (cs[i] && zoid_call(cs[i], 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0)
            served++;
    CHECK(ok == N && served == N, "1024 clients at once: %d connected, %d served", ok, served);
    for (int i = 0; i < N; i++)
        zoid_close(cs[i]);
    free(cs);
}

/* ---- a client killed mid-call ---- */

static void killed_client(const char *addr)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct zoid_client *c = connect_to(addr, NULL, NULL);
        if (c)
            call_u64(c, ZOID_CORE_SLEEP, 2000000000ull, 0); /* killed during this */
        _exit(0);
    }
    /* Let the child reach its call: wait until the daemon has logged its connection. */
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    struct zoid_client *c = connect_to(addr, NULL, NULL);
    CHECK(c && zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0,
          "the daemon serves on after a client was killed mid-call");
    zoid_close(c);
}

/* ---- timeouts and signals ---- */

static void on_usr1(int sig)
{
    (void)sig;
}

struct poker {
    pthread_t target;
    int delay_ms;
};

static void *poke(void *arg)
{
    struct poker *p = arg;
    struct timespec ts = {0, (long)p->delay_ms * 1000000};
    nanosleep(&ts, NULL);
    pthread_kill(p->target, SIGUSR1);
    return NULL;
}

static void timeouts_and_signals(struct zoid_client *c)
{
    uint64_t t0 = now_ms();
    int rc = call_u64(c, ZOID_CORE_SLEEP, 1000000000ull, 200);
    uint64_t took = now_ms() - t0;
    CHECK(rc == -ETIMEDOUT && took >= 150 && took < 900,
          "a 1 s call with a 200 ms timeout: %d "
          "after %llu ms",
          rc, (unsigned long long)took);
    CHECK(zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0,
          "the connection is usable after a timeout (the late reply is dropped)");

    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    struct poker pk = {pthread_self(), 150};
    pthread_t t;
    pthread_create(&t, NULL, poke, &pk);
    rc = call_u64(c, ZOID_CORE_SLEEP, 500000000ull, 5000);
    pthread_join(t, NULL);
    CHECK(rc == -EINTR, "a call interrupted by a signal returns -EINTR, got %d", rc);
    char a[5] = "ping", b[5] = {0};
    struct iovec in = {a, 5}, out = {b, 5};
    size_t got;
    CHECK(zoid_call(c, 0, ZOID_CORE_ECHO, &in, 1, &out, 1, &got, 0) == 0 && !strcmp(b, "ping"),
          "the connection is usable after an interrupted call");
}

/* ---- garbage ---- */

static int raw_unix(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (connect(s, (struct sockaddr *)&sun, sizeof(sun))) {
        close(s);
        return -1;
    }
    return s;
}

/* Reads until the daemon closes (true) or 3 s pass (false). */
static bool closed_by_daemon(int s)
{
    struct timeval tv = {3, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    for (;;) {
        ssize_t n = read(s, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
    }
}

static void garbage(const char *path, const char *addr, struct zoid_client *witness)
{
    unsigned char hdr[ZOID_HEADER_SIZE];
    /* 1. plain garbage */
    int s = raw_unix(path);
    CHECK(s >= 0 && write(s, "GET / HTTP/1.0\r\n\r\nxxxxxxxxxxxxxxxx", 34) == 34 &&
              closed_by_daemon(s),
          "garbage closes the connection");
    close(s);
    /* 2. a huge length before the handshake */
    struct zoid_header h = {.kind = ZOID_AUTH, .length = 0xFFFFFFF0u};
    zoid_header_encode(&h, hdr);
    s = raw_unix(path);
    CHECK(s >= 0 && write(s, hdr, sizeof(hdr)) == sizeof(hdr) && closed_by_daemon(s),
          "a huge length closes the connection");
    close(s);
    /* 3. a truncated frame, then the client goes away */
    s = raw_unix(path);
    CHECK(s >= 0 && write(s, hdr, 10) == 10, "half a header");
    close(s);
    /* 4. a frame with a wrong version */
    h = (struct zoid_header){.kind = ZOID_AUTH};
    zoid_header_encode(&h, hdr);
    hdr[4] = 9;
    s = raw_unix(path);
    CHECK(s >= 0 && write(s, hdr, sizeof(hdr)) == sizeof(hdr) && closed_by_daemon(s),
          "a wrong version closes the connection");
    close(s);
    /* 5. after the handshake: a payload promised and never sent, then closed mid-frame */
    struct zoid_client *c = connect_to(addr, NULL, NULL);
    zoid_close(c);
    /* The witness, connected before all this, and a new client are both still served. */
    CHECK(zoid_call(witness, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0,
          "a client connected before the garbage is still served");
    c = connect_to(addr, NULL, NULL);
    CHECK(c && zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == 0,
          "a new client is served after the garbage");
    zoid_close(c);
}

/* ---- the daemon killed, and SIGTERM draining ---- */

static void daemon_killed(void)
{
    struct daemon d;
    char addr[320];
    snprintf(addr, sizeof(addr), "%s:%s/killed.sock", scheme, dir);
    start(&d, addr, NULL, NULL);
    struct zoid_client *c = connect_to(addr, NULL, NULL);
    pid_t killer = fork();
    if (killer == 0) {
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
        kill(d.pid, SIGKILL);
        _exit(0);
    }
    uint64_t t0 = now_ms();
    int rc = c ? call_u64(c, ZOID_CORE_SLEEP, 5000000000ull, -1) : -1;
    uint64_t took = now_ms() - t0;
    waitpid(killer, NULL, 0);
    stop(&d, SIGKILL);
    CHECK(rc == -ECONNRESET && took < 1200, "daemon killed mid-call: %d after %llu ms", rc,
          (unsigned long long)took);
    CHECK(c && zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, NULL, 0) == -ECONNRESET,
          "later calls fail at once");
    zoid_close(c);
}

static void drains(void)
{
    struct daemon d;
    char addr[320];
    snprintf(addr, sizeof(addr), "%s:%s/drain.sock", scheme, dir);
    start(&d, addr, NULL, NULL);
    struct zoid_client *c = connect_to(addr, NULL, NULL);
    pid_t term = fork();
    if (term == 0) {
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
        kill(d.pid, SIGTERM);
        _exit(0);
    }
    int rc = c ? call_u64(c, ZOID_CORE_SLEEP, 600000000ull, 5000) : -1;
    waitpid(term, NULL, 0);
    int status = -1;
    zb_spawn_wait(d.pid, &status, NULL);
    CHECK(rc == 0, "a call in flight at SIGTERM completes: %d", rc);
    CHECK(status == 0, "the daemon exits 0 after draining: %d", status);
    zoid_close(c);
}

/* ---- TCP and the token ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* ---- peers that must not pass the handshake: a relay and a server without the token ---- */

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4)) {
        close(fd);
        return -1;
    }
    return fd;
}

struct peer_args {
    int lfd, dport;
};

/* A relay: accepts one client and forwards bytes both ways to the daemon at dport. */
static void *relay(void *arg)
{
    struct peer_args *a = arg;
    int c = accept(a->lfd, NULL, NULL);
    int d = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in da = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->dport)};
    da.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c >= 0 && !connect(d, (struct sockaddr *)&da, sizeof(da))) {
        struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = d, .events = POLLIN}};
        char buf[4096];
        while (poll(p, 2, 5000) > 0) {
            int from = p[0].revents ? 0 : 1;
            ssize_t n = read(p[from].fd, buf, sizeof(buf));
            if (n <= 0 || write(p[1 - from].fd, buf, (size_t)n) != n)
                break;
        }
    }
    if (c >= 0)
        close(c);
    close(d);
    return NULL;
}

static void put_header(unsigned char h[32], int kind, uint32_t len)
{
    memset(h, 0, 32);
    memcpy(h, "ZOID", 4);
    h[4] = 1;
    h[5] = (unsigned char)kind;
    for (int i = 0; i < 4; i++)
        h[24 + i] = (unsigned char)(len >> (8 * i));
}

/* A server without the token: challenges, reads any answer, welcomes with a made-up proof. */
static void *fake_server(void *arg)
{
    struct peer_args *a = arg;
    int c = accept(a->lfd, NULL, NULL);
    if (c < 0)
        return NULL;
    unsigned char h[32], chal[36] = {0}, buf[128], wel[40] = {0};
    chal[32] = 1; /* token required */
    chal[33] = 2; /* handshake version */
    put_header(h, 4, sizeof(chal));
    if (write(c, h, 32) == 32 && write(c, chal, sizeof(chal)) == sizeof(chal) &&
        read(c, h, 32) == 32) {
        uint32_t len = (uint32_t)h[24] | (uint32_t)h[25] << 8;
        if (len <= sizeof(buf) && read(c, buf, len) == (ssize_t)len) {
            wel[0] = 0; /* max_payload 1 MiB, 16 in flight */
            wel[2] = 0x10;
            wel[4] = 16;
            uint32_t wlen = len == 32 ? 8 : 40; /* a version-1 client wants 8 bytes */
            put_header(h, 6, wlen);
            if (write(c, h, 32) == 32 && write(c, wel, wlen) == (ssize_t)wlen)
                (void)read(c, buf, sizeof(buf)); /* until the client hangs up */
        }
    }
    close(c);
    return NULL;
}

static void impostors(const char *good, const char *bad, int dport)
{
    char addr[64];
    int port = dport + 1;
    struct peer_args a = {.lfd = listen_on(port), .dport = dport};
    CHECK(a.lfd >= 0, "a port for the relay");
    snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", port);
    pthread_t t;
    pthread_create(&t, NULL, relay, &a);
    struct zoid_client_opts o = {.token_file = good};
    int rc = 0;
    struct zoid_client *c = connect_to(addr, &o, &rc);
    CHECK(!c && rc == -EACCES, "a relay to another connection cannot use the session: %d", rc);
    zoid_close(c);
    pthread_join(t, NULL);

    pthread_create(&t, NULL, fake_server, &a);
    c = connect_to(addr, &o, &rc);
    CHECK(!c && rc == -EACCES, "a server without the token is refused by the client: %d", rc);
    zoid_close(c);
    pthread_join(t, NULL);

    pthread_create(&t, NULL, fake_server, &a);
    o.token_file = bad;
    c = connect_to(addr, &o, &rc);
    CHECK(!c && rc == -EACCES, "a server with another token is refused by the client: %d", rc);
    zoid_close(c);
    pthread_join(t, NULL);
    close(a.lfd);
}

static void tokens(void)
{
    char good[300], bad[300], open_tok[300], addr[64];
    snprintf(good, sizeof(good), "%s/good.token", dir);
    snprintf(bad, sizeof(bad), "%s/bad.token", dir);
    snprintf(open_tok, sizeof(open_tok), "%s/open.token", dir);
    write_file(good, "correct horse battery staple\n", 0600);
    write_file(bad, "wrong token\n", 0600);
    write_file(open_tok, "correct horse battery staple\n", 0644);
    int port = 20000 + (int)(getpid() % 20000);
    snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%d", port);

    /* The daemon refuses a token file others may read. */
    char *argv[] = {(char *)zepto, "zoid",      "serve",        "--listen", addr,
                    "--export",    (char *)dir, "--token-file", open_tok,   NULL};
    struct zb_spawn_opts so = {.stderr_path = "/dev/null"};
    int status = -1;
    zb_run(argv, &so, &status, NULL);
    CHECK(status == 1, "a world-readable token file is refused (status %d)", status);

    struct daemon d;
    char opt[320];
    snprintf(opt, sizeof(opt), "--token-file=%s", good);
    start(&d, addr, opt, NULL);
    struct zoid_client_opts o = {.token_file = good};
    struct zoid_client *c = connect_to(addr, &o, NULL);
    uint32_t who[4];
    struct iovec w = {who, sizeof(who)};
    size_t got;
    CHECK(c && zoid_call(c, 0, ZOID_CORE_WHOAMI, NULL, 0, &w, 1, &got, 0) == 0 && who[3] == 1,
          "the right token is accepted (and the client counts as verified)");
    zoid_close(c);
    o.token_file = bad;
    int rc = 0;
    c = connect_to(addr, &o, &rc);
    CHECK(!c && rc == -EACCES, "a wrong token is refused: %d", rc);
    o.token_file = NULL;
    unsetenv("ZOID_TOKEN_FILE");
    c = connect_to(addr, &o, &rc);
    CHECK(!c && rc == -EACCES, "no token is refused: %d", rc);
    o.token_file = open_tok;
    c = connect_to(addr, &o, &rc);
    CHECK(!c && rc == -EACCES, "a client's world-readable token file is refused: %d", rc);
    impostors(good, bad, port);
    stop(&d, SIGTERM);

    /* --insecure: loopback only. */
    char *argv2[] = {(char *)zepto, "zoid",      "serve",      "--listen", "tcp:0.0.0.0:1",
                     "--export",    (char *)dir, "--insecure", NULL};
    zb_run(argv2, &so, &status, NULL);
    CHECK(status == 1, "--insecure on a non-loopback address is refused (status %d)", status);
}

/* ---- a plugin: state, pushes, errors ---- */

#define TEST_PLUGIN 4242

static uint32_t u32_call(struct zoid_client *c, uint16_t fn, int *rc)
{
    uint32_t v = 0;
    struct iovec out = {&v, sizeof(v)};
    size_t got = 0;
    *rc = zoid_call(c, TEST_PLUGIN, fn, NULL, 0, &out, 1, &got, 0);
    return v;
}

/* Waits (bounded) until the plugin has released `want` clients' state. */
static uint32_t wait_released(struct zoid_client *c, uint32_t want)
{
    uint64_t give_up = now_ms() + 3000;
    uint32_t v;
    int rc;
    while ((v = u32_call(c, 3, &rc)) < want && !rc && now_ms() < give_up) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return v;
}

struct pushes {
    unsigned frames;
    size_t bytes;
};

static void on_push(void *arg, uint16_t plugin, uint16_t fn, const void *data, size_t len)
{
    struct pushes *p = arg;
    (void)data;
    if (plugin == TEST_PLUGIN && fn == 1) {
        p->frames++;
        p->bytes += len;
    }
}

/* The daemon with --plugin-dir plugins/SUB does not start, and its error names so and why. */
static void refused(const char *addr, const char *sub, const char *so, const char *why)
{
    char bad[320], log[320];
    snprintf(bad, sizeof(bad), "%s/%s", plugins, sub);
    snprintf(log, sizeof(log), "%s/%s.log", dir, sub);
    char *argv[] = {(char *)zepto, "zoid",      "serve",        "--listen", (char *)addr,
                    "--export",    (char *)dir, "--plugin-dir", bad,        NULL};
    struct zb_spawn_opts so_ = {.stderr_path = log};
    int status = -1;
    zb_run(argv, &so_, &status, NULL);
    char text[4096] = ""; /* the daemon's start-up lines come first */
    FILE *f = fopen(log, "r");
    if (f) {
        size_t k = fread(text, 1, sizeof(text) - 1, f);
        text[k] = 0;
        fclose(f);
    }
    CHECK(status == 1 && strstr(text, so) && strstr(text, why), "%s is refused: status %d, %s", so,
          status, text);
}

static void plugin_tests(void)
{
    struct daemon d;
    char addr[320], pdir[320];
    snprintf(addr, sizeof(addr), "unix:%s/plugin.sock", dir);
    snprintf(pdir, sizeof(pdir), "--plugin-dir=%s/good", plugins);
    start(&d, addr, pdir, NULL);
    struct zoid_client *a = connect_to(addr, NULL, NULL), *b = connect_to(addr, NULL, NULL);
    int rc;
    uint32_t v1 = u32_call(a, 0, &rc), v2 = u32_call(a, 0, &rc), v3 = u32_call(a, 0, &rc);
    CHECK(!rc && v1 == 1 && v2 == 2 && v3 == 3, "per-client state kept: %u %u %u", v1, v2, v3);
    uint32_t vb = u32_call(b, 0, &rc);
    CHECK(!rc && vb == 1, "another client has its own state: %u", vb);
    uint32_t uid = u32_call(a, 4, &rc);
    CHECK(!rc && uid == getuid(), "the plugin sees the caller's uid: %u", uid);
    CHECK(zoid_call(a, TEST_PLUGIN, 2, NULL, 0, NULL, 0, NULL, 0) == -(ZOID_REMOTE + EIO),
          "a plugin's error reaches its caller");
    CHECK(zoid_call(a, TEST_PLUGIN, 9, NULL, 0, NULL, 0, NULL, 0) == -(ZOID_REMOTE + ENOSYS),
          "a function the plugin does not have: ENOSYS");

    struct pushes got = {0};
    zoid_on_async(a, on_push, &got);
    uint32_t n = 25;
    struct iovec in = {&n, sizeof(n)};
    rc = zoid_call(a, TEST_PLUGIN, 1, &in, 1, NULL, 0, NULL, 0);
    CHECK(rc == 0 && got.frames == 25 && got.bytes == 25 * 1024,
          "25 pushed frames arrive before the reply: rc %d, %u frames, %zu bytes", rc, got.frames,
          got.bytes);

    /* State released when a client closes, and when one is killed. */
    uint32_t before = u32_call(a, 3, &rc);
    zoid_close(b);
    CHECK(wait_released(a, before + 1) == before + 1, "closing a client releases its state");
    pid_t pid = fork();
    if (pid == 0) {
        struct zoid_client *c = connect_to(addr, NULL, NULL);
        int r;
        u32_call(c, 0, &r); /* state exists now */
        call_u64(c, ZOID_CORE_SLEEP, 3000000000ull, 0);
        _exit(0);
    }
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK(wait_released(a, before + 2) == before + 2,
          "a client killed mid-call has its state released");
    zoid_close(a);
    CHECK(stop(&d, SIGTERM) == 0, "the daemon with a plugin stops cleanly");

    /* A .so that is no plugin: the daemon does not start, and says which. */
    refused(addr, "bad", "zoid_bad_plugin.so", "no zoid_plugin_register");
    /* A plugin built for API 1: refused, saying which API it needs. */
    refused(addr, "api1", "zoid_api1_plugin.so", "built for plugin API 1, this daemon loads API 2");
}

#include "test_zoid_in_place.h"
#include "test_zoid_shm.h"

/* zoid_take_fd with nothing lent: a client without one, a transport that cannot carry one
 * (unix:), nothing on the socket (shm:); the connection still answers afterwards. */
static void take_fd_bad_input(struct zoid_client *c)
{
    CHECK(zoid_take_fd(NULL, 1) == -EOPNOTSUPP, "zoid_take_fd(NULL) is EOPNOTSUPP");
    int want = strcmp(scheme, "shm") ? -EOPNOTSUPP : -EAGAIN;
    int rc = zoid_take_fd(c, 42);
    CHECK(rc == want, "zoid_take_fd with nothing lent on %s: %d, expected %d", scheme, rc, want);
    size_t got = 0;
    CHECK(zoid_call(c, 0, ZOID_CORE_NULL, NULL, 0, NULL, 0, &got, 0) == 0,
          "a null call after zoid_take_fd");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s ZEPTO WORKDIR PLUGINS\n", argv[0]);
        return 2;
    }
    zepto = argv[1];
    dir = argv[2];
    plugins = argv[3];
    signal(SIGPIPE, SIG_IGN);
    const char *tr = getenv("ZOID_TEST_TRANSPORT");
    if (tr && !strcmp(tr, "shm"))
        scheme = "shm";
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    char sock[300], addr[320];
    snprintf(sock, sizeof(sock), "%s/zoid.sock", dir);
    snprintf(addr, sizeof(addr), "%s:%s", scheme, sock);
    struct daemon d;
    start(&d, addr, "--max-payload=32M", NULL);
    struct zoid_client *c = connect_to(addr, NULL, NULL);
    if (!c) {
        printf("FAILED: no daemon\n");
        stop(&d, SIGKILL);
        return 1;
    }
    round_trips(c);
    threads_share(c);
    split_calls(c, addr);
    take_fd_bad_input(c);
    timeouts_and_signals(c);
    many_clients(addr);
    killed_client(addr);
    if (!strcmp(scheme, "shm")) {
        shm_checks(sock, addr, c);
        shm_spin_placement(addr, d.pid);
    } else
        garbage(sock, addr, c);
    zoid_close(c);
    int status = stop(&d, SIGTERM);
    CHECK(status == 0, "the daemon exits 0 on SIGTERM: %d", status);
    daemon_killed();
    drains();
    in_place_tests();
    if (!strcmp(scheme, "unix")) { /* tcp and plugins: nothing transport-specific to rerun */
        tokens();
        plugin_tests();
    }
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
