/*
 * Error records: the one-line messages that libraries hand up to the CLI instead of printing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "zepto/zepto.h"

int zepto_fail(struct zepto_err *err, int code, const char *fmt, ...)
{
    if (code <= 0)
        code = code < 0 ? -code : EINVAL;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return -code;
}

void zepto_err_prefix(struct zepto_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[ZEPTO_ERR_MSG_MAX];
    char old[ZEPTO_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
}
