/*
 * Proves the shared option helpers of the CLI (src/cli/opts.c): every bad value of --phase,
 * --scale, --seed, --server, --token-file and --consistency is refused with one line of the form
 * "--opt 'value': problem", good values are taken, the short-option string follows the longopts
 * table, and the option loop reports unknown options and missing values without printing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/opts.h"

/* rc is an error, and the message is exactly one line that starts with want. */
static void expect_msg(int rc, const struct zepto_err *err, const char *want)
{
    if (rc >= 0)
        fail_msg("accepted, expected '%s'", want);
    if (strncmp(err->msg, want, strlen(want)))
        fail_msg("message '%s', expected it to start with '%s'", err->msg, want);
    assert_null(strchr(err->msg, '\n'));
}

static void phase_values(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    enum zn_phase p = ZN_PHASE_SYNC;
    assert_int_equal(cli_opt_phase("random", &p, &err), 0);
    assert_int_equal(p, ZN_PHASE_RANDOM);
    assert_int_equal(cli_opt_phase("sync", &p, &err), 0);
    assert_int_equal(p, ZN_PHASE_SYNC);
    expect_msg(cli_opt_phase("both", &p, &err), &err, "--phase 'both': use sync or random");
    expect_msg(cli_opt_phase("", &p, &err), &err, "--phase '': use sync or random");
    expect_msg(cli_opt_phase("Sync", &p, &err), &err, "--phase 'Sync'");
}

static void scale_values(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    double x = 1;
    assert_int_equal(cli_opt_scale("2.5", &x, &err), 0);
    assert_true(x == 2.5);
    assert_int_equal(cli_opt_scale("1000000", &x, &err), 0);
    assert_int_equal(cli_opt_scale("0.001", &x, &err), 0);
    x = 7;
    expect_msg(cli_opt_scale("0", &x, &err), &err,
               "--scale '0': must be above 0 and at most 1e+06");
    expect_msg(cli_opt_scale("-2", &x, &err), &err, "--scale '-2': must be above 0");
    expect_msg(cli_opt_scale("1000001", &x, &err), &err, "--scale '1000001': must be above 0");
    expect_msg(cli_opt_scale("big", &x, &err), &err, "--scale 'big': not a number");
    expect_msg(cli_opt_scale("1e3", &x, &err), &err, "--scale '1e3': not a number");
    expect_msg(cli_opt_scale("nan", &x, &err), &err, "--scale 'nan': not a number");
    expect_msg(cli_opt_scale("", &x, &err), &err, "--scale");
    assert_true(x == 7); /* untouched on failure */
}

static void seed_values(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    uint64_t s = 0;
    assert_int_equal(cli_opt_seed("18446744073709551615", &s, &err), 0);
    assert_true(s == UINT64_MAX);
    assert_int_equal(cli_opt_seed("1", &s, &err), 0);
    assert_true(s == 1);
    expect_msg(cli_opt_seed("x", &s, &err), &err, "--seed 'x': not a whole number");
    expect_msg(cli_opt_seed("-1", &s, &err), &err, "--seed '-1': not a whole number");
    expect_msg(cli_opt_seed("0", &s, &err), &err, "--seed '0': must be at least 1");
    expect_msg(cli_opt_seed("18446744073709551616", &s, &err), &err, "--seed '1844674407370955");
    expect_msg(cli_opt_seed("5s", &s, &err), &err, "--seed '5s': not a whole number");
}

static void strings_and_consistency(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    const char *v = NULL;
    assert_int_equal(cli_opt_server("unix:/tmp/s", &v, &err), 0);
    assert_string_equal(v, "unix:/tmp/s");
    expect_msg(cli_opt_server("", &v, &err), &err, "--server '': empty address");
    assert_int_equal(cli_opt_token_file("tok", &v, &err), 0);
    assert_string_equal(v, "tok");
    expect_msg(cli_opt_token_file("", &v, &err), &err, "--token-file '': empty file name");

    enum cli_consistency c = CLI_CONSISTENCY_STRICT;
    assert_int_equal(cli_opt_consistency("relaxed", &c, &err), 0);
    assert_int_equal(c, CLI_CONSISTENCY_RELAXED);
    assert_int_equal(cli_opt_consistency("strict", &c, &err), 0);
    assert_int_equal(c, CLI_CONSISTENCY_STRICT);
    expect_msg(cli_opt_consistency("loose", &c, &err), &err,
               "--consistency 'loose': use strict or relaxed");
}

enum { OPT_BUFFER = CLI_OPT_LOCAL, OPT_LEVEL };

