/*
 * The client side of streams (zepto/zoid.h, "streams"): opening, batched pushes that wait while
 * the stream is full, reads that wait while it is empty, stat and delete. Waiting is done here,
 * on the client's connection (zoid_poll), until the daemon's wake frame: never in the daemon.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "zepto/zoid.h"
#include "zstream_wire.h"

#define BATCH_DEFAULT (256u << 10)
#define DIRECT_MIN    (64u << 10) /* records this large go from the caller's memory */
#define RBUF_START    (4u << 20)
#define AHEAD         2 /* reads a consumer keeps in flight beyond the one it reads from */

/* A read sent before the records before it were read (docs/zoid-stream.md, "Reading ahead"). */
struct ahead {
    struct zoid_call_handle *h;
    unsigned char *buf;
    size_t cap;
    struct iovec rp;
};

struct zoid_stream {
    struct zoid_client *c;
    struct wake_count *wakes;
    char name[ZS_NAME_MAX + 1];
    unsigned char prefix[4 + 2 + ZS_NAME_MAX]; /* PUSH: flags, name */
    size_t prefix_len;
    uint32_t flags, key_mod, key_val;
    unsigned char *batch;
    size_t blen, bmax;
    uint32_t bnrec;
    unsigned char *rbuf;
    size_t rcap, rlen, rpos;
    struct ahead ahead[AHEAD]; /* in flight: nahead from ahead[first], oldest first, in a ring
                                  (a slot never moves: its call holds &slot->rp) */
    unsigned first, nahead;
    bool ahead_ok; /* the daemon knows ZS_READ_AHEAD (every reply says so) */
    uint32_t rnum; /* the number of the last read sent, once ahead_ok (ZS_READ_NUMBERED) */
    uint64_t cursor, expect;
    bool started, eof;
    uint32_t departed; /* producers departed, as the last read reply said */
    uint64_t room;     /* free room the daemon last reported (0 while others wait in line) */
    bool room_known;   /* the daemon reports it (not one from before grants) */
    bool no_reserve;   /* the daemon has no ZS_RESERVE */
    uint64_t granted;  /* room held for this producer's next push (as large as its last) */
};

/* Wake frames counted per connection: a producer waits for a wake on its own connection only
 * (one counter for the whole process woke every waiting thread of a multi-threaded program for
 * each wake, and all of them sent their records again). A counter is kept while streams of its
 * client are open, then reused for another client, never freed: the client may still hold it as
 * its async argument. */
struct wake_count {
    struct zoid_client *c;
    atomic_uint_fast64_t n;
    unsigned refs;
    struct wake_count *next;
};
static pthread_mutex_t counts_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wake_count *counts;

static void on_async(void *arg, uint16_t plugin, uint16_t function, const void *data, size_t len)
{
    (void)data, (void)len;
    struct wake_count *w = arg;
    if (plugin == ZOID_STREAM_PLUGIN && function == ZS_ASYNC_WAKE)
        atomic_fetch_add(&w->n, 1);
}

/* The counter of c's wakes (installed as c's async handler), or NULL when out of memory. */
static struct wake_count *wake_count_get(struct zoid_client *c)
{
    pthread_mutex_lock(&counts_mu);
    struct wake_count *w = counts, *spare = NULL;
    for (; w && w->c != c; w = w->next)
        if (!w->refs && !spare)
            spare = w;
    if (!w && (w = spare)) /* a client's counter is reused only once its streams closed */
        w->c = c;
    if (!w && (w = calloc(1, sizeof(*w)))) {
        w->c = c;
        w->next = counts;
        counts = w;
    }
    if (w && !w->refs++)
        zoid_on_async(c, on_async, w);
    pthread_mutex_unlock(&counts_mu);
    return w;
}

