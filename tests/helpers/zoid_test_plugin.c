/*
 * A ZOID plugin for the tests (id 4242), written against the raw plugin API:
 *   0 count       per-client counter in zoid_call_client_state: returns it, incremented (u32)
 *   1 stream      u32 n in: pushes n ASYNC frames of 1 KiB to the caller, then replies
 *   2 fail        returns -EIO
 *   3 gone        how many clients' state client_gone has released so far (u32)
 *   4 whoami_uid  the uid zoid_call_identity reports (u32)
 *   5 digest      the payload's FNV-1a hash (u64) and whether it came in place (u32: 1 when
 *                 zoid_call_take_payload could not take it); takes large payloads in place
 *   6 digest_slow u32 ms, then bytes: sleeps ms (cut short when its client goes), then digests
 *                 the whole payload as 5 does (read after its client may be gone); in place
 *   7 slow_begun  how many digest_slow calls have begun (u32)
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zepto/zoid_plugin.h"

#define ID 4242

static _Atomic uint32_t released, slow_begun;

static int count(struct zoid_call *call, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    uint32_t **state = (uint32_t **)zoid_call_client_state(call);
    if (!*state && !(*state = calloc(1, sizeof(uint32_t))))
        return -ENOMEM;
    uint32_t v = ++**state;
    return zoid_reply_append(call, &v, sizeof(v));
}

static int stream(struct zoid_call *call, const void *payload, size_t len)
{
    uint32_t n;
    if (len != sizeof(n))
        return -EPROTO;
    memcpy(&n, payload, sizeof(n));
    char block[1024];
    memset(block, 'z', sizeof(block));
    struct zoid_peer *peer = zoid_peer_get(call);
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = zoid_push(peer, ID, 1, block, sizeof(block));
    zoid_peer_put(peer);
    return rc;
}

static int fail(struct zoid_call *call, const void *payload, size_t len)
{
    (void)call;
    (void)payload;
    (void)len;
    return -EIO;
}

static int gone(struct zoid_call *call, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    uint32_t v = atomic_load(&released);
    return zoid_reply_append(call, &v, sizeof(v));
}

static int whoami_uid(struct zoid_call *call, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    uint32_t uid = zoid_call_identity(call)->uid;
    return zoid_reply_append(call, &uid, sizeof(uid));
}

static int reply_digest(struct zoid_call *call, const void *payload, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *b = payload;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    void *taken = zoid_call_take_payload(call);
    uint32_t in_place = len && !taken;
    free(taken);
    unsigned char out[12];
    memcpy(out, &h, 8);
    memcpy(out + 8, &in_place, 4);
    return zoid_reply_append(call, out, sizeof(out));
}

static int digest(struct zoid_call *call, const void *payload, size_t len)
{
    return reply_digest(call, payload, len);
}

static int digest_slow(struct zoid_call *call, const void *payload, size_t len)
{
    uint32_t ms;
    if (len < sizeof(ms))
        return -EPROTO;
    memcpy(&ms, payload, sizeof(ms));
    atomic_fetch_add(&slow_begun, 1);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) && !zoid_call_cancelled(call)) {
    }
    return reply_digest(call, payload, len);
}

static int slow_count(struct zoid_call *call, const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    uint32_t v = atomic_load(&slow_begun);
    return zoid_reply_append(call, &v, sizeof(v));
}

/* Says digest and digest_slow take payloads in place; first, that bad input is refused (a
 * host that is not the daemon's, a function past 63): the tests of this plugin fail to load it
 * otherwise. */
static int init(struct zoid_host *host)
{
    struct zoid_host copy = *host;
    if (zoid_host_in_place(NULL, 5) != -EINVAL || zoid_host_in_place(host, 64) != -EINVAL ||
        zoid_host_in_place(&copy, 5) != -EINVAL)
        return -EPROTO;
    return zoid_host_in_place(host, 5) ? -EINVAL : zoid_host_in_place(host, 6);
}

static void client_gone(void *plugin_state, void *state)
{
    (void)plugin_state;
    free(state);
    atomic_fetch_add(&released, 1);
}

static const zoid_fn functions[] = {count,      stream, fail,        gone,
                                    whoami_uid, digest, digest_slow, slow_count};

static const struct zoid_plugin plugin = {
    .api = ZOID_PLUGIN_API,
    .id = ID,
    .name = "test",
    .nfunctions = sizeof(functions) / sizeof(functions[0]),
    .functions = functions,
    .init = init,
    .client_gone = client_gone,
};

const struct zoid_plugin *zoid_plugin_register(void);
const struct zoid_plugin *zoid_plugin_register(void)
{
    return &plugin;
}
