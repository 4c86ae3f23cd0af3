/*
 * `zepto zoid mount`'s own cache of attributes that came with a reply (a create gives the new
 * file's and its directory's), so that the getattr requests the kernel sends right after (libfuse
 * asks one for every create; the kernel asks the directory's again before its next permission
 * check, and a file's after its close drops st_blocks) do not cost a round trip to the daemon.
 *
 * Relaxed mounts only: an entry lives ZF_ATTRS_TTL_NS and is dropped by any change made through
 * the mount to its path or to a name in it (zfuse_ops.c, zfuse_names.c call zf_attrs_drop; a
 * rename or a link clears everything). Files with more than one link are never kept (a change
 * through another name would not drop them). Strict mounts keep nothing: only the handoff below,
 * the attributes of a create given to libfuse's getattr of the same request.
 */
#ifndef ZEPTO_ZFUSE_ATTRS_H
#define ZEPTO_ZFUSE_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* How long an entry answers: the kernel's relaxed attribute timeout (1 s). What the kernel takes
 * from it at the end of that second it keeps for one more: attributes that came with a reply are
 * at most 2 s old when the kernel lets them go (docs/zoid-mount.md). */
#define ZF_ATTRS_TTL_NS 1000000000LL
/* Most entries kept: beyond, the oldest half of the table goes (each bucket's tail). */
#define ZF_ATTRS_MAX 65536

/* FNV-1a of n bytes: the mount's caches hash paths and names with it. */
static inline uint64_t zf_fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* Turns the cache on (relaxed mounts); off, put does nothing and get finds nothing. */
void zf_attrs_enable(bool on);
/* Keeps st for path ("/a/b", as FUSE gives it) for ZF_ATTRS_TTL_NS. */
void zf_attrs_put(const char *path, const struct stat *st);
/* The attributes kept for path, if not expired: true and *st. */
bool zf_attrs_get(const char *path, struct stat *st);
/* A change to path through the mount: its entry goes; with_parent, its directory's too (a name
 * made or removed there changes the directory's mtime and link count). */
void zf_attrs_drop(const char *path, bool with_parent);
/* Everything goes (a rename moves whole trees; a link changes a file seen under other names). */
void zf_attrs_clear(void);

/* The create handoff (both modes): the attributes a create reply carried, for the getattr that
 * libfuse makes for the same request right after, on the same thread; take consumes it. */
void zf_attrs_handoff(const char *path, const struct stat *st);
bool zf_attrs_take_handoff(const char *path, struct stat *st);

#endif
