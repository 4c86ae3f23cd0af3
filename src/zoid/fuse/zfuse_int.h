/*
 * What the parts of the FUSE client share: the connection to the daemon (zfuse_conn.c: one zoid
 * client for every FUSE thread, replaced when the daemon restarts) and the file-system operations
 * (zfuse_names.c, zfuse_ops.c).
 *
 * Every remote call goes between zf_enter() and zf_leave(): zf_enter() takes the connection's
 * read lock and gives its generation, zf_leave() releases it and turns the call's result into
 * what FUSE wants (a count, or a negative errno; transport failures become EIO and start a
 * reconnection). Remote handles given to the kernel (fi->fh, a struct zf_open) carry the
 * generation they were opened in: after a reconnection they are stale (ESTALE), new opens work.
 */
#ifndef ZEPTO_ZFUSE_INT_H
#define ZEPTO_ZFUSE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zepto/zepto.h"
#include "zepto/zoid.h"

struct zoid_mount_opts;

/* The mount's settings, fixed before the first request. */
struct zf_state {
    int consistency; /* ZP_STRICT or ZP_RELAXED, as chosen (or the daemon's default) */
    size_t chunk;    /* largest read or write in one call: the daemon's payload limit - slack */
    bool fix_owner;  /* running as root: give what a user creates to that user */
    uid_t self_uid;  /* the mount process's euid and egid */
    gid_t self_gid;
};
extern struct zf_state zf_state;

/* Connects to o->server, starts a session and sets zf_state.consistency and zf_state.chunk. */
int zf_conn_open(const struct zoid_mount_opts *o, struct zepto_err *err);
/* Starts the keepalive thread (after daemonising: threads do not survive fork). */
int zf_conn_start_keepalive(void);
/* Stops the keepalive thread and closes every connection. */
void zf_conn_close(void);

uint32_t zf_enter(void);
long zf_leave(uint32_t gen, long ret);

/* What fi->fh points to for an open file or directory (zfuse_ops.c allocates it): the remote
 * handle, the connection's generation it was opened in, and the uid whose share of the session's
 * handles it counts in (zfuse_share.h; the uid of the release is not the opener's). */
struct zf_open {
    int h;
    uint32_t gen;
    uid_t uid;
    bool dir;       /* a struct zf_dir (zfuse_ops.c), listed with readdir */
    bool locked;    /* took a lock: its release closes at once */
    bool written;   /* a write came through it: flushed at close, closed at once */
    int behind_err; /* errno of a kept write that failed (zfuse_behind.c) */
    /* The daemon's descriptor lent for it (zfuse_lend.c), or ZF_LFD_NONE (not asked yet),
     * ZF_LFD_NEVER; its access mode; writes so far. */
    _Atomic int lfd;
    int lmode;
    _Atomic int io_calls;
    int pt;                      /* zfuse_pt.c: 1 passed through, 2 counted as cached, 0 neither */
    uint64_t pt_node;            /* its FUSE inode */
    struct zf_open *prev, *next; /* the opens not yet released (zfuse_share.c) */
};

#define ZF_LFD_NONE  (-1)
#define ZF_LFD_NEVER (-2)

/* The remote handle of the open file behind fi->fh, if it was opened in generation gen (-ESTALE
 * for another one; -EBADF for a directory, which has no file operations). */
int zf_fh_handle(uint64_t fh, uint32_t gen);

/* Relaxed: the open f closed later, with others (zfuse_closes.c), then its share given back and
 * f freed; zf_close_flush sends what is pending. */
void zf_close_defer(struct zf_open *f);
void zf_close_flush(void);

/* The operations, for fuse_new(). */
struct fuse_operations;
extern const struct fuse_operations zf_ops;

#endif
