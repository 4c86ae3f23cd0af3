/*
 * Proves the code `zepto zoid gen` writes, end to end but without a daemon: the client stubs
 * generated from zoid_gen_all.h are linked into this program, the generated dispatch and the
 * implementation are a plugin loaded with dlopen (as the daemon loads it), and a fake transport
 * defined here (zoid_connect, zoid_call, zoid_reply_*, zoid_call_identity, zoid_call_client_state)
 * hands each request to the plugin's dispatch function and scatters its reply into the stub's
 * iovecs.
 *
 * It checks every scalar type at its extremes, strings, arrays in every direction (zero-copy, 2-D,
 * nullable, misaligned in the request and in the reply), objects, errno both ways, per-client
 * state and the gone hook, the lazy connection (one connect for racing first calls), and that the
 * dispatch refuses every malformed payload with EPROTO: every truncation and extension of every
 * request the stubs made, and hand-built payloads with bad lengths, counts that overflow, bad flags
 * and unterminated strings. Usage: test_zoid_gen_roundtrip PLUGIN.so
 */
#include <dlfcn.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zepto/zoid.h"
#include "zepto/zoid_codec.h"
#include "zepto/zoid_plugin.h"
#include "zoid_gen_all.h"
#include "all_client.h"

#include "zoid_gen_checks.h"

/* ---- the fake transport ------------------------------------------------------------------- */

struct zoid_client {
    int id;
    void *state; /* the plugin's per-client slot */
};

struct zoid_call {
    struct zoid_client *client;
    unsigned char *raw; /* reply buffer; the reply starts at raw + shift */
    size_t len;
};

enum fault { NO_FAULT, FAIL_CALL, TRUNCATE_REQUEST, EXTEND_REQUEST, SHORT_REPLY, LONG_REPLY };

static const struct zoid_plugin *plugin;
static struct zoid_client clients[3] = {{1, NULL}, {2, NULL}, {3, NULL}};
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int connects, calls;
static int connect_error; /* what zoid_connect returns (0: success) */
static enum fault fault;
static size_t shift;                 /* misalignment of request and reply buffers */
static size_t max_payload = 1 << 20; /* the reply limit */
static struct zoid_client *last_client;

int zg_calls(void)
{
    return calls;
}

/* Requests the stubs made: replayed damaged at the end. */
#define MAX_RECORDED 256
static struct recorded {
    uint16_t fn;
    size_t len;
    unsigned char *bytes;
} recorded[MAX_RECORDED];
static int nrecorded;

static void record(uint16_t fn, const unsigned char *p, size_t len)
{
    int same = 0;
    for (int i = 0; i < nrecorded; i++)
        same += recorded[i].fn == fn;
    if (same >= 3 || nrecorded == MAX_RECORDED || len > 65536)
        return;
    struct recorded *r = &recorded[nrecorded++];
    r->fn = fn;
    r->len = len;
    r->bytes = malloc(len ? len : 1);
    memcpy(r->bytes, p, len);
}

int zoid_connect(const char *addr, const struct zoid_client_opts *opts, struct zoid_client **out,
                 struct zepto_err *err)
{
    (void)addr;
    (void)opts;
    (void)err;
    connects++;
    usleep(20000); /* a window for racing first calls */
    errno = EINTR;
    if (connect_error)
        return connect_error;
    *out = &clients[0];
    return 0;
}

void *zoid_reply_reserve(struct zoid_call *call, size_t len)
{
    if (call->len + len > max_payload) {
        errno = EMSGSIZE; /* as the daemon: over the frame limit */
        return NULL;
    }
    unsigned char *raw = realloc(call->raw, shift + call->len + len);
    if (!raw) {
        errno = ENOMEM;
        return NULL;
    }
    call->raw = raw;
    void *p = raw + shift + call->len;
    call->len += len;
    return p;
}

int zoid_reply_append(struct zoid_call *call, const void *data, size_t len)
{
    void *p = zoid_reply_reserve(call, len);
    if (!p)
        return -errno;
    memcpy(p, data, len);
    return 0;
}

