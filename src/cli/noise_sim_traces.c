/*
 * The patterns `zepto noise simulate` replays from several traces (an allocation's nodes): every
 * CPU record of every trace, node after node, so that rank r takes pattern r % n.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/noise_cluster.h"
#include "zepto/noise.h"

#define CMD "noise simulate"

static int add_trace(const char *file, double scale, struct zn_pattern **pat, unsigned *n)
{
    struct zepto_err err = {0};
    struct zn_trace *t;
    if (zn_trace_read(file, &t, &err))
        return cli_fail(CMD, &err);
    if (!t->ncpu) {
        zepto_fail(&err, EINVAL, "%s: the trace holds no CPU record", file);
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    struct zn_pattern *p = realloc(*pat, (*n + t->ncpu) * sizeof *p);
    if (!p) {
        zn_trace_free(t);
        zepto_fail(&err, ENOMEM, "out of memory");
        return cli_fail(CMD, &err);
    }
    *pat = p;
    for (unsigned i = 0; i < t->ncpu; i++) {
        if (zn_pattern_from_trace(t, i, scale, &p[*n], &err)) {
            zepto_err_prefix(&err, "%s", file);
            zn_trace_free(t);
            return cli_fail(CMD, &err);
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
    unsigned nf;
    *out = NULL;
    *n = 0;
    int rc = cli_noise_files(CMD, nops, ops, &files, &nf);
    if (rc)
        return rc;
    for (unsigned i = 0; i < nf && !rc; i++)
        rc = add_trace(files[i], scale, out, n);
    cli_noise_files_free(files, nf);
    if (rc) {
        for (unsigned i = 0; i < *n; i++)
            zn_pattern_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    *ntraces = nf;
    return rc;
}
