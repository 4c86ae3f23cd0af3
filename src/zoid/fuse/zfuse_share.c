/*
 * Each user's share of the mount's remote handles (zfuse_share.h). A user other than root and the
 * mount's own uid may hold at most `per_uid` opens, and all of them together at most
 * ZF_SESSION_HANDLES - ZF_WALK_SLACK - ZF_ROOT_RESERVE: the reserve is left to root and the
 * mount's uid, which are limited only by what the session holds.
 *
 * The counts live in a small array searched linearly under one mutex: an entry per uid that holds
 * opens right now (a handful on a compute node), removed when its count falls to 0. The cost is
 * one lock and a scan of that array per open and per release, next to a round trip to the daemon.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "zfuse_share.h"

#define WARN_EVERY_S 10 /* at most one refusal message this often */

struct uid_count {
    uid_t uid;
    unsigned n; /* its opens, > 0 */
};

static struct {
    pthread_mutex_t mu;
    unsigned per_uid;       /* most opens of one unprivileged uid */
    uid_t self;             /* the mount's euid: privileged like root */
    bool to_syslog;         /* report refusals with syslog (detached) or on stderr */
    struct uid_count *uids; /* the uids holding opens */
    size_t len, cap;
    unsigned total;        /* every open held */
    unsigned unprivileged; /* the opens of uids other than root and self */
    time_t warned;         /* when the last refusal was reported (monotonic seconds) */
    unsigned unreported;   /* refusals since then */
    struct zf_open *opens; /* every open not yet released, for zf_share_free_all() */
} share = {.mu = PTHREAD_MUTEX_INITIALIZER, .per_uid = ZF_OPENS_PER_UID};

void zf_share_init(unsigned per_uid, uid_t self, bool to_syslog)
{
    share.per_uid = per_uid ? per_uid : ZF_OPENS_PER_UID;
    share.self = self;
    share.to_syslog = to_syslog;
}

static bool privileged(uid_t uid)
{
    return uid == 0 || uid == share.self;
}

static struct uid_count *find(uid_t uid)
{
    for (size_t i = 0; i < share.len; i++)
        if (share.uids[i].uid == uid)
            return &share.uids[i];
    return NULL;
}

/* One line per WARN_EVERY_S at most, under share.mu: a user at the limit retrying in a loop must
 * not flood the log. */
static void report(uid_t uid, unsigned held, unsigned limit)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    share.unreported++;
    if (share.warned && now.tv_sec - share.warned < WARN_EVERY_S)
        return;
    char msg[160];
    snprintf(msg, sizeof(msg),
             "zepto zoid mount: uid %u holds %u opens (its share: %u): EMFILE (%u refused "
             "since the last message)",
             (unsigned)uid, held, limit, share.unreported);
    if (share.to_syslog)
        syslog(LOG_WARNING, "%s", msg);
    else
        fprintf(stderr, "%s\n", msg);
    share.warned = now.tv_sec ? now.tv_sec : 1;
    share.unreported = 0;
}

int zf_share_take(uid_t uid)
{
    const unsigned all = ZF_SESSION_HANDLES - ZF_WALK_SLACK;
    const unsigned others = all - ZF_ROOT_RESERVE;
    int rc = 0;
    pthread_mutex_lock(&share.mu);
    struct uid_count *c = find(uid);
    unsigned held = c ? c->n : 0;
    bool priv = privileged(uid);
    if (share.total >= all) {
        report(uid, held, all);
        rc = -EMFILE;
    } else if (!priv && (held >= share.per_uid || share.unprivileged >= others)) {
        report(uid, held, held >= share.per_uid ? share.per_uid : others);
        rc = -EMFILE;
    } else if (!c) {
        if (share.len == share.cap) {
            size_t cap = share.cap ? share.cap * 2 : 16;
            struct uid_count *u = realloc(share.uids, cap * sizeof(*u));
            if (!u) {
                rc = -ENOMEM;
                goto out;
            }
            share.uids = u;
            share.cap = cap;
        }
        c = &share.uids[share.len++];
        c->uid = uid;
        c->n = 0;
    }
    if (rc == 0) {
        c->n++;
        share.total++;
        share.unprivileged += !priv;
    }
out:
    pthread_mutex_unlock(&share.mu);
    return rc;
}

/* Under share.mu. */
static void put_locked(uid_t uid)
{
    struct uid_count *c = find(uid);
    if (c) {
        share.total--;
        share.unprivileged -= !privileged(uid);
        if (--c->n == 0)
            *c = share.uids[--share.len];
    }
}

void zf_share_put(uid_t uid)
{
    pthread_mutex_lock(&share.mu);
    put_locked(uid);
    pthread_mutex_unlock(&share.mu);
}

void zf_share_link(struct zf_open *f)
{
    pthread_mutex_lock(&share.mu);
    f->prev = NULL;
    f->next = share.opens;
    if (share.opens)
        share.opens->prev = f;
    share.opens = f;
    pthread_mutex_unlock(&share.mu);
}

void zf_share_release(struct zf_open *f)
{
    pthread_mutex_lock(&share.mu);
    if (f->prev)
        f->prev->next = f->next;
    else
        share.opens = f->next;
    if (f->next)
        f->next->prev = f->prev;
    put_locked(f->uid);
    pthread_mutex_unlock(&share.mu);
}

/* A struct zf_dir begins with its struct zf_open: one free() for either. */
void zf_share_free_all(void)
{
    pthread_mutex_lock(&share.mu);
    while (share.opens) {
        struct zf_open *f = share.opens;
        share.opens = f->next;
        put_locked(f->uid);
        free(f);
    }
    free(share.uids);
    share.uids = NULL;
    share.len = share.cap = 0;
    pthread_mutex_unlock(&share.mu);
}
