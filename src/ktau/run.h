/*
 * The parts of ktau_run() (include/zepto/ktau_run.h): the output directory and what a run owns
 * there (run_dir.c), and the merge of what was recorded into the files (run_outputs.c).
 */
#ifndef ZEPTO_KTAU_RUN_PRIV_H
#define ZEPTO_KTAU_RUN_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ktau/capture.h"
#include "zepto/ktau_run.h"

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

/* Passes one formatted line to opts->warn, when there is one. */
void kt_run_warn(const struct ktau_run_opts *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* What the run recorded, for the merge. */
struct kt_run_record {
    struct ktau_capture *kernel; /* sorted, or NULL */
    const char *kernel_note;     /* for summary.txt */
    int status;                  /* the program's, in shell terms */
    pid_t root;                  /* the program's pid */
    uint64_t span[2];            /* CLOCK_MONOTONIC: its start and end */
};

/* Merges libktau's files in DIR/<o->raw> with the kernel's records and writes DIR's files: the
 * profiles, o->trace and o->summary. *threads gets the number of thread profiles. */
int kt_run_write_outputs(const struct ktau_run_opts *opts, const struct ktau_owned *o,
                         const struct kt_run_record *rec, size_t *threads, struct zepto_err *err);

#endif
