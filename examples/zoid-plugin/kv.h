/*
 * kv: a small key-value store that runs in `zepto zoid serve` and that programs call as if it
 * were a local library. The example of `zepto zoid gen` (see README.md here): the comments after
 * the parameters are the annotations the generator reads (docs/FORMATS.md, "ZOID annotations");
 * to the C compiler they are comments, and this header is all a program needs.
 *
 * Every client (connection) has its own namespace: keys one client stores are invisible to the
 * others, and go away when the client does, however it goes.
 */
#ifndef KV_H
#define KV_H

#include <stddef.h>
#include <stdint.h>

/* zoid: plugin 100 kv init=kv_init fini=kv_fini gone=kv_gone */

#define KV_KEY_MAX 255 /* bytes in a key, not counting the NUL */

struct kv_stats {
    uint64_t keys;  /* in the caller's namespace */
    uint64_t bytes; /* of the values in the caller's namespace */
    uint64_t puts;  /* calls made by the caller */
    uint64_t gets;
    uint64_t dels;
    uint32_t clients; /* namespaces alive in the daemon, the caller's included */
};

/* Stores a copy of value[0..len) under key (replacing what was there). 0, or -1 with errno:
 * EINVAL (key empty or longer than KV_KEY_MAX), ENOMEM. The value travels as its own iovec,
 * straight from the caller's memory. */
int kv_put(const char *key /* string */, const void *value /* array(len) zerocopy */, size_t len);

/* Copies the first min(cap, length) bytes of key's value into buf, straight into the caller's
 * memory, and the value's whole length into *len. 0, or -1 with errno ENOENT. */
int kv_get(const char *key /* string */, void *buf /* out array(cap) zerocopy */, size_t cap,
           size_t *len /* out */);

/* Removes key; *old_len, unless old_len is NULL, gets the length of the value removed.
 * 0, or -1 with errno ENOENT. */
int kv_del(const char *key /* string */, size_t *old_len /* out nullable */);

/* The number of keys in the caller's namespace. */
long kv_count(void);

/* y = M x for the rows x cols row-major matrix M: work shipped to where the data lives. */
int kv_matvec(const double *m /* array2d(rows, cols) */, uint32_t rows, uint32_t cols,
              const double *x /* array(cols) */, double *y /* out array(rows) */);

/* The caller's statistics. */
int kv_stats(struct kv_stats *st /* out obj */);

#endif
