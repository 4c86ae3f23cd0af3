/*
 * `zepto zoid mount`: the posix plugin of a `zepto zoid serve` daemon behind a FUSE mount
 * (src/zoid/fuse). The CLI (src/cli/zoid_mount.c) fills the options and calls zoid_mount();
 * without libfuse3 at build time zoid_mount() only says so (-ENOSYS, zfuse_absent.c).
 */
#ifndef ZEPTO_ZOID_MOUNT_H
#define ZEPTO_ZOID_MOUNT_H

#include <stdbool.h>

#include "zepto/zepto.h"

enum zoid_mount_consistency {
    ZOID_MOUNT_DEFAULT = 0, /* whatever the daemon's default is (zp_session_new) */
    ZOID_MOUNT_STRICT, /* no kernel write cache, no attribute cache: every write reaches the file */
    ZOID_MOUNT_RELAXED, /* the kernel's writeback cache and 1 s attribute caching */
};

struct zoid_mount_opts {
    const char *server;     /* unix:PATH or tcp:HOST:PORT (required) */
    const char *mountpoint; /* an existing directory */
    const char *token_file; /* tcp: the shared token; NULL: $ZOID_TOKEN_FILE */
    enum zoid_mount_consistency consistency;
    bool foreground;            /* false: detach once mounted, like a mount helper */
    bool debug;                 /* libfuse's request trace on stderr (implies foreground) */
    unsigned threads;           /* most FUSE worker threads; 0: 16 */
    unsigned max_opens_per_uid; /* open files + directories of one user other than root and the
                                   mount's uid; 0: 1024 (docs/zoid-mount.md) */
    bool passthrough;           /* strict, shm:, root: the kernel's FUSE passthrough */
};

/* Connects, mounts, serves until unmounted or signalled (SIGTERM, SIGINT, SIGHUP), unmounts.
 * Everything that can be checked before mounting (the daemon is reachable and serves the posix
 * plugin, /dev/fuse, the mount point) is, with a message in err. 0 or a negative errno; in the
 * background mode only the parent returns on success (the child serves, then exits). */
int zoid_mount(const struct zoid_mount_opts *o, struct zepto_err *err);

#endif
