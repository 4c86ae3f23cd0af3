/*
 * libzoid-preload.so: calls to the daemon kept in flight while the program goes on (relaxed
 * consistency only). A small pool of worker threads runs jobs (a pread, a pwrite or a close) on
 * the process's connection, which pipelines calls from many threads. Read-ahead (readahead.c)
 * and write-behind (writebehind.c) use it per open file description; an asynchronous close
 * (relaxed) too. docs/zoid-posix.md, "Read-ahead and write-behind", says what a program may see.
 */
#ifndef ZEPTO_ZOID_PRELOAD_ZPL_ASYNC_H
#define ZEPTO_ZOID_PRELOAD_ZPL_ASYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "zoid/preload/zpl.h"
#include "zposix_client.h" /* struct zp_pwrite_call */

enum { ZJ_READ, ZJ_WRITE, ZJ_CLOSE };

struct zpl_job {
    struct zpl_job *next; /* the pool's queue */
    int kind;             /* ZJ_* */
    int h;                /* the daemon's handle */
    char *buf;            /* owned by the job (freed with it) */
    size_t n;
    int64_t off;   /* explicit offset (never ZP_CUR) */
    ssize_t r;     /* result: bytes moved, or -1 */
    int err;       /* errno when r < 0 */
    bool detached; /* nobody waits: the worker frees the job */
    bool borrowed; /* buf is the caller's: not freed with the job */
    atomic_bool done;
};

/* Queues j (its fields set, done false). -1 when no worker can run it: the caller does it
 * itself. */
int zpl_job_submit(struct zpl_job *j);
/* Waits until j is done. */
void zpl_job_wait(struct zpl_job *j);
void zpl_job_free(struct zpl_job *j);
/* A large read or write at an explicit offset, cut into blocks of ZPL_SPLIT_MIN or more that
 * are in flight at once (up to zpl_as_depth()), straight from or into buf: the bytes moved up to
 * the first short or failed block, or -1 + errno when the first failed. Smaller ones, or with
 * depth 0, as zpl_pread_all/zpl_pwrite_all. */
#define ZPL_SPLIT_MIN (256u << 10)
ssize_t zpl_io_split(int kind, int h, void *buf, size_t n, int64_t off);
/* Waits until the pool has nothing queued or running, and sends the closes (fork, exec, exit). */
void zpl_aio_quiesce(void);

/* Most calls in flight per open file description for read-ahead and for write-behind, and the
 * largest block. zpl_as_depth(): $ZOID_PRELOAD_DEPTH (0 switches both off; default
 * ZPL_AS_DEFAULT_DEPTH), read once. */
#define ZPL_AS_DEPTH         8
#define ZPL_AS_DEFAULT_DEPTH 4
#define ZPL_AS_BLOCK         (1u << 20)
#define ZPL_SEG_MAX          256 /* pieces of one zp_pwrite_many */
int zpl_as_depth(void);

/* A large relaxed write begun in the program's thread, its reply not yet read (writestream.c). */
struct zpl_sent {
    struct zp_pwrite_call call; /* zp_pwrite_begin's: its reply lands here, so it must not move */
    size_t n;
    int64_t off;
};

/* The asynchronous state of an open file description (zpl_wb->as), guarded by zpl_wb->mu. */
struct zpl_as {
    struct zpl_job *wq[ZPL_AS_DEPTH]; /* writes in flight, oldest first */
    int nwq;
    struct zpl_sent sent[ZPL_AS_DEPTH]; /* large writes begun: a ring, the oldest at sent0 */
    int sent0, nsent;
    bool pos_valid;  /* the file position is pos here; the daemon's is stale */
    bool unseekable; /* no position to keep (a pipe, a socket): calls at it go as they come */
    int64_t pos;
    bool counted;                     /* counted in zpl_as_active */
    struct zpl_job *ra[ZPL_AS_DEPTH]; /* reads ahead, in file order */
    int nra;
    int64_t ra_next;  /* where the next sequential read would start */
    int seq;          /* sequential reads seen in a row */
    int ra_ramp;      /* small reads: blocks to keep ahead now (grows as they are used) */
    int cur_reads;    /* reads at the file position since the last drain */
    uint64_t ra_wgen; /* zpl_wgen when the reads ahead were issued */
    /* The small writes buffered in zpl_wb->buf when they are at several places: (offset,
     * length) pairs, sent together with zp_pwrite_many. 0 or 1: one contiguous piece. */
    uint32_t nseg;
    int64_t seg[2 * ZPL_SEG_MAX];
};

/* Descriptions with asynchronous state: zpl_flush_all drains them. */
extern atomic_int zpl_as_active;
/* Bumped by every write through the library: reads ahead older than a write are dropped. */
extern atomic_ulong zpl_wgen;

/* wb->mu held. The description's state, made when missing (NULL: out of memory). */
struct zpl_as *zpl_as_get(struct zpl_wb *wb);
/* Waits for the writes in flight (a failure goes to wb->err). */
void zpl_as_wait_writes(struct zpl_wb *wb);
/* Reaps the writes already done, oldest first, without waiting (errors to wb->err). */
void zpl_as_reap_done(struct zpl_wb *wb);
/* Drops the reads ahead. */
void zpl_ra_drop(struct zpl_wb *wb);
/* Everything: writes waited for, reads ahead dropped, the daemon's file position set to the
 * one kept here (h: the handle). */
void zpl_as_drain(struct zpl_wb *wb, int h);
void zpl_as_free(struct zpl_as *as);
/* The file position for a call at ZP_CUR on e (asks the daemon once); -1 + errno (ESPIPE: the
 * description has none, and as->unseekable says so from then on). */
int64_t zpl_as_pos(struct zpl_fd *e, int h);
/* Sends n bytes at off (explicit) through write-behind, the buffer copied; 0, or -1 + errno. */
int zpl_wb_submit(struct zpl_fd *e, int h, const void *buf, size_t n, int64_t off);
/* Whether large relaxed writes over TCP are streamed (writestream.c): $ZOID_PRELOAD_STREAM,
 * 0 switches it off (the benchmark's baseline); read once. */
bool zpl_stream_on(void);
/* Whether a relaxed write of n bytes is better begun in the caller's thread (writestream.c):
 * over TCP, 2 * ZPL_SPLIT_MIN or more. */
bool zpl_ws_wanted(size_t n);
/* Sends n bytes at off (explicit) as calls begun now, straight from buf, replies read later:
 * n; fewer when a call could not be begun and the rest, written at once, was short; -1 + errno
 * when nothing went. */
ssize_t zpl_ws_write(struct zpl_wb *wb, int h, const void *buf, size_t n, int64_t off);
/* Streamed writes begun and not ended in the whole process (bounded: writestream.c). */
extern atomic_int zpl_ws_unended;
/* Reads the replies of the writes begun (a failure goes to wb->err). */
void zpl_ws_wait(struct zpl_wb *wb);
/* Whether [off, off + n) overlaps a write begun and not yet ended. */
bool zpl_ws_overlaps(const struct zpl_as *as, int64_t off, size_t n);
/* Reads through read-ahead (relaxed, e->wb->mu not held). */
ssize_t zpl_ra_read(struct zpl_fd *e, void *buf, size_t n, int64_t off);
/* Relaxed: h goes on the list of handles to close (closebatch.c); zpl_close_flush sends it. */
bool zpl_close_defer(int h);
void zpl_close_flush(void);

#endif
