/*
 * zoid_reply_reserve/append/bulk for the plugin fuzzers (fake_reply.h): what a plugin's dispatch
 * calls to build its reply, into a buffer that is exactly as long as the reply, so that a write
 * beyond what was reserved is caught.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_reply.h"
#include "zepto/zoid_plugin.h"

void *zoid_reply_reserve(struct zoid_call *call, size_t len)
{
    if (len > FAKE_MAX_REPLY - call->len)
        return NULL;
    unsigned char *b = realloc(call->buf, call->len + len + 1);
    if (!b)
        return NULL;
    call->buf = b;
    call->len += len;
    return b + call->len - len;
}

int zoid_reply_append(struct zoid_call *call, const void *data, size_t len)
{
    void *p = zoid_reply_reserve(call, len);
    if (!p)
        return EMSGSIZE;
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
