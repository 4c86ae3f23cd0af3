/*
 * `zepto zoid mount`: the posix plugin of a `zepto zoid serve` daemon behind a FUSE mount. The CLI
 * (src/cli/zoid_mount.c) fills the options and calls zfuse_mount(); without libfuse3 at build time
 * zfuse_mount() only says so (zfuse_absent.c).
 */
#ifndef ZEPTO_ZFUSE_H
#define ZEPTO_ZFUSE_H

#include <stdbool.h>

#include "zepto/zepto.h"

enum zfuse_consistency {
    ZFUSE_DEFAULT = 0, /* whatever the daemon's default is (zp_session_new) */
    ZFUSE_STRICT,      /* no kernel write cache, no attribute cache: every write reaches the file */
    ZFUSE_RELAXED,     /* the kernel's writeback cache and 1 s attribute caching */
};

struct zfuse_opts {
    const char *server;     /* unix:PATH or tcp:HOST:PORT (required) */
    const char *mountpoint; /* an existing directory */
    const char *token_file; /* tcp: the shared token; NULL: $ZOID_TOKEN_FILE */
    enum zfuse_consistency consistency;
    bool foreground;  /* false: detach once mounted, like a mount helper */
    bool debug;       /* libfuse's request trace on stderr (implies foreground) */
    unsigned threads; /* most FUSE worker threads; 0: 16 */
};

/* Connects, mounts, serves until unmounted or signalled (SIGTERM, SIGINT, SIGHUP), unmounts.
 * Everything that can be checked before mounting (the daemon is reachable and serves the posix
 * plugin, /dev/fuse, the mount point) is, with a message in err. 0 or a negative errno; in the
 * background mode only the parent returns on success (the child serves, then exits). */
int zfuse_mount(const struct zfuse_opts *o, struct zepto_err *err);

#endif
