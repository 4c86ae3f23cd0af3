/*
 * zoid's environment variables: how `zepto zoid run` hands its options to libzoid-preload.so in
 * the program it runs, and the defaults of the client library (src/zoid/core/settings.c).
 * `zepto --help` lists them. The lookups only read the environment (no allocation), so the
 * interposer may use them while the C runtime starts.
 */
#ifndef ZEPTO_ZOID_SETTINGS_H
#define ZEPTO_ZOID_SETTINGS_H

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zoid_setting {
    ZOID_SET_SERVER,        /* ZOID_SERVER: the daemon zoid_connect() reaches without an address */
    ZOID_SET_TOKEN_FILE,    /* ZOID_TOKEN_FILE: the token file, when the caller gives none */
    ZOID_SET_MOUNT,         /* ZOID_MOUNT: the interposer's forwarded prefix (zoid run --mount) */
    ZOID_SET_CONSISTENCY,   /* ZOID_CONSISTENCY: strict | relaxed (zoid run --consistency) */
    ZOID_SET_PRELOAD_STATE, /* ZOID_PRELOAD_STATE: the session handed across exec (internal) */
    ZOID_SET_PRELOAD_LIB,   /* ZEPTO_ZOID_PRELOAD_LIB: the libzoid-preload.so zoid run preloads */
    ZOID_SET_TCP_TIMEOUT,   /* ZOID_TCP_TIMEOUT: seconds before a silent TCP peer counts as gone */
    ZOID_SET_SOCKETS,       /* ZOID_SOCKETS: 1 forwards TCP connects (zoid run --sockets) */
    ZOID_SET_SHM_SPIN,      /* ZOID_SHM_SPIN: shm: microseconds a waiter spins before sleeping */
    ZOID_SET_SHM_WATCH,     /* ZOID_SHM_WATCH: 0: workers never watch a client's ring */
    ZOID_SET_COUNT
};

/* zoid's table (ZOID_SET_COUNT entries). */
const struct zepto_settings *zoid_settings(void);

/* The value of a setting from the environment, or `fallback` when unset or empty. */
const char *zoid_setting(enum zoid_setting s, const char *fallback);

/* The variable's name, for setting it for a child or naming it in a message. */
const char *zoid_setting_name(enum zoid_setting s);

#ifdef __cplusplus
}
#endif
#endif
