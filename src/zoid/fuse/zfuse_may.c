/*
 * A root mount's own check of an open on the opened file's attributes (zfuse_may.h).
 */
#include "zfuse_may.h"

#include <fcntl.h>

#include "zfuse_ops.h" /* libfuse's high-level API, at the version the mount uses */

void zf_who_current(struct zf_who *w)
{
    struct fuse_context *ctx = fuse_get_context();
    w->uid = ctx->uid;
    w->gid = ctx->gid;
    int n = fuse_getgroups((int)(sizeof(w->groups) / sizeof(w->groups[0])), w->groups);
    w->ngroups = n > 0 && n <= (int)(sizeof(w->groups) / sizeof(w->groups[0])) ? n : 0;
}

bool zf_may_open(const struct stat *st, int flags, const struct zf_who *w)
{
    if (w->uid == 0)
        return true;
    int acc = flags & O_ACCMODE;
    unsigned want = (acc == O_RDONLY || acc == O_RDWR ? 4u : 0u) |
                    (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC) ? 2u : 0u);
    unsigned bits;
    if (st->st_uid == w->uid) {
        bits = (st->st_mode >> 6) & 7u;
    } else {
        bool member = st->st_gid == w->gid;
        for (int i = 0; !member && i < w->ngroups; i++)
            member = st->st_gid == w->groups[i];
        bits = member ? (st->st_mode >> 3) & 7u : st->st_mode & 7u;
    }
    return (bits & want) == want;
}
