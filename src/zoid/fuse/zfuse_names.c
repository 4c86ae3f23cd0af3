/*
 * `zepto zoid mount`, the operations on paths: each is a call of the posix plugin's protocol
 * (zposix.h) on the export. A path from FUSE is absolute within the mount ("/a/b"); the daemon
 * gets it relative to ZP_ROOT ("a/b", "." for the root) and resolves it beneath the export, in
 * pieces when it is longer than the daemon takes.
 *
 * Identity: the daemon sees the mount process, not the user of each request. The kernel checks
 * permissions against the attributes (`default_permissions`), and what a user creates is given to
 * that user afterwards (when the mount runs as root), so that ownership looks as it would locally.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "zfuse_attrs.h"
#include "zfuse_handles.h"
#include "zfuse_may.h"
#include "zfuse_listings.h"
#include "zfuse_ops.h"
#include "zposix.h"
#include "zposix_client.h" /* the zf_ stubs */

#define PIECE_MAX 4000 /* bytes of path per call, under the daemon's PATH_MAX */

static const char *rel(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

void zf_at_put(struct zf_at *a)
{
    if (a->opened < 0)
        return;
    zf_handle_drop(a->gen, a->opened);
    uint32_t g = zf_enter();
    zf_leave(g, g == a->gen ? zf_zp_close(a->opened) : 0);
    a->opened = -1;
}

int zf_at_get(const char *path, struct zf_at *a)
{
    a->dirh = ZP_ROOT;
    a->rest = rel(path);
    a->opened = -1;
    a->gen = 0;
    while (strlen(a->rest) >= PIECE_MAX) {
        const char *cut = memrchr(a->rest, '/', PIECE_MAX);
        if (!cut || cut == a->rest) {
            zf_at_put(a);
            return -ENAMETOOLONG; /* one name longer than a piece: the daemon would refuse it */
        }
        char piece[PIECE_MAX];
        memcpy(piece, a->rest, (size_t)(cut - a->rest));
        piece[cut - a->rest] = '\0';
        uint32_t g = zf_enter();
        long h = (a->opened < 0 || g == a->gen)
                     ? zf_leave(g, zf_zp_openat(a->dirh, piece, O_PATH | O_DIRECTORY, 0))
                     : zf_leave(g, (errno = ESTALE, -1));
        zf_at_put(a);
        if (h >= 0)
            h = zf_handle_claim(g, h); /* a handle already held: not ours to close */
        if (h < 0)
            return (int)h;
        a->dirh = a->opened = (int)h;
        a->gen = g;
        a->rest = cut + 1;
    }
    return 0;
}

long zf_dir_open(const char *path, uint32_t *gen)
{
    *gen = 0;
    struct zf_at at;
    int rc = zf_at_get(path, &at);
    if (rc)
        return rc;
    uint32_t g = zf_enter();
    long h = (at.opened < 0 || at.gen == g)
                 ? zf_leave(g, zf_zp_openat(at.dirh, at.rest, O_RDONLY | O_DIRECTORY, 0))
                 : zf_leave(g, (errno = ESTALE, -1L));
    zf_at_put(&at);
    if (h >= 0)
        h = zf_handle_claim(g, h); /* a handle already held: not ours to close */
    *gen = g;
    return h;
}

/* A whole operation on one path: `call` may use at.dirh and at.rest. */
#define PATH_OP(path, call)                                                                        \
    do {                                                                                           \
        struct zf_at at;                                                                           \
        long res_;                                                                                 \
        int rc_ = zf_at_get(path, &at);                                                            \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
        AT_CALL(res_, at, call);                                                                   \
        zf_at_put(&at);                                                                            \
        return (int)res_;                                                                          \
    } while (0)

/* Gives what the caller of the current request created to the caller (uid; gid unless the
 * parent directory is set-group-ID, where the daemon already gave the directory's group).
 * The mount runs as root, so the daemon created it as root. Best effort: the object exists
 * whatever happens here. The object is the handle h, or the path when h < 0. */
bool zf_give_to_caller(const char *path, int h, uint32_t hgen)
{
    struct fuse_context *ctx = fuse_get_context();
    if (!zf_state.fix_owner || (ctx->uid == zf_state.self_uid && ctx->gid == zf_state.self_gid))
        return false;
    uint32_t gid = ctx->gid;
    char parent[PATH_MAX];
    size_t n = strlen(path);
    struct zf_at at;
    long res;
    if (n < sizeof(parent)) {
        memcpy(parent, path, n + 1);
        char *slash = strrchr(parent, '/');
        if (slash)
            slash[1] = '\0';
        struct stat st;
        if (zf_at_get(parent, &at) == 0) {
            AT_CALL(res, at, zf_zp_fstatat(at.dirh, at.rest, &st, 0));
            zf_at_put(&at);
            if (res == 0 && (st.st_mode & S_ISGID))
                gid = (uint32_t)-1;
        }
    }
    if (h >= 0) {
        uint32_t g = zf_enter();
        zf_leave(g, g == hgen ? zf_zp_fchownat(h, "", ctx->uid, gid, AT_EMPTY_PATH) : 0);
        return true;
    }
    if (zf_at_get(path, &at))
        return true;
    AT_CALL(res, at, zf_zp_fchownat(at.dirh, at.rest, ctx->uid, gid, AT_SYMLINK_NOFOLLOW));
    zf_at_put(&at);
    return true;
}

/* ---- attributes ---------------------------------------------------------------------------- */

/* Reads f->dir's names for the listings (zfuse_listings.h): the whole directory, or nothing. */
static void read_listing(struct zf_listing_fetch *f)
{
    static _Thread_local _Alignas(8) char buf[32768];
    bool complete = false;
    uint32_t g;
    long h = zf_dir_open(f->dir, &g);
    if (h >= 0) {
        struct zf_at dir = {.dirh = (int)h, .rest = ".", .opened = (int)h, .gen = g};
        for (;;) {
            long n;
            AT_CALL(n, dir, zf_zp_getdents(dir.dirh, buf, sizeof(buf)));
            if (n <= 0 || !zf_check_count(n, sizeof(buf)) || !zf_check_dirents(buf, (size_t)n)) {
                complete = n == 0;
                break;
            }
            for (size_t p = 0; p < (size_t)n;) {
                const struct zf_dirent64 *e = (const void *)(buf + p);
                zf_listing_fetch_name(f, e->d_name, strlen(e->d_name));
                p += e->d_reclen;
            }
            if (f->too_big)
                break;
        }
        zf_at_put(&dir); /* closes it */
    }
    zf_listing_fetch_done(f, complete);
}

int zf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    long res;
    mode_t want = 0;
    /* What a create of this request, or a reply within the cache's life (relaxed), carried:
     * checked when it came. */
    if (zf_attrs_take_handoff(path, st) || zf_attrs_get(path, st))
        return 0;
    if (fi) {
        /* The kernel passes the handle for regular files only. */
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        res = zf_leave(g, zf_zp_fstatat(h, "", st, AT_EMPTY_PATH));
        want = S_IFREG;
    } else {
        if (zf_listing_absent(path))
            return -ENOENT; /* relaxed: a fresh listing of its directory lacks it */
        struct zf_at at;
        int rc = zf_at_get(path, &at);
        if (rc)
            return rc;
        AT_CALL(res, at, zf_zp_fstatat(at.dirh, at.rest, st, AT_SYMLINK_NOFOLLOW));
        zf_at_put(&at);
        if (strcmp(path, "/") == 0)
            want = S_IFDIR; /* the root of the mount */
        struct zf_listing_fetch f;
        if (res == -ENOENT && zf_listing_missed(path, &f))
            read_listing(&f);
    }
    if (res == 0 && !zf_check_stat(st, want))
        return -EIO;
    return (int)res;
}

