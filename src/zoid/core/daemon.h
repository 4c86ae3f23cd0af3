/*
 * The ZOID daemon's inner parts (private): connected clients (peers), the plugin table, calls
 * in progress, and the worker pool. daemon.c runs the event loop, daemon_pool.c the workers,
 * plugins.c loads and looks up plugins, call.c is what plugin functions see of a call.
 */
#ifndef ZOID_CORE_DAEMON_H
#define ZOID_CORE_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/uio.h>

#include "zepto/zoid.h"
#include "zepto/zoid_daemon.h"
#include "zepto/zoid_plugin.h"
#include "zoid/core/auth.h"
#include "zoid/core/cred.h"
#include "zoid/core/transport.h"

#define ZOID_MAX_PLUGINS 64

/* One loaded plugin. */
struct zoid_slot {
    const struct zoid_plugin *p;
    void *handle;          /* dlopen handle; NULL for the built-in core */
    struct zoid_host host; /* what its init got (stays here: the plugin keeps the pointer) */
    char path[256];
};

/* A connected client. Freed when the last reference goes (the loop's, and one per call). */
/* What a client's epoll events point to. Two events of one client may be out at once (a worker
 * watching its ring re-arms while another thread takes an event: daemon_own.c), so a thread
 * holding an event reads the client only once it holds the reader token; a dropped client keeps
 * the token taken for ever, and this outlives the client until no thread can still hold one of
 * its events (daemon_grave.c). */
struct zoid_peer_ev {
    struct zoid_peer *p;
    _Atomic bool reader, owed; /* the token; an event left to its holder (to re-arm) */
    uint64_t grave_epoch;      /* the drop's epoch */
    struct zoid_peer_ev *next; /* in the grave */
};

struct zoid_peer {
    int fd;
    const struct zoid_transport *t;
    struct zoid_daemon *d;
    _Atomic int refs;
    _Atomic bool closed;          /* the connection is gone: no more sends */
    pthread_mutex_t send_mu;      /* one frame at a time */
    struct zoid_identity id;      /* the connection's (SO_PEERCRED at connect) */
    bool passcred;                /* unix: every frame carries its sender's credentials */
    struct zoid_cred frame_cred;  /* those of the frame being read (its first segment) */
    struct zoid_identity call_id; /* the sender of the frame just read */
    int call_error;               /* EACCES when it could not be told */
    _Atomic bool welcomed;        /* the handshake is done */
    unsigned char nonce[ZOID_NONCE_BYTES];
    uint64_t since_ns;
    _Atomic uint64_t last_ns; /* when bytes last came (read by the sweep) */
    _Atomic unsigned in_flight;
    uint32_t max_payload;
    unsigned send_timeout_ms;
    unsigned stall_timeout_ms; /* a frame begun and not finished (0: STALL_S) */
    struct zoid_uid *u;        /* its uid's accounting (connections, calls running) */
    /* Limits (daemon_limits.c): not read (its socket not re-armed) while parked. */
    _Atomic bool parked;
    _Atomic uint64_t bytes; /* payloads held (read, not yet run and freed) */
    uint32_t payload_bytes; /* of the frame being read, counted in bytes */
    uint32_t want;          /* a payload waiting for room in the daemon's budget */
    bool memwait;           /* in the daemon's list of those (under its lock) */
    struct zoid_peer *memnext;
    _Atomic unsigned cancelled; /* calls that ended after it left */
    _Atomic uint64_t gone_ns;
    /* The sweep's verdict (idle, stalled...): set once, then the socket is shut down so that the
     * thread that gets its event drops it (only that thread touches the frame being read). */
    _Atomic(const char *) kill_why;
    _Atomic bool mid_frame; /* a frame begun and not finished (read by the sweep) */
    /* Released before the socket is (re-)armed, acquired by the thread its next event goes to:
     * the frame state below passes from thread to thread (the kernel orders it too, but the
     * language and the thread sanitizer see only this). */
    _Atomic unsigned handoff;
    /* What its events point to (struct zoid_peer_ev); given to the daemon's grave at its drop
     * (ev_given), else freed with it. */
    struct zoid_peer_ev *ev;
    bool ev_given;
    /* In the daemon's kick list (daemon_own.c: bytes in its ring nothing else reports; under
     * the daemon's kick_mu). */
    bool kicked;
    struct zoid_peer *kick_next;
    /* The frame being read (without blocking, by the one thread its event went to). */
    unsigned char hdr[ZOID_HEADER_SIZE];
    size_t hdr_got;
    struct zoid_header h;
    unsigned char *payload;
    size_t payload_got;
    void *state[ZOID_MAX_PLUGINS]; /* per plugin slot */
    struct zoid_peer *next;        /* the daemon's list (under its peers lock) */
    /* The payload being read is read in place (the transport's view). */
    bool viewing;
    const void *view; /* where, once all of it came (for zd__enqueue) */
    /* The frame being read leaves this many bytes of its payload in the socket for its function
     * (zoid_host_payload_tail); tail_left: those still there once its call runs. The client is
     * not read while some are (daemon_limits.c). */
    uint32_t tail;
    _Atomic uint32_t tail_left;
};

