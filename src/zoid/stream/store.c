/*
 * The streams themselves: creation, the bounded queue of records, the fan-in reduction of one
 * time step from every producer (sum, concatenate or a plugin's reduction), memory accounting
 * against the stream's limit and the daemon-wide budget, and the lists of clients to wake. Called
 * with st->mu held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zs_int.h"

uint64_t zs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct zs_stream *zs_find(struct zs_state *st, const char *name)
{
    for (unsigned i = 0; i < st->n; i++)
        if (!strcmp(st->v[i]->name, name))
            return st->v[i];
    return NULL;
}

struct zs_stream *zs_create(struct zs_state *st, const struct zs_open_req *o, uint32_t uid)
{
    struct zs_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (o->producers) {
        s->last_step = calloc(o->producers, sizeof(*s->last_step));
        if (!s->last_step) {
            free(s);
            return NULL;
        }
        if (o->reduce != ZS_REDUCE_NONE && !(s->gone = calloc(o->producers, 1))) {
            free(s->last_step);
            free(s);
            return NULL;
        }
    }
    s->id = ++st->next_id;
    memcpy(s->name, o->name, sizeof(s->name));
    s->owner = uid;
    s->shared = (o->flags & 2u) != 0;
    s->producers = o->producers;
    s->reduce = o->reduce;
    s->policy = o->policy;
    s->limit = o->limit ? o->limit : ZS_DEFAULT_LIMIT;
    s->created_ns = s->last_read_ns = zs_now_ns();
    st->v[st->n++] = s;
    return s;
}

static void free_acc(struct zs_state *st, struct zs_stream *s, struct zs_acc *a)
{
    s->bytes -= a->bytes;
    st->bytes -= a->bytes;
    free(a->got);
    free(a->buf);
    free(a);
}

void zs_rec_unref(void *p)
{
    struct zs_rec *r = p;
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
        free(r->frame);
        free(r);
    }
}

void zs_free_rec(struct zs_state *st, struct zs_stream *s, struct zs_rec *r)
{
    uint64_t b = sizeof(*r) + r->len;
    s->bytes -= b;
    st->bytes -= b;
    s->nrecs--;
    if (s->cursor == r)
        s->cursor = NULL;
    zs_rec_unref(r); /* a reply still sending it keeps it until it is sent */
}

void zs_destroy(struct zs_state *st, struct zs_stream *s)
{
    for (unsigned i = 0; i < st->n; i++)
        if (st->v[i] == s) {
            st->v[i] = st->v[--st->n];
            break;
        }
    while (s->head) {
        struct zs_rec *r = s->head;
        s->head = r->next;
        zs_free_rec(st, s, r);
    }
    while (s->accs) {
        struct zs_acc *a = s->accs;
        s->accs = a->next;
        free_acc(st, s, a);
    }
    free(s->consumers.v);
    free(s->consumers.need);
    free(s->consumers.uid);
    free(s->blocked.v);
    free(s->blocked.need);
    free(s->blocked.uid);
    free(s->resv);
    free(s->last_step);
    free(s->gone);
    free(s);
}

/* Whether bytes more fit; with policy drop, the oldest records are dropped to make room. */
static bool make_room(struct zs_state *st, struct zs_stream *s, uint64_t need)
{
    while (s->bytes + s->reserved + need > s->limit || st->bytes + need > st->budget) {
        if (s->policy != ZS_POLICY_DROP || !s->head)
            return false;
        struct zs_rec *r = s->head;
        s->head = r->next;
        if (!s->head)
            s->tail = NULL;
        s->dropped++;
        zs_free_rec(st, s, r);
    }
    return true;
}

static int append(struct zs_state *st, struct zs_stream *s, uint64_t step, uint32_t rank,
                  const void *data, uint32_t len, bool counted, struct zoid_call *adopt)
{
    uint64_t need = sizeof(struct zs_rec) + len;
    if (!counted && !make_room(st, s, need))
        return s->policy == ZS_POLICY_ERROR ? -ENOBUFS : -EAGAIN;
    bool keep = adopt && len >= ZS_ADOPT_MIN;
    struct zs_rec *r = malloc(sizeof(*r) + (keep ? 0 : len));
    if (!r)
        return -ENOMEM;
    r->frame = keep ? zoid_call_take_payload(adopt) : NULL;
    r->data = r->frame ? (unsigned char *)data : r->inline_data;
    if (!r->frame && keep) { /* not handed over: copy after all */
        struct zs_rec *b = realloc(r, sizeof(*r) + len);
        if (!b) {
            free(r);
            return -ENOMEM;
        }
        r = b;
        r->data = r->inline_data;
    }
    if (!r->frame)
        memcpy(r->data, data, len);
    r->next = NULL;
    atomic_init(&r->refs, 1);
    r->seq = s->next_seq++;
    r->step = step;
    r->rank = rank;
    r->len = len;
    if (s->tail)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    s->nrecs++;
    s->bytes += need;
    st->bytes += need;
    s->pushed++;
    return 0;
}