/* ---- attribute changes by path for another user, on a root mount ---------------------------- */

/* What the change is, for the check and the call on the handle. */
struct change {
    enum { CH_MODE, CH_OWNER, CH_SIZE, CH_TIMES } kind;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    off_t size;
    const int64_t *times; /* NULL: both now */
};

/* Whether a root mount must check this request itself: another user than root and the mount's
 * own, whom the daemon (acting as root) does not check. */
static bool for_other(struct zf_who *who)
{
    zf_who_current(who);
    return zf_state.fix_owner && who->uid != 0 && who->uid != zf_state.self_uid;
}

static bool change_allowed(const struct change *c, const struct stat *st, struct zf_who *w)
{
    bool owner = st->st_uid == w->uid;
    switch (c->kind) {
    case CH_SIZE: return zf_may_open(st, O_WRONLY, w);
    case CH_TIMES: /* the owner, or whoever may write it: with its write-back cache the kernel
                    * sends a `touch` (to now, allowed to writers) as given times, so the two
                    * cannot be told apart here; the kernel checked which it was */
        return owner || zf_may_open(st, O_WRONLY, w);
    default: return owner; /* mode and owner: what the kernel allowed the owner only */
    }
}

static long change_on(int h, const struct change *c)
{
    switch (c->kind) {
    case CH_MODE: return zf_zp_fchmodat(h, "", c->mode, AT_EMPTY_PATH);
    case CH_OWNER: return zf_zp_fchownat(h, "", c->uid, c->gid, AT_EMPTY_PATH);
    case CH_SIZE: return zf_zp_ftruncate(h, c->size);
    default: return zf_zp_utimensat(h, "", c->times, c->times ? 4 : 0, AT_EMPTY_PATH);
    }
}

