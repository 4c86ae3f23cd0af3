/*
 * Collective coalescing in the posix plugin (private): many clients making the same read-side
 * call on the same object at about the same time get the result of one backend call
 * (coalesce_read.c: pread of the same range of the same file; coalesce_meta.c: stat and access
 * of the same path by the same identity), and writes of relaxed sessions to disjoint ranges
 * of one file are gathered into large aligned backend writes (coalesce_write.c). Counters and
 * settings: coalesce_stat.c. docs/zoid-posix.md, "Collective coalescing", says what may be merged.
 */
#ifndef ZEPTO_COALESCE_H
#define ZEPTO_COALESCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "coalesce_stat.h"
#include "zp_impl.h"

/* Settings, read from the environment at the plugin's init (coalesce_stat.c). */
struct zpc_config {
    bool reads;         /* ZOID_COALESCE (default 1; 0 turns reads, metadata and writes off) */
    bool writes;        /* ZOID_COALESCE_WRITES (default 1) */
    unsigned window_us; /* ZOID_COALESCE_WINDOW_US: longest wait for company (200, at most 500) */
    unsigned retain_ms; /* ZOID_COALESCE_RETAIN_MS: a completed read serves late callers (1000) */
    unsigned flush_ms;  /* ZOID_COALESCE_FLUSH_MS: buffered writes idle this long go out (20) */
    bool lend;          /* ZOID_POSIX_LEND (default 1): zp_lend lends descriptors (lend.c) */
    bool splice;        /* ZOID_POSIX_SPLICE (default 1): reads sent from the file's pages */
};
extern struct zpc_config zpc_cfg;
extern _Atomic uint64_t zpc_count[ZPC_NCOUNTERS];

static inline void zpc_add(enum zpc_counter c, uint64_t n)
{
    atomic_fetch_add_explicit(&zpc_count[c], n, memory_order_relaxed);
}

uint64_t zpc_now_ns(void);
void zpc_init(const struct zoid_host *host);
void zpc_fini(void);

/* ---- reads (coalesce_read.c) ---- */
/* pread(2) of f shared with the callers asking for the same range of the same file: the bytes
 * read into buf, or -1 + errno. Falls back to a plain pread when the call cannot be shared. */
ssize_t zpc_pread(struct zoid_call *call, struct zp_file *f, void *buf, size_t n, int64_t off);
/* A read (off: ZP_CUR at and advancing f's position) sent to the client straight from the
 * file's pages where its transport can take them so (zoid_reply_file), buf getting only what
 * that did not take; else read into buf. As read(2): the count, or -1 + errno. Not shared. */
ssize_t zpc_read_direct(struct zoid_call *call, struct zp_file *f, void *buf, size_t n,
                        int64_t off);
/* The file changed through the daemon (a write, truncate, fallocate): completed reads of it are
 * forgotten and reads in flight take no more company. */
void zpc_invalidate(uint64_t dev, uint64_t ino);

/* ---- writes (coalesce_write.c) ---- */
/* Whether writes of session s to f may be gathered or ordered with gathered ones (relaxed). */
bool zpc_may_gather(struct zp_session *s, struct zp_file *f);
/* Whether a write of a relaxed session goes straight to the backend (large and aligned). */
bool zpc_direct_ok(size_t n, int64_t off);
/* Writes n bytes at off of fd by some other means than a buffer: 0, or an errno. */
typedef int (*zpc_out_fn)(void *arg, int fd, size_t n, int64_t off);
/* zpc_pwrite for bytes not in memory (a payload still in the socket): a write of a relaxed
 * session that zpc_direct_ok goes out by out, in order with what is gathered for the file (true,
 * *ret as zpc_pwrite's); false when nothing is gathered for the file: the caller writes. */
bool zpc_pwrite_out(struct zp_session *s, struct zp_file *f, size_t n, int64_t off, zpc_out_fn out,
                    void *arg, ssize_t *ret);
/* A write of a relaxed session: buffered (true, *ret the bytes taken, or -1 + errno when a
 * stripe it filled could not be written) or not coalescable (false: the caller writes). */
bool zpc_pwrite(struct zp_session *s, struct zp_file *f, const void *buf, size_t n, int64_t off,
                ssize_t *ret);
/* Writes out what is buffered for the file (dev, ino) and waits for writes in progress: 0, or
 * -1 + errno of a buffered write that failed (reported once). */
int zpc_flush(uint64_t dev, uint64_t ino);
/* As zpc_flush, for a caller that does not report its error (a stat, a listing, a truncate by
 * path): an error is kept for the file's next fsync or close (zpc_flush, zpc_close) instead of
 * being forgotten. */
void zpc_flush_keep(uint64_t dev, uint64_t ino);
/* A descriptor that wrote is closed: the file is flushed when it was the last of its writers
 * (0, or -1 + errno of that flush). */
int zpc_close(struct zp_file *f);
/* True when something is buffered for some file (a cheap test before zpc_flush). */
bool zpc_pending(void);
/* True when something is buffered for (dev, ino). */
bool zpc_has(uint64_t dev, uint64_t ino);
/* Flushes every file (errors kept for each file's next fsync or close). */
void zpc_flush_all(void);
void zpc_write_start(void);
void zpc_write_stop(void);

/* ---- metadata (coalesce_meta.c) ---- */
/* fstatat/faccessat/open of (dirh == ZP_ROOT, path) shared between callers of the same identity
 * (uid, gid and groups). kind: 's' stat (flags: AT_SYMLINK_NOFOLLOW), 'a' access (mode). The
 * result is what fn computes for the leader; -1 + errno. */
struct zpc_meta_res {
    int rc, err;
    struct stat st;
    int fd; /* open: the resolved O_PATH descriptor (the entry's), or -1 */
};
typedef void (*zpc_meta_fn)(void *arg, struct zpc_meta_res *res);
/* Something changed through the daemon (a write, a name, an inode's metadata): metadata
 * results obtained before are not shared any more. */
void zpc_changed(void);
/* Open files lent to clients (lend.c), written without the daemon knowing: while there are any,
 * a call shares only a backend call that has not begun when it comes (one that began, or a
 * completed one, may predate a write its caller made through a lent descriptor). */
extern _Atomic unsigned zpc_lent_files;
void zpc_meta(struct zoid_call *call, char kind, const char *path, int flags, zpc_meta_fn fn,
              void *arg, struct zpc_meta_res *res);
/* The lookup of an open (fn leaves an O_PATH descriptor in res->fd), shared as above; every
 * caller, leader or not, then runs use with res while the descriptor is held. */
void zpc_meta_open(struct zoid_call *call, const char *path, int flags, zpc_meta_fn fn, void *arg,
                   zpc_meta_fn use, void *uarg, struct zpc_meta_res *res);

#endif
