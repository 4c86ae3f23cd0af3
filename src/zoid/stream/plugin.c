/*
 * The built-in `stream` plugin (id 14) of `zepto zoid serve`: named streams that producers push
 * records into and consumers read, with fan-in reduction, bounded memory and backpressure
 * (docs/zoid-stream.md). No function ever blocks: a full stream answers EAGAIN and an empty one
 * answers no records, and the client is woken by an async frame when that changes, so waiting
 * producers and consumers hold no daemon thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zs_int.h"

/* Records at least this large go into a read reply without a copy (smaller ones are copied:
 * cheaper than one more iovec and reference each). */
#define BULK_MIN 2048u

static bool allowed(const struct zs_stream *s, const struct zoid_identity *id)
{
    return s->shared || id->uid == s->owner || id->uid == 0;
}

/* Finds name for the caller under st->mu: the stream, or NULL with *rc set. */
static struct zs_stream *lookup(struct zs_state *st, struct zoid_call *call, const char *name,
                                int *rc)
{
    struct zs_stream *s = zs_find(st, name);
    if (!s)
        *rc = -ENOENT;
    else if (!allowed(s, zoid_call_identity(call))) {
        *rc = -EACCES;
        s = NULL;
    }
    return s;
}

static void put64(unsigned char **p, uint64_t v)
{
    memcpy(*p, &v, 8);
    *p += 8;
}
static void put32(unsigned char **p, uint32_t v)
{
    memcpy(*p, &v, 4);
    *p += 4;
}

static int fn_open(struct zoid_call *call, const void *payload, size_t len)
{
    struct zs_state *st = zoid_call_plugin_state(call);
    struct zs_open_req o;
    int rc = zs_decode_open(payload, len, &o);
    if (rc)
        return rc;
    if (o.reduce >= ZS_REDUCE_N || o.policy >= ZS_POLICY_N || o.producers > ZS_MAX_PRODUCERS ||
        (o.reduce != ZS_REDUCE_NONE && o.producers == 0) ||
        (o.limit && (o.limit < ZS_MIN_LIMIT || o.limit > ZS_MAX_LIMIT)))
        return -EINVAL;
    const struct zs_reduction *red = NULL;
    if (o.reduce == ZS_REDUCE_NAMED && !(red = zs_reduction_find(o.rname)))
        return -ENOPROTOOPT;
    const struct zoid_identity *id = zoid_call_identity(call);
    pthread_mutex_lock(&st->mu);
    struct zs_stream *s = zs_find(st, o.name);
    if (s && (o.flags & 1u) && (o.flags & 4u))
        rc = -EEXIST;
    else if (s && !allowed(s, id))
        rc = -EACCES;
    else if (!s && !(o.flags & 1u))
        rc = -ENOENT;
    else if (!s) {
        unsigned mine = 0;
        for (unsigned i = 0; i < st->n; i++)
            mine += st->v[i]->owner == id->uid;
        if (st->n >= ZS_MAX_STREAMS)
            rc = -ENOSPC;
        else if (mine >= ZS_MAX_STREAMS_UID)
            rc = -EDQUOT;
        else if (!(s = zs_create(st, &o, id->uid)))
            rc = -ENOMEM;
        else {
            s->red = red;
            zoid_call_log(call, ZOID_LOG_INFO,
                          "stream %s: created by uid %u (%u producers, reduce %u, limit %llu)",
                          s->name, id->uid, s->producers, s->reduce, (unsigned long long)s->limit);
        }
    }
    if (!rc && (o.flags & ZS_OPEN_PRODUCER)) {
        /* known as a producer from now on: its departure counts even before a first push */
        uint32_t rank = o.rank;
        zs_client_note(st, call, s, ZS_NOTE_PUSH, &rank, o.rank != ZS_NO_RANK ? 1 : 0);
    }
    unsigned char out[32], *p = out;
    if (!rc) {
        put64(&p, s->next_seq);
        put64(&p, s->head ? s->head->seq : s->next_seq);
        put64(&p, s->limit);
        put32(&p, s->producers);
        put32(&p, s->reduce);
    }
    pthread_mutex_unlock(&st->mu);
    return rc ? rc : zoid_reply_append(call, out, sizeof(out));
}