/* The file path names, opened by the daemon (oflags) as a handle of generation *g, and its
 * attributes in *st: the handle, or -errno (nothing left open). */
static long open_with_stat(const char *path, int oflags, uint32_t *g, struct stat *st)
{
    struct zf_at at;
    int rc = zf_at_get(path, &at);
    if (rc)
        return rc;
    *g = zf_enter();
    long h = (at.opened < 0 || at.gen == *g)
                 ? zf_leave(*g, zf_zp_openat(at.dirh, at.rest, oflags, 0))
                 : zf_leave(*g, (errno = ESTALE, -1L));
    zf_at_put(&at);
    if (h >= 0)
        h = zf_handle_claim(*g, h); /* a handle already held: not ours to close */
    if (h < 0)
        return h;
    uint32_t now = zf_enter();
    long res = now == *g ? zf_leave(now, zf_zp_fstatat((int)h, "", st, AT_EMPTY_PATH))
                         : zf_leave(now, (errno = ESTALE, -1L));
    if (res < 0) {
        zf_handle_drop(*g, (int)h);
        now = zf_enter();
        zf_leave(now, now == *g ? zf_zp_close((int)h) : 0);
        return res;
    }
    return h;
}

/* Closes what open_with_stat opened. */
static void close_handle(uint32_t g, long h)
{
    zf_handle_drop(g, (int)h);
    uint32_t now = zf_enter();
    zf_leave(now, now == g ? zf_zp_close((int)h) : 0);
}

/* The change made on the file the path names when the daemon opens it, once that file's own
 * attributes allow it to who: a file renamed to the path after the kernel checked the path is
 * refused (EACCES), not changed as root (zfuse_may.h). */
static int change_checked(const char *path, const struct change *c, struct zf_who *who)
{
    /* O_NONBLOCK: a FIFO put at the path meanwhile must not hold the daemon's thread */
    int oflags = c->kind == CH_SIZE ? O_WRONLY | O_NONBLOCK | O_NOFOLLOW : O_PATH | O_NOFOLLOW;
    uint32_t g;
    struct stat st;
    long h = open_with_stat(path, oflags, &g, &st);
    if (h < 0)
        return (int)h;
    long res = change_allowed(c, &st, who) ? 0 : -EACCES;
    if (res == 0) {
        uint32_t now = zf_enter();
        res = now == g ? zf_leave(now, change_on((int)h, c)) : zf_leave(now, (errno = ESTALE, -1L));
    }
    close_handle(g, h);
    return (int)res;
}

int zf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    zf_attrs_drop(path, false);
    if (fi) {
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        return (int)zf_leave(g, zf_zp_fchmodat(h, "", mode, AT_EMPTY_PATH));
    }
    struct zf_who who;
    if (for_other(&who))
        return change_checked(path, &(struct change){.kind = CH_MODE, .mode = mode}, &who);
    PATH_OP(path, zf_zp_fchmodat(at.dirh, at.rest, mode, 0));
}

int zf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    zf_attrs_drop(path, false);
    if (fi) {
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        return (int)zf_leave(g, zf_zp_fchownat(h, "", uid, gid, AT_EMPTY_PATH));
    }
    struct zf_who who;
    if (for_other(&who))
        return change_checked(path, &(struct change){.kind = CH_OWNER, .uid = uid, .gid = gid},
                              &who);
    PATH_OP(path, zf_zp_fchownat(at.dirh, at.rest, uid, gid, AT_SYMLINK_NOFOLLOW));
}

int zf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    zf_attrs_drop(path, false);
    if (fi) {
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        return (int)zf_leave(g, zf_zp_ftruncate(h, size));
    }
    struct zf_who who;
    if (for_other(&who))
        return change_checked(path, &(struct change){.kind = CH_SIZE, .size = size}, &who);
    PATH_OP(path, zf_zp_truncate(at.dirh, at.rest, size));
}