static void wake_count_put(struct wake_count *w)
{
    pthread_mutex_lock(&counts_mu);
    w->refs--;
    pthread_mutex_unlock(&counts_mu);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_of(int timeout_ms)
{
    if (timeout_ms < 0)
        return -1;
    return now_ms() + (timeout_ms ? timeout_ms : 30000);
}

/* Waits until a wake frame arrives after gen (or 1 s passes: then the caller retries anyway). */
static int wait_wake(struct zoid_stream *s, uint_fast64_t gen, int64_t deadline)
{
    struct zoid_client *c = s->c;
    while (atomic_load(&s->wakes->n) == gen) {
        int slice = 1000;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return -ETIMEDOUT;
            if (left < slice)
                slice = (int)left;
        }
        int rc = zoid_poll(c, slice);
        if (rc == -ETIMEDOUT)
            return 0;
        if (rc < 0 && rc != -EINTR)
            return rc;
    }
    return 0;
}

static size_t put_name(unsigned char *p, const char *name)
{
    uint16_t n = (uint16_t)strlen(name);
    memcpy(p, &n, 2);
    memcpy(p + 2, name, n);
    return 2u + n;
}

static int call_err(int rc)
{
    return rc < 0 ? -zoid_errno(rc) : rc;
}

int zoid_stream_open(struct zoid_client *c, const char *name, const struct zoid_stream_opts *opts,
                     struct zoid_stream **out, struct zepto_err *err)
{
    static const struct zoid_stream_opts none = {0};
    const struct zoid_stream_opts *o = opts ? opts : &none;
    *out = NULL;
    size_t n = name ? strlen(name) : 0;
    int rc = zs_name_check(name ? name : "", n);
    if (rc == -ENAMETOOLONG)
        return zepto_fail(err, ENAMETOOLONG, "stream name '%.80s': longer than %d bytes", name,
                          ZS_NAME_MAX);
    if (rc)
        return zepto_fail(err, EINVAL,
                          "stream name '%.80s': must be 1 to %d bytes without '/' or control "
                          "characters",
                          name ? name : "", ZS_NAME_MAX);
    bool named = o->reduce == ZOID_STREAM_NAMED;
    size_t rn = named && o->reduce_name ? strlen(o->reduce_name) : 0;
    if (named && (rn == 0 || rn > ZS_NAME_MAX))
        return zepto_fail(err, EINVAL, "stream %s: a named reduction needs a name of 1 to %d bytes",
                          name, ZS_NAME_MAX);
    unsigned char req[20 + 2 * (2 + ZS_NAME_MAX)], *p = req;
    uint32_t wflags = o->flags & (7u | ZS_OPEN_PRODUCER), producers = o->producers;
    uint8_t reduce = (uint8_t)o->reduce, policy = (uint8_t)o->policy;
    uint16_t rank = (o->flags & ZOID_STREAM_PRODUCER) && o->key_val < ZS_NO_RANK
                        ? (uint16_t)o->key_val
                        : ZS_NO_RANK;
    memcpy(p, &wflags, 4);
    memcpy(p + 4, &producers, 4);
    memcpy(p + 8, &o->limit, 8);
    p[16] = reduce;
    p[17] = policy;
    memcpy(p + 18, &rank, 2);
    size_t len = 20 + put_name(p + 20, name);
    if (named)
        len += put_name(p + len, o->reduce_name);
    unsigned char rep[32];
    size_t rep_len = 0;
    struct iovec rq = {req, len}, rp = {rep, sizeof(rep)};
    rc = zoid_call(c, ZOID_STREAM_PLUGIN, ZS_OPEN, &rq, 1, &rp, 1, &rep_len, 0);
    if (rc) {
        int e = zoid_errno(rc);
        const char *why = e == ENOENT        ? "no such stream (create it with the create flag)"
                          : e == EACCES      ? "it belongs to another user and is not shared"
                          : e == EEXIST      ? "it exists already"
                          : e == ENOSPC      ? "the daemon holds its maximum of streams"
                          : e == EDQUOT      ? "this user holds its maximum of streams"
                          : e == EINVAL      ? "bad options (producers, reduction, policy or limit)"
                          : e == ENOPROTOOPT ? "no such reduction registered in the daemon"
                                             : zoid_strerror(rc);
        return zepto_fail(err, e, "stream %s: %s", name, why);
    }
    struct zoid_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return zepto_fail(err, ENOMEM, "stream %s: out of memory", name);
    s->c = c;
    memcpy(s->name, name, n + 1);
    s->flags = o->flags;
    s->key_mod = o->key_mod;
    s->key_val = o->key_val;
    s->bmax = o->batch_bytes ? o->batch_bytes : BATCH_DEFAULT;
    size_t maxp = zoid_max_payload(c);
    if (s->bmax > maxp / 2)
        s->bmax = maxp / 2;
    s->prefix_len = 4 + put_name(s->prefix + 4, name);
    /* Read numbers start anywhere (ZS_READ_NUMBERED): two handles of one connection reading the
     * same stream never take each other's turn (the daemon keeps one turn per connection and
     * stream); a handle whose read lost its turn to the other's reads at its cursor. */
    if (getrandom(&s->rnum, sizeof(s->rnum), GRND_NONBLOCK) != sizeof(s->rnum))
        s->rnum = (uint32_t)(uintptr_t)s ^ (uint32_t)now_ms();
    if (!(s->wakes = wake_count_get(c))) {
        free(s);
        return zepto_fail(err, ENOMEM, "stream %s: out of memory", name);
    }
    *out = s;
    return 0;
}

