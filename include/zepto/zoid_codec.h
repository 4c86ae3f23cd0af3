/*
 * The encoding helpers that the code written by `zepto zoid gen` calls: bounds-checked
 * little-endian readers and writers over buffers the caller owns, overflow-safe size arithmetic,
 * and an iovec list builder that copies small pieces into a staging buffer and points at large
 * ones where they are. The layouts themselves are in docs/FORMATS.md ("Arguments of generated
 * stubs").
 *
 * Header-only and allocation-free: a stub on the client and a dispatch function in the daemon
 * both run it on their own stack. Failures are sticky: once a reader or writer has failed, every
 * later get returns zero (or NULL) and every later put does nothing, so that generated code checks
 * once, at the end, instead of after every field.
 *
 * Scalars travel little-endian at their C size; arrays and objects travel as the host's own
 * memory image (that is what lets them go from and into the caller's memory without a copy), so
 * client and daemon must share the ABI, and the host must be little-endian.
 */
#ifndef ZEPTO_ZOID_CODEC_H
#define ZEPTO_ZOID_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "zoid_codec.h: arrays travel in host byte order, which the wire defines as little-endian"
#endif
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE single and double expected");
_Static_assert(sizeof(bool) == 1, "bool travels as one byte");

#ifdef __cplusplus
extern "C" {
#endif

/* Pieces up to this many bytes are copied into the client's staging buffer (one iovec for many
 * small arguments); larger ones, and every zero-copy array, get their own iovec. */
#define ZOID_CODEC_COPY_MAX 256
/* The staging room a client stub keeps on its stack beyond its fixed part. */
#define ZOID_CODEC_STAGE 1024

/* ---- raw little-endian loads and stores (size 1, 2, 4 or 8; no bounds) ------------------- */

static inline uint64_t zoid_load_uint(const void *p, size_t size)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t v = 0;
    for (size_t i = size; i-- > 0;)
        v = v << 8 | b[i];
    return v;
}

/* Sign-extends from `size` bytes (two's complement; int64_t has no other representation). */
static inline int64_t zoid_load_int(const void *p, size_t size)
{
    uint64_t u = zoid_load_uint(p, size);
    if (size < 8 && (u >> (8 * size - 1) & 1))
        u |= ~(uint64_t)0 << (8 * size);
    int64_t s;
    memcpy(&s, &u, sizeof(s));
    return s;
}

static inline void zoid_store_uint(void *p, uint64_t v, size_t size)
{
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < size; i++, v >>= 8)
        b[i] = (unsigned char)v;
}

static inline void zoid_store_int(void *p, int64_t v, size_t size)
{
    zoid_store_uint(p, (uint64_t)v, size);
}

