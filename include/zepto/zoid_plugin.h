/*
 * ZOID plugins: shared objects that `zepto zoid serve` loads (--plugin-dir) and whose functions
 * clients call. A plugin exports `zoid_plugin_register`, returning its description: an id, a
 * name, a table of functions, and init/fini hooks. Functions get the call's arguments (the raw
 * payload; generated dispatch code decodes it), may ask who is calling and keep per-client state,
 * and build their reply; a plugin may also push data to a client at any time (streaming).
 *
 * A function returns 0 or a positive errno, which the caller's zoid_call() returns. A plugin must
 * not exit or crash the daemon; a function that fails returns an error instead.
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

#define ZOID_PLUGIN_API 1

/* Who is calling. */
struct zoid_identity {
    uint32_t uid, gid; /* unix: from SO_PEERCRED; tcp: the daemon's own (token holders) */
    int32_t pid;       /* unix: the client's pid; tcp: -1 */
    bool verified;     /* unix: by the kernel; tcp: by the token; false only with --insecure */
    char peer[80];     /* "unix:pid 1234" or "tcp:10.0.0.5:51234" */
    /* Supplementary groups: unix: from SO_PEERGROUPS (the first 64); tcp: the daemon's own. */
    uint32_t ngroups;
    uint32_t groups[64];
};

struct zoid_call; /* one call in progress (valid during the function only) */
struct zoid_peer; /* a connected client, for pushing data (zoid_peer_get / zoid_push) */

typedef int (*zoid_fn)(struct zoid_call *call, const void *payload, size_t len);

struct zoid_plugin {
    uint32_t api; /* ZOID_PLUGIN_API */
    uint16_t id;  /* 1..65535, unique in the daemon (0: the core) */
    const char *name;
    unsigned nfunctions;
    const zoid_fn *functions;          /* indexed by function id */
    const char *const *function_names; /* for logs; may be NULL */
    int (*init)(void);                 /* at load; nonzero: the plugin is not loaded */
    void (*fini)(void);                /* at daemon exit */
    /* A client went away (closed, crashed, killed): release what `state` holds. */
    void (*client_gone)(void *state);
};

/* What a plugin .so exports. */
typedef const struct zoid_plugin *(*zoid_register_fn)(void);
#define ZOID_REGISTER_SYMBOL "zoid_plugin_register"

/* ---- inside a function -------------------------------------------------------------------- */

const struct zoid_identity *zoid_call_identity(const struct zoid_call *call);

/* This plugin's per-client slot (NULL at first): keep state there; client_gone releases it. */
void **zoid_call_state(struct zoid_call *call);

/* Reply building, in order. append copies; reserve returns len bytes of the reply to fill in
 * place; bulk sends len bytes from data without copying, then calls release(arg) (may be NULL)
 * once they are sent (or the client is gone). Each returns 0 or ENOMEM / EMSGSIZE (above the
 * frame limit). */
int zoid_reply_append(struct zoid_call *call, const void *data, size_t len);
void *zoid_reply_reserve(struct zoid_call *call, size_t len);
int zoid_reply_bulk(struct zoid_call *call, const void *data, size_t len,
                    void (*release)(void *arg), void *arg);

/* The calling client, to push to later from any thread; zoid_peer_put when done. */
struct zoid_peer *zoid_peer_get(struct zoid_call *call);
void zoid_peer_put(struct zoid_peer *peer);
/* Sends an ASYNC frame to the client; 0, or ENOTCONN when it is gone. Thread-safe. */
int zoid_push(struct zoid_peer *peer, uint16_t plugin, uint16_t function, const void *data,
              size_t len);

/* ---- state a call leaves on its thread ---------------------------------------------------- */

/* A plugin that leaves per-thread state behind when its function returns (the posix plugin
 * keeps the caller's file-system identity on the thread for that caller's next call) says so
 * here; before the thread runs a function of another plugin, or leaves the pool, the daemon
 * calls fn (which clears this). */
struct zoid_thread_leftover {
    void (*fn)(void);
    uint16_t plugin; /* the plugin that left it */
};
#ifdef __cplusplus
extern thread_local struct zoid_thread_leftover zoid_thread_leftover;
#else
extern _Thread_local struct zoid_thread_leftover zoid_thread_leftover;
#endif

#ifdef __cplusplus
}
#endif
#endif
