/*
 * Whether the user of a request may open a file, judged on the attributes of the file the daemon
 * actually opened. A mount run by root makes every call as root on the I/O node, and the
 * kernel's check (default_permissions) was made on the attributes it had for the path: by the
 * time the daemon opens it, the path may name another file (renamed there by a user who may
 * write the directory). So a root mount checks again, on the opened file, as the kernel would
 * for that user (owner, group or other bits; root may read and write anything). ACLs are not
 * read: a file that only an ACL opens to a user is refused to that user through a root mount.
 */
#ifndef ZEPTO_ZFUSE_MAY_H
#define ZEPTO_ZFUSE_MAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct zf_who {
    uint32_t uid, gid;
    int ngroups;         /* -1 until a check needs them */
    const gid_t *groups; /* this thread's: valid until its next request */
};

/* The user of the current FUSE request. Its supplementary groups (the kernel's view of the
 * requesting thread, all of them; none when they cannot be read, which only ever refuses more)
 * are read when a check first needs them: /proc costs every open otherwise. */
void zf_who_current(struct zf_who *w);

/* Whether w may open a file of attributes st with open flags `flags`: its access mode and
 * O_TRUNC, or, for an open to execute it (the kernel's __FMODE_EXEC), the execute bit alone. */
bool zf_may_open(const struct stat *st, int flags, struct zf_who *w);

#endif