int zoid_reply_bulk(struct zoid_call *call, const void *data, size_t len,
                    void (*release)(void *arg), void *arg)
{
    int rc = zoid_reply_append(call, data, len);
    if (release)
        release(arg);
    return rc;
}

const struct zoid_identity *zoid_call_identity(const struct zoid_call *call)
{
    static const struct zoid_identity id = {.uid = 4321, .gid = 99, .pid = 1, .verified = true};
    (void)call;
    return &id;
}

void **zoid_call_client_state(struct zoid_call *call)
{
    return &call->client->state;
}

/* Runs one dispatch function on exactly len bytes (a buffer of that size, so that the sanitizer
 * sees any read beyond it), shifted by `shift`; the reply in *call. */
static int dispatch(struct zoid_client *c, uint16_t fn, const unsigned char *p, size_t len,
                    struct zoid_call *call)
{
    *call = (struct zoid_call){.client = c};
    if (fn >= plugin->nfunctions)
        return -ENOSYS;
    unsigned char *raw = malloc(shift + len ? shift + len : 1);
    if (len)
        memcpy(raw + shift, p, len);
    int rc = plugin->functions[fn](call, len || shift ? raw + shift : NULL, len);
    free(raw);
    return rc;
}

int zoid_call(struct zoid_client *c, uint16_t plugin_id, uint16_t fn, const struct iovec *req,
              int nreq, const struct iovec *rep, int nrep, size_t *rep_len, int timeout_ms)
{
    (void)timeout_ms;
    pthread_mutex_lock(&mu);
    calls++;
    last_client = c;
    *rep_len = 0;
    if (fault == FAIL_CALL || plugin_id != plugin->id) {
        pthread_mutex_unlock(&mu);
        return fault == FAIL_CALL ? -ECONNRESET : -(ZOID_REMOTE + ENOSYS);
    }
    size_t len = 0;
    for (int i = 0; i < nreq; i++)
        len += req[i].iov_len;
    unsigned char *buf = malloc(len + 1), *at = buf;
    for (int i = 0; i < nreq; i++) {
        memcpy(at, req[i].iov_base, req[i].iov_len);
        at += req[i].iov_len;
    }
    if (fault == NO_FAULT)
        record(fn, buf, len);
    if (fault == TRUNCATE_REQUEST && len)
        len--;
    if (fault == EXTEND_REQUEST)
        buf[len++] = 0;
    struct zoid_call call;
    int rc = dispatch(c, fn, buf, len, &call);
    errno = EAGAIN; /* as a transport may leave it: the stub must restore the caller's */
    if (rc < 0)
        rc = -(ZOID_REMOTE - rc); /* the function's -e: the caller's -(ZOID_REMOTE + e) */
    free(buf);
    if (rc == 0) {
        size_t n = call.len - (fault == SHORT_REPLY && call.len) + (fault == LONG_REPLY);
        const unsigned char *src = call.raw ? call.raw + shift : NULL;
        size_t room = 0, done = 0;
        for (int i = 0; i < nrep; i++)
            room += rep[i].iov_len;
        if (n > room) {
            rc = -EMSGSIZE;
        } else {
            for (int i = 0; i < nrep && done < n; i++) {
                size_t k = rep[i].iov_len < n - done ? rep[i].iov_len : n - done;
                memcpy(rep[i].iov_base, src + done, k);
                done += k;
            }
            *rep_len = n;
        }
    }
    free(call.raw);
    pthread_mutex_unlock(&mu);
    return rc;
}

/* The split-phase form: the call made at once, its result kept for the end (a real client
 * keeps several in flight; the stubs cannot tell). */
struct zoid_call_handle {
    int rc;
    size_t len;
};