/* Asks for room for nrec records of bytes before sending them, when the stream was nearly full
 * at the last push: waits in line for the daemon's grant rather than sending records that would
 * be refused (and sent again). */
static int reserve(struct zoid_stream *s, uint32_t nrec, uint64_t bytes, int64_t deadline)
{
    if (s->granted >= bytes) /* the daemon holds room for it already */
        return 0;
    if (!s->room_known || s->no_reserve || s->room >= 2 * (bytes + 64u * nrec))
        return 0;
    unsigned char req[12 + 2 + ZS_NAME_MAX];
    memcpy(req, &nrec, 4);
    memcpy(req + 4, &bytes, 8);
    size_t len = 12 + put_name(req + 12, s->name);
    uint_fast64_t gen = atomic_load(&s->wakes->n);
    unsigned char rep[12];
    size_t rep_len = 0;
    struct iovec rq = {req, len}, rp = {rep, sizeof(rep)};
    int left = -1;
    if (deadline >= 0 && (left = (int)(deadline - now_ms())) <= 0)
        return -ETIMEDOUT;
    int rc = zoid_call(s->c, ZOID_STREAM_PLUGIN, ZS_RESERVE, &rq, 1, &rp, 1, &rep_len, left);
    if (rc == -(ZOID_REMOTE + ENOSYS)) {
        s->no_reserve = true;
        return 0;
    }
    if (rc)
        return call_err(rc);
    if (rep_len < 12)
        return -EPROTO;
    uint32_t granted;
    memcpy(&granted, rep, 4);
    memcpy(&s->room, rep + 4, 8);
    return granted ? 0 : wait_wake(s, gen, deadline);
}

/* Sends records (iov[1..niov), nrec of them, the prefix goes in iov[0]) until all are taken.
 * A full stream puts this producer in line: it waits for the daemon's wake (which comes with
 * room for what it still has to send) instead of sending again at once. */
