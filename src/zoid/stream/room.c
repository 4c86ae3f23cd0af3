/*
 * Backpressure of the stream plugin without wasted sends: the line of producers that found a
 * stream full, the room each record needs, and grants (room held for one producer between the
 * wake that gives it and the push that uses it). Called with st->mu held. See zs_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "zs_int.h"

uint64_t zs_free_room(const struct zs_state *st, const struct zs_stream *s)
{
    uint64_t used = s->bytes + s->reserved;
    uint64_t room = used < s->limit ? s->limit - used : 0;
    uint64_t global = st->bytes < st->budget ? st->budget - st->bytes : 0;
    return global < room ? global : room;
}

uint64_t zs_room(const struct zs_state *st, const struct zs_stream *s)
{
    return s->blocked.n ? 0 : zs_free_room(st, s);
}

int zs_line_pos(const struct zs_stream *s, uintptr_t key)
{
    for (unsigned i = 0; i < s->blocked.n; i++)
        if ((uintptr_t)s->blocked.v[i] == key)
            return (int)i;
    return -1;
}

void zs_line_leave(struct zs_stream *s, uintptr_t key)
{
    struct zs_waitlist *w = &s->blocked;
    int i = zs_line_pos(s, key);
    if (i < 0)
        return;
    zoid_peer_put(w->v[i]);
    memmove(w->v + i, w->v + i + 1, (w->n - (unsigned)i - 1) * sizeof(*w->v));
    memmove(w->need + i, w->need + i + 1, (w->n - (unsigned)i - 1) * sizeof(*w->need));
    memmove(w->uid + i, w->uid + i + 1, (w->n - (unsigned)i - 1) * sizeof(*w->uid));
    w->n--;
}

static void drop_resv(struct zs_stream *s, unsigned i)
{
    s->reserved -= s->resv[i].bytes;
    s->resv[i] = s->resv[--s->nresv];
}

unsigned zs_resv_release(struct zs_stream *s, uintptr_t key)
{
    uint64_t now = s->nresv ? zs_now_ns() : 0;
    unsigned lapsed = 0;
    for (unsigned i = 0; i < s->nresv;)
        if (s->resv[i].key == key || s->resv[i].until_ns <= now) {
            lapsed += s->resv[i].key != key;
            drop_resv(s, i);
        } else {
            i++;
        }
    return lapsed;
}

bool zs_resv_held(const struct zs_stream *s, uintptr_t key)
{
    uint64_t now = s->nresv ? zs_now_ns() : 0;
    for (unsigned i = 0; i < s->nresv; i++)
        if (s->resv[i].key == key && s->resv[i].until_ns > now)
            return true;
    return false;
}

uint64_t zs_resv_grant(struct zs_stream *s, uintptr_t key, uint32_t uid, uint64_t bytes)
{
    zs_resv_release(s, key);
    uint64_t mine = 0, cap = s->limit / 2;
    bool others = false; /* another user holds or waits for room: the cap applies */
    for (unsigned i = 0; i < s->nresv; i++) {
        if (s->resv[i].uid == uid)
            mine += s->resv[i].bytes;
        else
            others = true;
    }
    for (unsigned i = 0; !others && i < s->blocked.n; i++)
        others = s->blocked.uid[i] != uid;
    if (!others)
        cap = s->limit;
    if (mine >= cap)
        return 0;
    if (bytes > cap - mine)
        bytes = cap - mine;
    if (s->nresv == s->capresv) {
        unsigned n = s->capresv ? 2 * s->capresv : 8;
        void *v = realloc(s->resv, n * sizeof(*s->resv));
        if (!v)
            return 0;
        s->resv = v;
        s->capresv = n;
    }
    s->resv[s->nresv++] = (struct zs_resv){key, uid, bytes, zs_now_ns() + ZS_RESV_NS};
    s->reserved += bytes;
    return bytes;
}

/* Moves the waiters whose client has gone to the front of the line (woken first: the wake
 * fails and lets them go, so that their departure is counted), keeping the others' order;
 * returns how many. */
static unsigned gone_first(struct zs_waitlist *w)
{
    unsigned g = 0;
    for (unsigned i = 0; i < w->n; i++) {
        if (!zoid_peer_gone(w->v[i]))
            continue;
        struct zoid_peer *p = w->v[i];
        uint32_t uid = w->uid[i];
        memmove(w->v + g + 1, w->v + g, (i - g) * sizeof(*w->v));
        memmove(w->need + g + 1, w->need + g, (i - g) * sizeof(*w->need));
        memmove(w->uid + g + 1, w->uid + g, (i - g) * sizeof(*w->uid));
        w->v[g] = p;
        w->need[g] = 0;
        w->uid[g] = uid;
        g++;
    }
    return g;
}

void zs_wait_take_fitting(struct zs_state *st, struct zs_stream *s, struct zs_waitlist *out)
{
    struct zs_waitlist *w = &s->blocked;
    *out = (struct zs_waitlist){0};
    zs_resv_release(s, 0); /* expired grants only */
    /* A producer that died in line must not hold it up (its need could be the whole stream). */
    unsigned k = gone_first(w);
    uint64_t room = zs_free_room(st, s);
    /* With several users in line, nobody waits for more than half the stream (a user that
     * asks for all of it must not hold the line up for the others). */
    bool mixed = false;
    for (unsigned i = k + 1; !mixed && i < w->n; i++)
        mixed = w->uid[i] != w->uid[k];
    while (k < w->n && (w->need[k] <= room || (mixed && room >= s->limit / 2))) {
        room -= w->need[k] <= room ? w->need[k] : room;
        if (s->policy == ZS_POLICY_BLOCK && s->reduce == ZS_REDUCE_NONE && w->need[k])
            zs_resv_grant(s, (uintptr_t)w->v[k], w->uid[k], w->need[k]); /* else: it retries */
        k++;
    }
    if (!k)
        return;
    if (k == w->n) {
        zs_wait_take(w, out);
        return;
    }
    out->v = malloc(k * sizeof(*out->v));
    if (!out->v) { /* wake them all rather than none */
        zs_wait_take(w, out);
        return;
    }
    memcpy(out->v, w->v, k * sizeof(*out->v));
    out->n = out->cap = k;
    memmove(w->v, w->v + k, (w->n - k) * sizeof(*w->v));
    memmove(w->need, w->need + k, (w->n - k) * sizeof(*w->need));
    memmove(w->uid, w->uid + k, (w->n - k) * sizeof(*w->uid));
    w->n -= k;
}

uint64_t zs_need(const struct zs_stream *s, const struct zs_push_rec *r)
{
    if (s->reduce == ZS_REDUCE_NONE)
        return sizeof(struct zs_rec) + r->len;
    if (s->naccs >= ZS_MAX_PENDING_STEP)
        return 0;
    for (const struct zs_acc *a = s->accs; a; a = a->next)
        if (a->step == r->step)
            return 0;
    uint64_t len = s->reduce == ZS_REDUCE_CONCAT ? (uint64_t)r->len * s->producers : r->len;
    return sizeof(struct zs_acc) + s->producers + len;
}
