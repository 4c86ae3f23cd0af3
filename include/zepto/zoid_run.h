/*
 * `zepto zoid run`: running an unmodified program under libzoid-preload.so, so that its file
 * calls under a prefix go to a zoid daemon's posix plugin (src/zoid/preload/launch.c). The
 * options travel to the interposer in the environment (include/zepto/zoid_settings.h).
 */
#ifndef ZEPTO_ZOID_RUN_H
#define ZEPTO_ZOID_RUN_H

#include <stdbool.h>

#include <stddef.h>

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct zoid_run_opts {
    const char *server;      /* unix:PATH or tcp:HOST:PORT of the daemon (zoid_addr_check) */
    const char *mount;       /* the forwarded prefix, normalised by zoid_run_mount_normalise */
    const char *consistency; /* "strict", "relaxed", or NULL for the daemon's default */
    const char *token_file;  /* an absolute path, or NULL (tcp: the caller's ZOID_TOKEN_FILE) */
    bool sockets;            /* forward TCP connections (docs/zoid-sockets.md); mount may be NULL */
};

/* The mount prefix `in` lexically normalised into out: absolute, without ".", "..", repeated or
 * trailing slashes. 0, or -EINVAL when `in` has "." or ".." components, names / itself, or does
 * not fit in len bytes. */
int zoid_run_mount_normalise(const char *in, char *out, size_t len);

/* Prepares this process to exec a program under libzoid-preload.so: finds the library
 * (ZEPTO_ZOID_PRELOAD_LIB, else ../lib next to the running executable), reaches the daemon
 * once (a wrong address or token fails here, not as EIO in the middle of the program), puts
 * the library in front of LD_PRELOAD and sets ZOID_SERVER, ZOID_MOUNT, ZOID_CONSISTENCY and
 * ZOID_TOKEN_FILE (dropping an outer run's session state). The caller then execs. 0, or a
 * negative errno with a message in err. Allocates and changes the environment: call it before
 * fork, or in the child. */
int zoid_run_prepare(const struct zoid_run_opts *o, struct zepto_err *err);

#ifdef __cplusplus
}
#endif
#endif