static int send_records(struct zoid_stream *s, struct iovec *iov, int niov, uint32_t nrec,
                        uint32_t flags, int64_t deadline)
{
    flags |= ZS_PUSH_WAITS;
    memcpy(s->prefix, &flags, 4);
    iov[0] = (struct iovec){s->prefix, s->prefix_len};
    uint64_t bytes = 0;
    for (int i = 1; i < niov; i++)
        bytes += iov[i].iov_len;
    int rc = nrec ? reserve(s, nrec, bytes, deadline) : 0;
    if (rc)
        return rc;
    for (;;) {
        uint_fast64_t gen = atomic_load(&s->wakes->n);
        unsigned char rep[16]; /* accepted, queued, room */
        size_t rep_len = 0;
        struct iovec rp = {rep, sizeof(rep)};
        int left = -1;
        if (deadline >= 0 && (left = (int)(deadline - now_ms())) <= 0)
            return -ETIMEDOUT;
        rc = zoid_call(s->c, ZOID_STREAM_PLUGIN, ZS_PUSH, iov, niov, &rp, 1, &rep_len, left);
        if (rc == -(ZOID_REMOTE + EAGAIN)) {
            rc = wait_wake(s, gen, deadline);
            if (rc)
                return rc;
            continue;
        }
        if (rc)
            return call_err(rc);
        if (rep_len < 4)
            return -EPROTO;
        uint32_t taken, state = 0;
        memcpy(&taken, rep, 4);
        if (rep_len >= 16) {
            memcpy(&state, rep + 4, 4);
            memcpy(&s->room, rep + 8, 8);
            s->room_known = true;
        }
        s->granted = (state & 2u) ? bytes : 0;
        bool queued = state & 1u;
        if (taken >= nrec)
            return 0;
        /* Part of a batch taken (the stream filled up): skip those records, send the rest. */
        unsigned char *b = iov[1].iov_base;
        size_t off = 0;
        for (uint32_t i = 0; i < taken; i++) {
            uint32_t l;
            memcpy(&l, b + off + 12, 4);
            off += ZS_REC_HDR + l;
        }
        if (off > iov[1].iov_len)
            return -EPROTO;
        iov[1].iov_base = b + off;
        iov[1].iov_len -= off;
        nrec -= taken;
        if (queued && (rc = wait_wake(s, gen, deadline)))
            return rc;
    }
}

static int flush(struct zoid_stream *s, uint32_t flags, int64_t deadline)
{
    if (!s->bnrec && !flags)
        return 0;
    struct iovec iov[2] = {{0}, {s->batch, s->blen}};
    int rc = send_records(s, iov, 2, s->bnrec, flags, deadline);
    if (!rc) {
        s->blen = 0;
        s->bnrec = 0;
    }
    return rc;
}

int zoid_stream_push(struct zoid_stream *s, uint64_t step, uint32_t rank, const void *data,
                     size_t len, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    if (len > zoid_max_payload(s->c) - ZS_REC_HDR - sizeof(s->prefix))
        return -EMSGSIZE;
    unsigned char hdr[ZS_REC_HDR];
    uint32_t l = (uint32_t)len;
    memcpy(hdr, &step, 8);
    memcpy(hdr + 8, &rank, 4);
    memcpy(hdr + 12, &l, 4);
    bool direct = len >= DIRECT_MIN || ZS_REC_HDR + len > s->bmax;
    if (s->blen && (direct || s->blen + ZS_REC_HDR + len > s->bmax)) {
        int rc = flush(s, 0, deadline);
        if (rc)
            return rc;
    }
    if (direct) {
        struct iovec iov[3] = {{0}, {hdr, sizeof(hdr)}, {(void *)data, len}};
        return send_records(s, iov, 3, 1, 0, deadline);
    }
    if (!s->batch && !(s->batch = malloc(s->bmax)))
        return -ENOMEM;
    memcpy(s->batch + s->blen, hdr, ZS_REC_HDR);
    memcpy(s->batch + s->blen + ZS_REC_HDR, data, len);
    s->blen += ZS_REC_HDR + len;
    s->bnrec++;
    if (s->bmax <= 1 || s->blen + ZS_REC_HDR >= s->bmax)
        return flush(s, 0, deadline);
    return 0;
}

int zoid_stream_flush(struct zoid_stream *s, int timeout_ms)
{
    return flush(s, 0, deadline_of(timeout_ms));
}

int zoid_stream_end(struct zoid_stream *s, int timeout_ms)
{
    return flush(s, ZS_PUSH_EOF, deadline_of(timeout_ms));
}

#define READ_REQ_MAX (24 + 2 + ZS_NAME_MAX + 4)

