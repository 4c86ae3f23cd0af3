/*
 * Starting a child program: PATH lookup, extra environment entries, optional redirection of its
 * output, and its exit status in shell terms (127 when it could not be executed, 128+N when
 * killed by signal N).
 */
#ifndef ZEPTO_BASE_SPAWN_H
#define ZEPTO_BASE_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "zepto/zepto.h"

struct zb_spawn_opts {
    char *const *env_add;    /* NULL-terminated "NAME=value" entries added to (or replacing in)
                                the environment; may be NULL */
    const char *stdout_path; /* file for the child's stdout, or NULL to inherit */
    const char *stderr_path; /* file for the child's stderr, or NULL to inherit */
    const char *cwd;         /* directory the child starts in (after the files above are opened,
                                so their paths are relative to ours), or NULL */
};

/* Starts argv[0] with arguments argv. Fails (with a message naming the program) when it cannot be
 * found or executed. */
int zb_spawn(char *const argv[], const struct zb_spawn_opts *opts, pid_t *pid,
             struct zepto_err *err);

/* Waits for pid and returns its exit status in shell terms through *status. */
int zb_spawn_wait(pid_t pid, int *status, struct zepto_err *err);

/* zb_spawn + zb_spawn_wait. */
int zb_run(char *const argv[], const struct zb_spawn_opts *opts, int *status,
           struct zepto_err *err);

/* Whether `name` (or a path) names an executable file, looked up in PATH. */
/* Whether name (a path, or a command looked for in $PATH) is a file this process may run: 0,
 * -ENOENT (none: "command not found", 127 for a shell) or -EACCES (found, but not a regular file
 * it may execute: 126). */
int zb_executable_check(const char *name);
bool zb_executable_exists(const char *name);

#endif
