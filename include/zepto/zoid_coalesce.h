/*
 * The collective-coalescing counters of a daemon's posix plugin (docs/zoid-posix.md,
 * "Collective coalescing"): calls received against the backend operations the daemon made for
 * them, bytes asked against bytes read and written. Used by `zepto zoid stat`.
 */
#ifndef ZEPTO_ZOID_COALESCE_H
#define ZEPTO_ZOID_COALESCE_H

#include <stdint.h>

#include "zepto/zoid.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZOID_COALESCE_MAX_COUNTERS 64

struct zoid_coalesce_counter {
    const char *name; /* "read_backend_bytes"; "counter_N" for one this build does not know */
    const char *what; /* a line saying what it counts */
    uint64_t value;   /* since the daemon started */
};

/* Asks the daemon c is connected to (its posix plugin; c is used by no other thread meanwhile):
 * fills out[0..max) and returns the number filled, or a negative errno (-ENOSYS or -ENOENT: a
 * daemon without the posix plugin or without counters). */
int zoid_coalesce_stat(struct zoid_client *c, struct zoid_coalesce_counter *out, int max);

#ifdef __cplusplus
}
#endif
#endif
