/*
 * Output files a user names (-o, --log, --report): a regular file is written whole or not at
 * all (a temporary file beside it, renamed over it at the end, so a failure leaves what was
 * there); what is not a regular file (a device such as /dev/null, a FIFO) is written into as it
 * is, never replaced or removed. A symbolic link stays a link: the file it points to is the one
 * replaced.
 */
#ifndef ZEPTO_BASE_OUTFILE_H
#define ZEPTO_BASE_OUTFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "zepto/zepto.h"

struct zb_out {
    FILE *f;
    char path[PATH_MAX];     /* as the user gave it, for messages */
    char tmp[PATH_MAX + 32]; /* the temporary file, renamed over `target`; "" when direct */
    char target[PATH_MAX];   /* the file replaced: path, or where its link points */
};

/* Opens path for writing (mode "w" or "wb"): 0, or -errno with one line naming path in err. */
int zb_out_open(struct zb_out *o, const char *path, struct zepto_err *err);
/* Checks, before a long run, that zb_out_open would succeed (creates nothing that stays). */
int zb_out_check(const char *path, struct zepto_err *err);
/* Flushes and closes; a regular file is synced and renamed over the target. 0, or -errno with
 * err (the temporary file removed, the target as it was). */
int zb_out_commit(struct zb_out *o, struct zepto_err *err);
/* Gives up: closes and removes the temporary file; the target stays as it was. */
void zb_out_abort(struct zb_out *o);

#endif
