/*
 * The protocol of ZOID's POSIX forwarding: the functions the `posix` plugin of `zepto zoid serve`
 * runs for a client, declared for `zepto zoid gen` (the comments after parameters are its
 * annotations; docs/FORMATS.md, "ZOID annotations"). The build generates the client stubs
 * (zposix_client.c, used by libzoid-preload.so and `zepto zoid mount`) and the dispatch
 * (zposix_server.c, built into the daemon) from this header.
 *
 * Conventions, as the system calls they forward: a function returns -1 and sets errno on
 * failure (a transport failure gives ECONNRESET, EPIPE, ETIMEDOUT or EPROTO, which the callers
 * turn into EIO). Descriptors are remote handles: indexes into the calling session's table in the
 * daemon, never kernel descriptors of the caller. A directory handle `dirh` is a handle of a
 * directory or ZP_ROOT (the export); a `path` is relative to it and is resolved beneath the export
 * (absolute paths, `..` above the export, absolute symlinks and /proc links fail with EXDEV or
 * ELOOP, as openat2 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS says). Flags, modes, `struct stat`,
 * `struct statx`, `struct statfs`, `struct flock` and directory records (linux_dirent64) are
 * Linux x86-64's: client and daemon share the ABI (docs/FORMATS.md).
 *
 * Every call runs under the caller's identity (fs uid/gid and supplementary groups of the peer)
 * on a worker thread of the daemon.
 */
#ifndef ZEPTO_ZPOSIX_H
#define ZEPTO_ZPOSIX_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

/* zoid: plugin 1 posix init=zp_server_init fini=zp_server_fini gone=zp_server_gone */

#define ZP_ROOT         (-100) /* the export directory, as a dirh */
#define ZP_VERSION      1      /* of this protocol, checked by zp_session_new */
#define ZP_STRICT       0      /* consistency of a session: every write reaches the file */
#define ZP_RELAXED      1      /* writes may be behind until fsync/close */
#define ZP_CUR          (-1)   /* an offset meaning "at the handle's file position" */
#define ZP_SECRET_BYTES 16     /* of a session's secret */
#define ZP_UTIME_NOW    ((1l << 30) - 1) /* UTIME_NOW, as in utimensat */
#define ZP_UTIME_OMIT   ((1l << 30) - 2) /* UTIME_OMIT */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sessions ----------------------------------------------------------------------------- */

/* Starts a session for this connection (its descriptor table) and returns the daemon's default
 * consistency (ZP_STRICT or ZP_RELAXED). `secret` receives what another connection of the same
 * uid needs to attach to this session (a forked child); *id its number. EPROTONOSUPPORT when
 * version is not ZP_VERSION. */
int zp_session_new(uint32_t version, uint64_t *id /* out */,
                   uint8_t *secret /* out array(secret_len) */, uint32_t secret_len);

/* Attaches this connection to an existing session (same uid, right secret): its handles become
 * usable here. The session lives while one of its connections does. EPERM, ENOENT. */
int zp_session_attach(uint64_t id, const uint8_t *secret /* array(secret_len) */,
                      uint32_t secret_len);

/* ---- descriptors -------------------------------------------------------------------------- */

/* open(2) beneath dirh: the new handle, or -1. O_CLOEXEC is the caller's business (ignored). */
int zp_openat(int dirh, const char *path /* string */, int flags, uint32_t mode);
int zp_close(int h);
/* A second handle on the same open file description (dup; offsets and flags shared). */
int zp_dup(int h);

/* Reads up to n bytes at off (ZP_CUR: at and advancing the file position). The bytes read;
 * the rest of buf comes back zeroed. */
