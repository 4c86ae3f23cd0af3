/*
 * ZOID plugins: shared objects that `zepto zoid serve` loads (--plugin-dir) and whose functions
 * clients call. A plugin exports `zoid_plugin_register`, returning its description: an id, a
 * name, a table of functions, and init/fini hooks. Functions get the call's arguments (the raw
 * payload; generated dispatch code decodes it), may ask who is calling and keep per-client state,
 * and build their reply; a plugin may also push data to a client at any time (streaming).
 *
 * Plugin API 2. A function returns 0 or a negative errno -e; the caller's zoid_call() then
 * returns -(ZOID_REMOTE + e) (zepto/zoid.h). A plugin must not exit, crash the daemon or write to
 * stderr: a function that fails returns an error, and log lines go through zoid_call_log or
 * zoid_host_log (the daemon's logger).
 */
#ifndef ZEPTO_ZOID_PLUGIN_H
#define ZEPTO_ZOID_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZOID_PLUGIN_API 2

/* Log levels (syslog's numbers). */
#define ZOID_LOG_ERR   3
#define ZOID_LOG_WARN  4
#define ZOID_LOG_INFO  6
#define ZOID_LOG_DEBUG 7

/* Who is calling. */
struct zoid_identity {
    uint32_t uid, gid; /* unix: the call's sender (SCM_CREDENTIALS); tcp: the daemon's own, 65534
                          with --insecure */
    int32_t pid;       /* unix: the client's pid; tcp: -1 */
    bool verified;     /* unix: by the kernel; tcp: by the token; false only with --insecure */
    char peer[80];     /* "unix:pid 1234" or "tcp:10.0.0.5:51234" */
    /* Supplementary groups: unix: from SO_PEERGROUPS (the first 64); tcp: the daemon's own. */
    uint32_t ngroups;
    uint32_t groups[64];
};

struct zoid_call;   /* one call in progress (valid during the function only) */
struct zoid_peer;   /* a connected client, for pushing data (zoid_peer_get / zoid_push) */
struct zoid_daemon; /* opaque */

/* What the daemon gives a plugin at init; valid until fini. */
struct zoid_host {
    const char *plugin_name;
    const char *export_dir; /* --export, or NULL */
    int export_fd;          /* O_PATH|O_DIRECTORY of the export, or -1; owned by the daemon */
    int consistency;        /* the daemon's default: 0 strict, 1 relaxed */
    void *plugin_state;     /* init sets it; given back to functions, fini and client_gone */
    struct zoid_daemon *daemon;
};

/* A function returns 0 or a negative errno. */
typedef int (*zoid_fn)(struct zoid_call *call, const void *payload, size_t len);

struct zoid_plugin {
    uint32_t api; /* ZOID_PLUGIN_API */
    uint16_t id;  /* 1..65535, unique in the daemon (0: the core) */
    const char *name;
    unsigned nfunctions;
    const zoid_fn *functions;            /* indexed by function id */
    const char *const *function_names;   /* for logs; may be NULL */
    int (*init)(struct zoid_host *host); /* at load: 0, or -errno: the plugin is not loaded */
    void (*fini)(void *plugin_state);    /* at daemon exit */
    /* A client went away (closed, crashed, killed): release what `client_state` holds. */
    void (*client_gone)(void *plugin_state, void *client_state);
};

/* What a plugin .so exports. */
typedef const struct zoid_plugin *(*zoid_register_fn)(void);
#define ZOID_REGISTER_SYMBOL "zoid_plugin_register"

/* ---- inside a function -------------------------------------------------------------------- */

const struct zoid_identity *zoid_call_identity(const struct zoid_call *call);
/* What init left in host->plugin_state. */
void *zoid_call_plugin_state(struct zoid_call *call);
/* This plugin's per-client slot (NULL at first): keep state there; client_gone releases it. */
void **zoid_call_client_state(struct zoid_call *call);
/* What the daemon gave this plugin at init. */
const struct zoid_host *zoid_call_host(const struct zoid_call *call);
/* True once nobody waits for this call's reply: its client is gone (closed, dropped, not reading
 * its replies) or the call ran past the daemon's --call-timeout. A function that may run long
 * checks it between steps and returns (-ECANCELED or any error: the reply goes nowhere, or
 * becomes ETIMEDOUT). While a call runs, the daemon also interrupts its thread with a signal
 * (no SA_RESTART) when it is cancelled, and again every 100 ms while it lasts, so that a
 * blocking system call returns EINTR: on EINTR, check this before retrying. Thread-safe. */
