/*
 * libzoid-preload.so, the interposer of `zepto zoid run`: what its files share.
 *
 * The library sits in front of libc (LD_PRELOAD). A call on a path under the mount prefix
 * ($ZOID_MOUNT), relative to a forwarded working directory, or on a descriptor opened there is
 * sent to the `posix` plugin of a zoid daemon (the zp_* stubs generated from zposix.h); every
 * other call goes to libc's own function, found with dlsym(RTLD_NEXT).
 *
 * A forwarded descriptor is a real kernel descriptor (an O_PATH one on /dev/null) whose number the
 * program sees; the table here maps that number to the daemon's handle. The table, the working
 * directory and the connection are shared by all threads and guarded by their own locks; a
 * thread never holds one of them across a call to the daemon.
 */
#ifndef ZEPTO_ZOID_PRELOAD_ZPL_H
#define ZEPTO_ZOID_PRELOAD_ZPL_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zposix.h"

/* The interposed libc functions: the only symbols the library exports. */
#define ZPL_API __attribute__((visibility("default")))

/* ---- libc's own functions ----------------------------------------------------------------- */

typedef void (*zpl_fn)(void);
/* The next definition of `name` after this library (libc's), cached in *slot. */
zpl_fn zpl__real(const char *name, _Atomic(zpl_fn) *slot);
/* ZPL_REAL_DECL(open) once per file, then REAL(open)(path, flags, mode). */
#define ZPL_REAL_DECL(fn) static __attribute__((unused)) _Atomic(zpl_fn) zpl__slot_##fn
#define REAL(fn)          ((__typeof__(&fn))zpl__real(#fn, &zpl__slot_##fn))

/* ---- configuration (from the environment, read once) -------------------------------------- */

struct zpl_config {
    bool active;           /* a mount prefix was given: forwarding is on */
    char prefix[PATH_MAX]; /* $ZOID_MOUNT, normalised, no trailing slash */
    size_t prefix_len;
    int consistency; /* ZP_STRICT, ZP_RELAXED, or -1: the daemon's default */
};
extern struct zpl_config zpl_cfg;

/* Set while this thread runs the library's own code that calls interposed functions (connecting
 * reads the token file): such calls go straight to libc. */
extern __thread int zpl_busy __attribute__((tls_model("initial-exec")));

/* Reads the configuration and the state an exec passed on; idempotent, thread-safe. */
void zpl_init(void);
/* Forwarding applies to this call (initialised, active, not inside the library itself). */
bool zpl_on(void);

/* ---- the connection and the session ------------------------------------------------------- */

/* Connects and starts (or attaches to) the session when needed. 0, or -1 with errno EIO. */
int zpl_conn(void);
/* The current session's generation: handles of another generation are stale. */
uint64_t zpl_gen(void);
/* After a zp_* call failed (-1, errno set): a transport failure marks the connection broken and
 * becomes EIO; the daemon's errno stays. Returns -1. */
int zpl_fail(void);
/* Largest payload of one read or write call. */
size_t zpl_chunk(void);
/* Largest reply of one read call: what the daemon sends straight from a file's pages (splice),
 * the rest of a larger reply being copied through its memory. */
#define ZPL_READ_CALL (1u << 20)
/* Whether the daemon is reached over TCP; over TCP or a unix socket (not shm:). */
bool zpl_tcp(void);
/* The connection's client (NULL before the first call): for calls the stubs cannot make. */
struct zoid_client *zpl_client(void);
bool zpl_socket(void);
/* Whether this process joined a session another one started (fork child, exec'd image). */
bool zpl__conn_joined(void);
/* Whether writes are buffered (relaxed consistency of the session). */
bool zpl_relaxed(void);
/* Signals are blocked around a call to the daemon, so that a handler cannot abandon a call the
 * daemon runs anyway (a write would be done but reported as EINTR, and retried). */
void zpl_sig_block(sigset_t *old);
void zpl_sig_restore(const sigset_t *old);
/* r = expr, with signals blocked. */
#define ZP_CALL(r, expr)                                                                           \
    do {                                                                                           \
        sigset_t zpl__ss;                                                                          \
        zpl_sig_block(&zpl__ss);                                                                   \
        (r) = (expr);                                                                              \
        zpl_sig_restore(&zpl__ss);                                                                 \
    } while (0)

/* ---- the descriptor table ----------------------------------------------------------------- */

/* The write-behind buffer of an open file description: shared by the descriptors dup'd from one
 * another (they share the file position, so a write buffered through one must be sent before a
 * seek, read or write through another). */