static const struct option longopts[] = {
    {"duration", required_argument, 0, 'd'},
    {"quiet", no_argument, 0, 'q'},
    {"buffer", required_argument, 0, OPT_BUFFER},
    {"level", optional_argument, 0, 'l'},
    CLI_LONGOPT_JSON,
    CLI_LONGOPT_SEED,
    CLI_LONGOPT_HELP,
    {0},
};

static void optstring_from_longopts(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(cli_optstring(longopts, false, buf, sizeof(buf)), 0);
    assert_string_equal(buf, ":d:ql::h");
    assert_int_equal(cli_optstring(longopts, true, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "+:d:ql::h");
    assert_int_equal(cli_optstring(longopts, false, buf, 5), -ENOSPC);
    static const struct option none[] = {CLI_LONGOPT_JSON, {0}};
    assert_int_equal(cli_optstring(none, false, buf, sizeof(buf)), 0);
    assert_string_equal(buf, ":");
}

/* Runs the loop over argv: -1 at its end, -EINVAL (err set) on a bad option. */
static int loop(int argc, char **argv, struct zepto_err *err, int *seen)
{
    int c;
    *seen = 0;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        if (c == '?')
            return -EINVAL;
        (*seen)++;
    }
    return c;
}

static void option_loop(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    int seen;
    char *good[] = {"cmd", "-d", "1s", "--json", "--seed", "4", "-q", "--buffer", "9", "op", NULL};
    assert_int_equal(loop(10, good, &err, &seen), -1);
    assert_int_equal(seen, 5);
    assert_string_equal(good[optind], "op");

    char *unknown_long[] = {"cmd", "--frobnicate", NULL};
    expect_msg(loop(2, unknown_long, &err, &seen), &err,
               "unknown option '--frobnicate' (see --help)");
    char *unknown_short[] = {"cmd", "-x", NULL};
    expect_msg(loop(2, unknown_short, &err, &seen), &err, "unknown option '-x' (see --help)");
    char *no_value[] = {"cmd", "--seed", NULL};
    expect_msg(loop(2, no_value, &err, &seen), &err, "option '--seed' needs a value");
    char *no_short_value[] = {"cmd", "-q", "-d", NULL};
    expect_msg(loop(3, no_short_value, &err, &seen), &err, "option '-d' needs a value");
    /* A long-only option is not a short one. */
    char *key_as_short[] = {"cmd", "-j", NULL};
    expect_msg(loop(2, key_as_short, &err, &seen), &err, "unknown option '-j'");
    char *flag_with_value[] = {"cmd", "--json=yes", NULL};
    expect_msg(loop(2, flag_with_value, &err, &seen), &err, "unknown option '--json=yes'");
}

/* The operand checks after the loop (optind set by hand, as the loop leaves it). */
static void operands(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    char *none[] = {"cmd", NULL};
    optind = 1;
    assert_int_equal(cli_opts_no_operand(1, none, &err), 0);
    expect_msg(cli_opts_one_operand(1, none, "TRACE", &err), &err, "missing TRACE (see --help)");
    expect_msg(cli_opts_command(1, none, &err), &err, "missing the command to run (after --)");

    char *two[] = {"cmd", "a", "b", NULL};
    optind = 1;
    expect_msg(cli_opts_no_operand(3, two, &err), &err, "unexpected argument 'a'");
    expect_msg(cli_opts_one_operand(3, two, "TRACE", &err), &err, "unexpected argument 'b'");
    expect_msg(cli_opts_command(3, two, &err), &err,
               "unexpected argument 'a' (put the command after --)");

    char *cmd[] = {"cmd", "--", "true", NULL};
    optind = 2;
    assert_int_equal(cli_opts_command(3, cmd, &err), 0);
}

/* A subcommand's own option named in front of a base parser's message. */
static void named_messages(void **state)
{
    (void)state;
    struct zepto_err err = {0};
    assert_int_equal(cli_opt_named("-d", 0, &err), 0);
    zepto_fail(&err, EINVAL, "'abc': not a duration");
    expect_msg(cli_opt_named("-d", -EINVAL, &err), &err, "-d 'abc': not a duration");
    assert_int_equal(cli_opt_named("-d", -EINVAL, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(phase_values),
        cmocka_unit_test(scale_values),
        cmocka_unit_test(seed_values),
        cmocka_unit_test(strings_and_consistency),
        cmocka_unit_test(optstring_from_longopts),
        cmocka_unit_test(option_loop),
        cmocka_unit_test(operands),
        cmocka_unit_test(named_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