ssize_t zp_pread(int h, void *buf /* out array(n) zerocopy filled */, size_t n, int64_t off);
/* Writes n bytes at off (ZP_CUR: at the file position, or the end with O_APPEND). */
ssize_t zp_pwrite(int h, const void *buf /* array(n) zerocopy */, size_t n, int64_t off);
int64_t zp_lseek(int h, int64_t off, int whence);
int zp_fsync(int h, int datasync);
int zp_ftruncate(int h, int64_t len);
int zp_fallocate(int h, int mode, int64_t off, int64_t len);

/* fcntl(2): F_GETFL, F_SETFL, F_GETFD/F_SETFD (kept per handle); anything else EINVAL. */
int zp_fcntl(int h, int cmd, int64_t arg);
/* Record locks: cmd F_GETLK, F_SETLK or F_SETLKW (as open file description locks in the daemon,
 * so that clients conflict with each other); fl as fcntl(2) takes it. */
int zp_lock(int h, int cmd, struct flock *fl /* inout */);
int zp_flock(int h, int op);

/* linux_dirent64 records into buf, as getdents64(2). */
ssize_t zp_getdents(int h, void *buf /* out array(n) */, size_t n);
int zp_fstatfs(int h, struct statfs *st /* out */);

/* ---- paths (dirh + path; fstat is fstatat(h, "", AT_EMPTY_PATH)) ------------------------- */

int zp_fstatat(int dirh, const char *path /* string */, struct stat *st /* out */, int flags);
int zp_statx(int dirh, const char *path /* string */, int flags, uint32_t mask,
             struct statx *stx /* out */);
int zp_faccessat(int dirh, const char *path /* string */, int mode, int flags);
int zp_truncate(int dirh, const char *path /* string */, int64_t len);
int zp_unlinkat(int dirh, const char *path /* string */, int flags);
int zp_mkdirat(int dirh, const char *path /* string */, uint32_t mode);
int zp_mknodat(int dirh, const char *path /* string */, uint32_t mode, uint64_t dev);
int zp_renameat2(int olddirh, const char *oldpath /* string */, int newdirh,
                 const char *newpath /* string */, uint32_t flags);
int zp_linkat(int olddirh, const char *oldpath /* string */, int newdirh,
              const char *newpath /* string */, int flags);
int zp_symlinkat(const char *target /* string */, int newdirh, const char *linkpath /* string */);
/* The link's target, not NUL-terminated, as readlink(2). */
ssize_t zp_readlinkat(int dirh, const char *path /* string */, char *buf /* out array(n) */,
                      size_t n);
/* chmod/chown/utimes of a path (flags: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH for a handle). */
int zp_fchmodat(int dirh, const char *path /* string */, uint32_t mode, int flags);
int zp_fchownat(int dirh, const char *path /* string */, uint32_t uid, uint32_t gid, int flags);
/* times: {atime sec, nsec, mtime sec, nsec} (nsec may be ZP_UTIME_NOW/OMIT); NULL: now. */
int zp_utimensat(int dirh, const char *path /* string */,
                 const int64_t *times /* array(ntimes) nullable */, uint32_t ntimes, int flags);
int zp_statfs(int dirh, const char *path /* string */, struct statfs *st /* out */);

/* ---- ownership (appended: the ids of the functions above stay) ---------------------------- */

/* Makes this connection the owner of n handles of its session: a handle is closed when the
 * connection that owns it goes (the one that opened or dup'ed it, until another adopts it), so
 * that a process that dies without closing leaves nothing open. All or nothing: EBADF when one
 * is not open; EINVAL for n above the session's table (4096). */
int zp_adopt(const int32_t *handles /* array(n) */, uint32_t n);

/* ---- collective coalescing (appended; docs/zoid-posix.md, "Collective coalescing") -------- */

/* The daemon's coalescing counters (src/zoid/posix/coalesce_stat.h gives their order and names):
 * the first min(n, count) into counters; returns the daemon's count. */