int zoid_call_begin(struct zoid_client *c, uint16_t plugin_id, uint16_t fn, const struct iovec *req,
                    int nreq, const struct iovec *rep, int nrep, int timeout_ms,
                    struct zoid_call_handle **out)
{
    struct zoid_call_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->rc = zoid_call(c, plugin_id, fn, req, nreq, rep, nrep, &h->len, timeout_ms);
    *out = h;
    return 0;
}

int zoid_call_end(struct zoid_call_handle *h, size_t *rep_len)
{
    int rc = h->rc;
    *rep_len = h->len;
    free(h);
    return rc;
}

/* ---- through the stubs -------------------------------------------------------------------- */

static void *first_call(void *arg)
{
    int v = (int)(intptr_t)arg;
    return (void *)(intptr_t)(all_echo_int(v) == v);
}

static void lazy_connection(void)
{
    connect_error = -ECONNREFUSED;
    errno = 0;
    EQ_I(all_echo_int(5), -1);
    EQ_ERRNO(ECONNREFUSED);
    EQ_I(connects, 1);
    EQ_I(calls, 0);

    connect_error = 0;
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, first_call, (void *)(intptr_t)(i * 1000 - 3));
    for (int i = 0; i < 8; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        CHECK(ok, "thread %d got a wrong answer", i);
    }
    EQ_I(connects, 2); /* one failed, then exactly one for eight racing threads */
    CHECK(last_client == &clients[0], "calls went to client %d", last_client->id);
}

static void errno_and_failures(void)
{
    errno = 0;
    EQ_I(all_fail(ENOENT), -1);
    EQ_ERRNO(ENOENT);
    errno = 0;
    EQ_D(all_fail_double(EDOM), -1.5);
    EQ_ERRNO(EDOM);
    errno = 12345;
    EQ_I(all_echo_int(3), 3);
    EQ_ERRNO(12345);

    fault = FAIL_CALL;
    errno = 0;
    EQ_I(all_echo_int(3), -1);
    EQ_ERRNO(ECONNRESET);
    errno = 0;
    CHECK(isnan(all_echo_double(1)), "a failed double call returns NaN");
    EQ_ERRNO(ECONNRESET);
    errno = 0;
    all_nothing();
    EQ_ERRNO(ECONNRESET);
    CHECK(all_echo_bool(true) == false, "a failed bool call returns false");
    EQ_U(all_echo_size(1), SIZE_MAX);
    EQ_U(all_echo_u8(1), UINT8_MAX);

    static const enum fault proto[] = {TRUNCATE_REQUEST, EXTEND_REQUEST, SHORT_REPLY};
    for (size_t i = 0; i < sizeof(proto) / sizeof(proto[0]); i++) {
        fault = proto[i];
        errno = 0;
        EQ_I(all_echo_int(3), -1);
        EQ_ERRNO(EPROTO);
        errno = 0;
        EQ_I(all_strlen("abc"), -1);
        EQ_ERRNO(EPROTO);
    }
    fault = LONG_REPLY;
    errno = 0;
    EQ_I(all_echo_int(3), -1);
    EQ_ERRNO(EMSGSIZE);
    fault = NO_FAULT;

    /* An out array beyond the reply limit: the daemon's EMSGSIZE, nothing written. */
    size_t n = max_payload; /* 2 bytes each: twice the limit */
    uint16_t *big = malloc(n * sizeof(*big));
    errno = 0;
    EQ_I(all_fill_u16(big, n, 0), -1);
    EQ_ERRNO(EMSGSIZE);
    free(big);
}

static void client_state(void)
{
    EQ_I(all_count(), 1);
    EQ_I(all_count(), 2);
    EQ_I(all_zoid_use(&clients[1]), 0);
    EQ_I(all_count(), 1);
    CHECK(last_client == &clients[1], "all_zoid_use was not honoured");
    EQ_U(all_uid(), 4321);
    EQ_I(all_zoid_use(&clients[0]), 0);
    EQ_I(all_count(), 3);
    EQ_I(all_released(), 1000); /* init ran once, nothing released yet */
    /* The daemon calls client_gone with the slot of each client that goes. */
    plugin->client_gone(NULL, clients[1].state);
    clients[1].state = NULL;
    EQ_I(all_released(), 1001);
    plugin->client_gone(NULL, clients[0].state);
    clients[0].state = NULL;
    EQ_I(all_released(), 1002);
}

