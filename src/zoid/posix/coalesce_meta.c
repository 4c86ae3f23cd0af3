/*
 * Metadata coalescing: fstatat, faccessat and the path lookup of openat, of the same path
 * (relative to the export, ZP_ROOT) with the same flags, by callers of the same identity (uid,
 * gid and the same supplementary groups, in the same order), made at about the same time, are
 * answered by one lookup. For an open, the lookup is an O_PATH descriptor of the file; each
 * caller then opens its own open file description from it (/proc/self/fd/N, with its flags), a
 * second permission check by the kernel as that caller.
 *
 * Identity: only callers whose identity is equal share, because the lookup's result depends on
 * it (search permission on every directory of the path, the access check itself): two callers
 * with the same ids get the same answer from the kernel, so handing one's answer to the other
 * gives nothing away. Callers of different identities never share a result, even for the same
 * path at the same instant.
 *
 * Freshness: a call joins a lookup in flight, or takes one completed at most
 * ZOID_COALESCE_WINDOW_US ago, only if nothing was changed through the daemon since that lookup
 * started (a global generation, bumped by every write and every call that changes a name or an
 * inode's metadata: zpc_changed). While files are lent (written by clients without the daemon:
 * zpc_lent_files), only a lookup still waiting for company is joined: a caller's stat after its
 * write through a lent descriptor (or a FUSE passthrough backing) took the size from before.
 * The leader waits for company (at most the window) only when the same lookup had company last
 * time: callers that joined it while it was in flight. Taking
 * a completed result is not company: a client that repeats its own stat takes its previous
 * answer within the window, and counting that made its next lookup wait out the whole window
 * for nobody (a lone client's stat loop: p90 330-400 us against 60-80 us).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coalesce.h"

#define NBUCKETS 256
#define MAX_HELD 4096 /* entries; beyond, a call is not shared */

