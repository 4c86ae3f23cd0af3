/*
 * What the interposer (src/zoid/preload/lend.c) and the mount (src/zoid/fuse/zfuse_lend.c) share
 * when they ask the daemon for lent descriptors (zp_lend, docs/zoid-posix.md "Lent
 * descriptors"): whether to ask at all, the tags, and the check of what came. Their stubs differ
 * (zp_, zf_zp_), so each makes its own calls.
 */
#ifndef ZEPTO_ZP_LEND_CLIENT_H
#define ZEPTO_ZP_LEND_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct zp_lender {
    atomic_int state;   /* 0: not known yet; 1: ask; -1: never ($ZOID_LEND=0, or refused) */
    pthread_mutex_t mu; /* one lend at a time: held by the caller from the tag to the take */
    uint64_t next_tag;  /* under mu */
};
#define ZP_LENDER_INIT                                                                             \
    {                                                                                              \
        0, PTHREAD_MUTEX_INITIALIZER, 0                                                            \
    }

/* Whether to ask: not switched off by ZOID_LEND=0, not refused by this daemon. */
bool zp_lender_on(struct zp_lender *l);
/* A fresh tag (mu held): random at first, then counting. */
uint64_t zp_lender_tag(struct zp_lender *l);
/* zp_lend failed with err: stops asking when the daemon or its transport never lends. */
void zp_lender_failed(struct zp_lender *l, int err);
/* What came (fd: a descriptor, or the negative errno of the take) for a handle whose fstat by
 * the daemon is *hst: a regular file, that one. Returns fd with its access mode in *mode and its
 * stat in *st; or -1 with fd closed (and the daemon never asked again when it lent something
 * else, or sent something that was not a lent descriptor). */
int zp_lender_check(struct zp_lender *l, int fd, const struct stat *hst, int *mode,
                    struct stat *st);

#endif