static inline float zoid_load_f32(const void *p)
{
    uint32_t u = (uint32_t)zoid_load_uint(p, 4);
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static inline double zoid_load_f64(const void *p)
{
    uint64_t u = zoid_load_uint(p, 8);
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static inline void zoid_store_f32(void *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    zoid_store_uint(p, u, 4);
}

static inline void zoid_store_f64(void *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    zoid_store_uint(p, u, 8);
}

/* `char` may be signed or not: it travels as its byte, unchanged. */
static inline char zoid_load_char(const void *p)
{
    char c;
    memcpy(&c, p, 1);
    return c;
}

/* ---- size arithmetic ---------------------------------------------------------------------- */

/* a * b and a + b, false when the result does not fit a size_t. */
static inline bool zoid_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool zoid_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* An element count from the value of a length parameter: false when negative or above SIZE_MAX. */
static inline bool zoid_count_i(int64_t v, size_t *n)
{
    if (v < 0 || (uint64_t)v > SIZE_MAX)
        return false;
    *n = (size_t)v;
    return true;
}

static inline bool zoid_count_u(uint64_t v, size_t *n)
{
    if (v > SIZE_MAX)
        return false;
    *n = (size_t)v;
    return true;
}

static inline bool zoid_aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

/* ---- reader: a position in a buffer, failing sticky on overrun ---------------------------- */

struct zoid_reader {
    const unsigned char *p;
    size_t len; /* bytes in p */
    size_t pos; /* next byte to read */
    bool failed;
};

static inline void zoid_reader_init(struct zoid_reader *r, const void *p, size_t len)
{
    r->p = (const unsigned char *)p;
    r->len = p ? len : 0;
    r->pos = 0;
    r->failed = false;
}

static inline void zoid_reader_fail(struct zoid_reader *r)
{
    r->failed = true;
}

/* The next n bytes, or NULL (and the reader failed) when fewer remain. Zero bytes give a valid,
 * non-NULL pointer that must not be read. */
static inline const void *zoid_get_bytes(struct zoid_reader *r, size_t n)
{
    static const unsigned char none[1];
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        return NULL;
    }
    if (n == 0)
        return r->p ? (const void *)(r->p + r->pos) : (const void *)none;
    const void *at = r->p + r->pos;
    r->pos += n;
    return at;
}

static inline uint64_t zoid_get_uint(struct zoid_reader *r, size_t size)
{
    const void *p = zoid_get_bytes(r, size);
    return p ? zoid_load_uint(p, size) : 0;
}

static inline int64_t zoid_get_int(struct zoid_reader *r, size_t size)
{
    const void *p = zoid_get_bytes(r, size);
    return p ? zoid_load_int(p, size) : 0;
}

static inline uint8_t zoid_get_u8(struct zoid_reader *r)
{
    return (uint8_t)zoid_get_uint(r, 1);
}

static inline uint32_t zoid_get_u32(struct zoid_reader *r)
{
    return (uint32_t)zoid_get_uint(r, 4);
}

static inline int32_t zoid_get_i32(struct zoid_reader *r)
{
    return (int32_t)zoid_get_int(r, 4);
}

static inline float zoid_get_f32(struct zoid_reader *r)
{
    const void *p = zoid_get_bytes(r, 4);
    return p ? zoid_load_f32(p) : 0.0f;
}

static inline double zoid_get_f64(struct zoid_reader *r)
{
    const void *p = zoid_get_bytes(r, 8);
    return p ? zoid_load_f64(p) : 0.0;
}

static inline char zoid_get_char(struct zoid_reader *r)
{
    const void *p = zoid_get_bytes(r, 1);
    return p ? zoid_load_char(p) : 0;
}

/* A bool or a present flag: one byte, 0 or 1; anything else fails the reader. */
static inline bool zoid_get_bool(struct zoid_reader *r)
{
    uint8_t v = zoid_get_u8(r);
    if (v > 1)
        r->failed = true;
    return v == 1;
}

/* An object of n bytes copied out (zeroed when the reader fails). */
static inline void zoid_get_obj(struct zoid_reader *r, void *out, size_t n)
{
    const void *p = zoid_get_bytes(r, n);
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

/* A string of n bytes, its last the terminating NUL (n counts it, so n >= 1). */
static inline const char *zoid_get_string(struct zoid_reader *r, uint32_t n)
{
    if (n == 0) {
        r->failed = true;
        return NULL;
    }
    const char *s = (const char *)zoid_get_bytes(r, n);
    if (s && s[n - 1] != '\0') {
        r->failed = true;
        return NULL;
    }
    return s;
}

/* Everything was read, and nothing failed. */
static inline bool zoid_reader_done(const struct zoid_reader *r)
{
    return !r->failed && r->pos == r->len;
}

/* ---- writer: appending into a caller's buffer --------------------------------------------- */

struct zoid_writer {
    unsigned char *p;
    size_t cap; /* bytes of p */
    size_t len; /* bytes written */
    bool failed;
};

static inline void zoid_writer_init(struct zoid_writer *w, void *p, size_t cap)
{
    w->p = (unsigned char *)p;
    w->cap = p ? cap : 0;
    w->len = 0;
    w->failed = false;
}

/* Room for the next n bytes, or NULL (and the writer failed). */
static inline unsigned char *zoid_put_room(struct zoid_writer *w, size_t n)
{
    if (w->failed || n > w->cap - w->len) {
        w->failed = true;
        return NULL;
    }
    unsigned char *at = w->p + w->len;
    w->len += n;
    return at;
}

static inline void zoid_put_bytes(struct zoid_writer *w, const void *data, size_t n)
{
    unsigned char *p = zoid_put_room(w, n);
    if (p && n)
        memcpy(p, data, n);
}

static inline void zoid_put_uint(struct zoid_writer *w, uint64_t v, size_t size)
{
    unsigned char *p = zoid_put_room(w, size);
    if (p)
        zoid_store_uint(p, v, size);
}

static inline void zoid_put_int(struct zoid_writer *w, int64_t v, size_t size)
{
    zoid_put_uint(w, (uint64_t)v, size);
}

static inline void zoid_put_u8(struct zoid_writer *w, uint8_t v)
{
    zoid_put_uint(w, v, 1);
}

static inline void zoid_put_u32(struct zoid_writer *w, uint32_t v)
{
    zoid_put_uint(w, v, 4);
}

static inline void zoid_put_i32(struct zoid_writer *w, int32_t v)
{
    zoid_put_int(w, v, 4);
}

static inline void zoid_put_f32(struct zoid_writer *w, float f)
{
    unsigned char *p = zoid_put_room(w, 4);
    if (p)
        zoid_store_f32(p, f);
}

static inline void zoid_put_f64(struct zoid_writer *w, double d)
{
    unsigned char *p = zoid_put_room(w, 8);
    if (p)
        zoid_store_f64(p, d);
}

static inline void zoid_put_char(struct zoid_writer *w, char c)
{
    zoid_put_bytes(w, &c, 1);
}

static inline void zoid_put_bool(struct zoid_writer *w, bool b)
{
    zoid_put_u8(w, b ? 1 : 0);
}

/* ---- iovec builder: a request or reply as a list of pieces -------------------------------- */

/* Pieces are appended in order; one that starts where the previous iovec ends (the staging
 * buffer filled in order, or adjacent fields) extends that iovec instead of taking a new one. */
struct zoid_iovb {
    struct iovec *iov;
    int n, max;           /* iovecs used, and room for */
    unsigned char *stage; /* staging buffer for copied pieces (may be NULL) */
    size_t used, size;    /* bytes of stage used, and its size */
    size_t total;         /* bytes in all pieces */
    bool failed;          /* out of iovecs, or the total overflowed */
};

static inline void zoid_iovb_init(struct zoid_iovb *b, struct iovec *iov, int max, void *stage,
                                  size_t size)
{
    b->iov = iov;
    b->n = 0;
    b->max = max;
    b->stage = (unsigned char *)stage;
    b->used = 0;
    b->size = stage ? size : 0;
    b->total = 0;
    b->failed = false;
}

/* Adds n bytes at p as they are (the memory must stay valid until the call returns). */
static inline void zoid_iovb_ref(struct zoid_iovb *b, const void *p, size_t n)
{
    if (n == 0 || b->failed)
        return;
    if (!zoid_add(b->total, n, &b->total)) {
        b->failed = true;
        return;
    }
    if (b->n > 0) {
        struct iovec *last = &b->iov[b->n - 1];
        if ((const unsigned char *)last->iov_base + last->iov_len == (const unsigned char *)p) {
            last->iov_len += n;
            return;
        }
    }
    if (b->n == b->max) {
        b->failed = true;
        return;
    }
    b->iov[b->n].iov_base = (void *)(uintptr_t)p;
    b->iov[b->n].iov_len = n;
    b->n++;
}

/* n bytes of the staging buffer, added as a piece for the caller to fill; NULL (and the builder
 * failed) when the staging buffer has no room. */
static inline void *zoid_iovb_take(struct zoid_iovb *b, size_t n)
{
    if (b->failed || n > b->size - b->used) {
        b->failed = true;
        return NULL;
    }
    unsigned char *p = b->stage + b->used;
    b->used += n;
    zoid_iovb_ref(b, p, n);
    return p;
}

/* Adds n bytes at p: copied into the staging buffer when small and there is room, else
 * referenced where they are. */
static inline void zoid_iovb_add(struct zoid_iovb *b, const void *p, size_t n)
{
    if (n == 0 || b->failed)
        return;
    if (n <= ZOID_CODEC_COPY_MAX && n <= b->size - b->used) {
        memcpy(zoid_iovb_take(b, n), p, n);
        return;
    }
    zoid_iovb_ref(b, p, n);
}

#ifdef __cplusplus
}
#endif
#endif
