/*
 * Decoding of the stream plugin's requests (zstream_wire.h): bounds-checked, shared by the
 * plugin and fuzz.zstream; the client uses zs_name_check to refuse a bad name before sending.
 */
#include <errno.h>

#include "zstream_wire.h"

int zs_name_check(const char *name, size_t len)
{
    if (len == 0)
        return -EINVAL;
    if (len > ZS_NAME_MAX)
        return -ENAMETOOLONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/' || c < 0x20 || c == 0x7f)
            return -EINVAL;
    }
    return 0;
}

int zs_get_name(struct zs_reader *r, char out[ZS_NAME_MAX + 1])
{
    uint16_t n = zs_u16(r);
    if (r->bad || n > r->left)
        return -EPROTO;
    if (n > ZS_NAME_MAX)
        return -ENAMETOOLONG;
    memcpy(out, r->p, n);
    out[n] = '\0';
    r->p += n;
    r->left -= n;
    return zs_name_check(out, n);
}

int zs_decode_open(const void *p, size_t len, struct zs_open_req *o)
{
    struct zs_reader r = {p, len, false};
    o->flags = zs_u32(&r);
    o->producers = zs_u32(&r);
    o->limit = zs_u64(&r);
    o->reduce = zs_u8(&r);
    o->policy = zs_u8(&r);
    o->rank = zs_u16(&r);
    if (r.bad)
        return -EPROTO;
    int rc = zs_get_name(&r, o->name);
    if (rc)
        return rc;
    o->rname[0] = 0;
    if (o->reduce == 4 && (rc = zs_get_name(&r, o->rname)))
        return rc;
    return r.left ? -EPROTO : 0;
}

int zs_decode_read(const void *p, size_t len, struct zs_read_req *o)
{
    struct zs_reader r = {p, len, false};
    o->flags = zs_u32(&r);
    o->key_mod = zs_u32(&r);
    o->key_val = zs_u32(&r);
    o->max_bytes = zs_u32(&r);
    o->from = zs_u64(&r);
    if (r.bad)
        return -EPROTO;
    int rc = zs_get_name(&r, o->name);
    if (rc)
        return rc;
    o->number = (o->flags & ZS_READ_NUMBERED) ? zs_u32(&r) : 0;
    return r.left || r.bad ? -EPROTO : 0;
}

int zs_decode_push(const void *p, size_t len, uint32_t *flags, char name[ZS_NAME_MAX + 1],
                   struct zs_reader *rest)
{
    *rest = (struct zs_reader){p, len, false};
    *flags = zs_u32(rest);
    if (rest->bad)
        return -EPROTO;
    return zs_get_name(rest, name);
}

int zs_next_rec(struct zs_reader *r, struct zs_push_rec *rec)
{
    if (r->left == 0)
        return 0;
    rec->step = zs_u64(r);
    rec->rank = zs_u32(r);
    rec->len = zs_u32(r);
    if (r->bad || rec->len > r->left)
        return -EPROTO;
    rec->data = r->p;
    r->p += rec->len;
    r->left -= rec->len;
    return 1;
}