static int fn_push(struct zoid_call *call, const void *payload, size_t len)
{
    struct zs_state *st = zoid_call_plugin_state(call);
    uint32_t flags;
    char name[ZS_NAME_MAX + 1];
    struct zs_reader recs, check;
    int rc = zs_decode_push(payload, len, &flags, name, &recs);
    if (rc)
        return rc;
    struct zs_push_rec r;
    struct zs_reader check_start = recs;
    check = recs;
    uint32_t nrec = 0;
    while ((rc = zs_next_rec(&check, &r)) > 0)
        nrec++;
    if (rc < 0)
        return rc; /* a malformed batch is refused whole */
    uint32_t accepted = 0, queued = 0;
    bool give_back = false;
    struct zs_waitlist wake = {0}, lapsed = {0};
    pthread_mutex_lock(&st->mu);
    struct zs_stream *s = lookup(st, call, name, &rc);
    if (s && zs_ended(s))
        rc = -EPIPE;
    if (s && !rc) { /* this connection is a producer of s (its ranks: for departures) */
        zs_client_note(st, call, s, ZS_NOTE_PUSH, NULL, 0);
        for (struct zs_reader k = recs; s->gone && zs_next_rec(&k, &r) > 0;)
            zs_client_note(st, call, s, 0, &r.rank, 1);
    }
    uintptr_t key = 0; /* lines and grants: plain streams (a reduced step's later slices need
                          no room, and must never wait behind a slice that does) */
    if (s && !rc && s->policy == ZS_POLICY_BLOCK && s->reduce == ZS_REDUCE_NONE) {
        struct zoid_peer *me = zoid_peer_get(call);
        key = (uintptr_t)me;
        zoid_peer_put(me); /* only compared, never used */
        bool granted = zs_resv_held(s, key);
        /* its records use that room now; lapsed grants' room goes to the line at the end (not
         * now: that could wake this very producer out of its place in the line) */
        give_back = zs_resv_release(s, key) > 0;
        /* Producers wait in line before it: no overtaking them (unless the line is full: then
         * a producer cannot join it, and tries as it comes). */
        if (!granted && s->blocked.n && s->blocked.n < ZS_MAX_WAITERS && zs_line_pos(s, key) != 0 &&
            zs_next_rec(&recs, &r) > 0)
            rc = -EAGAIN;
        else
            recs = check_start;
    }
    /* a record alone in its push keeps the request's memory when large (no copy) */
    struct zoid_call *adopt = nrec == 1 ? call : NULL;
    while (s && !rc && zs_next_rec(&recs, &r) > 0) {
        rc = zs_accept(st, s, &r, adopt);
        if (!rc)
            accepted++;
    }
    if (key && accepted)
        zs_line_leave(s, key); /* served (what it still has goes to the end of the line) */
    bool plain = s && s->reduce == ZS_REDUCE_NONE;
    if (s && rc == -EAGAIN && (!accepted || (plain && (flags & ZS_PUSH_WAITS)))) {
        /* Full: this producer waits in line until its whole remainder fits (a wake for a part
         * of it would have it send the rest again and again); counted as refused. */
        queued = 1;
        uint64_t need = plain ? zs_need(s, &r) : 0, bytes = r.len;
        for (struct zs_reader k = recs; zs_next_rec(&k, &r) > 0; bytes += r.len)
            if (plain) /* a reduced stream's producers are all woken by any room (as before) */
                need += zs_need(s, &r);
        s->refused_pushes++;
        s->refused_bytes += bytes;
        zs_wait_add(&s->blocked, zoid_peer_get(call), need < s->limit ? need : s->limit,
                    zoid_call_identity(call)->uid);
        if (!s->full_logged) {
            s->full_logged = true;
            zoid_call_log(call, ZOID_LOG_WARN,
                          "stream %s: full (%llu of %llu bytes); producers wait; its consumer "
                          "last read %.1f s ago",
                          s->name, (unsigned long long)s->bytes, (unsigned long long)s->limit,
                          (double)(zs_now_ns() - s->last_read_ns) / 1e9);
        }
    }
    bool all = s && !rc; /* every record taken: only then does an end count */
    if (s && accepted)
        rc = 0;
    if (all && (flags & ZS_PUSH_EOF)) {
        zs_client_note(st, call, s, ZS_NOTE_END, NULL, 0);
        zs_producer_done(st, s);
    }
    if (s && (accepted || zs_ended(s)))
        zs_wait_take(&s->consumers, &wake);
    uint64_t room = s ? zs_room(st, s) : 0;
    if (all && key && (flags & ZS_PUSH_WAITS) && !(flags & ZS_PUSH_EOF) && accepted) {
        /* credit: room for a next push as large as this one, held for this producer */
        uint64_t next = len + (uint64_t)accepted * sizeof(struct zs_rec), got = 0;
        if (room >= next && (got = zs_resv_grant(s, key, zoid_call_identity(call)->uid, next))) {
            queued = got == next ? 2 : 0;
            room -= got;
        }
    }
    if (give_back)
        zs_wait_take_fitting(st, s, &lapsed);
    pthread_mutex_unlock(&st->mu);
    zs_wake(&wake, name);
    zs_wake(&lapsed, name);
    if (rc)
        return rc;
    rc = zoid_reply_append(call, &accepted, sizeof(accepted));
    if (!rc && (flags & ZS_PUSH_WAITS)) {
        unsigned char more[12];
        memcpy(more, &queued, 4);
        memcpy(more + 4, &room, 8);
        rc = zoid_reply_append(call, more, sizeof(more));
    }
    return rc;
}

