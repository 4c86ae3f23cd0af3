/*
 * A root mount's own check of an open on the opened file's attributes (zfuse_may.h).
 */
#include "zfuse_may.h"

#include <fcntl.h>
#include <stdlib.h>

#include "zfuse_ops.h" /* libfuse's high-level API, at the version the mount uses */

/* The flag the kernel adds to the open of a program it executes (include/linux/fs.h). */
#define FMODE_EXEC_FLAG 0x20

/* This thread's list of the requester's groups, grown to what the kernel reports (a user may be
 * in thousands); kept for the thread's next request. */
static _Thread_local gid_t *groups;
static _Thread_local int groups_cap;

void zf_who_current(struct zf_who *w)
{
    struct fuse_context *ctx = fuse_get_context();
    w->uid = ctx->uid;
    w->gid = ctx->gid;
    w->ngroups = -1;
    w->groups = NULL;
}

/* w's supplementary groups, read once per request. */
static void load_groups(struct zf_who *w)
{
    w->ngroups = 0;
    w->groups = groups;
    for (int tries = 0; tries < 3; tries++) {
        int n = fuse_getgroups(groups_cap, groups);
        if (n <= 0)
            return;
        if (n <= groups_cap) {
            w->ngroups = n;
            w->groups = groups;
            return;
        }
        gid_t *more = realloc(groups, (size_t)n * sizeof(*more));
        if (!more)
            return;
        groups = more;
        groups_cap = n;
    }
}

bool zf_may_open(const struct stat *st, int flags, struct zf_who *w)
{
    if (w->uid == 0)
        return true;
    int acc = flags & O_ACCMODE;
    unsigned want = (acc == O_RDONLY || acc == O_RDWR ? 4u : 0u) |
                    (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC) ? 2u : 0u);
    if (flags & FMODE_EXEC_FLAG)
        want = 1u; /* a program run: execute permission, which needs no read (mode 0711) */
    unsigned bits;
    if (st->st_uid == w->uid) {
        bits = (st->st_mode >> 6) & 7u;
    } else {
        bool member = st->st_gid == w->gid;
        if (!member && w->ngroups < 0)
            load_groups(w);
        for (int i = 0; !member && i < w->ngroups; i++)
            member = st->st_gid == w->groups[i];
        bits = member ? (st->st_mode >> 3) & 7u : st->st_mode & 7u;
    }
    return (bits & want) == want;
}