/* A finished (or, at the end, unfinished) step goes out as one record; rank = contributions. */
static int emit_acc(struct zs_state *st, struct zs_stream *s, struct zs_acc *a)
{
    uint64_t len = s->reduce == ZS_REDUCE_CONCAT ? (uint64_t)a->len * s->producers : a->len;
    if (s->reduce == ZS_REDUCE_NAMED && !a->failed && s->red->finish) {
        long n = s->red->finish(a->buf, a->len, a->have, s->red->arg);
        if (n < 0 || (uint64_t)n > a->len)
            a->failed = true;
        else
            len = (uint64_t)n;
    }
    int rc = 0;
    if (a->failed) { /* the step becomes a gap in the sequence: consumers see it as lost */
        s->next_seq++;
        s->failed_steps++;
        if (st->host)
            zoid_host_log(st->host, ZOID_LOG_WARN,
                          "stream %s: reduction %s (plugin %s) failed on step %llu: a gap", s->name,
                          s->red->name, s->red->plugin, (unsigned long long)a->step);
    } else /* the accumulator's memory is already counted: no room check */
        rc = append(st, s, a->step, a->have, a->buf, (uint32_t)len, true, NULL);
    if (rc)
        return rc;
    /* append counted the record; the accumulator's share goes when it is freed */
    for (struct zs_acc **pp = &s->accs; *pp; pp = &(*pp)->next)
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    s->naccs--;
    free_acc(st, s, a);
    return 0;
}

static void combine(uint8_t op, unsigned char *dst, const unsigned char *src, uint32_t len)
{
    if (op == ZS_REDUCE_SUM_F64) {
        for (uint32_t i = 0; i + 8 <= len; i += 8) {
            double a, b;
            memcpy(&a, dst + i, 8);
            memcpy(&b, src + i, 8);
            a += b;
            memcpy(dst + i, &a, 8);
        }
    } else {
        for (uint32_t i = 0; i + 8 <= len; i += 8) {
            uint64_t a, b;
            memcpy(&a, dst + i, 8);
            memcpy(&b, src + i, 8);
            a += b;
            memcpy(dst + i, &a, 8);
        }
    }
}

/* Whether step a has a slice of every rank whose producer has not departed. */
static bool complete(const struct zs_stream *s, const struct zs_acc *a)
{
    uint32_t missing_gone = 0;
    if (s->ngone)
        for (uint32_t i = 0; i < s->producers; i++)
            missing_gone += s->gone[i] && !a->got[i];
    return a->have + missing_gone >= s->producers;
}

static int reduce(struct zs_state *st, struct zs_stream *s, const struct zs_push_rec *r)
{
    if (r->rank >= s->producers)
        return -EINVAL;
    if (s->gone[r->rank])
        return -EPIPE; /* its producer departed: the rank's steps no longer wait for it */
    if (s->last_step[r->rank] && r->step < s->last_step[r->rank])
        return -EINVAL; /* a producer's steps go forward (its order is kept) */
    if ((s->reduce == ZS_REDUCE_SUM_F64 || s->reduce == ZS_REDUCE_SUM_I64) && r->len % 8)
        return -EINVAL;
    struct zs_acc *a = s->accs;
    while (a && a->step != r->step)
        a = a->next;
    if (a && a->got[r->rank])
        return -EEXIST;
    if (a && a->len != r->len)
        return -EINVAL;
    if (!a) {
        uint64_t len = s->reduce == ZS_REDUCE_CONCAT ? (uint64_t)r->len * s->producers : r->len;
        uint64_t need = sizeof(*a) + s->producers + len;
        if (len > UINT32_MAX || need > s->limit)
            return -EMSGSIZE;
        if (s->naccs >= ZS_MAX_PENDING_STEP || !make_room(st, s, need))
            return s->policy == ZS_POLICY_ERROR ? -ENOBUFS : -EAGAIN;
        a = calloc(1, sizeof(*a));
        if (a) {
            a->got = calloc(s->producers, 1);
            a->buf = calloc(1, len ? len : 1);
        }
        if (!a || !a->got || !a->buf) {
            if (a) {
                free(a->got);
                free(a->buf);
            }
            free(a);
            return -ENOMEM;
        }
        a->step = r->step;
        a->len = r->len;
        a->bytes = need;
        s->bytes += need;
        st->bytes += need;
        a->next = s->accs;
        s->accs = a;
        s->naccs++;
    }
    if (s->reduce == ZS_REDUCE_CONCAT)
        memcpy(a->buf + (size_t)r->rank * r->len, r->data, r->len);
    else if (a->have == 0)
        memcpy(a->buf, r->data, r->len);
    else if (s->reduce == ZS_REDUCE_NAMED) {
        if (!a->failed && s->red->combine(a->buf, r->data, r->len, s->red->arg) < 0)
            a->failed = true;
    } else
        combine(s->reduce, a->buf, r->data, r->len);
    a->got[r->rank] = 1;
    a->have++;
    s->last_step[r->rank] = r->step + 1;
    if (complete(s, a))
        return emit_acc(st, s, a);
    return 0;
}

