/*
 * Departures: what each connection did to which stream (pushed which ranks, ended, read), kept
 * in its per-client slot of the daemon, and what its going away means (docs/zoid-stream.md,
 * "Departures"): a producer gone without its end counts as ended and departed (its ranks no
 * longer hold back reduced steps), a reader gone before the stream was drained is logged and
 * counted; nothing it left is dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zs_int.h"

#define MAX_NOTES                                                                                  \
    4096 /* streams one connection is remembered for (the daemon holds at most 4096) */
#define MAX_RANKS 4096

struct note {
    uint64_t sid;
    unsigned what; /* ZS_NOTE_* seen */
    uint32_t ends;
    uint32_t *ranks, nranks, cap;
    /* a cursor reader reading ahead (docs/zoid-stream.md, "Reading ahead"): */
    uint64_t sent;     /* the seq after the last record it was sent */
    uint32_t last_num; /* the number of the last read served in its turn */
    uint64_t early;    /* bit i: read number last_num + 1 + i was answered out of its turn */
};

struct zs_client {
    struct note *v;
    unsigned n, cap, last;
    char peer[80];
};

static struct note *find_note(struct zs_client *c, uint64_t sid)
{
    if (c->last < c->n && c->v[c->last].sid == sid)
        return &c->v[c->last];
    for (unsigned i = 0; i < c->n; i++)
        if (c->v[i].sid == sid) {
            c->last = i;
            return &c->v[i];
        }
    return NULL;
}

static void add_rank(struct note *n, uint32_t rank)
{
    for (uint32_t i = 0; i < n->nranks; i++)
        if (n->ranks[i] == rank)
            return;
    if (n->nranks >= MAX_RANKS)
        return;
    if (n->nranks == n->cap) {
        uint32_t cap = n->cap ? 2 * n->cap : 4;
        void *v = realloc(n->ranks, cap * sizeof(*n->ranks));
        if (!v)
            return; /* that rank then waits for the end of the stream, as before departures */
        n->ranks = v;
        n->cap = cap;
    }
    n->ranks[n->nranks++] = rank;
}

/* The connection's note of stream s, made on first use: NULL without memory. */
static struct note *note_of(struct zoid_call *call, const struct zs_stream *s)
{
    void **slot = zoid_call_client_state(call);
    struct zs_client *c = *slot;
    if (!c) {
        if (!(c = calloc(1, sizeof(*c))))
            return NULL;
        snprintf(c->peer, sizeof(c->peer), "%s", zoid_call_identity(call)->peer);
        *slot = c;
    }
    struct note *n = find_note(c, s->id);
    if (!n) {
        if (c->n >= MAX_NOTES)
            return NULL;
        if (c->n == c->cap) {
            unsigned cap = c->cap ? 2 * c->cap : 4;
            void *v = realloc(c->v, cap * sizeof(*c->v));
            if (!v)
                return NULL;
            c->v = v;
            c->cap = cap;
        }
        n = &c->v[c->n++];
        *n = (struct note){.sid = s->id};
        c->last = c->n - 1;
    }
    return n;
}

void zs_client_note(struct zs_state *st, struct zoid_call *call, const struct zs_stream *s,
                    unsigned what, const uint32_t *ranks, uint32_t nranks)
{
    (void)st;
    struct note *n = note_of(call, s);
    if (!n)
        return;
    n->what |= what;
    if (what & ZS_NOTE_END)
        n->ends++;
    for (uint32_t i = 0; s->gone && i < nranks; i++)
        add_rank(n, ranks[i]);
}

bool zs_client_read_turn(struct zoid_call *call, const struct zs_stream *s,
                         const struct zs_read_req *q, uint64_t *start)
{
    *start = q->from;
    struct note *n = note_of(call, s);
    if (!n || !(q->flags & ZS_READ_NUMBERED))
        return true;                             /* an unnumbered read starts at its cursor */
    uint32_t k = q->number, d = k - n->last_num; /* wraps after 2^32 reads, as the client's */
    if (!(q->flags & ZS_READ_AHEAD)) {           /* a read at the cursor: always in its turn */
        n->last_num = k;
        n->early = 0;
        return true;
    }
    if (d != 1) { /* early (an earlier one still to come), or after a later one: not served */
        if (d >= 2 && d <= 64)
            n->early |= 1ull << (d - 1);
        return false;
    }
    n->last_num = k;
    n->early >>= 1;
    while (n->early & 1) { /* the reads answered early behind it have had their turn */
        n->last_num++;
        n->early >>= 1;
    }
    if (n->sent > *start)
        *start = n->sent;
    return true;
}

void zs_client_read_sent(struct zoid_call *call, const struct zs_stream *s, uint64_t next)
{
    struct note *n = note_of(call, s);
    if (n)
        n->sent = next;
}

static struct zs_stream *by_id(struct zs_state *st, uint64_t sid)
{
    for (unsigned i = 0; i < st->n; i++)
        if (st->v[i]->id == sid)
            return st->v[i];
    return NULL;
}

void zs_client_gone(void *plugin_state, void *client_state)
{
    struct zs_state *st = plugin_state;
    struct zs_client *c = client_state;
    if (!st || !c)
        return;
    pthread_mutex_lock(&st->mu);
    for (unsigned i = 0; i < c->n; i++) {
        struct note *n = &c->v[i];
        struct zs_stream *s = by_id(st, n->sid);
        if (!s)
            continue; /* deleted meanwhile */
        if ((n->what & ZS_NOTE_PUSH) && !n->ends && !zs_ended(s)) {
            zs_producer_departed(st, s, n->ranks, n->nranks);
            if (st->host)
                zoid_host_log(st->host, ZOID_LOG_WARN,
                              "stream %s: producer %s departed without its end (%u ranks); "
                              "counted as ended (%u of %u ended, %u departed)%s",
                              s->name, c->peer, n->nranks, s->eofs, s->producers ? s->producers : 1,
                              s->departed, zs_ended(s) ? ": the stream has ended" : "");
            struct zs_waitlist wake;
            zs_wait_take(&s->consumers, &wake);
            /* woken outside the lock: the names are copied, the stream may go meanwhile */
            char name[ZS_NAME_MAX + 1];
            memcpy(name, s->name, sizeof(name));
            pthread_mutex_unlock(&st->mu);
            zs_wake(&wake, name);
            pthread_mutex_lock(&st->mu);
            if (!(s = by_id(st, n->sid)))
                continue;
        }
        if ((n->what & ZS_NOTE_READ) && (s->head || !zs_ended(s))) {
            s->consumers_departed++;
            if (st->host)
                zoid_host_log(st->host, ZOID_LOG_WARN,
                              "stream %s: consumer %s departed with %u records (%llu bytes) "
                              "unacknowledged from seq %llu; kept for the next reader (policy "
                              "%s when full)",
                              s->name, c->peer, s->nrecs, (unsigned long long)s->bytes,
                              (unsigned long long)(s->head ? s->head->seq : s->next_seq),
                              s->policy == ZS_POLICY_BLOCK   ? "block: producers wait"
                              : s->policy == ZS_POLICY_ERROR ? "error: pushes fail with ENOBUFS"
                                                             : "drop: oldest dropped, counted");
        }
    }
    pthread_mutex_unlock(&st->mu);
    for (unsigned i = 0; i < c->n; i++)
        free(c->v[i].ranks);
    free(c->v);
    free(c);
}
