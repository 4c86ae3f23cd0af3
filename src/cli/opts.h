/*
 * The options several subcommands take, each parsed by one helper with one message form, and the
 * option loop every subcommand runs over its `longopts` table.
 *
 * A subcommand lists its options once, in a `struct option` table. An entry whose `val` is a
 * printable character is also that short option (`-d`); long-only options take a value from
 * CLI_OPT_LOCAL up, the shared ones use the CLI_OPT_* keys below. The getopt short-option string
 * is derived from the table (cli_optstring), never written beside it.
 *
 * Errors do not print: every helper writes one line into `err`, in the form
 * "--seed '-1': not a whole number" (the option, the value quoted, the problem), and returns a
 * negative errno. The subcommand prints it once, as "zepto <cmd>: <line>", and exits 2
 * (cli_usage_err). `zepto-noise-collective` prints only on its first rank.
 */
#ifndef ZEPTO_CLI_OPTS_H
#define ZEPTO_CLI_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zepto/noise.h"
#include "zepto/zepto.h"

/* The keys of the shared options (getopt `val`s above any character). */
enum cli_opt_key {
    CLI_OPT_JSON = 0x100, /* --json: one JSON document on stdout */
    CLI_OPT_SERVER,       /* --server unix:PATH|tcp:HOST:PORT */
    CLI_OPT_TOKEN_FILE,   /* --token-file F */
    CLI_OPT_PHASE,        /* --phase sync|random */
    CLI_OPT_SCALE,        /* --scale X: detour lengths multiplied by X */
    CLI_OPT_SEED,         /* --seed N */
    CLI_OPT_CONSISTENCY,  /* --consistency strict|relaxed */
    CLI_OPT_LOCAL = 0x200 /* a subcommand's own long-only options start here */
};

/* Their `longopts` entries, so that each is spelled once. */
#define CLI_LONGOPT_JSON                                                                           \
    {                                                                                              \
        "json", no_argument, 0, CLI_OPT_JSON                                                       \
    }
#define CLI_LONGOPT_SERVER                                                                         \
    {                                                                                              \
        "server", required_argument, 0, CLI_OPT_SERVER                                             \
    }
#define CLI_LONGOPT_TOKEN_FILE                                                                     \
    {                                                                                              \
        "token-file", required_argument, 0, CLI_OPT_TOKEN_FILE                                     \
    }
#define CLI_LONGOPT_PHASE                                                                          \
    {                                                                                              \
        "phase", required_argument, 0, CLI_OPT_PHASE                                               \
    }
#define CLI_LONGOPT_SCALE                                                                          \
    {                                                                                              \
        "scale", required_argument, 0, CLI_OPT_SCALE                                               \
    }
#define CLI_LONGOPT_SEED                                                                           \
    {                                                                                              \
        "seed", required_argument, 0, CLI_OPT_SEED                                                 \
    }
#define CLI_LONGOPT_CONSISTENCY                                                                    \
    {                                                                                              \
        "consistency", required_argument, 0, CLI_OPT_CONSISTENCY                                   \
    }
/* -q/--quiet: no progress, notes or report on stderr (errors and warnings are still printed);
 * -v/--verbose: more detail on stderr. The same letters mean nothing else in any command. */
#define CLI_LONGOPT_QUIET                                                                          \
    {                                                                                              \
        "quiet", no_argument, 0, 'q'                                                               \
    }
#define CLI_LONGOPT_VERBOSE                                                                        \
    {                                                                                              \
        "verbose", no_argument, 0, 'v'                                                             \
    }
#define CLI_LONGOPT_HELP                                                                           \
    {                                                                                              \
        "help", no_argument, 0, 'h'                                                                \
    }

#define CLI_SCALE_MAX 1e6 /* --scale: above 0 and at most this */

enum cli_consistency { CLI_CONSISTENCY_STRICT, CLI_CONSISTENCY_RELAXED };

/* For a subcommand's own options: when rc is an error, puts the option's name before the
 * message a base parser left in err ("'abc': not a duration" -> "-d 'abc': not a duration").
 * Returns rc. */
int cli_opt_named(const char *name, int rc, struct zepto_err *err);

/* The value parsers of the shared options: 0, or a negative errno with err set. */
int cli_opt_phase(const char *arg, enum zn_phase *phase, struct zepto_err *err);
int cli_opt_scale(const char *arg, double *scale, struct zepto_err *err);          /* (0, 1e6] */
int cli_opt_seed(const char *arg, uint64_t *seed, struct zepto_err *err);          /* 1 .. 2^64-1 */
int cli_opt_server(const char *arg, const char **server, struct zepto_err *err);   /* not empty */
int cli_opt_token_file(const char *arg, const char **path, struct zepto_err *err); /* not empty */
int cli_opt_consistency(const char *arg, enum cli_consistency *c, struct zepto_err *err);

/* The getopt short-option string of `longopts`: ":" (or "+:" to stop at the first operand, so
 * that a command after -- keeps its options), then every printable `val`, with ":" when it takes
 * a value. 0, or -ENOSPC when buf is too small. */
int cli_optstring(const struct option *longopts, bool stop_at_operand, char *buf, size_t len);

/* Starts an option loop: the next cli_opts_next() reads argv from the start again. */
void cli_opts_begin(void);

/* The next option of argv (getopt_long over `longopts` and its derived optstring): its `val`,
 * -1 after the last option (operands from optind), or '?' with err set ("unknown option '-x'
 * (see --help)", "option '--seed' needs a value"). */
int cli_opts_next(int argc, char **argv, const struct option *longopts, bool stop_at_operand,
                  struct zepto_err *err);

/* After the loop, the operands from optind: none; exactly one (named `name` in the message:
 * "missing TRACE (see --help)"); or, with "+" mode, a command after "--". 0 or -EINVAL. */
int cli_opts_no_operand(int argc, char **argv, struct zepto_err *err);
int cli_opts_one_operand(int argc, char **argv, const char *name, struct zepto_err *err);
int cli_opts_command(int argc, char **argv, struct zepto_err *err);

/* Prints "zepto <cmd>: <err->msg>" on stderr and returns EXIT_USAGE (2). */
int cli_usage_err(const char *cmd, const struct zepto_err *err);

#endif