int zf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    zf_attrs_drop(path, false);
    int64_t t[4];
    const int64_t *tp = NULL;
    if (tv) {
        t[0] = tv[0].tv_sec, t[1] = tv[0].tv_nsec, t[2] = tv[1].tv_sec, t[3] = tv[1].tv_nsec;
        tp = t;
    }
    if (fi) {
        uint32_t g = zf_enter();
        HANDLE(g, fi);
        return (int)zf_leave(g, zf_zp_utimensat(h, "", tp, tp ? 4 : 0, AT_EMPTY_PATH));
    }
    struct zf_who who;
    bool now = !tv || (tv[0].tv_nsec == UTIME_NOW && tv[1].tv_nsec == UTIME_NOW);
    if (for_other(&who))
        return change_checked(path, &(struct change){.kind = CH_TIMES, .times = now ? NULL : tp},
                              &who);
    PATH_OP(path, zf_zp_utimensat(at.dirh, at.rest, tp, tp ? 4 : 0, AT_SYMLINK_NOFOLLOW));
}

int zf_access(const char *path, int mask)
{
    PATH_OP(path, zf_zp_faccessat(at.dirh, at.rest, mask, 0));
}

int zf_readlink(const char *path, char *buf, size_t size)
{
    if (size == 0)
        return -EINVAL;
    struct zf_at at;
    long n;
    int rc = zf_at_get(path, &at);
    if (rc)
        return rc;
    AT_CALL(n, at, zf_zp_readlinkat(at.dirh, at.rest, buf, size - 1));
    zf_at_put(&at);
    if (n < 0)
        return (int)n;
    if (!zf_check_count(n, size - 1))
        return -EIO;
    buf[n] = '\0';
    return 0;
}

int zf_statfs(const char *path, struct statvfs *sv)
{
    struct statfs sf;
    struct zf_at at;
    long res;
    int rc = zf_at_get(path, &at);
    if (rc)
        return rc;
    AT_CALL(res, at, zf_zp_statfs(at.dirh, at.rest, &sf));
    zf_at_put(&at);
    if (res)
        return (int)res;
    memset(sv, 0, sizeof(*sv));
    sv->f_bsize = (unsigned long)sf.f_bsize;
    sv->f_frsize = sf.f_frsize ? (unsigned long)sf.f_frsize : (unsigned long)sf.f_bsize;
    sv->f_blocks = sf.f_blocks;
    sv->f_bfree = sf.f_bfree;
    sv->f_bavail = sf.f_bavail;
    sv->f_files = sf.f_files;
    sv->f_ffree = sf.f_ffree;
    sv->f_favail = sf.f_ffree;
    sv->f_namemax = (unsigned long)sf.f_namelen;
    return 0;
}

/* ---- names --------------------------------------------------------------------------------- */

/* A creation on one path, then the new object given to the caller. */
#define CREATE_OP(path, call)                                                                      \
    do {                                                                                           \
        struct zf_at at;                                                                           \
        long res_;                                                                                 \
        int rc_ = zf_at_get(path, &at);                                                            \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
        AT_CALL(res_, at, call);                                                                   \
        zf_at_put(&at);                                                                            \
        if (res_ == 0)                                                                             \
            zf_give_to_caller(path, -1, 0);                                                        \
        return (int)res_;                                                                          \
    } while (0)

int zf_mknod(const char *path, mode_t mode, dev_t rdev)
{
    zf_attrs_drop(path, true);
    zf_listing_add(path);
    CREATE_OP(path, zf_zp_mknodat(at.dirh, at.rest, mode, rdev));
}

int zf_mkdir(const char *path, mode_t mode)
{
    zf_attrs_drop(path, true);
    zf_listing_add(path);
    CREATE_OP(path, zf_zp_mkdirat(at.dirh, at.rest, mode));
}

int zf_symlink(const char *target, const char *path)
{
    zf_attrs_drop(path, true);
    zf_listing_add(path);
    CREATE_OP(path, zf_zp_symlinkat(target, at.dirh, at.rest));
}

int zf_unlink(const char *path)
{
    zf_attrs_drop(path, true);
    PATH_OP(path, zf_zp_unlinkat(at.dirh, at.rest, 0));
}

int zf_rmdir(const char *path)
{
    zf_attrs_drop(path, true);
    PATH_OP(path, zf_zp_unlinkat(at.dirh, at.rest, AT_REMOVEDIR));
}