/* A READ request for s: flags, the key filter, max_bytes, from (what is acknowledged), name, and
 * once the daemon reads ahead, the read's number. */
static size_t read_request(struct zoid_stream *s, uint32_t flags, size_t max, unsigned char *req)
{
    bool take = (s->flags & ZOID_STREAM_TAKE) != 0, numbered = s->ahead_ok && !take;
    uint32_t f = flags | (take ? ZS_READ_TAKE : 0) | (numbered ? ZS_READ_NUMBERED : 0);
    uint32_t mb = (uint32_t)max;
    memcpy(req, &f, 4);
    memcpy(req + 4, &s->key_mod, 4);
    memcpy(req + 8, &s->key_val, 4);
    memcpy(req + 12, &mb, 4);
    memcpy(req + 16, &s->cursor, 8);
    size_t len = 24 + put_name(req + 24, s->name);
    if (numbered) {
        uint32_t k = ++s->rnum;
        memcpy(req + len, &k, 4);
        len += 4;
    }
    return len;
}

/* Keeps AHEAD reads in flight behind the reply being read, each starting where the daemon's
 * last reply to this connection ended, so that the next reply is on its way while this one is
 * read and the consumer's request never waits on the link for a reply to start (a cursor
 * reader only; an old daemon does not know how; a failure here only means no read ahead). */
static void send_ahead(struct zoid_stream *s, int64_t deadline)
{
    /* A stream whose records needed a read buffer beyond 4 MiB reads one batch at a time: three
     * buffers of the daemon's payload limit (64 MiB) would be too much to hold per consumer. */
    if (!s->ahead_ok || (s->flags & ZOID_STREAM_TAKE) || s->rcap > RBUF_START)
        return;
    while (s->nahead < AHEAD) {
        struct ahead *a = &s->ahead[(s->first + s->nahead) % AHEAD];
        if (a->cap < s->rcap) {
            void *b = realloc(a->buf, s->rcap);
            if (!b)
                return;
            a->buf = b;
            a->cap = s->rcap;
        }
        int to = -1;
        if (deadline >= 0 && (to = (int)(deadline - now_ms())) <= 0)
            return;
        unsigned char req[READ_REQ_MAX];
        struct iovec rq = {req, read_request(s, ZS_READ_AHEAD, a->cap, req)};
        a->rp = (struct iovec){a->buf, a->cap};
        if (zoid_call_begin(s->c, ZOID_STREAM_PLUGIN, ZS_READ, &rq, 1, &a->rp, 1, to, &a->h))
            return;
        s->nahead++;
    }
}

/* The oldest read ahead's reply: 1 when it brought records (now in rbuf), else 0 (empty, or
 * failed: the reads still ahead are given up, and the caller reads at its cursor). */
static int take_ahead(struct zoid_stream *s)
{
    struct ahead *a = &s->ahead[s->first];
    s->first = (s->first + 1) % AHEAD;
    s->nahead--;
    size_t rep_len = 0;
    int rc = zoid_call_end(a->h, &rep_len);
    a->h = NULL;
    if (!rc && rep_len > ZS_READ_HDR) { /* its buffer and rbuf change places */
        unsigned char *b = s->rbuf;
        size_t cap = s->rcap;
        s->rbuf = a->buf;
        s->rcap = a->cap;
        a->buf = b;
        a->cap = cap;
        memcpy(&s->departed, s->rbuf + 20, 4);
        s->rlen = rep_len;
        s->rpos = ZS_READ_HDR;
        return 1;
    }
    if (rc) /* the later reads may start after records this one would have brought */
        for (; s->nahead; s->nahead--, s->first = (s->first + 1) % AHEAD) {
            zoid_call_cancel(s->ahead[s->first].h);
            s->ahead[s->first].h = NULL;
        }
    return 0;
}

