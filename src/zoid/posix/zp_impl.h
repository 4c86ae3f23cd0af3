/*
 * Inside the posix plugin (private): sessions and their descriptor tables (session.c), the
 * caller's identity on a worker thread (identity.c), path resolution beneath the export
 * (resolve.c); the zp_* functions of zposix.h are in fileops.c and pathops.c.
 */
#ifndef ZEPTO_ZP_IMPL_H
#define ZEPTO_ZP_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "zepto/zoid_plugin.h"
#include "zposix.h"

#define ZP_MAX_HANDLES 4096 /* per session: EMFILE beyond */

/* A kernel descriptor of the daemon, shared by the handles dup'ed from one another. */
struct zp_file {
    int fd;
    _Atomic int refs;
    uint32_t uid; /* whose share of descriptors it counts in (quota.c) */
    /* For coalescing (coalesce*.c), from fstat and F_GETFL at install (F_SETFL updates flags). */
    uint64_t dev, ino;
    bool reg;          /* a regular file */
    _Atomic int flags; /* O_ACCMODE, O_APPEND, O_DIRECT, O_SYNC ... */
    _Atomic bool lent; /* lent to a client (lend.c): counted in zpc_lent_files until closed */
};

struct zp_slot {
    struct zp_file *f; /* NULL: free */
    int fdflags;       /* FD_CLOEXEC, per handle */
    uint64_t owner;    /* the connection that made or adopted it (its zp_conn id); 0: none */
};

/* The plugin's state (init: struct zoid_host's plugin_state). */
struct zp_plugin {
    const struct zoid_host *host;
    int export_fd;          /* O_PATH|O_DIRECTORY of the export (the daemon's) */
    char export_real[4096]; /* its real path */
    int consistency;        /* the daemon's default */
};

/* A descriptor table, shared by the connections attached to it. */
struct zp_session {
    const struct zp_plugin *pl;
    _Atomic int refs; /* one per connection, one per call in progress */
    uint64_t id;
    uint8_t secret[ZP_SECRET_BYTES];
    uint32_t uid;            /* of its creator: only the same uid may attach */
    _Atomic int consistency; /* as declared by zp_consistency: ZP_STRICT until then */
    atomic_bool no_symlinks; /* declared by zp_no_symlinks: paths never go through links */
    pthread_mutex_t mu;
    struct zp_slot *slots;
    int cap;
    struct zp_session *next; /* the registry */
};

/* What a call runs with: its session (referenced) and the directory a dirh names. */
struct zp_ctx {
    struct zoid_call *call;
    struct zp_session *s;
};

struct zp_dir {
    const struct zp_plugin *pl;
    int fd;
    bool no_symlinks;  /* the session's: resolution follows no link */
    bool root;         /* the export itself */
    struct zp_file *f; /* referenced, or NULL for the export */
};

/* ---- sessions (session.c) ---- */
/* Starts a call: the caller's session (created with defaults when the connection has none) and
 * identity. 0, or -1 with errno. */
int zp__enter(struct zp_ctx *c);
/* Ends it: restores the thread's identity, drops the session; returns rc with errno kept. */
long zp__leave(struct zp_ctx *c, long rc);
/* zp__enter for a call this thread serves outside the generated dispatch (write_tail.c). */
int zp__enter_call(struct zp_ctx *x, struct zoid_call *call);
/* zp_pwrite of n bytes still in the call's socket (zoid_host_payload_tail; write_tail.c). */
ssize_t zp__pwrite_tail(struct zoid_call *call, int h, size_t n, int64_t off);
/* From init: zp_pwrite's large payloads stay in the socket for zp__pwrite_tail. */
int zp__write_tail_init(struct zoid_host *host);
/* The start of most calls: `struct zp_ctx x` entered, or return -1 (errno set). */
#define ZP_ENTER(x)                                                                                \
    struct zp_ctx x;                                                                               \
    if (zp__enter(&x))                                                                             \
    return -1
/* The handle's file for one call (zp__put it), or leave and return -1 + EBADF. */
#define ZP_FILE_OR_FAIL(x, h, f)                                                                   \
    struct zp_file *f = zp__get((x).s, h);                                                         \
    if (!f)                                                                                        \
    return (int)zp__leave(&(x), -1)
int zp__session_new(struct zp_ctx *c, uint64_t *id, uint8_t *secret);
int zp__session_attach(struct zp_ctx *c, uint64_t id, const uint8_t *secret, uint32_t len);
void zp__conn_gone(void *state);
/* Makes the calling connection the owner of n handles of its session (all, or none and EBADF). */
int zp__adopt(struct zp_session *s, const int32_t *handles, uint32_t n);
/* Handles: get (referenced; NULL + EBADF), put, install (the new handle or -1 + EMFILE). */
struct zp_file *zp__get(struct zp_session *s, int h);
void zp__put(struct zp_file *f);
int zp__install(struct zp_session *s, int fd);
int zp__dup(struct zp_session *s, int h);
int zp__close(struct zp_session *s, int h);
int zp__fdflags(struct zp_session *s, int h, int set, int *out);

/* ---- each uid's share of descriptors (quota.c) ---- */
void zp__quota_init(void);
/* One more descriptor for uid: 0, or -1 + EMFILE (logged, rate-limited) / ENOMEM. */
int zp__quota_take(const struct zoid_host *host, uint32_t uid);
void zp__quota_give(uint32_t uid);
/* What one uid (privileged: root and the daemon's uid together) may hold. */
long zp__quota_share(bool privileged);

/* ---- identity (identity.c) ---- */
void zp__identity_init(void);
int zp__become(const struct zoid_identity *id); /* 0 or an errno */
/* After a call: the thread stays the caller, and tells the daemon (zoid_call_thread_dirty). */
void zp__settle(struct zoid_call *call);
/* The daemon's identity again. */
void zp__restore(void);

/* ---- resolution (resolve.c) ---- */
/* dirh → a directory descriptor (ZP_ROOT: the export); -1 + EBADF. */
int zp__dir_get(struct zp_session *s, int dirh, struct zp_dir *d);
void zp__dir_put(struct zp_dir *d);
/* openat2 beneath the export: a new kernel descriptor, or -1 + errno. */
int zp__open(const struct zp_dir *d, const char *path, int flags, mode_t mode);
/* The object a path names, as an O_PATH descriptor (nofollow: the final symlink itself), *own;
 * with empty_ok and "", the directory handle's own descriptor (not *own). -1 + errno. */
int zp__object(const struct zp_dir *d, const char *path, bool nofollow, bool empty_ok, bool *own);
/* The parent of a path's last component (for calls that create or remove a name): *pfd (owned
 * when *own) and *name, pointing into buf (PATH_MAX). -1 + errno. */
int zp__parent(const struct zp_dir *d, const char *path, char *buf, int *pfd, bool *own,
               const char **name);

#endif