static bool key_match(const struct zs_read_req *q, const struct zs_rec *r)
{
    return q->key_mod == 0 || r->step % q->key_mod == q->key_val;
}

static int fn_read(struct zoid_call *call, const void *payload, size_t len)
{
    struct zs_state *st = zoid_call_plugin_state(call);
    struct zs_read_req q;
    int rc = zs_decode_read(payload, len, &q);
    if (rc)
        return rc;
    if (q.key_mod && q.key_val >= q.key_mod)
        return -EINVAL;
    struct zs_waitlist wake = {0};
    struct zs_rec **got = NULL;
    unsigned n = 0, cap = 0;
    bool freed = false, take = (q.flags & ZS_READ_TAKE) != 0;
    pthread_mutex_lock(&st->mu);
    struct zs_stream *s = lookup(st, call, q.name, &rc);
    if (!s)
        goto out;
    zs_client_note(st, call, s, ZS_NOTE_READ, NULL, 0);
    uint64_t start = q.from;
    bool served = take || zs_client_read_turn(call, s, &q, &start);
    s->last_read_ns = zs_now_ns();
    if (!take)
        while (s->head && s->head->seq < q.from) { /* acknowledged: gone */
            struct zs_rec *r = s->head;
            s->head = r->next;
            if (!s->head)
                s->tail = NULL;
            zs_free_rec(st, s, r);
            freed = true;
        }
    uint64_t bytes = ZS_READ_HDR;
    struct zs_rec **first = &s->head;
    if (!take && s->cursor && s->cursor->seq < start)
        first = &s->cursor->next; /* it and all before it are below start */
    for (struct zs_rec **pp = first, *r; served && (r = *pp);) {
        if ((take && !key_match(&q, r)) || (!take && r->seq < start)) {
            pp = &r->next;
            continue;
        }
        if (bytes + ZS_OUT_HDR + r->len > q.max_bytes) {
            if (!n)
                rc = -EMSGSIZE;
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            void *v = realloc(got, cap * sizeof(*got));
            if (!v) {
                rc = -ENOMEM;
                break;
            }
            got = v;
        }
        got[n++] = r;
        bytes += ZS_OUT_HDR + r->len;
        if (take) { /* unlinked now, freed once copied */
            *pp = r->next;
            if (s->tail == r) {
                s->tail = NULL;
                for (struct zs_rec *t = s->head; t; t = t->next)
                    s->tail = t;
            }
        } else
            pp = &r->next;
    }
    if (!take && served && !rc)
        zs_client_read_sent(call, s, n ? got[n - 1]->seq + 1 : start);
    if (!take && n)
        s->cursor = got[n - 1];
    uint32_t flags = !served ? ZS_R_UNSERVED : (!n && zs_ended(s)) ? ZS_R_EOF : 0;
    unsigned char hdr[ZS_READ_HDR], *p = hdr;
    put64(&p, s->head ? s->head->seq : s->next_seq);
    put64(&p, s->next_seq);
    put32(&p, flags | ZS_R_AHEAD);
    put32(&p, s->departed);
    if (!rc)
        rc = zoid_reply_append(call, hdr, sizeof(hdr));
    for (unsigned i = 0; i < n; i++) {
        struct zs_rec *r = got[i];
        unsigned char oh[ZS_OUT_HDR], *o = oh;
        put64(&o, r->seq);
        put64(&o, r->step);
        put32(&o, r->rank);
        put32(&o, r->len);
        if (!rc)
            rc = zoid_reply_append(call, oh, sizeof(oh));
        if (!rc && r->len < BULK_MIN)
            rc = zoid_reply_append(call, r->data, r->len);
        else if (!rc) { /* sent from the record itself, which the reply holds until then */
            atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
            rc = zoid_reply_bulk(call, r->data, r->len, zs_rec_unref, r);
        }
        if (take) {
            zs_free_rec(st, s, r);
            freed = true;
        }
    }
    s->delivered += n;
    if (!n && !flags && !rc)
        zs_wait_add(&s->consumers, zoid_peer_get(call), 0, 0);
    if (freed) {
        s->full_logged = false;
        zs_wait_take_fitting(st, s, &wake);
    }
out:
    pthread_mutex_unlock(&st->mu);
    free(got);
    zs_wake(&wake, q.name);
    return rc;
}

