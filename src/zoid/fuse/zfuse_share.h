/*
 * Each user's share of the mount's remote handles (issue 12). The mount opens every file and
 * directory of every user as handles of its one daemon session, whose table is limited
 * (ZF_SESSION_HANDLES): without shares one user holding opens would leave none to the others,
 * root included. zf_share_take() counts an open for a uid (at open, create, opendir) and refuses
 * it with -EMFILE past the uid's share; zf_share_put() gives it back (at release, releasedir).
 */
#ifndef ZEPTO_ZFUSE_SHARE_H
#define ZEPTO_ZFUSE_SHARE_H

#include <stdbool.h>
#include <sys/types.h>

#include "zfuse_int.h"

/* The daemon's handles per session (ZP_MAX_HANDLES in src/zoid/posix/zp_impl.h): the protocol
 * does not tell it, so the mount assumes it. */
#define ZF_SESSION_HANDLES 4096
/* Left to the walks of long paths (each holds one or two O_PATH handles for a moment). */
#define ZF_WALK_SLACK 64
/* Handles only root and the mount's own uid may take, beyond what all other users together can
 * hold, so that root can always open. */
#define ZF_ROOT_RESERVE 512
/* Default for --max-opens-per-uid. */
#define ZF_OPENS_PER_UID 1024

/* Sets the per-uid limit (0: the default), the privileged uids (root and `self`) and where
 * refusals are reported (stderr, or syslog once the mount has detached). */
void zf_share_init(unsigned per_uid, uid_t self, bool to_syslog);
/* Counts one more open for uid: 0, or -EMFILE (one line on stderr or syslog every few seconds at
 * most, naming the uid), or -ENOMEM. */
int zf_share_take(uid_t uid);
/* Gives back an open zf_share_take() counted (an open that failed). */
void zf_share_put(uid_t uid);
/* Remembers f, opened with a share of f->uid, until zf_share_release() gives both back. */
void zf_share_link(struct zf_open *f);
void zf_share_release(struct zf_open *f);
/* At the end of the mount: frees what the kernel never released (files open at unmount). */
void zf_share_free_all(void);

#endif
