/*
 * The patterns `zepto noise simulate` replays from several traces (an allocation's nodes): every
 * CPU record of every trace, node after node, so that rank r takes pattern r % n. A trace that
 * cannot be read is skipped with a one-line note; none readable is an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/noise_cluster.h"
#include "zepto/noise.h"

#define CMD "noise simulate"

#define SKIP 1 /* add_trace: the trace was left out (err says why) */

static int add_trace(const char *file, double scale, struct zn_pattern **pat, unsigned *n,
                     struct zepto_err *err)
{
    struct zn_trace *t;
    if (zn_trace_read(file, &t, err))
        return SKIP;
    if (!t->ncpu) {
        zepto_fail(err, EINVAL, "%s: the trace holds no CPU record", file);
        zn_trace_free(t);
        return SKIP;
    }
    struct zn_pattern *p = realloc(*pat, (*n + t->ncpu) * sizeof *p);
    if (!p) {
        zn_trace_free(t);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    *pat = p;
    for (unsigned i = 0; i < t->ncpu; i++) {
        if (zn_pattern_from_trace(t, i, scale, &p[*n], err)) {
            zepto_err_prefix(err, "%s", file);
            zn_trace_free(t);
            return -1;
        }
        (*n)++;
    }
    zn_trace_free(t);
    return 0;
}

int cli_noise_sim_patterns(int nops, char **ops, double scale, struct zn_pattern **out, unsigned *n,
                           unsigned *ntraces)
{
    char **files;
    unsigned nf, used = 0, skipped = 0;
    char first[sizeof(((struct zepto_err *)0)->msg) + 64] = "";
    *out = NULL;
    *n = 0;
    int rc = cli_noise_files(CMD, nops, ops, &files, &nf);
    if (rc)
        return rc;
    char **why = calloc(nf ? nf : 1, sizeof *why); /* NULL: no notes, the rest goes on */
    for (unsigned i = 0; i < nf && !rc; i++) {
        struct zepto_err err = {0};
        int r = add_trace(files[i], scale, out, n, &err);
        if (r == SKIP) {
            if (!skipped++)
                snprintf(first, sizeof first, "%s", err.msg);
            if (why)
                why[skipped - 1] = strdup(err.msg);
        } else if (r) {
            rc = cli_fail(CMD, &err);
        } else {
            used++;
        }
    }
    cli_noise_files_free(files, nf);
    /* The notes only when something is left to simulate; else the one line below says it. */
    for (unsigned i = 0; why && i < skipped; i++) {
        if (used && why[i])
            fprintf(stderr, "zepto " CMD ": note: skipped %s\n", why[i]);
        free(why[i]);
    }
    free(why);
    if (!rc && !used) {
        fprintf(stderr, "zepto " CMD ": no readable trace (%u skipped; first: %s)\n", skipped,
                first);
        rc = EXIT_FAIL;
    }
    if (rc) {
        for (unsigned i = 0; i < *n; i++)
            zn_pattern_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    *ntraces = used;
    return rc;
}
