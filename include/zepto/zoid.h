/*
 * ZOID function-call forwarding: the client side, and what client and daemon share.
 *
 * A compute node calls functions that run in `zepto zoid serve` on its I/O node, as if they were
 * local. Calls travel as frames over a transport (`unix:PATH`, `tcp:HOST:PORT`); several calls
 * may be in flight on one connection at once, from many threads, each matched to its reply by
 * its call id. Bulk data goes from the caller's memory to the socket and back without a staging
 * copy (the request and the reply are iovecs). Usually nobody calls zoid_call() directly: the
 * stubs that `zepto zoid gen` writes from an annotated C header do.
 *
 * Return convention of zoid_call(): 0 when the remote function returned success; -errno when the
 * call did not complete here (-ETIMEDOUT, -ECONNRESET when the daemon went away, -EINTR when a
 * signal interrupted the wait: the connection stays usable, -EMSGSIZE when the reply did not fit
 * the reply iovecs); -(ZOID_REMOTE + e) when the remote function ran and failed with errno e.
 * zoid_errno() gives the errno of any of these, zoid_is_remote() tells the last kind apart. (On
 * the wire, REPLY.error is still 0 or the positive errno e.)
 */
#ifndef ZEPTO_ZOID_H
#define ZEPTO_ZOID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The client API is what libzoid.so exports (built with hidden visibility and the version script
 * src/zoid/core/libzoid.map); a library that compiles the client in keeps it local. */
#pragma GCC visibility push(default)

/* ---- the wire (docs/FORMATS.md) ----------------------------------------------------------- */

#define ZOID_MAGIC       0x44494F5Au /* "ZOID" in the first four bytes */
#define ZOID_VERSION     1
#define ZOID_HEADER_SIZE 32

enum zoid_kind {
    ZOID_CALL = 1,      /* client -> daemon: run plugin.function with the payload */
    ZOID_REPLY = 2,     /* daemon -> client: the result of call id; error = 0 or an errno */
    ZOID_ASYNC = 3,     /* daemon -> client: data a plugin sends on its own (streaming) */
    ZOID_CHALLENGE = 4, /* daemon -> client, first frame: nonce, whether a token is needed */
    ZOID_AUTH = 5,      /* client -> daemon: HMAC-SHA256(token, nonce), or empty */
    ZOID_WELCOME = 6,   /* daemon -> client: the limits of this connection */
    ZOID_REFUSED = 7,   /* daemon -> client, then close: error says why */
};

struct zoid_header {
    uint32_t magic;
    uint8_t version;
    uint8_t kind;      /* enum zoid_kind */
    uint16_t flags;    /* 0 */
    uint16_t plugin;   /* plugin id (0: the core plugin) */
    uint16_t function; /* function index in the plugin */
    int32_t error;     /* REPLY/REFUSED: 0 or a positive errno */
    uint64_t call;     /* call id, chosen by the client, echoed in the reply */
    uint32_t length;   /* payload bytes that follow */
    uint32_t reserved; /* 0 */
};

/* Encodes h into 32 bytes; decodes and checks magic, version, kind and length <= max_payload. */
void zoid_header_encode(const struct zoid_header *h, unsigned char out[ZOID_HEADER_SIZE]);
int zoid_header_decode(const unsigned char in[ZOID_HEADER_SIZE], uint32_t max_payload,
                       struct zoid_header *h, struct zepto_err *err);

/* The core plugin (id 0), always loaded: what `zepto zoid bench` and health checks call. */
enum zoid_core_function {
    ZOID_CORE_NULL = 0,   /* nothing in, nothing out */
    ZOID_CORE_ECHO = 1,   /* the payload back */
    ZOID_CORE_SINK = 2,   /* payload in, nothing back */
    ZOID_CORE_SOURCE = 3, /* a u64 count in, that many bytes back */
    ZOID_CORE_WHOAMI = 4, /* nothing in; uid, gid, pid (3 x u32/i32) and verified (u32) back */
    ZOID_CORE_SLEEP = 5,  /* a u64 of nanoseconds in (at most 10 s), back after that long */
    ZOID_CORE_FUNCTIONS
};