int zs_accept(struct zs_state *st, struct zs_stream *s, const struct zs_push_rec *r,
              struct zoid_call *adopt)
{
    if ((uint64_t)r->len + sizeof(struct zs_rec) > s->limit)
        return -EMSGSIZE;
    if (s->reduce != ZS_REDUCE_NONE)
        return reduce(st, s, r);
    if (s->producers) {
        if (r->rank >= s->producers)
            return -EINVAL;
    }
    return append(st, s, r->step, r->rank, r->data, r->len, false, adopt);
}

bool zs_ended(const struct zs_stream *s)
{
    return s->eofs >= (s->producers ? s->producers : 1);
}

void zs_producer_done(struct zs_state *st, struct zs_stream *s)
{
    s->eofs++;
    if (!zs_ended(s))
        return;
    /* Steps some producer never contributed to: out as they are, oldest first. */
    while (s->accs) {
        struct zs_acc *oldest = s->accs;
        for (struct zs_acc *a = s->accs; a; a = a->next)
            if (a->step < oldest->step)
                oldest = a;
        if (emit_acc(st, s, oldest))
            break;
    }
}

void zs_producer_departed(struct zs_state *st, struct zs_stream *s, const uint32_t *ranks,
                          uint32_t nranks)
{
    s->departed++;
    for (uint32_t i = 0; s->gone && i < nranks; i++)
        if (ranks[i] < s->producers && !s->gone[ranks[i]]) {
            s->gone[ranks[i]] = 1;
            s->ngone++;
        }
    /* Steps now complete without the departed ranks: out, oldest first. */
    for (;;) {
        struct zs_acc *oldest = NULL;
        for (struct zs_acc *a = s->accs; a; a = a->next)
            if (complete(s, a) && (!oldest || a->step < oldest->step))
                oldest = a;
        if (!oldest || emit_acc(st, s, oldest))
            break;
    }
    zs_producer_done(st, s);
}

void zs_wait_add(struct zs_waitlist *w, struct zoid_peer *peer, uint64_t need, uint32_t uid)
{
    for (unsigned i = 0; i < w->n; i++)
        if (w->v[i] == peer) { /* keeps its place in the line */
            w->need[i] = need;
            zoid_peer_put(peer);
            return;
        }
    if (w->n >= ZS_MAX_WAITERS) {
        zoid_peer_put(peer); /* the client's own re-poll (1 s) still finds the change */
        return;
    }
    if (w->n == w->cap) {
        unsigned cap = w->cap ? 2 * w->cap : 8;
        void *v = realloc(w->v, cap * sizeof(*w->v));
        if (v)
            w->v = v;
        void *n = v ? realloc(w->need, cap * sizeof(*w->need)) : NULL;
        if (n)
            w->need = n;
        void *u = n ? realloc(w->uid, cap * sizeof(*w->uid)) : NULL;
        if (!u) {
            zoid_peer_put(peer);
            return;
        }
        w->uid = u;
        w->cap = cap;
    }
    w->need[w->n] = need;
    w->uid[w->n] = uid;
    w->v[w->n++] = peer;
}

void zs_wait_take(struct zs_waitlist *w, struct zs_waitlist *out)
{
    *out = *w;
    *w = (struct zs_waitlist){0};
}

void zs_wake(struct zs_waitlist *out, const char *name)
{
    for (unsigned i = 0; i < out->n; i++) {
        zoid_push(out->v[i], ZS_PLUGIN_ID, ZS_ASYNC_WAKE, name, strlen(name));
        zoid_peer_put(out->v[i]);
    }
    free(out->v);
    free(out->need);
    free(out->uid);
    *out = (struct zs_waitlist){0};
}
