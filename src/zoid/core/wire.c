/*
 * ZOID frame headers: 32 bytes, little-endian, checked before any payload is read or allocated.
 */
#include <errno.h>
#include <string.h>

#include "zepto/zoid.h"

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void zoid_header_encode(const struct zoid_header *h, unsigned char out[ZOID_HEADER_SIZE])
{
    memset(out, 0, ZOID_HEADER_SIZE);
    put32(out, ZOID_MAGIC);
    out[4] = ZOID_VERSION;
    out[5] = h->kind;
    put16(out + 6, h->flags);
    put16(out + 8, h->plugin);
    put16(out + 10, h->function);
    put32(out + 12, (uint32_t)h->error);
    put32(out + 16, (uint32_t)h->call);
    put32(out + 20, (uint32_t)(h->call >> 32));
    put32(out + 24, h->length);
}

int zoid_header_decode(const unsigned char in[ZOID_HEADER_SIZE], uint32_t max_payload,
                       struct zoid_header *h, struct zepto_err *err)
{
    h->magic = get32(in);
    h->version = in[4];
    h->kind = in[5];
    h->flags = get16(in + 6);
    h->plugin = get16(in + 8);
    h->function = get16(in + 10);
    h->error = (int32_t)get32(in + 12);
    h->call = (uint64_t)get32(in + 16) | (uint64_t)get32(in + 20) << 32;
    h->length = get32(in + 24);
    h->reserved = get32(in + 28);
    if (h->magic != ZOID_MAGIC)
        return zepto_fail(err, EPROTO, "not a zoid frame (bad magic)");
    if (h->version != ZOID_VERSION)
        return zepto_fail(err, EPROTO, "frame version %u, this zepto speaks %u", h->version,
                          ZOID_VERSION);
    if (h->kind < ZOID_CALL || h->kind > ZOID_REFUSED)
        return zepto_fail(err, EPROTO, "unknown frame kind %u", h->kind);
    if (h->flags || h->reserved)
        return zepto_fail(err, EPROTO, "reserved header fields are not zero");
    if (h->error < 0)
        return zepto_fail(err, EPROTO, "negative error %d in a frame", h->error);
    if (h->length > max_payload)
        return zepto_fail(err, EMSGSIZE, "payload of %u bytes, above the limit of %u", h->length,
                          max_payload);
    return 0;
}