bool zoid_call_cancelled(const struct zoid_call *call);
/* Lends the caller's process a duplicate of descriptor `fd` (the same open file description),
 * tagged with `tag`, ahead of this call's reply; the client takes it with zoid_take_fd(tag) once
 * the reply came. Only where the kernel vouches for the peer and descriptors can travel: the
 * shm: transport (same node). 0; -EOPNOTSUPP on another transport or an unverified caller;
 * -EAGAIN when the client has not taken the descriptors lent before (its socket is full: a
 * client cannot make the daemon hold more than a socket buffer of them); -ENOTCONN; -errno. */
int zoid_call_lend_fd(struct zoid_call *call, int fd, uint64_t tag);

/* Logging through the daemon's logger (never stderr directly); printf-like, one line. */
void zoid_call_log(struct zoid_call *call, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void zoid_host_log(const struct zoid_host *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reply building, in order. append copies; reserve returns len bytes of the reply to fill in
 * place; bulk sends len bytes from data without copying, then calls release(arg) (may be NULL)
 * once they are sent (or the client is gone). append and bulk return 0, -ENOMEM or -EMSGSIZE
 * (above the frame limit); reserve returns NULL with errno ENOMEM or EMSGSIZE. */
int zoid_reply_append(struct zoid_call *call, const void *data, size_t len);
void *zoid_reply_reserve(struct zoid_call *call, size_t len);
int zoid_reply_bulk(struct zoid_call *call, const void *data, size_t len,
                    void (*release)(void *arg), void *arg);
/* Up to n bytes of the file fd at off (off < 0: at fd's position, which advances) are sent in
 * place of the first bytes of region, n bytes this call reserved (zoid_reply_reserve), straight
 * from the file's pages (splice), without a copy through the daemon's memory. Returns how many:
 * fewer than n at the end of the file or beyond what one reply takes this way (1 MiB), when the
 * caller reads the rest into region + count itself (region's first count bytes are not sent and
 * need not be filled). -EOPNOTSUPP where the client's transport cannot take them so (shm), or
 * -errno (the file cannot be spliced): the caller reads them itself. Once per call. The bytes
 * are the file's as they are when the reply leaves: a write to the file before then may show. */
ssize_t zoid_reply_file(struct zoid_call *call, void *region, int fd, int64_t off, size_t n);

/* From init: function fn (below 64) may get large request payloads (64 KiB and more) in place,
 * from clients on shm: (same node): `payload` then points into the client's shared region, and
 * the copy out of it is saved. The client can still write there while the function runs, so
 * such a function treats the payload as opaque bytes it reads once (nothing it checked is read
 * again), keeps no pointer to it once it returns (zoid_call_take_payload gives NULL; no
 * zoid_reply_bulk of it), and does not wait for its client meanwhile (the client may be waiting
 * for the ring space the payload holds). 0, or -EINVAL. */
int zoid_host_in_place(struct zoid_host *host, unsigned fn);

/* From init: function fn (below 64) may get large request payloads (64 KiB and more, from unix:
 * and tcp: clients) with only their first `head` bytes read (the fixed arguments before the
 * bulk): `payload` and `length` are then those head bytes, and zoid_call_payload_left says how
 * many more are still in the client's socket. The function moves them on itself, into a file
 * without a copy through the daemon's memory (zoid_call_payload_to_file) or into memory
 * (zoid_call_payload_read); whatever it leaves is read and dropped after it returns, before the
 * reply. The client's next frame is read only once these bytes are out of the socket. 0, or
 * -EINVAL (head above 4096, fn 64 or more). */
int zoid_host_payload_tail(struct zoid_host *host, unsigned fn, uint32_t head);
/* The bytes of this call's payload still in the client's socket (zoid_host_payload_tail); 0 for
 * every call whose payload came whole. */
size_t zoid_call_payload_left(const struct zoid_call *call);
/* Reads the next n of them (at most zoid_call_payload_left) into buf: n, or -errno (the client
 * went, stalled past the daemon's bound, the call was cancelled, or on unix: another process
 * sent the bytes: -EPROTO; the client is then dropped). */
ssize_t zoid_call_payload_read(struct zoid_call *call, void *buf, size_t n);
/* Moves the next n of them into file fd at off (off < 0: at the file's position, which
 * advances), spliced: the socket's pages go through the calling thread's pipe, and the only copy
 * is the file's own. The count written to the file, short when the file refused more (the bytes
 * taken and not written are lost: as a short pwrite), or -errno when nothing was written (errors
 * as zoid_call_payload_read; -EINVAL for anything but a regular file, or one opened with
 * O_APPEND; -EBUSY after zoid_reply_file in the same call). */
ssize_t zoid_call_payload_to_file(struct zoid_call *call, int fd, int64_t off, size_t n);

/* Takes the request payload (what the function got as `payload`) from the daemon: the plugin
 * owns that memory from then on, the pointer stays the same, and it is released with free().
 * For a plugin that keeps a large request as it came (a stream record) instead of copying it.
 * NULL when the daemon cannot hand it over; once per call, from the function running it. */
void *zoid_call_take_payload(struct zoid_call *call);

/* The calling client, to push to later from any thread; zoid_peer_put when done. */
struct zoid_peer *zoid_peer_get(struct zoid_call *call);
void zoid_peer_put(struct zoid_peer *peer);
/* Whether that client has gone (its connection closed): a plugin holding it for later (a wait
 * list) lets it go then (its client_gone hook runs only once every reference is put). */
bool zoid_peer_gone(const struct zoid_peer *peer);
/* Sends an ASYNC frame to the client; 0, or -ENOTCONN when it is gone (-EMSGSIZE above its
 * frame limit). Thread-safe. */
int zoid_push(struct zoid_peer *peer, uint16_t plugin, uint16_t function, const void *data,
              size_t len);

/* ---- state a call leaves on its thread ---------------------------------------------------- */

/* A function that leaves per-thread state behind when it returns (the posix plugin keeps the
 * caller's file-system identity on the thread for that caller's next call) says so here; before
 * the thread runs a function of another plugin, or leaves the pool, the daemon calls clear()
 * (which clears that state). */
void zoid_call_thread_dirty(struct zoid_call *call, void (*clear)(void));

/* ---- stream reductions (docs/zoid-stream.md "Reductions from plugins") -------------------- */

/* A named reduction that streams can be created with (zoid_stream_opts.reduce_name), beside the
 * built-in concat/sum-f64/sum-i64. Every producer contributes one record of the same length per
 * time step; the first contribution is copied into the step's accumulator (len bytes), each
 * further one is folded in by combine, and finish (optional) turns the accumulator into the
 * record consumers get, in place, returning its length (0..len). combine and finish run under
 * the stream's lock, must not block, and return 0 / a length, or a negative errno: then that
 * step becomes a gap (the consumer sees it in zoid_stream_record.lost, the daemon logs it), the
 * stream and its producers go on. A finish returning more than len bytes counts as a failure. */
struct zoid_stream_reduction {
    const char *name; /* 1..31 bytes of [A-Za-z0-9_.-] */
    int (*combine)(void *acc, const void *contribution, size_t len, void *arg);
    long (*finish)(void *acc, size_t len, uint32_t contributions, void *arg); /* may be NULL */
    void *arg;
};
#define ZOID_STREAM_REDUCTION_NAME_MAX 31

/* Registers r (copied; arg and the functions must live until the daemon exits), normally from a
 * plugin's init: 0, -EINVAL (bad name or no combine), -EEXIST (the name is taken), -ENOSPC
 * (64 registered). */
__attribute__((visibility("default"))) int
zoid_stream_reduction_register(const struct zoid_host *host, const struct zoid_stream_reduction *r);

#ifdef __cplusplus
}
#endif
#endif