struct zpl_wb {
    atomic_int refs;
    pthread_mutex_t mu;
    char *buf; /* relaxed consistency: writes not yet sent */
    size_t len, cap;
    int64_t off;       /* file offset of buf[0], or ZP_CUR */
    int err;           /* a failed send's errno, reported by the next write, fsync or close */
    struct zpl_as *as; /* read-ahead and write-behind in flight (zpl_async.h), or NULL */
    /* Relaxed reads under 64 KiB in a row, and where the next would start (readahead.c): they
     * are read ahead only after a long run, so that a program mixing a few small reads with
     * path calls (which drain what is read ahead) does not pay for it. */
    int small_run;
    int64_t small_next;
    atomic_bool locked; /* took a record lock or flock: its closes are never deferred */
    /* a write came through it: its last close is not deferred either, so that the error of a
     * write the daemon gathered and sends at that close reaches the program */
    atomic_bool wrote;
    /* The description lent by the daemon (lend.c): its descriptor here, or ZPL_LFD_NONE (not
     * asked yet), ZPL_LFD_NEVER (refused, or lost); its identity; reads and writes so far. */
    atomic_int lfd;
    dev_t lfd_dev;
    ino_t lfd_ino;
    atomic_int io_calls;
    atomic_bool read_big; /* a read brought ZPL_LEND_MIN bytes or more */
};
#define ZPL_LFD_NONE  (-1)
#define ZPL_LFD_NEVER (-2)

struct zpl_fd {
    atomic_int refs;   /* the table's reference and each user's */
    int h;             /* the daemon's handle; -1 when stale */
    uint64_t gen;      /* session generation of h */
    int oflags;        /* open flags */
    char *path;        /* path beneath the export ("." is the root), for fchdir; may be NULL */
    struct zpl_wb *wb; /* write-behind buffer (shared with dups) */
    int child_h;       /* fork: the handle made for the child (zp_dup in the prepare handler) */
};

/* Fast check without a reference: the descriptor is in the table. */
bool zpl_fd_is(int fd);
/* The entry of fd with a reference, or NULL. */
struct zpl_fd *zpl_fd_get(int fd);
void zpl_fd_put(struct zpl_fd *e);
/* A new entry (h of the current session) at kernel descriptor kfd; the table's reference. */
struct zpl_fd *zpl_fd_new(int h, int oflags, const char *path);
/* n takes e's write-behind buffer (a dup of e). */
void zpl_fd_share_wb(struct zpl_fd *n, struct zpl_fd *e);
int zpl_fd_install(int kfd, struct zpl_fd *e);
/* Removes fd from the table and returns its entry (the table's reference passes to the
 * caller), or NULL. */
struct zpl_fd *zpl_fd_take(int fd);
/* Whether a live entry of the current session holds handle h: a daemon giving it out again for
 * a new open or dup lies (the two descriptors would share, and one close would close both). An
 * entry whose kernel descriptor is no longer a placeholder of zpl_reserve (same device and
 * inode) is stale, closed behind the library's back, and does not count. */
bool zpl_handle_used(int h);
/* The handle of e, or -1 with errno ESTALE (session lost) after connecting. */
int zpl_fd_handle(struct zpl_fd *e);
/* Closes e's handle at the daemon (flushing first) and drops the reference; the errno of a
 * failed flush, or 0. */
int zpl_fd_release(struct zpl_fd *e);
/* Calls fn on every entry (with a reference held). */
void zpl_fd_each(void (*fn)(int fd, struct zpl_fd *e, void *arg), void *arg);
/* The highest descriptor number the table can hold, plus one. */
int zpl_fd_limit(void);
/* A reserved kernel descriptor for a forwarded one (O_CLOEXEC from flags). */
int zpl_reserve(int oflags);

/* Write-behind (relaxed): zpl_flush sends e's buffer (a failure stays for the next write, fsync
 * or close; 0 or -1 + errno); zpl_take_error sends it and returns and clears the error (0 or an
 * errno); zpl_flush_all sends every entry's, and is cheap when nothing is buffered. */
int zpl_flush(struct zpl_fd *e);
int zpl_take_error(struct zpl_fd *e);
extern atomic_bool zpl_exiting;
void zpl_flush_all(void);
/* Sends every entry's buffered writes and waits for the writes in flight, leaving what is read
 * ahead and the file positions kept here: before a call that only looks (stat, an open that does
 * not truncate), which must see the program's writes but changes nothing a read ahead holds. */
void zpl_flush_writes_all(void);
/* Writes n bytes at off (ZP_CUR: the position) through e, buffering small ones when relaxed. */
ssize_t zpl_write_at(struct zpl_fd *e, const void *buf, size_t n, int64_t off);
/* The same, unbuffered: split at the payload limit. */
ssize_t zpl_pwrite_all(int h, const void *buf, size_t n, int64_t off);
ssize_t zpl_pread_all(int h, void *buf, size_t n, int64_t off);

/* Lent descriptors (lend.c): the local descriptor to read or write n bytes of e with, lent now
 * if the time has come (n >= ZPL_LEND_MIN, or the ZPL_LEND_AFTER-th call; n == SIZE_MAX: now,
 * for mmap), or -1: forward the call. */