static int fill(struct zoid_stream *s, int64_t deadline)
{
    if (!s->rbuf) {
        s->rcap = RBUF_START;
        if (s->rcap > zoid_max_payload(s->c))
            s->rcap = zoid_max_payload(s->c);
        if (!(s->rbuf = malloc(s->rcap)))
            return -ENOMEM;
    }
    while (s->nahead)
        if (take_ahead(s)) {
            send_ahead(s, deadline);
            return 1;
        }
    /* Nothing ahead, or it brought nothing: a read at the cursor (acknowledging all that was
     * read), then a wait for the daemon's wake while the stream is empty. */
    unsigned char req[READ_REQ_MAX];
    for (;;) {
        uint_fast64_t gen = atomic_load(&s->wakes->n);
        struct iovec rq = {req, read_request(s, 0, s->rcap, req)}, rp = {s->rbuf, s->rcap};
        size_t rep_len = 0;
        int left = -1;
        if (deadline >= 0 && (left = (int)(deadline - now_ms())) <= 0)
            return -ETIMEDOUT;
        int rc = zoid_call(s->c, ZOID_STREAM_PLUGIN, ZS_READ, &rq, 1, &rp, 1, &rep_len, left);
        if (rc == -(ZOID_REMOTE + EMSGSIZE) && s->rcap < zoid_max_payload(s->c)) {
            size_t cap = zoid_max_payload(s->c);
            void *b = realloc(s->rbuf, cap);
            if (!b)
                return -ENOMEM;
            s->rbuf = b;
            s->rcap = cap;
            continue;
        }
        if (rc)
            return call_err(rc);
        if (rep_len < ZS_READ_HDR)
            return -EPROTO;
        uint32_t flags;
        memcpy(&flags, s->rbuf + 16, 4);
        memcpy(&s->departed, s->rbuf + 20, 4);
        if (flags & ZS_R_AHEAD)
            s->ahead_ok = true;
        if (rep_len > ZS_READ_HDR) {
            s->rlen = rep_len;
            s->rpos = ZS_READ_HDR;
            send_ahead(s, deadline);
            return 1;
        }
        if (flags & ZS_R_EOF) {
            s->eof = true;
            return 0;
        }
        rc = wait_wake(s, gen, deadline);
        if (rc)
            return rc;
    }
}

int zoid_stream_read(struct zoid_stream *s, struct zoid_stream_record *rec, int timeout_ms)
{
    if (s->rpos >= s->rlen) {
        if (s->eof)
            return 0;
        int rc = fill(s, deadline_of(timeout_ms));
        if (rc <= 0)
            return rc;
    }
    if (s->rlen - s->rpos < ZS_OUT_HDR)
        return -EPROTO;
    const unsigned char *p = s->rbuf + s->rpos;
    memcpy(&rec->seq, p, 8);
    memcpy(&rec->step, p + 8, 8);
    memcpy(&rec->rank, p + 16, 4);
    memcpy(&rec->len, p + 20, 4);
    if (rec->len > s->rlen - s->rpos - ZS_OUT_HDR)
        return -EPROTO;
    rec->data = p + ZS_OUT_HDR;
    s->rpos += ZS_OUT_HDR + rec->len;
    bool take = (s->flags & ZOID_STREAM_TAKE) != 0;
    rec->lost = (!take && s->started && rec->seq > s->expect) ? rec->seq - s->expect : 0;
    s->started = true;
    s->expect = rec->seq + 1;
    if (!take)
        s->cursor = rec->seq + 1;
    return 1;
}

static int name_call(struct zoid_client *c, const char *name, uint16_t fn, void *rep,
                     size_t rep_cap, size_t *rep_len, struct zepto_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (zs_name_check(name ? name : "", n))
        return zepto_fail(err, EINVAL, "stream name '%.80s': must be 1 to %d bytes without '/'",
                          name ? name : "", ZS_NAME_MAX);
    unsigned char req[2 + ZS_NAME_MAX];
    size_t len = put_name(req, name), got = 0;
    struct iovec rq = {req, len}, rp = {rep, rep_cap};
    int rc =
        zoid_call(c, ZOID_STREAM_PLUGIN, fn, &rq, 1, &rp, rep ? 1 : 0, rep_len ? rep_len : &got, 0);
    if (rc) {
        int e = zoid_errno(rc);
        return zepto_fail(err, e, "stream %s: %s", name,
                          e == ENOENT   ? "no such stream"
                          : e == EACCES ? "it belongs to another user"
                                        : zoid_strerror(rc));
    }
    return 0;
}

