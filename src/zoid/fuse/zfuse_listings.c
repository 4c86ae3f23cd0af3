/*
 * The names of recently listed directories of a relaxed mount (zfuse_listings.h): a few slots,
 * each a directory and a set of name hashes, under one mutex.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "zfuse_attrs.h" /* zf_fnv1a */
#include "zfuse_listings.h"

enum state { EMPTY, MISSED, FETCHING, READY, TOO_BIG };

struct slot {
    enum state state;
    int64_t since; /* MISSED: the miss; FETCHING, READY: the reading's start; TOO_BIG: found */
    uint64_t token;
    char *dir;
    uint64_t *slots; /* name hashes, as in struct zf_listing_fetch */
    size_t cap, used;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot table[ZF_LISTING_DIRS];
static uint64_t tokens;
static atomic_bool enabled;

static int64_t now_ns(void)
{
    return (int64_t)zb_mono_read();
}

static uint64_t name_hash(const char *s, size_t n)
{
    return zf_fnv1a(s, n) |
           1; /* 0 marks an empty place (the place is from the other bits: h >> 1) */
}

/* ---- sets of hashes ------------------------------------------------------------------------ */

static bool set_has(const uint64_t *slots, size_t cap, uint64_t h)
{
    if (!cap)
        return false;
    for (size_t i = (h >> 1) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (slots[i] == h)
            return true;
        if (!slots[i])
            return false;
    }
}

static void set_put_in(uint64_t *slots, size_t cap, uint64_t h)
{
    size_t i = (h >> 1) & (cap - 1);
    while (slots[i] && slots[i] != h)
        i = (i + 1) & (cap - 1);
    slots[i] = h;
}

/* Adds h (kept at most half full); false when out of memory. */
static bool set_add(uint64_t **slots, size_t *cap, size_t *used, uint64_t h)
{
    if (set_has(*slots, *cap, h))
        return true;
    if (2 * (*used + 1) > *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        uint64_t *n = calloc(ncap, sizeof(*n));
        if (!n)
            return false;
        for (size_t i = 0; i < *cap; i++)
            if ((*slots)[i])
                set_put_in(n, ncap, (*slots)[i]);
        free(*slots);
        *slots = n;
        *cap = ncap;
    }
    set_put_in(*slots, *cap, h);
    (*used)++;
    return true;
}

/* ---- slots --------------------------------------------------------------------------------- */

static void slot_free(struct slot *s)
{
    free(s->dir);
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

/* The directory of path ("/a/b" -> "/a", "/b" -> "/") and the name's start. */
static size_t dir_len(const char *path, const char **name)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *name = path;
        return 0;
    }
    *name = slash + 1;
    return slash == path ? 1 : (size_t)(slash - path);
}

/* Under mu: the slot of the directory (dir, n), or NULL. */
static struct slot *find(const char *dir, size_t n)
{
    for (size_t i = 0; i < ZF_LISTING_DIRS; i++)
        if (table[i].state != EMPTY && strncmp(table[i].dir, dir, n) == 0 && !table[i].dir[n])
            return &table[i];
    return NULL;
}

/* Under mu: a slot for (dir, n), emptied: a free one, else the one read longest ago that is not
 * being read; NULL when every slot is being read or out of memory. */
static struct slot *claim(const char *dir, size_t n)
{
    struct slot *best = NULL;
    for (size_t i = 0; i < ZF_LISTING_DIRS; i++) {
        struct slot *s = &table[i];
        if (s->state == EMPTY) {
            best = s;
            break;
        }
        if (s->state != FETCHING && (!best || s->since < best->since))
            best = s;
    }
    if (!best)
        return NULL;
    slot_free(best);
    if (!(best->dir = malloc(n + 1)))
        return NULL;
    memcpy(best->dir, dir, n);
    best->dir[n] = '\0';
    return best;
}

void zf_listings_enable(bool on)
{
    atomic_store(&enabled, on);
    if (!on)
        zf_listings_clear();
}

