/*
 * Running a program under a preloaded library: the one way the commands that do it (`bigmem run`,
 * `ktau run`, `zoid run`) find their library and put it in LD_PRELOAD.
 */
#ifndef ZEPTO_BASE_PRELOAD_H
#define ZEPTO_BASE_PRELOAD_H

#include <stddef.h>

#include "zepto/zepto.h"

/* The directory of the running executable, with a trailing '/'. 0 or -errno (err filled). */
int zb_self_dir(char *buf, size_t len, struct zepto_err *err);

/* Finds the library `name` (e.g. "libzoid-preload.so") to preload: `override` when it is not
 * NULL or empty (the value of the part's ZEPTO_*_LIB setting, named `override_env` in messages),
 * else ../lib/<name> next to the running executable (an installation, and the build tree's
 * bin/ + lib/), else <name> beside it. Writes the absolute path into path. 0, or -ENOENT /
 * -errno with a message that says what was tried. */
int zb_preload_find(const char *name, const char *override, const char *override_env, char *path,
                    size_t len, struct zepto_err *err);

/* Puts `libs` (n paths) in front of this process's LD_PRELOAD, keeping what was there, for the
 * program about to be exec'd. Refuses a path with a space or ':' (LD_PRELOAD's separators)
 * with -EINVAL. Allocates: call it before fork, or in a child that may allocate. */
int zb_preload_prepend(const char *const *libs, size_t n, struct zepto_err *err);

#endif
