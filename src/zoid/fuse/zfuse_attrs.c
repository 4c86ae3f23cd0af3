/*
 * The mount's cache of attributes that came with replies (zfuse_attrs.h): a hash table of paths
 * under one mutex, entries that expire after ZF_ATTRS_TTL_NS, and a per-thread handoff from a
 * create to libfuse's getattr of the same request.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "zfuse_attrs.h"

#define BUCKETS 4096 /* a power of two */

struct entry {
    struct entry *next;
    uint64_t hash;
    int64_t expires; /* CLOCK_MONOTONIC, ns */
    struct stat st;
    char path[];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table[BUCKETS];
static size_t count;
static atomic_bool enabled;

static int64_t now_ns(void)
{
    return (int64_t)zb_mono_read();
}

#define hash_of zf_fnv1a

/* The link of the entry for (path, n) in its bucket, or the bucket's last link. Under mu. */
static struct entry **find(const char *path, size_t n, uint64_t h)
{
    struct entry **p = &table[h & (BUCKETS - 1)];
    while (*p && !((*p)->hash == h && strncmp((*p)->path, path, n) == 0 && !(*p)->path[n]))
        p = &(*p)->next;
    return p;
}

static void unlink_at(struct entry **p)
{
    struct entry *e = *p;
    *p = e->next;
    free(e);
    count--;
}

/* Under mu: the expired entries of every bucket go, then, if still full, each bucket's second
 * half (the older entries: new ones go first). */
static void shrink(void)
{
    int64_t t = now_ns();
    for (size_t b = 0; b < BUCKETS; b++)
        for (struct entry **p = &table[b]; *p;)
            if ((*p)->expires <= t)
                unlink_at(p);
            else
                p = &(*p)->next;
    for (size_t b = 0; count >= ZF_ATTRS_MAX / 2 && b < BUCKETS; b++) {
        size_t len = 0;
        for (struct entry *e = table[b]; e; e = e->next)
            len++;
        struct entry **p = &table[b];
        for (size_t i = 0; *p && i < (len + 1) / 2; i++)
            p = &(*p)->next;
        while (*p)
            unlink_at(p);
    }
}

void zf_attrs_enable(bool on)
{
    atomic_store(&enabled, on);
    if (!on)
        zf_attrs_clear();
}

void zf_attrs_put(const char *path, const struct stat *st)
{
    /* A file with other names: a change through one of them would not drop this entry. */
    if (!atomic_load(&enabled) || !path || (!S_ISDIR(st->st_mode) && st->st_nlink != 1))
        return;
    size_t n = strlen(path);
    uint64_t h = hash_of(path, n);
    struct entry *e = malloc(sizeof(*e) + n + 1);
    if (!e)
        return;
    e->hash = h;
    e->expires = now_ns() + ZF_ATTRS_TTL_NS;
    e->st = *st;
    memcpy(e->path, path, n + 1);
    pthread_mutex_lock(&mu);
    struct entry **p = find(path, n, h);
    if (*p)
        unlink_at(p);
    if (count >= ZF_ATTRS_MAX)
        shrink();
    struct entry **head = &table[h & (BUCKETS - 1)];
    e->next = *head;
    *head = e;
    count++;
    pthread_mutex_unlock(&mu);
}

bool zf_attrs_get(const char *path, struct stat *st)
{
    if (!atomic_load(&enabled) || !path)
        return false;
    size_t n = strlen(path);
    uint64_t h = hash_of(path, n);
    bool found = false;
    pthread_mutex_lock(&mu);
    struct entry **p = find(path, n, h);
    if (*p && (*p)->expires > now_ns()) {
        *st = (*p)->st;
        found = true;
    } else if (*p) {
        unlink_at(p);
    }
    pthread_mutex_unlock(&mu);
    return found;
}

static void drop_one(const char *path, size_t n)
{
    uint64_t h = hash_of(path, n);
    struct entry **p = find(path, n, h);
    if (*p)
        unlink_at(p);
}

void zf_attrs_drop(const char *path, bool with_parent)
{
    if (!atomic_load(&enabled) || !path)
        return;
    size_t n = strlen(path);
    pthread_mutex_lock(&mu);
    if (count) {
        drop_one(path, n);
        if (with_parent) {
            const char *slash = memrchr(path, '/', n);
            size_t pn = slash ? (size_t)(slash - path) : 0;
            if (pn == 0)
                drop_one("/", 1); /* the root of the mount */
            else
                drop_one(path, pn);
        }
    }
    pthread_mutex_unlock(&mu);
}

void zf_attrs_clear(void)
{
    pthread_mutex_lock(&mu);
    for (size_t b = 0; count && b < BUCKETS; b++)
        while (table[b])
            unlink_at(&table[b]);
    pthread_mutex_unlock(&mu);
}

/* ---- the create handoff -------------------------------------------------------------------- */

static _Thread_local struct {
    bool set;
    struct stat st;
    char path[4096];
} handoff;

void zf_attrs_handoff(const char *path, const struct stat *st)
{
    size_t n = strlen(path);
    handoff.set = n < sizeof(handoff.path);
    if (!handoff.set)
        return;
    memcpy(handoff.path, path, n + 1);
    handoff.st = *st;
}

bool zf_attrs_take_handoff(const char *path, struct stat *st)
{
    if (!handoff.set)
        return false;
    handoff.set = false;
    if (!path || strcmp(handoff.path, path) != 0)
        return false;
    *st = handoff.st;
    return true;
}