/* Room for the next push of this connection, asked before sending it once the stream is nearly
 * full (zs_int.h, "Backpressure without wasted sends"): granted now, or a place in line and a
 * wake with the grant. */
static int fn_reserve(struct zoid_call *call, const void *payload, size_t len)
{
    struct zs_state *st = zoid_call_plugin_state(call);
    struct zs_reader q = {payload, len, false};
    uint32_t nrec = zs_u32(&q);
    uint64_t bytes = zs_u64(&q);
    char name[ZS_NAME_MAX + 1];
    int rc = q.bad ? -EPROTO : zs_get_name(&q, name);
    if (!rc && q.left)
        rc = -EPROTO;
    if (rc)
        return rc;
    uint32_t granted = 1;
    uint64_t room = 0;
    struct zs_waitlist lapsed = {0};
    pthread_mutex_lock(&st->mu);
    struct zs_stream *s = lookup(st, call, name, &rc);
    if (s && zs_ended(s))
        rc = -EPIPE;
    if (s && !rc && s->policy == ZS_POLICY_BLOCK && s->reduce == ZS_REDUCE_NONE) {
        uint64_t need = bytes + (uint64_t)nrec * sizeof(struct zs_rec);
        if (need > s->limit || bytes > s->limit)
            need = s->limit;
        struct zoid_peer *me = zoid_peer_get(call);
        uintptr_t key = (uintptr_t)me;
        /* Asking again before using a grant goes to the end of the line: a connection that
         * keeps asking and never pushes cannot hold the stream's room for itself. */
        bool again = zs_resv_held(s, key);
        bool give_back = zs_resv_release(s, key) > 0 || again;
        int pos = zs_line_pos(s, key); /* first in line, or nobody waits: its turn */
        if (!again && (pos == 0 || !s->blocked.n) && zs_free_room(st, s) >= need) {
            /* its turn: room held for it (less, or none, when its uid holds half the stream
             * already: its push then takes what is free, as anyone's) */
            zs_resv_grant(s, key, zoid_call_identity(call)->uid, need);
            zs_line_leave(s, key);
            zoid_peer_put(me);
        } else {
            granted = 0;
            zs_wait_add(&s->blocked, me, need, zoid_call_identity(call)->uid);
        }
        if (give_back) /* room given back (its own or lapsed grants): to the line */
            zs_wait_take_fitting(st, s, &lapsed);
    }
    if (s && !rc)
        room = zs_room(st, s);
    pthread_mutex_unlock(&st->mu);
    zs_wake(&lapsed, name);
    if (rc)
        return rc;
    unsigned char out[12];
    memcpy(out, &granted, 4);
    memcpy(out + 4, &room, 8);
    return zoid_reply_append(call, out, sizeof(out));
}

/* The request of stat and delete: a name and nothing else. 0 or a negative errno. */
static int read_name_request(const void *payload, size_t len, char name[ZS_NAME_MAX + 1])
{
    struct zs_reader r = {payload, len, false};
    int rc = zs_get_name(&r, name);
    if (!rc && r.left)
        rc = -EPROTO;
    return rc;
}