bool zf_listing_absent(const char *path)
{
    if (!atomic_load(&enabled) || !path)
        return false;
    const char *name;
    size_t n = dir_len(path, &name), len = strlen(name);
    if (!n || !len || len > NAME_MAX)
        return false; /* a name too long is the daemon's ENAMETOOLONG, not absent */
    uint64_t h = name_hash(name, len);
    bool absent = false;
    pthread_mutex_lock(&mu);
    struct slot *s = find(path, n);
    if (s && s->state == READY && now_ns() - s->since < ZF_LISTING_TTL_NS)
        absent = !set_has(s->slots, s->cap, h);
    pthread_mutex_unlock(&mu);
    return absent;
}

void zf_listing_add(const char *path)
{
    if (!atomic_load(&enabled) || !path)
        return;
    const char *name;
    size_t n = dir_len(path, &name);
    if (!n || !*name)
        return;
    uint64_t h = name_hash(name, strlen(name));
    pthread_mutex_lock(&mu);
    struct slot *s = find(path, n);
    if (s && (s->state == READY || s->state == FETCHING) &&
        !set_add(&s->slots, &s->cap, &s->used, h))
        slot_free(s); /* out of memory: the listing cannot stay right */
    pthread_mutex_unlock(&mu);
}

void zf_listings_clear(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < ZF_LISTING_DIRS; i++)
        slot_free(&table[i]);
    pthread_mutex_unlock(&mu);
}

bool zf_listing_missed(const char *path, struct zf_listing_fetch *f)
{
    if (!atomic_load(&enabled) || !path)
        return false;
    const char *name;
    size_t n = dir_len(path, &name);
    if (!n || n >= sizeof(f->dir))
        return false;
    int64_t t = now_ns();
    bool fetch = false;
    pthread_mutex_lock(&mu);
    struct slot *s = find(path, n);
    if (s && s->state == TOO_BIG && t - s->since >= ZF_LISTING_BIG_NS)
        slot_free(s), s = NULL;
    if (!s) {
        /* a first miss: a listing is worth reading at the second */
        if ((s = claim(path, n))) {
            s->state = MISSED;
            s->since = t;
        }
    } else if (s->state == MISSED && t - s->since >= ZF_LISTING_TTL_NS) {
        s->since = t;
    } else if (s->state == MISSED || (s->state == READY && t - s->since >= ZF_LISTING_TTL_NS)) {
        /* a second miss, or a listing that was in use and has expired (a fresh one would have
         * answered) */
        free(s->slots);
        s->slots = NULL;
        s->cap = s->used = 0;
        s->state = FETCHING;
        s->since = t;
        s->token = ++tokens;
        memcpy(f->dir, path, n);
        f->dir[n] = '\0';
        f->slots = NULL;
        f->cap = f->used = f->seen = 0;
        f->token = s->token;
        f->too_big = false;
        fetch = true;
    }
    pthread_mutex_unlock(&mu);
    return fetch;
}

void zf_listing_fetch_name(struct zf_listing_fetch *f, const char *name, size_t len)
{
    if (f->too_big)
        return;
    if (++f->seen > 2 * ZF_LISTING_NAMES_MAX || f->used >= ZF_LISTING_NAMES_MAX ||
        !set_add(&f->slots, &f->cap, &f->used, name_hash(name, len)))
        f->too_big = true;
}

void zf_listing_fetch_done(struct zf_listing_fetch *f, bool complete)
{
    pthread_mutex_lock(&mu);
    struct slot *s = find(f->dir, strlen(f->dir));
    if (s && s->state == FETCHING && s->token == f->token) {
        if (f->too_big || !complete) { /* not worth reading again soon */
            free(s->slots);
            s->slots = NULL;
            s->cap = s->used = 0;
            s->state = TOO_BIG;
            s->since = now_ns();
        } else {
            /* the names read, with those added through the mount while it was read */
            bool ok = true;
            for (size_t i = 0; ok && i < s->cap; i++)
                if (s->slots[i])
                    ok = set_add(&f->slots, &f->cap, &f->used, s->slots[i]);
            if (ok) {
                free(s->slots);
                s->slots = f->slots;
                s->cap = f->cap;
                s->used = f->used;
                f->slots = NULL;
                s->state = READY;
            } else {
                slot_free(s);
            }
        }
    }
    pthread_mutex_unlock(&mu);
    free(f->slots);
    f->slots = NULL;
    f->cap = f->used = 0;
}