/* ---- the client --------------------------------------------------------------------------- */

/* zoid_call() returns -(ZOID_REMOTE + e) when the remote function failed with errno e. */
#define ZOID_REMOTE 0x10000

/* The positive errno of any code zoid_call() returns (0 for 0). */
static inline int zoid_errno(int rc)
{
    if (rc >= 0)
        return rc;
    return -rc >= ZOID_REMOTE ? -rc - ZOID_REMOTE : -rc;
}

/* Whether rc says the remote function ran and failed (not the call). */
static inline bool zoid_is_remote(int rc)
{
    return rc <= -ZOID_REMOTE;
}

struct zoid_client;

struct zoid_client_opts {
    const char *token_file; /* for tcp: the shared token (mode 0600); NULL: $ZOID_TOKEN_FILE */
    int timeout_ms;         /* per call unless given; 0: 30 s; -1: none */
    int connect_timeout_ms; /* 0: 5 s */
};

/* Connects to addr ("unix:PATH" or "tcp:HOST:PORT"; NULL: $ZOID_SERVER) and does the
 * handshake. */
int zoid_connect(const char *addr, const struct zoid_client_opts *opts, struct zoid_client **out,
                 struct zepto_err *err);

/* Checks an address ("unix:PATH", "tcp:HOST:PORT", "tcp:[::1]:PORT") without connecting, for a
 * caller that must tell a mistyped address from an unreachable daemon: 0, or -EINVAL with a
 * message in err. */
int zoid_addr_check(const char *addr, struct zepto_err *err);

/* One call: the request payload is the concatenation of req[0..nreq), the reply payload is
 * scattered into rep[0..nrep) in order; *rep_len gets its length. timeout_ms: 0 for the
 * client's default, -1 for none. Thread-safe; calls from many threads are pipelined. */
int zoid_call(struct zoid_client *c, uint16_t plugin, uint16_t function, const struct iovec *req,
              int nreq, const struct iovec *rep, int nrep, size_t *rep_len, int timeout_ms);

/* The same call in two halves, for a caller that keeps a call in flight while it does other
 * work (a stream consumer reads ahead this way): zoid_call_begin sends the request (req may be
 * reused once it returns) and gives a handle; rep must stay valid until the call is ended.
 * zoid_call_end waits for the reply (until the timeout given to begin) and returns what
 * zoid_call would; zoid_call_cancel gives up on it (its reply, when it comes, is thrown away).
 * Every begun call is ended or cancelled exactly once; after zoid_close of its client it ends
 * with -ECONNRESET at once (the client's memory goes with the last of them). */
struct zoid_call_handle;
int zoid_call_begin(struct zoid_client *c, uint16_t plugin, uint16_t function,
                    const struct iovec *req, int nreq, const struct iovec *rep, int nrep,
                    int timeout_ms, struct zoid_call_handle **out);
int zoid_call_end(struct zoid_call_handle *h, size_t *rep_len);
void zoid_call_cancel(struct zoid_call_handle *h);

/* Data a plugin sends on its own: delivered to fn from whichever thread reads the connection
 * (a call's, or the one started by zoid_listen). */
typedef void (*zoid_async_fn)(void *arg, uint16_t plugin, uint16_t function, const void *data,
                              size_t len);
void zoid_on_async(struct zoid_client *c, zoid_async_fn fn, void *arg);
/* Reads the connection until `timeout_ms` passes or an async frame arrives (for a client that
 * makes no calls but wants a plugin's stream); 0, -ETIMEDOUT, or a connection error. */
int zoid_poll(struct zoid_client *c, int timeout_ms);