/* A call in progress: what a plugin function builds its reply in. */
struct zoid_call {
    struct zoid_peer *peer;
    struct zoid_identity id; /* who sent this call (zoid_call_identity) */
    unsigned slot;
    struct zoid_host *host; /* the plugin's */
    struct zoid_header h;
    unsigned char *payload;
    bool payload_taken;    /* the plugin took the payload (zoid_call_take_payload): not freed */
    bool payload_in_place; /* the payload lies in the transport (a view): it cannot be taken */
    /* The reply: iovecs over an owned buffer (appended, reserved) and bulk memory. */
    struct iovec *iov;
    int niov, capiov;
    unsigned char *buf; /* appended bytes; iovecs point into it by offset until sent */
    size_t buf_len, buf_cap;
    size_t *buf_off; /* for each iovec: offset into buf, or SIZE_MAX for bulk */
    uint64_t length;
    struct {
        void (*fn)(void *);
        void *arg;
    } * release;
    int nrelease, caprelease;
    uint32_t max_payload;
    const _Atomic bool *timed_out; /* past the call timeout (zoid_call_cancelled) */
    /* zoid_reply_file: file_len bytes in the thread's pipe go in place of buf[file_at...]. */
    size_t file_at, file_len;
    /* Bytes of the payload still in the client's socket (payload_tail.c). */
    size_t tail_left;
};

/* Plugin table (plugins.c). Each plugin's host is a copy of `base` with its name. */
int zoid_plugins_load(const char *dir, const struct zoid_host *base, struct zoid_slot *slots,
                      unsigned *n, struct zepto_err *err);
void zoid_plugins_unload(struct zoid_slot *slots, unsigned n);
int zoid_plugin_find(const struct zoid_slot *slots, unsigned n, uint16_t id);
extern const struct zoid_plugin zoid_core_plugin;

/* What a function left on its thread (zoid_call_thread_dirty): cleared before the thread runs
 * another plugin's function or leaves the pool (call.c). */
struct zoid_dirty {
    void (*clear)(void);
    uint16_t plugin; /* the plugin that left it */
};
extern _Thread_local struct zoid_dirty zoid_dirty;
/* Runs and forgets the clear hook, unless it is plugin's own (plugin < 0: any). */
void zoid_dirty_clear(int plugin);

/* Calls (call.c). */
void zoid_call_init(struct zoid_call *c, struct zoid_peer *peer, unsigned slot, uint32_t max);
/* Sends the reply frame (header error `error`: the reply is then empty) and releases it. */
int zoid_call_finish(struct zoid_call *c, int error);
/* Replies straight from a file (reply_file.c): the calling thread's pipe, which holds the bytes
 * zoid_reply_file put there (NULL: none); reset empties it (closes it: the next is new). */
int zoid__reply_pipe(void);
void zoid__reply_pipe_reset(void);
/* The calling thread's pipe (made on first use): 0 and its ends and size, or -errno. */
int zoid__thread_pipe(int *rd, int *wr, size_t *cap);
/* Reads and drops what is left of c's payload in the socket (payload_tail.c): 0, or -errno and
 * the client is told to go. */
int zoid__payload_discard(struct zoid_call *c);
/* The iovec of c's reply that holds buf[at, at + n): its index, or -1. */
int zoid__reply_iov_of(const struct zoid_call *c, size_t at, size_t n);
void zoid_peer_unref(struct zoid_peer *p);
/* Sends one frame on a peer, under its send lock. */
int zoid_peer_send(struct zoid_peer *p, const struct zoid_header *h, const struct iovec *iov,
                   int n);

/* The daemon (daemon.c). */
struct zoid_daemon;
/* Frees a peer's per-plugin state (client_gone hooks). */
void zoid_daemon_release_state(struct zoid_daemon *d, struct zoid_peer *p);
/* A log line through the options' callback (printf-like). */
void zoid_daemon_log(const struct zoid_daemon *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, rate-limited by key instead of by fmt (plugin lines: by the plugin's format). */
void zoid_daemon_vlogk(const struct zoid_daemon *d, const void *key, int level, const char *fmt,
                       va_list ap);
/* The last reference to a peer went (call.c): the daemon's log line on cancelled calls. */
void zoid_daemon_peer_freed(struct zoid_daemon *d, struct zoid_peer *p);

#endif
