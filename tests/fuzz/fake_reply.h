/*
 * The daemon's reply API as the plugin fuzzers (fuzz_zoid_kv.c, fuzz_zposix.c) fake it: a call
 * is a growing reply buffer, capped at FAKE_MAX_REPLY as the daemon caps it at its payload limit.
 * The host (fake_host: what init got) and the thread-dirty hook (fake_dirty, which the fuzzer
 * calls after each call as the daemon would) are faked here too; logs go nowhere. The fuzzers
 * define zoid_call_identity and zoid_call_client_state themselves.
 */
#ifndef ZEPTO_FUZZ_FAKE_REPLY_H
#define ZEPTO_FUZZ_FAKE_REPLY_H

#include <stddef.h>

#include "zepto/zoid_plugin.h"

#define FAKE_MAX_REPLY (1u << 20)

struct zoid_call {
    unsigned char *buf; /* the reply so far (free it after the call) */
    size_t len;
    void *payload; /* set by a fuzzer whose request buffer a plugin may take (malloc'd) */
    int taken;     /* the plugin took it: the fuzzer must not free it */
};

extern struct zoid_host fake_host;
extern void (*fake_dirty)(void);

#endif
