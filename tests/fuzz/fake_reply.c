/*
 * zoid_reply_reserve/append/bulk for the plugin fuzzers (fake_reply.h): what a plugin's dispatch
 * calls to build its reply, into a buffer that is exactly as long as the reply, so that a write
 * beyond what was reserved is caught.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_reply.h"
#include "zepto/zoid_plugin.h"

struct zoid_host fake_host = {.export_fd = -1};
void (*fake_dirty)(void);

void *zoid_call_plugin_state(struct zoid_call *call)
{
    (void)call;
    return fake_host.plugin_state;
}

const struct zoid_host *zoid_call_host(const struct zoid_call *call)
{
    (void)call;
    return &fake_host;
}

void zoid_call_log(struct zoid_call *call, int level, const char *fmt, ...)
{
    (void)call;
    (void)level;
    (void)fmt;
}

void zoid_host_log(const struct zoid_host *host, int level, const char *fmt, ...)
{
    (void)host;
    (void)level;
    (void)fmt;
}

void zoid_call_thread_dirty(struct zoid_call *call, void (*clear)(void))
{
    (void)call;
    fake_dirty = clear;
}

void *zoid_reply_reserve(struct zoid_call *call, size_t len)
{
    if (len > FAKE_MAX_REPLY - call->len) {
        errno = EMSGSIZE;
        return NULL;
    }
    unsigned char *b = realloc(call->buf, call->len + len + 1);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    call->buf = b;
    call->len += len;
    return b + call->len - len;
}

int zoid_reply_append(struct zoid_call *call, const void *data, size_t len)
{
    void *p = zoid_reply_reserve(call, len);
    if (!p)
        return -errno;
    memcpy(p, data, len);
    return 0;
}

void *zoid_call_take_payload(struct zoid_call *call)
{
    void *p = call->payload;
    call->payload = NULL;
    call->taken = p != NULL;
    return p;
}

int zoid_reply_bulk(struct zoid_call *call, const void *data, size_t len,
                    void (*release)(void *arg), void *arg)
{
    int rc = zoid_reply_append(call, data, len);
    if (release)
        release(arg);
    return rc;
}

/* Payloads left in the socket: the fuzzer's calls come whole. */
int zoid_host_payload_tail(struct zoid_host *host, unsigned fn, uint32_t head)
{
    (void)host;
    return fn < 64 && head <= 4096 ? 0 : -EINVAL;
}

size_t zoid_call_payload_left(const struct zoid_call *call)
{
    (void)call;
    return 0;
}

ssize_t zoid_call_payload_read(struct zoid_call *call, void *buf, size_t n)
{
    (void)call;
    (void)buf;
    return n ? -EINVAL : 0;
}

ssize_t zoid_call_payload_to_file(struct zoid_call *call, int fd, int64_t off, size_t n)
{
    (void)call;
    (void)fd;
    (void)off;
    return n ? -EINVAL : 0;
}

/* Replies from a file: the bytes are copied into region (the fuzzer has no socket to splice
 * into), at most half of n, so that the caller's reading of the rest is exercised too. */
ssize_t zoid_reply_file(struct zoid_call *call, void *region, int fd, int64_t off, size_t n)
{
    if (!call || !region || fd < 0)
        return -EINVAL;
    size_t want = n / 2;
    ssize_t k = off < 0 ? read(fd, region, want) : pread(fd, region, want, (off_t)off);
    return k < 0 ? -errno : k;
}
