/*
 * The stream plugin's state (store.c) as its functions (plugin.c) see it: the table of named
 * streams, each a bounded queue of records with a fan-in reduction stage and the clients that
 * wait on it. One lock guards it all; nothing here blocks (waiting clients wait client-side,
 * woken by an async frame), so no daemon thread is ever held by a stream.
 */
#ifndef ZEPTO_ZS_INT_H
#define ZEPTO_ZS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "zepto/zoid_plugin.h"
#include "zstream_wire.h"

#define ZS_PLUGIN_ID        14
#define ZS_DEFAULT_LIMIT    (64ull << 20) /* bytes a stream holds by default */
#define ZS_MAX_LIMIT        (1ull << 30)
#define ZS_MIN_LIMIT        (64ull << 10)
#define ZS_GLOBAL_BUDGET    (1ull << 30) /* all streams together */
#define ZS_MAX_STREAMS      4096
#define ZS_MAX_STREAMS_UID  1024
#define ZS_MAX_PRODUCERS    4096
#define ZS_MAX_WAITERS      1024 /* per stream and kind */
#define ZS_MAX_PENDING_STEP 1024 /* steps being reduced at once */

enum {
    ZS_REDUCE_NONE,
    ZS_REDUCE_CONCAT,
    ZS_REDUCE_SUM_F64,
    ZS_REDUCE_SUM_I64,
    ZS_REDUCE_NAMED, /* registered by a plugin (reductions.c) */
    ZS_REDUCE_N
};
#define ZS_MAX_REDUCTIONS 64

/* A registered reduction (zoid_stream_reduction_register). */
struct zs_reduction {
    char name[ZOID_STREAM_REDUCTION_NAME_MAX + 1];
    int (*combine)(void *acc, const void *contribution, size_t len, void *arg);
    long (*finish)(void *acc, size_t len, uint32_t contributions, void *arg);
    void *arg;
    const char *plugin;
};
/* The reduction registered as name, or NULL. */
const struct zs_reduction *zs_reduction_find(const char *name);
enum { ZS_POLICY_BLOCK, ZS_POLICY_ERROR, ZS_POLICY_DROP, ZS_POLICY_N };

/* A record: held by its stream's queue and by each read reply that sends it (without a copy)
 * until that reply has gone out; freed at the last reference. */
struct zs_rec {
    struct zs_rec *next;
    uint64_t seq, step;
    uint32_t rank, len;
    atomic_uint refs;
    unsigned char *data; /* inline_data, or into frame */
    void *frame;         /* a push's whole request, kept instead of copied (or NULL) */
    unsigned char inline_data[];
};
/* A record at least this large that came alone in a push keeps the push's request memory
 * (zoid_call_take_payload) instead of a copy of it. */
#ifndef ZS_ADOPT_MIN /* the fuzzer lowers it, to reach the path with its short inputs */
#define ZS_ADOPT_MIN (64u << 10)
#endif
/* Drops one reference (the queue's or a reply's): frees r at the last. Any thread, no lock. */
void zs_rec_unref(void *r);

/* One time step being reduced. */
struct zs_acc {
    struct zs_acc *next;
    uint64_t step;
    uint32_t have, len; /* contributions so far; the length of each */
    unsigned char *got; /* per producer: contributed */
    unsigned char *buf;
    uint64_t bytes;
    bool failed; /* a named reduction failed on it: it becomes a gap */
};

struct zs_waitlist {
    struct zoid_peer **v;
    uint64_t *need; /* blocked producers: the bytes their refused record needs (0: unknown) */
    uint32_t *uid;  /* and who they are (grants are capped per uid) */
    unsigned n, cap;
};

/* Room held for one producer connection (the peer's address, never dereferenced: only compared)
 * between a grant and its push, so that a producer that waited in line is not overtaken. */
struct zs_resv {
    uintptr_t key;
    uint32_t uid;
    uint64_t bytes, until_ns;
};
#define ZS_RESV_NS (250ull * 1000 * 1000) /* a grant not used within 250 ms is taken back */

struct zs_stream {
    char name[ZS_NAME_MAX + 1];
    uint32_t owner;
    bool shared;
    uint32_t producers;
    uint8_t reduce, policy;
    const struct zs_reduction *red; /* reduce == ZS_REDUCE_NAMED */
    uint64_t failed_steps;          /* steps a named reduction failed on (gaps) */
    uint64_t limit, bytes;
    struct zs_rec *head, *tail;
    /* The last record a read sent (NULL: none yet, or freed since): a read that starts past it
     * begins its walk there instead of at the head (records are in sequence order, and those a
     * consumer reads ahead of its acknowledgements stay queued: 16k of 4 KiB in 64 MiB). */
    struct zs_rec *cursor;
    uint32_t nrecs;
    uint64_t next_seq, dropped, pushed, delivered;
    uint64_t *last_step; /* per producer: last step + 1 (0: none yet) */
    struct zs_acc *accs;
    uint32_t naccs, eofs;
    struct zs_waitlist consumers, blocked;
    uint64_t created_ns, last_read_ns;
    bool full_logged;
    uint64_t id;                 /* unique in the daemon's life (a connection's notes name it) */
    uint32_t departed;           /* producers whose connection went without their end */
    uint32_t consumers_departed; /* readers whose connection went before the stream was drained */
    unsigned char *gone;         /* reduced streams, per rank: its producer departed */
    uint64_t refused_pushes;     /* pushes that found the stream full (the producer waits) */
    uint64_t refused_bytes;      /* the record bytes those pushes carried and were not taken */
    struct zs_resv *resv;        /* grants (room.c) */
    unsigned nresv, capresv;
    uint64_t reserved; /* their bytes: room no other push may take */
    uint32_t ngone;
};