/* A descriptor the daemon lent with `tag` during a call that has returned (a plugin's
 * zoid_call_lend_fd; shm: only): the new descriptor (close-on-exec), or -EOPNOTSUPP (a
 * transport that cannot carry one), -EAGAIN (none came with that tag), -EPROTO (the daemon sent
 * something else). Descriptors lent with other tags are closed. Thread-safe. */
int zoid_take_fd(struct zoid_client *c, uint64_t tag);

/* The limits the daemon announced: the largest payload, and the calls a connection may have in
 * flight (0: no bound). A call begun and not yet ended holds one of those even after its reply
 * came: a caller keeping calls begun must end some before it begins that many. */
uint32_t zoid_max_payload(const struct zoid_client *c);
uint32_t zoid_max_in_flight(const struct zoid_client *c);

void zoid_close(struct zoid_client *c);

/* A message for any code zoid_call() returns (remote failures say so). */
const char *zoid_strerror(int code);

/* ---- streams (the built-in stream plugin, docs/zoid-stream.md) ---------------------------- */

/* Producers push records into a named stream; the daemon merges them (optionally reducing one
 * time step from every producer into one record) and consumers read them, over unix or tcp.
 * Memory is bounded per stream; a full stream blocks producers (or fails them, or drops the
 * oldest records, by policy: never silently); every record carries a sequence number, so a
 * consumer sees any gap. Waiting (producer or consumer) happens in the client, woken by the
 * daemon, and holds no daemon thread. A zoid_client used for streams has its async handler
 * (zoid_on_async) taken by them. */
#define ZOID_STREAM_PLUGIN   14
#define ZOID_STREAM_NAME_MAX 63 /* bytes; no '/', no control characters */

enum zoid_stream_reduce {
    ZOID_STREAM_NONE = 0,    /* records go through as pushed */
    ZOID_STREAM_CONCAT = 1,  /* one record per step: producer 0's slice, 1's, ... (same sizes) */
    ZOID_STREAM_SUM_F64 = 2, /* one record per step: element-wise sum of doubles */
    ZOID_STREAM_SUM_I64 = 3, /* one record per step: element-wise sum of 64-bit integers */
    ZOID_STREAM_NAMED = 4,   /* a reduction a daemon plugin registered (reduce_name) */
};
enum zoid_stream_policy {
    ZOID_STREAM_BLOCK = 0, /* a full stream makes producers wait (default) */
    ZOID_STREAM_ERROR = 1, /* a full stream fails the push with ENOBUFS */
    ZOID_STREAM_DROP = 2,  /* the oldest records are dropped (consumers see the gap) */
};
#define ZOID_STREAM_CREATE 1u /* create it if it does not exist */
#define ZOID_STREAM_SHARED 2u /* at creation: other uids may push and read (default: owner) */
#define ZOID_STREAM_EXCL   4u /* with CREATE: fail with EEXIST if it exists */
#define ZOID_STREAM_TAKE   8u /* read as one of many consumers: each record to one (fan-out) */
/* This handle pushes: the daemon counts it as a producer from the open (with a reduction, of
 * rank key_val), so that a departure before its first push is seen as one (docs/zoid-stream.md,
 * "Departures"). A daemon from before it ignores it. */
#define ZOID_STREAM_PRODUCER 16u

struct zoid_stream_opts {
    uint32_t flags;     /* ZOID_STREAM_* */
    uint32_t producers; /* 0: any number; with a reduction: how many contribute per step */
    uint64_t limit;     /* bytes the daemon holds for it; 0: 64 MiB (64 KiB .. 1 GiB) */
    int reduce;         /* enum zoid_stream_reduce */
    int policy;         /* enum zoid_stream_policy */
    uint32_t key_mod;   /* TAKE: only records whose step % key_mod == key_val (0: any) */
    uint32_t key_val;
    uint32_t batch_bytes; /* pushes are batched up to this (0: 256 KiB; 1: no batching) */
    /* With reduce ZOID_STREAM_NAMED: the name a daemon plugin registered it under
     * (zoid_stream_reduction_register, zepto/zoid_plugin.h). */
    const char *reduce_name;
};

