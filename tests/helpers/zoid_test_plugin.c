/*
 * A ZOID plugin for the tests (id 4242), written against the raw plugin API:
 *   0 count       per-client counter in zoid_call_client_state: returns it, incremented (u32)
 *   1 stream      u32 n in: pushes n ASYNC frames of 1 KiB to the caller, then replies
 *   2 fail        returns -EIO
 *   3 gone        how many clients' state client_gone has released so far (u32)
 *   4 whoami_uid  the uid zoid_call_identity reports (u32)
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/zoid_plugin.h"

#define ID 4242

static _Atomic uint32_t released;

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

static void client_gone(void *plugin_state, void *state)
{
    (void)plugin_state;
    free(state);
    atomic_fetch_add(&released, 1);
}

static const zoid_fn functions[] = {count, stream, fail, gone, whoami_uid};

static const struct zoid_plugin plugin = {
    .api = ZOID_PLUGIN_API,
    .id = ID,
    .name = "test",
    .nfunctions = sizeof(functions) / sizeof(functions[0]),
    .functions = functions,
    .client_gone = client_gone,
};

const struct zoid_plugin *zoid_plugin_register(void);
const struct zoid_plugin *zoid_plugin_register(void)
{
    return &plugin;
}
