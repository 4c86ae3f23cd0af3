/*
 * What every Zepto library shares in its public interface: the error record that functions fill
 * when they fail, and the version of the build.
 *
 * Convention: a function that can fail returns 0 on success or a negative errno value, and, when
 * it was given a `struct zepto_err`, writes there one line for the user that names the input and
 * the problem. Libraries never print and never exit; the CLI decides what the user sees.
 */
#ifndef ZEPTO_ZEPTO_H
#define ZEPTO_ZEPTO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZEPTO_ERR_MSG_MAX 512

struct zepto_err {
    int code;                    /* positive errno value; 0 when no error was recorded */
    char msg[ZEPTO_ERR_MSG_MAX]; /* one line, no trailing newline, names the input */
};

/* Records an error (printf-style) and returns -code, so that callers can `return zepto_fail(...)`.
 */
int zepto_fail(struct zepto_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in err with "<prefix>: " (for adding context as errors rise). */
void zepto_err_prefix(struct zepto_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One environment variable that a part reads: its name, what it takes, one line of help. Each
 * part keeps all of its variables in one table (src/<part>/settings.c) and returns it from
 * <prefix>_settings(); `zepto --help` lists every part's table. */
struct zepto_setting {
    const char *env;    /* variable name */
    const char *values; /* what it takes */
    const char *help;   /* one line */
};
struct zepto_settings {
    const char *part; /* "base", "noise", "bigmem", "zoid", "ktau", ... */
    const struct zepto_setting *list;
    unsigned count;
};

extern const char zepto_version[]; /* "0.1.0" */
extern const char zepto_commit[];  /* git describe of the build, or "unknown" */

#ifdef __cplusplus
}
#endif
#endif
