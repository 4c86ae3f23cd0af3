/*
 * fuzz.zstream: the stream plugin (src/zoid/stream) behind the faked reply API: the input is a
 * sequence of calls [function u8][u16 length][payload] from one of two uids; every function
 * must answer 0 or an errno, never crash, leak or overrun. Streams are deleted after each input
 * (the daemon-wide budget is small, so that full streams are reached).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_reply.h"
#include "zepto/zoid_plugin.h"

const struct zoid_plugin *zoid_stream_plugin_register(void);

static struct zoid_identity who = {.uid = 1000, .gid = 1000, .pid = 1, .verified = true};
static void *client_state;
static int peer_refs;

const struct zoid_identity *zoid_call_identity(const struct zoid_call *call)
{
    (void)call;
    return &who;
}
void **zoid_call_client_state(struct zoid_call *call)
{
    (void)call;
    return &client_state;
}
struct zoid_peer *zoid_peer_get(struct zoid_call *call)
{
    (void)call;
    peer_refs++;
    return (struct zoid_peer *)&peer_refs;
}
void zoid_peer_put(struct zoid_peer *peer)
{
    (void)peer;
    if (--peer_refs < 0)
        abort();
}
bool zoid_peer_gone(const struct zoid_peer *peer)
{
    (void)peer;
    return false;
}
int zoid_push(struct zoid_peer *peer, uint16_t plugin, uint16_t function, const void *data,
              size_t len)
{
    (void)peer, (void)plugin, (void)function, (void)data, (void)len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct zoid_plugin *p;
    if (!p) {
        setenv("ZOID_STREAM_BUDGET_MB", "1", 1);
        p = zoid_stream_plugin_register();
        if (p->init(&fake_host))
            abort();
    }
    size_t at = 0;
    while (size - at >= 3) {
        unsigned fn = data[at] % p->nfunctions;
        who.uid = (data[at] & 0x80) ? 1001 : 1000;
        size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (len > size - at)
            len = size - at;
        unsigned char *buf = malloc(len ? len : 1);
        memcpy(buf, data + at, len);
        at += len;
        struct zoid_call call = {.payload = len ? buf : NULL};
        int rc = p->functions[fn](&call, len ? buf : NULL, len);
        if (rc > 0)
            abort();
        free(call.buf);
        if (!call.taken) /* a push may keep its record in the request's memory */
            free(buf);
    }
    /* The client goes (its departures counted), then everything: a fresh state next time. */
    p->client_gone(fake_host.plugin_state, client_state);
    client_state = NULL;
    p->fini(fake_host.plugin_state);
    if (peer_refs)
        abort();
    if (p->init(&fake_host))
        abort();
    return 0;
}