int zp_coalesce_stat(uint64_t *counters /* out array(n) */, uint32_t n);
/* Declares this session's consistency, ZP_STRICT or ZP_RELAXED (-1: only asks); returns the
 * previous one (a session starts strict for the daemon, whatever its default). The writes of a
 * relaxed session may be gathered with other relaxed sessions' writes to the same file into
 * large aligned backend writes, flushed on fsync, close, a read or stat of the file, or after
 * ZOID_COALESCE_FLUSH_MS of rest. EINVAL for another mode. */
int zp_consistency(int mode);

/* ---- batches (appended, issue 15) -------------------------------------------------------- */

/* Closes n handles (a relaxed client's closes, sent together): every one is closed; the errno of
 * the first that failed (EBADF for one not open), or 0. EINVAL for n above the session's table. */
int zp_close_many(const int32_t *handles /* array(n) */, uint32_t n);

/* Writes scattered pieces through handle h, in order: segs holds nsegs/2 pairs (offset, length),
 * the lengths summing to n, the pieces one after the other in buf (a relaxed client's small
 * writes at several places, sent together). The bytes written up to the first piece that failed
 * or was short, or -1 when the first failed. EINVAL for an odd nsegs, a negative offset or
 * length, or lengths that do not sum to n. */
ssize_t zp_pwrite_many(int h, const int64_t *segs /* array(nsegs) */, uint32_t nsegs,
                       const void *buf /* array(n) */, size_t n);

/* ---- metadata in one round trip (appended, issue 15) ------------------------------------- */

/* open(2) beneath dirh, as zp_openat, and in the same reply the attributes of what it opened
 * (fstat of the new handle) and of the directory holding the last component of path (its mtime
 * and link count change when a name is made there): a FUSE create without the getattr calls that
 * follow it. The new handle, or -1 (then st and dst are zeroed). dst is zeroed (st_mode 0) when
 * only the directory's stat failed: the open itself stands. */
int zp_openat_stat(int dirh, const char *path /* string */, int flags, uint32_t mode,
                   struct stat *st /* out */, struct stat *dst /* out */);

/* Directory records with their attributes, for readdirplus: as zp_getdents, but each
 * linux_dirent64 record is followed, at the first 8-byte boundary after its name's NUL and inside
 * its d_reclen, by the struct stat of the name (fstatat, AT_SYMLINK_NOFOLLOW); st_mode is 0 when
 * that failed (the name went meanwhile) and for "." and "..". Whole records only; the handle's
 * offset is after the last record returned. 0 at the end; EINVAL when n cannot hold one record. */
ssize_t zp_getdents_stat(int h, void *buf /* out array(n) */, size_t n);

/* ---- same-node clients (appended, issue 15) --------------------------------------------- */

/* Lends the caller the daemon's descriptor of handle h, a regular file (the same open file
 * description: position, flags and locks shared with h and its dups), tagged with `tag`, so that
 * a client on the daemon's node reads and writes it directly; it takes the descriptor with
 * zoid_take_fd(tag) after this returns 0. Writes the daemon gathered for the file go out first
 * (their error stays for the next fsync or close). EOPNOTSUPP where descriptors cannot travel
 * (any transport but shm:), EPERM when the daemon lends none (ZOID_POSIX_LEND=0), EINVAL for a
 * handle that is not a regular file, EAGAIN when the client has not taken the ones lent before.
 * docs/zoid-posix.md, "Lent descriptors". */
int zp_lend(int h, uint64_t tag);

/* ---- mounts (appended) ------------------------------------------------------------------- */

/* Declares that this session never needs a symbolic link followed inside a path: a FUSE mount,
 * whose kernel follows links itself and sends only paths of real directories. From then on a
 * path of the session that goes through a link fails with ELOOP (a link as the last component
 * is still reached where the call does not follow it: lstat, readlink, unlink, rename), so that
 * a link put in a path after the kernel checked it cannot lead the daemon elsewhere. Returns 0.
 * docs/zoid-mount.md, "Identity and permissions". */
int zp_no_symlinks(void);

#ifdef __cplusplus
}
#endif
#endif
