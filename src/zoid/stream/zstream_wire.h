/*
 * The stream plugin's wire: function ids and the layout of its requests and replies, shared by
 * the plugin (src/zoid/stream) and the client (client.c). Little-endian, packed by hand; the
 * decoders check every length against what arrived (they read outside input: fuzz.zstream).
 */
#ifndef ZEPTO_ZSTREAM_WIRE_H
#define ZEPTO_ZSTREAM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum zstream_fn {
    ZS_OPEN = 0,    /* u32 flags, u32 producers, u64 limit, u8 reduce, u8 policy, u16 0, name
                       (reduce 4: then the reduction's name, u16 length + bytes) */
    ZS_PUSH = 1,    /* u32 flags, name (u16 length + bytes), then records: u64 step, u32 rank,
                       u32 len, data; reply: u32 records accepted (flag ZS_PUSH_WAITS: then
                       u32 state: 1 in line for a wake, 2 granted room for a next push of the
                       same size; u64 room free for pushes without a grant) */
    ZS_READ = 2,    /* u32 flags, u32 key_mod, u32 key_val, u32 max_bytes, u64 from, name
                       (flag ZS_READ_NUMBERED: then u32 number);
                       reply: u64 oldest, u64 next, u32 flags (ZS_R_EOF), u32 departed, then records:
                       u64 seq, u64 step, u32 rank, u32 len, data */
    ZS_STAT = 3,    /* name; reply: struct zoid_stream_stat (zoid.h), field by field (104
                       bytes), then u32 producers departed, u32 consumers departed, u64 pushes
                       refused for room, u64 record bytes they carried */
    ZS_DELETE = 4,  /* name */
    ZS_RESERVE = 5, /* u32 records, u64 bytes, name: room for the next push; reply: u32 granted
                       (0: in line, a wake comes with the grant), u64 room */
    ZS_FUNCTIONS
};
#define ZS_ASYNC_WAKE 0 /* async function id: something changed on a stream you wait on */

#define ZS_PUSH_EOF 1u /* PUSH flag: this producer has finished */
/* PUSH flag: the client waits for a wake when the daemon says it queued it (full stream, some
 * or none taken) and asks for room (ZS_RESERVE) before sending into a nearly full stream: the
 * reply is then u32 accepted, u32 state, u64 room (older daemons: u32 accepted). */
#define ZS_PUSH_WAITS 2u
#define ZS_READ_TAKE  1u /* READ flag: take the records (fan-out), instead of a cursor */
/* READ flag: a read sent before the reply to the previous one came (the consumer reads ahead):
 * it starts after the last record this connection was sent of the stream, or at `from` if that
 * is later; `from` still acknowledges. A read without it starts at `from`. */
#define ZS_READ_AHEAD 2u
/* READ flag: a u32 follows the name, the read's number on this stream handle (1, 2, ...). The
 * daemon may run a connection's calls in any order: a read ahead is served only when every
 * read numbered before it was; one that comes early, or after a later one, is answered empty
 * with ZS_R_UNSERVED (and its number counts as used). */
#define ZS_READ_NUMBERED 4u
#define ZS_R_EOF         1u /* READ reply flag: every producer finished and nothing is left */
#define ZS_R_AHEAD       2u /* READ reply flag: the daemon knows ZS_READ_AHEAD and numbers */
#define ZS_R_UNSERVED    4u /* READ reply flag: a read ahead out of its turn, nothing in it */

#define ZS_REC_HDR             16u /* step, rank, len */
#define ZS_OUT_HDR             24u /* seq, step, rank, len */
#define ZS_READ_HDR            24u /* oldest, next, flags, producers departed so far */
#define ZS_STAT_LEN            128u
#define ZS_STAT_LEN_DEPARTURES 112u /* a daemon from before the refusal counts */

struct zs_reader {
    const unsigned char *p;
    size_t left;
    bool bad;
};

static inline void zs_get(struct zs_reader *r, void *out, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
}
static inline uint64_t zs_u64(struct zs_reader *r)
{
    uint64_t v;
    zs_get(r, &v, 8);
    return v;
}
static inline uint32_t zs_u32(struct zs_reader *r)
{
    uint32_t v;
    zs_get(r, &v, 4);
    return v;
}
static inline uint16_t zs_u16(struct zs_reader *r)
{
    uint16_t v;
    zs_get(r, &v, 2);
    return v;
}
static inline uint8_t zs_u8(struct zs_reader *r)
{
    uint8_t v;
    zs_get(r, &v, 1);
    return v;
}

/* A stream name as it travels (u16 length, bytes): checked by zs_name_check. */
#define ZS_NAME_MAX 63

/* 0, or -EINVAL (empty, a '/', a NUL or a control character) or -ENAMETOOLONG. */
int zs_name_check(const char *name, size_t len);

/* Reads a name into out (NUL-terminated); 0 or a negative errno. */
int zs_get_name(struct zs_reader *r, char out[ZS_NAME_MAX + 1]);

/* Open flags on the wire: 1 create, 2 shared, 4 exclusive (ZOID_STREAM_*), and: */
#define ZS_OPEN_PRODUCER 16u /* counted as a producer from the open, of rank `rank` */
#define ZS_NO_RANK       0xffffu
struct zs_open_req {
    uint32_t flags, producers;
    uint64_t limit;
    uint8_t reduce, policy;
    uint16_t rank; /* ZS_OPEN_PRODUCER: its rank, or ZS_NO_RANK (0 from older clients) */
    char name[ZS_NAME_MAX + 1];
    char rname[ZS_NAME_MAX + 1]; /* reduce 4 (named): the reduction's name, after the name */
};
struct zs_read_req {
    uint32_t flags, key_mod, key_val, max_bytes;
    uint64_t from;
    uint32_t number; /* with ZS_READ_NUMBERED */
    char name[ZS_NAME_MAX + 1];
};
struct zs_push_rec {
    uint64_t step;
    uint32_t rank, len;
    const unsigned char *data;
};

/* Decoders of the requests: 0 or a negative errno (-EPROTO for a short or malformed payload). */
int zs_decode_open(const void *p, size_t len, struct zs_open_req *o);
int zs_decode_read(const void *p, size_t len, struct zs_read_req *o);
/* PUSH: the flags and name, then *rest points at the records. */
int zs_decode_push(const void *p, size_t len, uint32_t *flags, char name[ZS_NAME_MAX + 1],
                   struct zs_reader *rest);
/* The next record of a PUSH: 1, 0 at the end, or -EPROTO (a truncated record). */
int zs_next_rec(struct zs_reader *r, struct zs_push_rec *rec);

#endif
