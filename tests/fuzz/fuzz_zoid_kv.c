/*
 * libFuzzer target for the decoders that `zepto zoid gen` writes: the dispatch of the example
 * plugin (kv_server.c, generated from examples/zoid-plugin/kv.h at build time) with its real
 * implementation behind it. An input is what one client sends: a sequence of calls, each
 * [u8 function][u16 length, little-endian][payload]; then the client goes (the plugin's gone
 * hook frees its namespace, so that a leak shows). A fake reply API stands in for the daemon's;
 * payloads are copied to buffers of exactly their size, at an offset the input chooses, so that
 * an over-read or a misaligned access is caught.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv_server.h"
#include "fake_reply.h"
#include "zepto/zoid_plugin.h"

static void *client_state;

const struct zoid_identity *zoid_call_identity(const struct zoid_call *call)
{
    static const struct zoid_identity id = {.uid = 1000, .gid = 1000, .pid = 1, .verified = true};
    (void)call;
    return &id;
}

void **zoid_call_client_state(struct zoid_call *call)
{
    (void)call;
    return &client_state;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct zoid_plugin *p;
    if (!p) {
        p = zoid_plugin_register();
        if (p->init && p->init(&fake_host))
            abort();
    }
    size_t at = 0;
    while (size - at >= 3) {
        unsigned fn = data[at] % p->nfunctions, shift = data[at] >> 5;
        size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (len > size - at)
            len = size - at;
        unsigned char *buf = malloc(shift + len ? shift + len : 1);
        if (len)
            memcpy(buf + shift, data + at, len);
        at += len;
        struct zoid_call call = {0};
        int rc = p->functions[fn](&call, len || shift ? buf + shift : NULL, len);
        /* A call that ran replies with at least its errno; one that did not, with nothing. */
        if ((rc == 0 && call.len < 4) ||
            (rc != 0 && rc != -EPROTO && rc != -EMSGSIZE && rc != -ENOMEM))
            abort();
        free(call.buf);
        free(buf);
    }
    if (client_state && p->client_gone)
        p->client_gone(fake_host.plugin_state, client_state);
    client_state = NULL;
    return 0;
}