struct zs_state {
    pthread_mutex_t mu;
    struct zs_stream *v[ZS_MAX_STREAMS];
    unsigned n;
    uint64_t bytes, budget;
    const struct zoid_host *host;
    uint64_t next_id;
};

uint64_t zs_now_ns(void);
struct zs_stream *zs_find(struct zs_state *st, const char *name);
/* Creates a stream (the caller checked the table's limits): NULL when out of memory. */
struct zs_stream *zs_create(struct zs_state *st, const struct zs_open_req *o, uint32_t uid);
void zs_destroy(struct zs_state *st, struct zs_stream *s);
/* Takes one record in (after the reductions); adopt: the call whose request holds r alone (its
 * memory is kept when r is large, instead of a copy), or NULL. 0, -EAGAIN (full), -ENOBUFS (full,
 * policy error), -EMSGSIZE, -EINVAL (rank or step), -EEXIST (a step contributed twice). */
int zs_accept(struct zs_state *st, struct zs_stream *s, const struct zs_push_rec *r,
              struct zoid_call *adopt);
/* Marks one producer finished; at the last, the steps still being reduced go out as they are. */
void zs_producer_done(struct zs_state *st, struct zs_stream *s);
bool zs_ended(const struct zs_stream *s);
void zs_free_rec(struct zs_state *st, struct zs_stream *s, struct zs_rec *r);
/* Adds a waiter, keeping the reference of peer (dropped at once for a duplicate or overflow);
 * need: the bytes a blocked producer's refused record needs (0 for a consumer, or unknown). */
void zs_wait_add(struct zs_waitlist *w, struct zoid_peer *peer, uint64_t need, uint32_t uid);
/* Moves the list's peers out (to wake them outside the lock). */
void zs_wait_take(struct zs_waitlist *w, struct zs_waitlist *out);
/* Backpressure without wasted sends (room.c). A producer that finds the stream full waits in
 * line (s->blocked, with the bytes it still has to send); room freed by a consumer goes to the
 * line in order, each woken producer holding a grant of its bytes (a reservation that no other
 * push may take, for at most ZS_RESV_NS). Without it, every woken producer sent its records
 * again at once and most were refused again: 64 producers of 1 MiB records moved 64 MiB for each
 * MiB of room. */
/* Moves out the waiters that the room now free fits, oldest first, each with a grant. */
void zs_wait_take_fitting(struct zs_state *st, struct zs_stream *s, struct zs_waitlist *out);
/* Room a push without a grant may take: 0 while producers wait in line (no overtaking). */
uint64_t zs_room(const struct zs_state *st, const struct zs_stream *s);
/* Takes back key's grant (a push of key comes: its records use that room) and expired ones;
 * returns how many expired (their room may now go to the line). */
unsigned zs_resv_release(struct zs_stream *s, uintptr_t key);
/* Whether key holds a grant still valid. */
bool zs_resv_held(const struct zs_stream *s, uintptr_t key);
/* Grants key (of uid) bytes of room, replacing its grant. While another user holds or waits for
 * room, one uid's grants together hold at most half the stream's limit (a user that asks and
 * never pushes leaves the other half to the others; one user's own producers share the whole);
 * a grant that would pass it is cut down, or not made. Returns the bytes granted. */
uint64_t zs_resv_grant(struct zs_stream *s, uintptr_t key, uint32_t uid, uint64_t bytes);
/* Room free of records and grants, whoever waits. */
uint64_t zs_free_room(const struct zs_state *st, const struct zs_stream *s);
/* key's place in line (0: first), or -1. */
int zs_line_pos(const struct zs_stream *s, uintptr_t key);
/* Takes key out of the line (it is served). */
void zs_line_leave(struct zs_stream *s, uintptr_t key);
uint64_t zs_need(const struct zs_stream *s, const struct zs_push_rec *r);
/* Sends each peer of out a wake frame naming the stream, drops the references, frees out. */
void zs_wake(struct zs_waitlist *out, const char *name);

/* A producer departed (its connection went without its end): its ranks (of a reduced stream)
 * are marked gone, steps that now have every live rank's slice go out, and it counts as ended. */
void zs_producer_departed(struct zs_state *st, struct zs_stream *s, const uint32_t *ranks,
                          uint32_t nranks);

/* What a connection did to which stream (clients.c), kept in its per-client slot, so that its
 * departure can be counted: under st->mu. */
enum { ZS_NOTE_PUSH = 1, ZS_NOTE_END = 2, ZS_NOTE_READ = 4 };
void zs_client_note(struct zs_state *st, struct zoid_call *call, const struct zs_stream *s,
                    unsigned what, const uint32_t *ranks, uint32_t nranks);
/* A cursor read's turn on its connection (docs/zoid-stream.md, "Reading ahead"): true to serve
 * it from *start (its `from`, or for a read ahead where the last reply to this connection
 * ended, if later), false for a read ahead out of its turn (answered empty, ZS_R_UNSERVED).
 * zs_client_read_sent then notes the seq after the last record a served read sent. Under st->mu. */
bool zs_client_read_turn(struct zoid_call *call, const struct zs_stream *s,
                         const struct zs_read_req *q, uint64_t *start);
void zs_client_read_sent(struct zoid_call *call, const struct zs_stream *s, uint64_t next);
/* The plugin's client_gone hook: counts and logs the departures, wakes whom they concern. */
void zs_client_gone(void *plugin_state, void *client_state);

#endif