/* ---- malformed payloads, straight to the dispatch ----------------------------------------- */

static int fn_id(const char *name)
{
    for (unsigned i = 0; i < plugin->nfunctions; i++)
        if (!strcmp(plugin->function_names[i], name))
            return (int)i;
    fprintf(stderr, "no function %s\n", name);
    exit(1);
}

/* The dispatch's answer to the payload p[0..len). */
static int answer(const char *fn, const void *p, size_t len)
{
    struct zoid_call call;
    int rc = dispatch(&clients[2], (uint16_t)fn_id(fn), p, len, &call);
    free(call.raw);
    return rc;
}

static void damaged_requests(void)
{
    EQ_I(nrecorded > 40, 1);
    int bad = 0;
    for (int i = 0; i < nrecorded; i++) {
        struct recorded *r = &recorded[i];
        struct zoid_call call;
        for (size_t len = 0; len <= r->len + 1; len++) {
            if (len == r->len)
                continue;
            unsigned char *p = calloc(1, len + 1);
            memcpy(p, r->bytes, len < r->len ? len : r->len);
            int rc = dispatch(&clients[2], r->fn, p, len, &call);
            free(call.raw);
            free(p);
            if (rc != -EPROTO) {
                fprintf(stderr, "%s: %zu of %zu bytes gave %d, expected EPROTO\n",
                        plugin->function_names[r->fn], len, r->len, rc);
                bad++;
            }
        }
    }
    EQ_I(bad, 0);
}

