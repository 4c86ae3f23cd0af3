/*
 * What the subcommands of the `zepto` CLI share: the exit codes of the command-line contract,
 * one-line error messages, subcommand dispatch and progress lines. Options: cli/opts.h.
 */
#ifndef ZEPTO_CLI_H
#define ZEPTO_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "zepto/zepto.h"

#define EXIT_USAGE 2 /* malformed command line */
#define EXIT_FAIL  1 /* the command ran and failed */

/* A subcommand: its full name ("noise record") and its entry point. */
struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

/* Prints "zepto <cmd>: <message>" on stderr and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "zepto <cmd>: <err->msg>" on stderr and returns EXIT_FAIL. */
int cli_fail(const char *cmd, const struct zepto_err *err);

/* Runs the subcommand of `group` named by argv[1], or prints the group's help. */
int cli_dispatch(const char *group, const struct cli_cmd *cmds, int argc, char **argv,
                 const char *group_help);

/* Progress on stderr when it is a terminal: "\r<what>: <N> s left" lines, at most one a second
 * per change; cli_progress_done() ends the line. */
void cli_progress(const char *what, uint64_t done_ns, uint64_t total_ns);
void cli_progress_done(void);

/* Subcommand groups. */
int cli_noise(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_tune(int argc, char **argv); /* and: */
int cli_tune_check(int argc, char **argv);
int cli_bigmem(int argc, char **argv);
int cli_zoid(int argc, char **argv);
int cli_ktau(int argc, char **argv); /* and its subcommands: */
int cli_ktau_run(int argc, char **argv);
int cli_ktau_show(int argc, char **argv);

/* noise subcommands */
int cli_noise_record(int argc, char **argv);
int cli_noise_analyse(int argc, char **argv);
int cli_noise_export(int argc, char **argv);
int cli_noise_play(int argc, char **argv);
int cli_noise_collective(int argc, char **argv);
int cli_noise_simulate(int argc, char **argv);

/* bigmem subcommands */
int cli_bigmem_run(int argc, char **argv);
int cli_bigmem_info(int argc, char **argv);
int cli_bigmem_bench(int argc, char **argv);

/* zoid subcommands */
int cli_zoid_serve(int argc, char **argv);
int cli_zoid_gen(int argc, char **argv);
int cli_zoid_bench(int argc, char **argv);
int cli_zoid_run(int argc, char **argv);
int cli_zoid_mount(int argc, char **argv);
int cli_zoid_stat(int argc, char **argv);
int cli_zoid_stream(int argc, char **argv);

/* The directory of the running zepto binary, with a trailing slash (for its helpers). */
int cli_self_dir(char *buf, size_t len);

/* The human-readable form of a noise summary (analyse, record). */
struct zn_summary;
void cli_noise_print_summary(FILE *f, const struct zn_summary *s);

#endif
