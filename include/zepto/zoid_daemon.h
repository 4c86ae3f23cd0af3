/*
 * The ZOID daemon (`zepto zoid serve`) as a library: its options and the call that runs it until
 * SIGTERM/SIGINT. The daemon never prints: every log line goes to the options' log callback.
 */
#ifndef ZEPTO_ZOID_DAEMON_PUBLIC_H
#define ZEPTO_ZOID_DAEMON_PUBLIC_H

#include <stdbool.h>
#include <stdint.h>

#include "zepto/zepto.h"
#include "zepto/zoid_plugin.h" /* ZOID_LOG_* */

#ifdef __cplusplus
extern "C" {
#endif

/* One log line (no newline; level: ZOID_LOG_*); called from any thread of the daemon, one line at a
 * time. */
typedef void (*zoid_log_fn)(void *arg, int level, const char *line);

struct zoid_daemon_opts {
    const char *listen;         /* address: unix:PATH or tcp:HOST:PORT */
    const char *export_dir;     /* the tree the posix plugin serves (checked to exist) */
    const char *plugin_dir;     /* *.so loaded at start; NULL: none */
    const char *token_file;     /* required on tcp unless insecure */
    bool insecure;              /* tcp without a token: loopback only */
    unsigned threads;           /* workers at least; 0: the CPU count */
    unsigned max_threads;       /* workers at most (the pool grows when calls wait); 0: 64 */
    unsigned max_calls_per_uid; /* calls of one uid running at once; 0: max_threads/4, >= 1 */
    unsigned max_clients;       /* 0: 4096 (+32 kept for root and the daemon's uid) */
    unsigned max_conns_per_uid; /* 0: half of max_clients */
    uint32_t max_payload;       /* 0: 64 MiB */
    uint32_t max_in_flight;     /* per client; 0: 64 */
    uint64_t max_client_bytes;  /* payloads held per client (plus one frame); 0: 64 MiB */
    uint64_t max_bytes;         /* payloads held by the daemon; 0: 1 GiB */
    unsigned call_timeout_ms;   /* a call running longer is interrupted; 0: 30 s */
    unsigned send_timeout_ms;   /* a client taking no reply bytes this long is dropped; 0: 2 s */
    unsigned stall_timeout_ms;  /* a frame begun, no byte of it this long: dropped; 0: 30 s */
    unsigned idle_s;            /* 0: 600 */
    int consistency;            /* file forwarding's default: 0 strict, 1 relaxed */
    zoid_log_fn log;            /* NULL: no log */
    void *log_arg;
};

/* Runs the daemon until SIGTERM or SIGINT (the calls in flight finish first); 0 or -errno. */
int zoid_daemon_run(const struct zoid_daemon_opts *o, struct zepto_err *err);

#ifdef __cplusplus
}
#endif
#endif
