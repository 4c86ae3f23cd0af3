/*
 * Encoding and decoding of the sockfwd plugin's requests and replies
 * (include/zepto/zoid_sockfwd.h). Linked into the daemon and into the interposer; every decoder
 * checks each length before reading.
 */
#include <errno.h>
#include <string.h>

#include "zepto/zoid_sockfwd.h"

static int family_ok(uint8_t f)
{
    return f == 4 || f == 6;
}

/* The IPv4 part of an address must leave the rest zero: one address, one encoding. */
static int addr_ok(uint8_t family, const uint8_t a[16])
{
    if (family == 6)
        return 1;
    for (int i = 4; i < 16; i++)
        if (a[i])
            return 0;
    return 1;
}

int zsf_connect_decode(const void *buf, size_t len, struct zsf_dest *d)
{
    const uint8_t *b = buf;
    if (!b || len != ZSF_CONNECT_LEN || b[0] != ZSF_VERSION || !family_ok(b[1]))
        return -EINVAL;
    d->family = b[1];
    d->port = (uint16_t)(b[2] << 8 | b[3]);
    memcpy(d->addr, b + 4, 16);
    if (!d->port || !addr_ok(d->family, d->addr))
        return -EINVAL;
    return 0;
}

void zsf_connect_encode(const struct zsf_dest *d, uint8_t out[ZSF_CONNECT_LEN])
{
    out[0] = ZSF_VERSION;
    out[1] = d->family;
    out[2] = (uint8_t)(d->port >> 8);
    out[3] = (uint8_t)d->port;
    memcpy(out + 4, d->addr, 16);
}

int zsf_resolve_decode(const void *buf, size_t len, char name[ZSF_MAX_NAME + 1], int *family)
{
    const uint8_t *b = buf;
    if (!b || len < 3 || len > ZSF_MAX_NAME + 2 || b[0] != ZSF_VERSION ||
        (b[1] != 0 && !family_ok(b[1])))
        return -EINVAL;
    size_t n = len - 2;
    if (memchr(b + 2, 0, n))
        return -EINVAL;
    memcpy(name, b + 2, n);
    name[n] = 0;
    *family = b[1];
    return 0;
}

int zsf_resolve_encode(const char *name, int family, uint8_t *out, size_t cap)
{
    size_t n = name ? strlen(name) : 0;
    if (!n || n > ZSF_MAX_NAME || cap < n + 2 || (family && family != 4 && family != 6))
        return -EINVAL;
    out[0] = ZSF_VERSION;
    out[1] = (uint8_t)family;
    memcpy(out + 2, name, n);
    return (int)(n + 2);
}

int zsf_resolved_decode(const void *buf, size_t len, struct zsf_dest out[ZSF_MAX_ADDRS])
{
    const uint8_t *b = buf;
    if (!b || len < 1 || b[0] > ZSF_MAX_ADDRS || len != 1 + (size_t)b[0] * ZSF_ADDR_LEN)
        return -EPROTO;
    for (int i = 0; i < b[0]; i++) {
        const uint8_t *e = b + 1 + (size_t)i * ZSF_ADDR_LEN;
        if (!family_ok(e[0]) || !addr_ok(e[0], e + 1))
            return -EPROTO;
        out[i].family = e[0];
        out[i].port = 0;
        memcpy(out[i].addr, e + 1, 16);
    }
    return b[0];
}