#define ZPL_LEND_MIN   (64u << 10)
#define ZPL_LEND_AFTER 8
int zpl_lent(struct zpl_fd *e, size_t n);
/* The local descriptor of e if one is lent already, else -1. */
int zpl_lent_now(struct zpl_fd *e);
/* Closes wb's lent descriptor (its last reference going). */
void zpl_lend_drop(struct zpl_wb *wb);
/* Whether fd is a lent descriptor (not the program's to close), and the first one in
 * [from, last], or -1. */
bool zpl_is_lent(int fd);
int zpl_next_lent(unsigned from, unsigned last);
/* The descriptor the daemon lent with tag on this process's connection (conn.c): >= 0, or a
 * negative errno. */
int zpl_take_lent(uint64_t tag);

/* ---- paths -------------------------------------------------------------------------------- */

/* A path resolved for the daemon: relative to dirh (ZP_ROOT or the handle of `dir`). */
struct zpl_path {
    int dirh;
    struct zpl_fd *dir; /* referenced when the path is relative to a forwarded descriptor */
    bool at_cwd;        /* relative to the forwarded working directory's handle */
    char rel[PATH_MAX];
};

/* Resolves (dirfd, path) as an *at call would: 0 or 2 local (libc's business, see ZPL_LOCAL),
 * 1 forwarded (p filled; release with zpl_path_done), -1 with errno set. */
int zpl_resolve(int dirfd, const char *path, struct zpl_path *p);
/* The path to give libc after zpl_resolve returned 0 (path) or 2 (a relative path that left the
 * forwarded working directory, made absolute in p->rel). */
#define ZPL_LOCAL(rc, p, path) ((rc) == 2 ? (p).rel : (path))
void zpl_path_done(struct zpl_path *p);
/* Whether the NUL-terminated string at s can be read (a bad pointer is EFAULT, not a crash). */
bool zpl_readable(const char *s);
/* Whether the program's n bytes at p can be read (and written, when `write`): what the kernel
 * checks before a read or write (zero bytes: true). A forwarded call with a buffer that is not
 * is EFAULT before anything is sent. */
bool zpl_mem_ok(const void *p, size_t n, bool write);
/* How many of the n bytes at p, from the first, can be used (up to the first page that cannot):
 * a read or write stops there with a short count, as the kernel's copy would. */
size_t zpl_mem_usable(const void *p, size_t n, bool write);
/* Lexically normalises the absolute path `in` (".", "..", "//") into out. */
int zpl_normalise(const char *in, char *out, size_t len);
/* The forwarded working directory beneath the export into buf (true), or false when the working
 * directory is local. */
bool zpl_cwd_get(char *buf, size_t len);
void zpl_cwd_set(const char *rel); /* NULL: local again */
/* The path of rel beneath the export as the program sees it (prefix + rel). */
int zpl_visible_path(const char *rel, char *out, size_t len);
/* A path beneath the export for an entry opened as (dir, rel), for fchdir; malloc'd or NULL. */
char *zpl_join_rel(const struct zpl_path *p);

/* Process-wide umask (kept here because reading it means changing it). */
mode_t zpl_umask(void);

/* ---- the standard streams ----------------------------------------------------------------- */

/* Before descriptor fd (0, 1 or 2) changes: its stream is flushed. After: stdin, stdout or
 * stderr is a cookie FILE on it when it is forwarded, glibc's own otherwise. */
void zpl_std_before(int fd);
void zpl_std_after(int fd);

/* ---- fork and exec ------------------------------------------------------------------------ */

void zpl_atfork_setup(void);
/* What an exec passes on in ZOID_PRELOAD_STATE: the session, the forwarded working directory
 * and descriptors. For posix_spawn (spawn = true) the child gets handles of its own (zp_dup),
 * closed again when the spawn fails. */
struct zpl_exec {
    char **env;  /* the new image's environment (strings shared but the state's) */
    char *state; /* "ZOID_PRELOAD_STATE=..." or NULL */
    int keep;    /* descriptor kept open across the exec (close-on-exec cleared), or -1 */
    int *dups;   /* handles made for a spawned child */
    size_t ndups;
};
int zpl_exec_prepare(struct zpl_exec *x, char *const envp[], bool spawn);
void zpl_exec_finish(struct zpl_exec *x, bool failed);
/* Before an exec of file (searched in PATH when path_search): -1 with errno EPERM when the image
 * runs without the interposer (setuid, setgid) and a writable forwarded descriptor would
 * survive into it, where its output would be lost; else 0. */
int zpl_exec_check(const char *file, bool path_search);
/* The state an exec passed on, applied at start. */
void zpl_state_import(const char *state);
/* The socket of the connection (or one keeping the session alive); -1 when none. */
int zpl_conn_fd(void);

#endif