static void handmade_payloads(void)
{
    unsigned char b[256];
    struct zoid_writer w;

    /* Strings: unterminated, empty, longer than the payload; flags out of range. */
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_u32(&w, 5);
    zoid_put_bytes(&w, "hello", 5);
    EQ_I(answer("all_strlen", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_u32(&w, 0);
    EQ_I(answer("all_strlen", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_u32(&w, UINT32_MAX);
    zoid_put_bytes(&w, "ab", 3);
    EQ_I(answer("all_strlen", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_u8(&w, 0); /* absent, yet a length */
    zoid_put_u32(&w, 3);
    zoid_put_bytes(&w, "ab", 3);
    EQ_I(answer("all_maybe_strlen", b, w.len), -EPROTO);
    b[0] = 2; /* a present flag of 2 */
    EQ_I(answer("all_maybe_strlen", b, w.len), -EPROTO);
    b[0] = 1;
    EQ_I(answer("all_maybe_strlen", b, w.len), 0);
    b[0] = 2;
    EQ_I(answer("all_echo_bool", b, 1), -EPROTO);

    /* Counts: negative, larger than the payload, overflowing count x size or rows x cols. */
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_int(&w, -1, sizeof(int));
    EQ_I(answer("all_sum_i32", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_int(&w, INT_MAX, sizeof(int));
    zoid_put_bytes(&w, "12345678", 8);
    EQ_I(answer("all_sum_i32", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_uint(&w, (SIZE_MAX / 8) + 1, sizeof(size_t)); /* x 8 overflows */
    zoid_put_u32(&w, 1);
    zoid_put_u8(&w, 0);
    EQ_I(answer("all_dot", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_int(&w, INT_MAX, sizeof(int)); /* rows x cols x 4 overflows */
    zoid_put_int(&w, INT_MAX, sizeof(int));
    EQ_I(answer("all_transpose", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_int(&w, 1 << 16, sizeof(int)); /* 16 GiB that are not there */
    zoid_put_int(&w, 1 << 16, sizeof(int));
    EQ_I(answer("all_transpose", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_int(&w, -3, sizeof(int));
    zoid_put_int(&w, 2, sizeof(int));
    EQ_I(answer("all_transpose", b, w.len), -EPROTO);
    /* An out array: its count is not checked against the request, only its size. */
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_uint(&w, SIZE_MAX, sizeof(size_t));
    zoid_put_uint(&w, 1, sizeof(uint16_t));
    EQ_I(answer("all_fill_u16", b, w.len), -EPROTO);
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_uint(&w, (size_t)1 << 40, sizeof(size_t));
    zoid_put_uint(&w, 1, sizeof(uint16_t));
    EQ_I(answer("all_fill_u16", b, w.len), -EMSGSIZE);

    /* The documented layout, built by hand: fixed part (n, the tag's length), variable part
     * (the tag, a), the zero-copy array b last; reply: the double, errno. */
    double a[2] = {1.5, 2}, bb[2] = {4, -1};
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_uint(&w, 2, sizeof(size_t));
    zoid_put_u32(&w, 2);
    zoid_put_bytes(&w, "t", 2);
    zoid_put_bytes(&w, a, sizeof(a));
    zoid_put_bytes(&w, bb, sizeof(bb));
    struct zoid_call call;
    EQ_I(dispatch(&clients[2], (uint16_t)fn_id("all_dot"), b, w.len, &call), 0);
    EQ_U(call.len, sizeof(double) + 4);
    if (call.len == sizeof(double) + 4) {
        EQ_D(zoid_load_f64(call.raw + shift), 1.5 * 4 - 2 + 1000);
        EQ_I(zoid_load_int(call.raw + shift + sizeof(double), 4), 0);
    }
    free(call.raw);
    /* Flags of both nullable objects in the fixed part, the in object in the variable part;
     * the out object after errno in the reply. */
    struct all_obj in = {.a = 3};
    zoid_writer_init(&w, b, sizeof(b));
    zoid_put_u8(&w, 1);
    zoid_put_u8(&w, 1);
    zoid_put_bytes(&w, &in, sizeof(in));
    EQ_I(dispatch(&clients[2], (uint16_t)fn_id("all_opt_obj"), b, w.len, &call), 0);
    EQ_U(call.len, sizeof(int) + 4 + sizeof(struct all_obj));
    if (call.len == sizeof(int) + 4 + sizeof(struct all_obj)) {
        struct all_obj out;
        memcpy(&out, call.raw + shift + sizeof(int) + 4, sizeof(out));
        EQ_I(zoid_load_int(call.raw + shift, sizeof(int)), 3);
        EQ_I(out.a, 30);
    }
    free(call.raw);
    EQ_I(answer("all_nothing", b, 1), -EPROTO);
    EQ_I(answer("all_nothing", NULL, 0), 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    zoid_register_fn reg;
    *(void **)&reg = dlsym(h, ZOID_REGISTER_SYMBOL);
    plugin = reg ? reg() : NULL;
    if (!plugin || plugin->api != ZOID_PLUGIN_API || plugin->id != ALL_ZOID_PLUGIN_ID ||
        !plugin->init || !plugin->fini || !plugin->client_gone) {
        fprintf(stderr, "%s: not the plugin of zoid_gen_all.h\n", argv[1]);
        return 1;
    }
    struct zoid_host host = {.plugin_name = plugin->name, .export_fd = -1};
    if (plugin->init(&host))
        return 1;

    lazy_connection();
    for (shift = 0; shift < 4; shift += 3) {
        zg_every_scalar_type();
        zg_strings();
        zg_arrays();
        zg_objects();
        zg_split_phase();
        errno_and_failures();
    }
    shift = 0;
    zg_threads(4);
    client_state();
    for (shift = 0; shift < 2; shift++) {
        damaged_requests();
        handmade_payloads();
    }
    plugin->fini(host.plugin_state);
    for (int i = 0; i < nrecorded; i++)
        free(recorded[i].bytes);
    dlclose(h);
    if (zg_failures) {
        fprintf(stderr, "%d failure(s)\n", zg_failures);
        return 1;
    }
    printf("ok: %d requests replayed damaged\n", nrecorded);
    return 0;
}