struct me {
    char kind;
    int flags;
    uint32_t uid, gid, ngroups;
    uint32_t groups[64];
    uint64_t gen;
    bool done, gone;
    bool running; /* the lookup has begun: what was written meanwhile may be missed */
    unsigned refs, joined, expect;
    uint64_t done_ns;
    struct zpc_meta_res res;
    pthread_cond_t lead_cv, done_cv;
    struct me *next;
    char path[]; /* NUL-terminated */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct me *table[NBUCKETS];
static unsigned nheld;
_Atomic uint64_t zpc_gen = 1;
_Atomic unsigned zpc_lent_files;

static unsigned bucket(const char *path, char kind)
{
    uint64_t h = 1469598103934665603u ^ (unsigned char)kind;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (unsigned)(h % NBUCKETS);
}

static bool same_key(const struct me *e, char kind, const char *path, int flags,
                     const struct zoid_identity *id)
{
    return e->kind == kind && e->flags == flags && e->uid == id->uid && e->gid == id->gid &&
           e->ngroups == id->ngroups &&
           !memcmp(e->groups, id->groups, id->ngroups * sizeof(id->groups[0])) &&
           !strcmp(e->path, path);
}

static void me_free(struct me *e)
{
    nheld--;
    if (e->res.fd >= 0)
        close(e->res.fd);
    pthread_cond_destroy(&e->lead_cv);
    pthread_cond_destroy(&e->done_cv);
    free(e);
}

/* Drops expired entries of bucket b nobody uses (mu held). */
static void sweep(unsigned b, uint64_t now)
{
    uint64_t gen = atomic_load(&zpc_gen);
    for (struct me **pp = &table[b]; *pp;) {
        struct me *e = *pp;
        bool old = e->done && (e->gen != gen || now - e->done_ns > zpc_cfg.window_us * 1000u * 4);
        if (!e->refs && old) {
            *pp = e->next;
            me_free(e);
        } else {
            pp = &e->next;
        }
    }
}

static void cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ns += (uint64_t)ts->tv_nsec;
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

static void unref(struct me *e)
{
    /* An open's resolved descriptor serves only the callers that took the entry while it was
     * in use: once nobody holds it, it is closed (the daemon does not keep descriptors of
     * paths nobody is opening), and later callers resolve the path again. */
    if (--e->refs == 0 && e->done && e->res.fd >= 0) {
        close(e->res.fd);
        e->res.fd = -1;
        e->gone = true;
    }
}

/* A lookup not shared: fn, then use, then its descriptor closed. */
static void alone(zpc_meta_fn fn, void *arg, zpc_meta_fn use, void *uarg, struct zpc_meta_res *res)
{
    zpc_add(ZPC_meta_backend_ops, 1);
    res->fd = -1;
    fn(arg, res);
    if (use)
        use(uarg, res);
    if (res->fd >= 0)
        close(res->fd);
    res->fd = -1;
}

static void meta(struct zoid_call *call, char kind, const char *path, int flags, zpc_meta_fn fn,
                 void *arg, zpc_meta_fn use, void *uarg, struct zpc_meta_res *res)
{
    zpc_add(ZPC_meta_calls, 1);
    const struct zoid_identity *id = zoid_call_identity(call);
    size_t plen = strlen(path);
    if (!zpc_cfg.reads || plen > 4095 || id->ngroups > 64) {
        alone(fn, arg, use, uarg, res);
        return;
    }
    unsigned b = bucket(path, kind);
    uint64_t window = (uint64_t)zpc_cfg.window_us * 1000u;
    pthread_mutex_lock(&mu);
    uint64_t now = zpc_now_ns(), gen = atomic_load(&zpc_gen);
    sweep(b, now);
    unsigned expect = 0;
    bool outside = atomic_load(&zpc_lent_files) > 0;
    for (struct me *e = table[b]; e; e = e->next) {
        if (!same_key(e, kind, path, flags, id))
            continue;
        if (e->gone || e->gen != gen || (e->done && now - e->done_ns > window) ||
            (outside && e->running)) {
            if (e->done && e->joined > expect)
                expect = e->joined;
            continue;
        }
        e->refs++;
        if (!e->done) { /* company: it came while the lookup was waiting or running */
            e->joined++;
            pthread_cond_signal(&e->lead_cv);
        }
        while (!e->done)
            pthread_cond_wait(&e->done_cv, &mu);
        *res = e->res;
        if (use) { /* with the entry (and its descriptor) held */
            pthread_mutex_unlock(&mu);
            use(uarg, res);
            pthread_mutex_lock(&mu);
        }
        res->fd = -1; /* the entry's */
        unref(e);
        pthread_mutex_unlock(&mu);
        zpc_add(ZPC_meta_joined, 1);
        return;
    }
    struct me *e = nheld < MAX_HELD ? calloc(1, sizeof(*e) + plen + 1) : NULL;
    if (!e) {
        pthread_mutex_unlock(&mu);
        alone(fn, arg, use, uarg, res);
        return;
    }
    nheld++;
    e->kind = kind;
    e->flags = flags;
    e->uid = id->uid;
    e->gid = id->gid;
    e->ngroups = id->ngroups;
    memcpy(e->groups, id->groups, id->ngroups * sizeof(id->groups[0]));
    memcpy(e->path, path, plen + 1);
    e->gen = gen;
    e->refs = 1;
    e->res.fd = -1;
    e->expect = expect;
    cond_init(&e->lead_cv);
    cond_init(&e->done_cv);
    e->next = table[b];
    table[b] = e;
    if (expect && window) {
        zpc_add(ZPC_company_waits, 1);
        struct timespec dl;
        deadline_after(&dl, window);
        while (e->joined < e->expect)
            if (pthread_cond_timedwait(&e->lead_cv, &mu, &dl) == ETIMEDOUT)
                break;
    }
    e->running = true;
    pthread_mutex_unlock(&mu);
    zpc_add(ZPC_meta_backend_ops, 1);
    res->fd = -1;
    fn(arg, res);
    pthread_mutex_lock(&mu);
    e->res = *res;
    e->done = true;
    e->done_ns = zpc_now_ns();
    pthread_cond_broadcast(&e->done_cv);
    if (use) {
        pthread_mutex_unlock(&mu);
        use(uarg, res);
        pthread_mutex_lock(&mu);
    }
    res->fd = -1; /* the entry's */
    unref(e);
    pthread_mutex_unlock(&mu);
}

void zpc_meta(struct zoid_call *call, char kind, const char *path, int flags, zpc_meta_fn fn,
              void *arg, struct zpc_meta_res *res)
{
    meta(call, kind, path, flags, fn, arg, NULL, NULL, res);
}

void zpc_meta_open(struct zoid_call *call, const char *path, int flags, zpc_meta_fn fn, void *arg,
                   zpc_meta_fn use, void *uarg, struct zpc_meta_res *res)
{
    meta(call, 'o', path, flags, fn, arg, use, uarg, res);
}

void zpc_changed(void)
{
    atomic_fetch_add(&zpc_gen, 1);
}