struct zoid_stream_record {
    uint64_t seq;  /* the stream's sequence number */
    uint64_t lost; /* records missing before this one (dropped, or read by another) */
    uint64_t step; /* as pushed (a reduced record: its step) */
    uint32_t rank; /* as pushed (a reduced record: how many producers contributed) */
    uint32_t len;
    const void *data; /* valid until the next read */
};

struct zoid_stream_stat {
    uint64_t next_seq, oldest_seq, bytes, limit, dropped, pushed, delivered;
    uint64_t last_read_ms; /* since a consumer last read */
    uint64_t daemon_bytes; /* all streams together */
    uint32_t records, producers, producers_done, consumers_waiting, producers_blocked;
    uint32_t steps_pending, owner;
    uint32_t flags; /* 1: shared, 2: ended */
};

struct zoid_stream;

/* Opens (or with ZOID_STREAM_CREATE creates) the stream `name`: 0, or -errno with a message. */
int zoid_stream_open(struct zoid_client *c, const char *name, const struct zoid_stream_opts *opts,
                     struct zoid_stream **out, struct zepto_err *err);
/* Pushes one record (batched; rank: the producer's index, or a key): 0 or -errno. Waits while
 * the stream is full (policy block), up to timeout_ms (-1: no limit; 0: 30 s). */
int zoid_stream_push(struct zoid_stream *s, uint64_t step, uint32_t rank, const void *data,
                     size_t len, int timeout_ms);
int zoid_stream_flush(struct zoid_stream *s, int timeout_ms);
/* Flushes and tells the daemon this producer has finished (end of stream once all have). */
int zoid_stream_end(struct zoid_stream *s, int timeout_ms);
/* The next record: 1, 0 at the end of the stream, or -errno (-ETIMEDOUT). Records are
 * acknowledged (freed in the daemon) when the next read is made: a consumer that reconnects
 * gets again whatever it had not acknowledged. */
int zoid_stream_read(struct zoid_stream *s, struct zoid_stream_record *rec, int timeout_ms);
int zoid_stream_stat(struct zoid_client *c, const char *name, struct zoid_stream_stat *st,
                     struct zepto_err *err);
int zoid_stream_delete(struct zoid_client *c, const char *name, struct zepto_err *err);
/* Frees s (does not flush: call zoid_stream_flush or zoid_stream_end first). */
void zoid_stream_close(struct zoid_stream *s);

/* Departures (docs/zoid-stream.md): a producer whose connection goes (exit, crash, SIGKILL)
 * without zoid_stream_end counts as ended and departed; its ranks no longer hold back reduced
 * steps (which then carry fewer contributions in `rank`). zoid_stream_departed: how many
 * producers of s's stream had departed at its last read (a consumer checks it at the end).
 * zoid_stream_stat's flags: 4 a producer departed, 8 a consumer departed (its connection went
 * before the stream was drained; what it had not acknowledged is kept for the next reader). */
uint32_t zoid_stream_departed(const struct zoid_stream *s);
/* The counts: producers departed and consumers departed; 0 or -errno with a message. */
int zoid_stream_departures(struct zoid_client *c, const char *name, uint32_t *producers,
                           uint32_t *consumers, struct zepto_err *err);
/* Backpressure: pushes that found the stream full (their producer then waited in line until
 * what it still had to send fitted) and the record bytes they carried that were not taken
 * (sent again later). 0 or -errno with a message. */
int zoid_stream_refusals(struct zoid_client *c, const char *name, uint64_t *pushes, uint64_t *bytes,
                         struct zepto_err *err);
/* 1 when the next zoid_stream_read hands out a record already received, without a call to the
 * daemon (which would acknowledge every record read so far); 0 when it calls the daemon. A
 * consumer that buffers its output (stdio) flushes it when this is 0, before that read, so that
 * nothing it acknowledged is still only in its memory when it dies. */
int zoid_stream_buffered(const struct zoid_stream *s);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
