/*
 * The shared options of the CLI (opts.h): one parser per option that several subcommands take,
 * the short-option string derived from a `longopts` table, and the option loop that reports its
 * errors into a `struct zepto_err` instead of printing them.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "cli/opts.h"

/* Puts the option's name before the parser's "'value': problem" (a space, no colon: the value
 * belongs to the option). */
int cli_opt_named(const char *name, int rc, struct zepto_err *err)
{
    if (rc && err) {
        char msg[sizeof(err->msg)];
        memcpy(msg, err->msg, sizeof(msg));
        snprintf(err->msg, sizeof(err->msg), "%s %.*s", name, (int)(sizeof(msg) - 32), msg);
    }
    return rc;
}

int cli_opt_phase(const char *arg, enum zn_phase *phase, struct zepto_err *err)
{
    return cli_opt_named("--phase", zn_phase_parse(arg, phase, err), err);
}

int cli_opt_scale(const char *arg, double *scale, struct zepto_err *err)
{
    double v;
    int rc = zb_parse_double(arg, -DBL_MAX, DBL_MAX, &v, err);
    if (rc)
        return cli_opt_named("--scale", rc, err);
    if (!(v > 0) || v > CLI_SCALE_MAX)
        return zepto_fail(err, ERANGE, "--scale '%s': must be above 0 and at most %g", arg,
                          CLI_SCALE_MAX);
    *scale = v;
    return 0;
}

int cli_opt_seed(const char *arg, uint64_t *seed, struct zepto_err *err)
{
    /* 0 is not a seed: the libraries read it as "none given, take one from the time". */
    return cli_opt_named("--seed", zb_parse_u64(arg, 1, UINT64_MAX, seed, err), err);
}

static int not_empty(const char *name, const char *what, const char *arg, const char **out,
                     struct zepto_err *err)
{
    if (!*arg)
        return zepto_fail(err, EINVAL, "%s '': empty %s", name, what);
    *out = arg;
    return 0;
}

int cli_opt_server(const char *arg, const char **server, struct zepto_err *err)
{
    return not_empty("--server", "address (unix:PATH, shm:PATH or tcp:HOST:PORT)", arg, server,
                     err);
}

int cli_opt_token_file(const char *arg, const char **path, struct zepto_err *err)
{
    return not_empty("--token-file", "file name", arg, path, err);
}

int cli_opt_consistency(const char *arg, enum cli_consistency *c, struct zepto_err *err)
{
    if (!strcmp(arg, "strict"))
        *c = CLI_CONSISTENCY_STRICT;
    else if (!strcmp(arg, "relaxed"))
        *c = CLI_CONSISTENCY_RELAXED;
    else
        return zepto_fail(err, EINVAL, "--consistency '%s': use strict or relaxed", arg);
    return 0;
}

int cli_optstring(const struct option *longopts, bool stop_at_operand, char *buf, size_t len)
{
    size_t n = 0;
    const char *head = stop_at_operand ? "+:" : ":";
    for (const char *h = head; *h; h++) {
        if (n + 1 >= len)
            return -ENOSPC;
        buf[n++] = *h;
    }
    for (const struct option *o = longopts; o->name; o++) {
        if (o->flag || o->val <= 0 || o->val > 127 || !isprint(o->val) || o->val == ':' ||
            o->val == '?' || o->val == '+' || o->val == '-')
            continue;
        size_t need = 1 + (o->has_arg == required_argument) + 2 * (o->has_arg == optional_argument);
        if (n + need >= len)
            return -ENOSPC;
        buf[n++] = (char)o->val;
        if (o->has_arg != no_argument)
            buf[n++] = ':';
        if (o->has_arg == optional_argument)
            buf[n++] = ':';
    }
    buf[n] = 0;
    return 0;
}

void cli_opts_begin(void)
{
    /* 0, not 1: glibc then also re-reads the optstring's leading '+' (a new loop, a new mode). */
    optind = 0;
    opterr = 0;
}

int cli_opts_next(int argc, char **argv, const struct option *longopts, bool stop_at_operand,
                  struct zepto_err *err)
{
    char optstring[160];
    if (getenv("ZEPTO_CLI_LIST_OPTIONS")) { /* the test of --help against this table */
        for (const struct option *o = longopts; o->name; o++)
            printf("--%s%s\n", o->name, o->has_arg == required_argument ? "=" : "");
        for (const struct option *o = longopts; o->name; o++)
            if (o->val > ' ' && o->val < 0x7f)
                printf("-%c%s\n", o->val, o->has_arg == required_argument ? "=" : "");
        exit(0);
    }
    if (cli_optstring(longopts, stop_at_operand, optstring, sizeof(optstring)))
        return zepto_fail(err, ENOSPC, "too many short options"), '?';
    opterr = 0;
    int c = getopt_long(argc, argv, optstring, longopts, NULL);
    if (c == '?') {
        const char *arg = argv[optind - 1];
        if (optopt > 0 && optopt < 0x100 && !(arg[0] == '-' && arg[1] == '-'))
            zepto_fail(err, EINVAL, "unknown option '-%c' (see --help)", optopt);
        else
            zepto_fail(err, EINVAL, "unknown option '%s' (see --help)", arg);
    } else if (c == ':') {
        zepto_fail(err, EINVAL, "option '%s' needs a value", argv[optind - 1]);
        c = '?';
    }
    return c;
}

int cli_opts_no_operand(int argc, char **argv, struct zepto_err *err)
{
    if (optind < argc)
        return zepto_fail(err, EINVAL, "unexpected argument '%s'", argv[optind]);
    return 0;
}

int cli_opts_one_operand(int argc, char **argv, const char *name, struct zepto_err *err)
{
    if (optind >= argc)
        return zepto_fail(err, EINVAL, "missing %s (see --help)", name);
    if (optind + 1 < argc)
        return zepto_fail(err, EINVAL, "unexpected argument '%s'", argv[optind + 1]);
    return 0;
}

int cli_opts_command(int argc, char **argv, struct zepto_err *err)
{
    if (optind >= argc)
        return zepto_fail(err, EINVAL, "missing the command to run (after --)");
    if (strcmp(argv[optind - 1], "--"))
        return zepto_fail(err, EINVAL, "unexpected argument '%s' (put the command after --)",
                          argv[optind]);
    return 0;
}

int cli_usage_err(const char *cmd, const struct zepto_err *err)
{
    return cli_usage_error(cmd, "%s", err->msg);
}
