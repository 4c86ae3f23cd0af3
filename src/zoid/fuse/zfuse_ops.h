/*
 * The file-system operations of `zepto zoid mount`, shared by zfuse_names.c (paths: the walk of
 * long paths, attributes, names, ownership of what users create) and zfuse_ops.c (open files,
 * locks, directories, the table given to libfuse). libfuse3's high-level, path-based API.
 */
#ifndef ZEPTO_ZFUSE_OPS_H
#define ZEPTO_ZFUSE_OPS_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)

#include <fuse.h>
#include <stdint.h>

#include "zfuse_check.h"
#include "zfuse_int.h"

/* A path as the daemon takes it: a directory handle and the rest, relative to it and shorter than
 * PATH_MAX. FUSE gives whole paths from the root of the mount, which may be longer than the
 * daemon accepts (a deep tree reached through relative paths): those are walked in pieces, each
 * opened O_PATH beneath the previous one. `opened` is the handle to close afterwards (or -1), of
 * generation `gen`. */
struct zf_at {
    int dirh;
    const char *rest;
    int opened;
    uint32_t gen;
};

/* Resolves a FUSE path ("/a/b") for the daemon: 0 or -errno; zf_at_put() closes what the walk
 * opened. */
int zf_at_get(const char *path, struct zf_at *a);
/* Opens the directory at path for reading (O_RDONLY | O_DIRECTORY): its remote handle, claimed,
 * and *gen the daemon generation it belongs to; or -errno. */
long zf_dir_open(const char *path, uint32_t *gen);
void zf_at_put(struct zf_at *a);

/* One call on a walked path: res = call, made under the connection's lock, unless the walk's
 * handle belongs to a connection that has since been replaced. */
#define AT_CALL(res, a, call)                                                                      \
    do {                                                                                           \
        uint32_t g_ = zf_enter();                                                                  \
        res = ((a).opened < 0 || (a).gen == g_) ? zf_leave(g_, (call))                             \
                                                : zf_leave(g_, (errno = ESTALE, -1L));             \
    } while (0)

/* The remote handle of an open file, or -ESTALE (opened before the daemon restarted). */
#define HANDLE(gen, fi)                                                                            \
    int h = zf_fh_handle((fi)->fh, gen);                                                           \
    if (h < 0)                                                                                     \
    return (int)zf_leave(gen, (errno = -h, -1))

/* Gives what the caller of the current request created (the handle h, or path when h < 0) to
 * that caller, when the mount runs as root: true when it tried (the attributes changed). */
bool zf_give_to_caller(const char *path, int h, uint32_t hgen);

/* The operations on paths (zfuse_names.c). */
int zf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi);
int zf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int zf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi);
int zf_truncate(const char *path, off_t size, struct fuse_file_info *fi);
int zf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi);
int zf_access(const char *path, int mask);
int zf_readlink(const char *path, char *buf, size_t size);
int zf_statfs(const char *path, struct statvfs *sv);
int zf_mknod(const char *path, mode_t mode, dev_t rdev);
int zf_mkdir(const char *path, mode_t mode);
int zf_symlink(const char *target, const char *path);
int zf_unlink(const char *path);
int zf_rmdir(const char *path);
int zf_rename(const char *from, const char *to, unsigned int flags);
int zf_link(const char *from, const char *to);

#endif
