/*
 * Running a program under ktau (what `zepto ktau run` and the report's ktau section do): the
 * program runs with libktau.so preloaded (and libktau-mpi.so with `mpi`) and the kernel capture
 * following it and everything it starts; when it is over, both are merged into DIR: TAU profiles
 * (profile.N.C.T), a Chrome trace (trace.json), a summary (summary.txt) and libktau's own files
 * (ktau-raw/).
 *
 * Run as MPI rank R (under a launcher), a run shares DIR with the other ranks and owns only its
 * rank's files there: profile.R.<context>.<thread>, trace.R.json, summary.R.txt and
 * ktau-raw/rank.R/.
 */
#ifndef ZEPTO_KTAU_RUN_H
#define ZEPTO_KTAU_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ktau's environment variables (src/ktau/settings.c): those of `zepto ktau run` and those it
 * hands to libktau in the program; `zepto --help` lists them. */
enum ktau_setting {
    KTAU_SET_DIR,     /* KTAU_DIR: where libktau writes its files (ktau run sets it) */
    KTAU_SET_EXCLUDE, /* KTAU_EXCLUDE: glob,glob: instrumented functions not timed */
    KTAU_SET_CLOCK,   /* KTAU_CLOCK: tsc | monotonic */
    KTAU_SET_LOG_MAX, /* KTAU_LOG_MAX: bytes of event log per thread */
    KTAU_SET_LIB,     /* ZEPTO_KTAU_LIB: the libktau.so that ktau run preloads */
    KTAU_SET_MPI_LIB, /* ZEPTO_KTAU_MPI_LIB: the libktau-mpi.so of ktau run --mpi */
    KTAU_SET_COUNT
};
const struct zepto_settings *ktau_settings(void);
/* The value of a setting, or `fallback` when unset or empty. Reads the environment only (no
 * allocation): libktau calls it in its constructor. */
const char *ktau_setting(enum ktau_setting s, const char *fallback);

/* ktau_run_opts.rank: the rank the launcher gave this process (zb_launcher_rank), if any. */
#define KTAU_RUN_RANK_LAUNCHER (-2)

struct ktau_run_opts {
    const char *dir;   /* output directory (made when missing) */
    char *const *argv; /* the program and its arguments, NULL-terminated */
    bool kernel;       /* record the kernel's tracepoints (false: user-level timers only) */
    bool mpi;          /* also preload libktau-mpi.so (PMPI wrappers, profiles named by rank) */
    bool force;        /* replace the files of an earlier run in dir (else -EEXIST) */
    int rank;          /* whose files to write: KTAU_RUN_RANK_LAUNCHER, -1 (all of them, not a
                          rank) or a rank >= 0 */
    bool hide_rank;    /* give the program empty launcher rank variables, so that its libktau
                          does not name its profiles with a rank either */
    const char *stdout_path; /* the program's stdout goes to this file (created or appended to),
                                or NULL to inherit */
    const char *stderr_path; /* the same for its stderr */
    /* Called with one line (no newline, no "zepto" prefix) for what the user should know while
     * the run goes on (no kernel capture, lost records, a killed program, skipped files); NULL:
     * not told. */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
};

struct ktau_run_result {
    int status;            /* the program's exit status in shell terms: its exit code, 128+N when
                              signal N killed it, 127/126 when it could not be executed */
    int exec_errno;        /* nonzero: the program could not be executed (nothing was written) */
    int signal;            /* the signal that killed it, or 0 */
    int rank;              /* the rank whose files were written, or -1 */
    size_t threads;        /* thread profiles written */
    bool kernel_on;        /* the kernel capture ran */
    size_t kernel_records; /* kernel records merged */
    uint64_t lost;         /* kernel records lost (buffers full): kernel figures are low */
    char kernel_note[600]; /* as in summary.txt: "on, N records, M lost" or "off (why)" */
};

/* Runs opts->argv under ktau and writes dir's files. Returns 0 when the files are written (the
 * program's own status is result->status, whatever it is); a negative errno with err filled when
 * the libraries cannot be found, dir cannot be prepared, the program cannot be executed
 * (result->exec_errno is then set) or the files cannot be written. Ignores SIGINT and SIGQUIT
 * while the program runs (they go to the program) and restores them after. */
int ktau_run(const struct ktau_run_opts *opts, struct ktau_run_result *result,
             struct zepto_err *err);

#ifdef __cplusplus
}
#endif
#endif