/* An operation on two paths (rename, link). */
#define TWO_PATH_OP(from, to, call)                                                                \
    do {                                                                                           \
        struct zf_at a1, a2;                                                                       \
        long res_;                                                                                 \
        int rc_ = zf_at_get(from, &a1);                                                            \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
        if ((rc_ = zf_at_get(to, &a2))) {                                                          \
            zf_at_put(&a1);                                                                        \
            return rc_;                                                                            \
        }                                                                                          \
        uint32_t g_ = zf_enter();                                                                  \
        bool ok_ = (a1.opened < 0 || a1.gen == g_) && (a2.opened < 0 || a2.gen == g_);             \
        res_ = ok_ ? zf_leave(g_, (call)) : zf_leave(g_, (errno = ESTALE, -1L));                   \
        zf_at_put(&a2);                                                                            \
        zf_at_put(&a1);                                                                            \
        return (int)res_;                                                                          \
    } while (0)

static int rename_paths(const char *from, const char *to, unsigned int flags)
{
    TWO_PATH_OP(from, to, zf_zp_renameat2(a1.dirh, a1.rest, a2.dirh, a2.rest, flags));
}

/* The cache is cleared before (nothing older is answered during the call) and after (a create
 * racing with it may have kept a path that the rename moved). */
int zf_rename(const char *from, const char *to, unsigned int flags)
{
    zf_attrs_clear(); /* a directory moves every path beneath it */
    zf_listings_clear();
    int rc = rename_paths(from, to, flags);
    zf_attrs_clear();
    zf_listings_clear();
    return rc;
}

static int link_paths(const char *from, const char *to)
{
    TWO_PATH_OP(from, to, zf_zp_linkat(a1.dirh, a1.rest, a2.dirh, a2.rest, 0));
}

/* Whether the kernel of this node restricts hard links (fs.protected_hardlinks, read once). */
static bool links_protected(void)
{
    static atomic_int known = -1;
    int v = atomic_load(&known);
    if (v < 0) {
        FILE *f = fopen("/proc/sys/fs/protected_hardlinks", "re");
        v = !f || fgetc(f) != '0'; /* unknown: protected, which only ever refuses more */
        if (f)
            fclose(f);
        atomic_store(&known, v);
    }
    return v;
}

/* A hard link made for another user by a root mount: the source opened, checked on its own
 * attributes as fs.protected_hardlinks checks it (the owner, or a plain regular file the user may
 * read and write), and linked through that handle, so that a file renamed to the source path
 * after the kernel's check is refused (EPERM, as the kernel says it), not linked as root. A
 * symbolic link is not linked for another user (EPERM): its handle cannot be linked (EXDEV), and
 * by name it could be swapped meanwhile. */
static int link_checked(const char *from, const char *to, struct zf_who *who)
{
    uint32_t g;
    struct stat st;
    long h = open_with_stat(from, O_PATH | O_NOFOLLOW, &g, &st);
    if (h < 0)
        return (int)h;
    bool owner = st.st_uid == who->uid;
    bool plain = S_ISREG(st.st_mode) && !(st.st_mode & S_ISUID) &&
                 (st.st_mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP);
    long res = !S_ISLNK(st.st_mode) &&
                       (owner || !links_protected() || (plain && zf_may_open(&st, O_RDWR, who)))
                   ? 0
                   : -EPERM;
    struct zf_at a2;
    if (res == 0 && (res = zf_at_get(to, &a2)) == 0) {
        uint32_t now = zf_enter();
        res = now == g && (a2.opened < 0 || a2.gen == now)
                  ? zf_leave(now, zf_zp_linkat((int)h, "", a2.dirh, a2.rest, AT_EMPTY_PATH))
                  : zf_leave(now, (errno = ESTALE, -1L));
        zf_at_put(&a2);
    }
    close_handle(g, h);
    return (int)res;
}

/* The high-level API gives the new name an inode of its own in the kernel: with cached attributes
 * (relaxed) the old name's link count would stay stale for the timeout, so they are dropped.
 * (Also its cached pages; there are rarely any, or dirty ones, on a file being linked.) */
int zf_link(const char *from, const char *to)
{
    zf_attrs_clear(); /* the file's link count, under every name */
    zf_listings_clear();
    struct zf_who who;
    int rc = for_other(&who) ? link_checked(from, to, &who) : link_paths(from, to);
    zf_attrs_clear();
    zf_listings_clear();
    if (rc == 0 && zf_state.consistency == ZP_RELAXED)
        fuse_invalidate_path(fuse_get_context()->fuse, from);
    return rc;
}