static int fn_stat(struct zoid_call *call, const void *payload, size_t len)
{
    struct zs_state *st = zoid_call_plugin_state(call);
    char name[ZS_NAME_MAX + 1];
    int rc = read_name_request(payload, len, name);
    if (rc)
        return rc;
    unsigned char out[ZS_STAT_LEN], *p = out;
    pthread_mutex_lock(&st->mu);
    struct zs_stream *s = lookup(st, call, name, &rc);
    if (s) {
        uint64_t now = zs_now_ns();
        put64(&p, s->next_seq);
        put64(&p, s->head ? s->head->seq : s->next_seq);
        put64(&p, s->bytes);
        put64(&p, s->limit);
        put64(&p, s->dropped);
        put64(&p, s->pushed);
        put64(&p, s->delivered);
        put64(&p, (now - s->last_read_ns) / 1000000u);
        put64(&p, st->bytes);
        put32(&p, s->nrecs);
        put32(&p, s->producers);
        put32(&p, s->eofs);
        put32(&p, s->consumers.n);
        put32(&p, s->blocked.n);
        put32(&p, s->naccs);
        put32(&p, s->owner);
        put32(&p, (s->shared ? 1u : 0u) | (zs_ended(s) ? 2u : 0u));
        put32(&p, s->departed);
        put32(&p, s->consumers_departed);
        put64(&p, s->refused_pushes);
        put64(&p, s->refused_bytes);
    }
    pthread_mutex_unlock(&st->mu);
    return rc ? rc : zoid_reply_append(call, out, sizeof(out));
}

static int fn_delete(struct zoid_call *call, const void *payload, size_t len)
{
    struct zs_state *st = zoid_call_plugin_state(call);
    char name[ZS_NAME_MAX + 1];
    int rc = read_name_request(payload, len, name);
    if (rc)
        return rc;
    struct zs_waitlist a = {0}, b = {0};
    const struct zoid_identity *id = zoid_call_identity(call);
    pthread_mutex_lock(&st->mu);
    struct zs_stream *s = zs_find(st, name);
    if (!s)
        rc = -ENOENT;
    else if (id->uid != s->owner && id->uid != 0)
        rc = -EACCES;
    else {
        zs_wait_take(&s->consumers, &a);
        zs_wait_take(&s->blocked, &b);
        zs_destroy(st, s);
    }
    pthread_mutex_unlock(&st->mu);
    zs_wake(&a, name);
    zs_wake(&b, name);
    return rc;
}

static int init(struct zoid_host *host)
{
    struct zs_state *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    pthread_mutex_init(&st->mu, NULL);
    st->budget = ZS_GLOBAL_BUDGET;
    const char *b = getenv("ZOID_STREAM_BUDGET_MB");
    if (b && atoi(b) > 0)
        st->budget = (uint64_t)atoi(b) << 20;
    st->host = host;
    host->plugin_state = st;
    return 0;
}

static void fini(void *state)
{
    struct zs_state *st = state;
    if (!st)
        return;
    while (st->n) {
        struct zs_stream *s = st->v[0];
        struct zs_waitlist a, b;
        zs_wait_take(&s->consumers, &a);
        zs_wait_take(&s->blocked, &b);
        for (unsigned i = 0; i < a.n; i++)
            zoid_peer_put(a.v[i]);
        for (unsigned i = 0; i < b.n; i++)
            zoid_peer_put(b.v[i]);
        free(a.v);
        free(a.need);
        free(a.uid);
        free(b.v);
        free(b.need);
        free(b.uid);
        zs_destroy(st, s);
    }
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static const zoid_fn functions[ZS_FUNCTIONS] = {fn_open, fn_push,   fn_read,
                                                fn_stat, fn_delete, fn_reserve};
static const char *const names[ZS_FUNCTIONS] = {"open", "push",   "read",
                                                "stat", "delete", "reserve"};

static const struct zoid_plugin plugin = {
    .api = ZOID_PLUGIN_API,
    .id = ZS_PLUGIN_ID,
    .name = "stream",
    .nfunctions = ZS_FUNCTIONS,
    .functions = functions,
    .function_names = names,
    .init = init,
    .fini = fini,
    .client_gone = zs_client_gone,
};

const struct zoid_plugin *zoid_stream_plugin_register(void);
const struct zoid_plugin *zoid_stream_plugin_register(void)
{
    return &plugin;
}