int zoid_stream_stat(struct zoid_client *c, const char *name, struct zoid_stream_stat *st,
                     struct zepto_err *err)
{
    unsigned char b[ZS_STAT_LEN] = {0};
    size_t got = 0;
    int rc = name_call(c, name, ZS_STAT, b, sizeof(b), &got, err);
    if (rc)
        return rc;
    if (got < 104)
        return zepto_fail(err, EPROTO, "stream %s: a short stat reply (%zu bytes)", name, got);
    uint64_t *q[] = {&st->next_seq,  &st->oldest_seq,   &st->bytes,
                     &st->limit,     &st->dropped,      &st->pushed,
                     &st->delivered, &st->last_read_ms, &st->daemon_bytes};
    uint32_t *w[] = {
        &st->records,           &st->producers,     &st->producers_done, &st->consumers_waiting,
        &st->producers_blocked, &st->steps_pending, &st->owner,          &st->flags};
    for (size_t i = 0; i < 9; i++)
        memcpy(q[i], b + 8 * i, 8);
    for (size_t i = 0; i < 8; i++)
        memcpy(w[i], b + 72 + 4 * i, 4);
    uint32_t dep[2];
    memcpy(dep, b + 104, 8);
    st->flags &= 3u; /* 4, 8: departures (zoid_stream_departures counts them) */
    st->flags |= (dep[0] ? 4u : 0u) | (dep[1] ? 8u : 0u);
    return 0;
}

/* A stat reply into b, which must be at least need bytes long (a daemon that counts what). */
static int stat_at_least(struct zoid_client *c, const char *name, unsigned char b[ZS_STAT_LEN],
                         size_t need, const char *what, struct zepto_err *err)
{
    size_t got = 0;
    int rc = name_call(c, name, ZS_STAT, b, ZS_STAT_LEN, &got, err);
    if (!rc && got < need)
        rc = zepto_fail(err, EPROTO, "stream %s: the daemon does not count %s", name, what);
    return rc;
}

int zoid_stream_departures(struct zoid_client *c, const char *name, uint32_t *producers,
                           uint32_t *consumers, struct zepto_err *err)
{
    unsigned char b[ZS_STAT_LEN] = {0};
    int rc = stat_at_least(c, name, b, ZS_STAT_LEN_DEPARTURES, "departures", err);
    if (rc)
        return rc;
    memcpy(producers, b + 104, 4);
    memcpy(consumers, b + 108, 4);
    return 0;
}

int zoid_stream_refusals(struct zoid_client *c, const char *name, uint64_t *pushes, uint64_t *bytes,
                         struct zepto_err *err)
{
    unsigned char b[ZS_STAT_LEN] = {0};
    int rc = stat_at_least(c, name, b, ZS_STAT_LEN, "refusals", err);
    if (rc)
        return rc;
    memcpy(pushes, b + 112, 8);
    memcpy(bytes, b + 120, 8);
    return 0;
}

uint32_t zoid_stream_departed(const struct zoid_stream *s)
{
    return s->departed;
}

int zoid_stream_buffered(const struct zoid_stream *s)
{
    return s->rpos < s->rlen;
}

int zoid_stream_delete(struct zoid_client *c, const char *name, struct zepto_err *err)
{
    return name_call(c, name, ZS_DELETE, NULL, 0, NULL, err);
}

void zoid_stream_close(struct zoid_stream *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->nahead; i++)
        zoid_call_cancel(s->ahead[(s->first + i) % AHEAD].h);
    for (unsigned i = 0; i < AHEAD; i++)
        free(s->ahead[i].buf);
    wake_count_put(s->wakes);
    free(s->batch);
    free(s->rbuf);
    free(s);
}
