/*
 * The output directory of `zepto ktau run`: which files a run owns there (all of ktau's, or under
 * an MPI launcher only its rank's: the ranks share DIR), the check for an earlier run's files
 * (refused unless --force, then removed) and the making of DIR and its ktau-raw/ subdirectory.
 */
#ifndef ZEPTO_CLI_KTAU_DIR_H
#define ZEPTO_CLI_KTAU_DIR_H

#include <stdbool.h>

#include "zepto/zepto.h"

/* What a run owns in DIR: all of zepto ktau's files, or under an MPI launcher only its rank's
 * (the ranks share DIR). */
struct ktau_owned {
    int rank;         /* -1: not run as a rank */
    char trace[64];   /* trace.json, trace.<rank>.json */
    char summary[64]; /* summary.txt, summary.<rank>.txt */
    char raw[64];     /* ktau-raw, ktau-raw/rank.<rank> */
};

/* What a run as `rank` (-1: not a rank) owns. */
void ktau_owned_init(struct ktau_owned *o, int rank);

/* Makes DIR (one level) and DIR/ktau-raw (and, for a rank, DIR/ktau-raw/rank.N); refuses a DIR
 * with earlier profiles of ours unless force, then removes them. The ranks of one job make DIR
 * at the same time. */
int ktau_prepare_dir(const char *dir, const struct ktau_owned *o, bool force,
                     struct zepto_err *err);

#endif
