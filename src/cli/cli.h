/*
 * What the subcommands of the `zepto` CLI share: the exit codes of the command-line contract,
 * one-line error messages, option parsing that reports its own errors, and progress lines.
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

/* getopt_long with opterr off and our own messages. Returns the option, -1 at the end, or
 * '?' after printing the error (the caller returns EXIT_USAGE). optstring must start with ':'. */
int cli_getopt(const char *cmd, int argc, char **argv, const char *optstring,
               const struct option *longopts);

/* Parses the options of a command that has only --json and --help: -1 to go on (operands from
 * optind), or the exit code to return (0 after --help, EXIT_USAGE after a bad option). */
int cli_json_option(const char *cmd, int argc, char **argv, const char *usage, bool *json);

/* Checks that exactly one operand (named `name` in the message) follows the options; prints the
 * error and returns nonzero otherwise. The operand is argv[optind]. */
int cli_one_operand(const char *cmd, int argc, char **argv, const char *name);
/* After getopt ("+" mode): the command to run must follow "--". 0 when it does (it starts at
 * argv[optind]), else the usage error (exit 2) already printed. */
int cli_command_operand(const char *cmd, int argc, char **argv);

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

/* The directory of the running zepto binary, with a trailing slash (for its helpers). */
int cli_self_dir(char *buf, size_t len);

/* The human-readable form of a noise summary (analyse, record). */
struct zn_summary;
void cli_noise_print_summary(FILE *f, const struct zn_summary *s);

#endif
