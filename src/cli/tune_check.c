/*
 * `zepto tune check`: noise on the application CPUs before and after `apply`, alternating in one
 * run, with the causes of the detours when the kernel capture is allowed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/tune.h"

#define CMD "tune check"

static const char usage[] =
    "usage: zepto tune check --cpus LIST [-d DURATION] [--rounds N] [--housekeeping LIST]\n"
    "                        [--state FILE] [--no-explain] [--json]\n"
    "\n"
    "Records noise on the application CPUs untuned, then applies the tuning, records again and\n"
    "restores, N times (root). Prints the noise fraction and detour rate of each, and with the\n"
    "kernel capture (root and tracefs) the detour time of every cause before and after: what the\n"
    "tuning removed, and what remains and who causes it ('unknown (host)': the hypervisor).\n"
    "\n"
    "  -c, --cpus LIST         the application CPUs\n"
    "  -d, --duration D        each recording (default 5s)\n"
    "      --rounds N          untuned/tuned pairs (default 2, at most 100)\n"
    "      --housekeeping LIST the CPUs left to the system (default CPU 0 and its siblings)\n"
    "      --state FILE        the state file used meanwhile (default as for apply)\n"
    "      --no-explain        no causes, only the noise figures\n"
    "      --json              the result as JSON\n"
    "\n"
    "Ctrl-C ends it after the current recording, with the node restored (exit 130); after a\n"
    "kill -9, `zepto tune restore` puts the node back.\n"
    "\n"
    "example:\n"
    "  zepto tune check --cpus 1 -d 10s\n";

enum { OPT_HOUSEKEEPING = CLI_OPT_LOCAL, OPT_STATE, OPT_ROUNDS, OPT_NO_EXPLAIN };

static volatile int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int cli_tune_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cpus", required_argument, 0, 'c'},
        {"duration", required_argument, 0, 'd'},
        {"rounds", required_argument, 0, OPT_ROUNDS},
        {"housekeeping", required_argument, 0, OPT_HOUSEKEEPING},
        {"state", required_argument, 0, OPT_STATE},
        {"no-explain", no_argument, 0, OPT_NO_EXPLAIN},
        CLI_LONGOPT_JSON,
        CLI_LONGOPT_HELP,
        {0}};
    struct zepto_tune_check_opts o = {.state = zepto_tune_default_state(),
                                      .phase_ns = 5000000000ULL,
                                      .rounds = 2,
                                      .explain = true};
    struct zepto_err err = {0};
    bool json = false;
    uint64_t v;
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, &err)) != -1) {
        switch (c) {
        case 'c': o.app_cpus = optarg; break;
        case 'd':
            if (cli_opt_named("-d", zb_parse_duration_ns(optarg, &v, &err), &err))
                return cli_usage_err(CMD, &err);
            if (v < 100000000ULL || v > 3600000000000ULL)
                return cli_usage_error(CMD, "-d '%s': from 100ms to 1h", optarg);
            o.phase_ns = v;
            break;
        case OPT_ROUNDS:
            if (cli_opt_named("--rounds", zb_parse_u64(optarg, 1, 100, &v, &err), &err))
                return cli_usage_err(CMD, &err);
            o.rounds = (unsigned)v;
            break;
        case OPT_HOUSEKEEPING: o.housekeeping = optarg; break;
        case OPT_STATE: o.state = optarg; break;
        case OPT_NO_EXPLAIN: o.explain = false; break;
        case CLI_OPT_JSON: json = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_usage_err(CMD, &err);
        }
    }
    if (cli_opts_no_operand(argc, argv, &err))
        return cli_usage_err(CMD, &err);
    if (!o.app_cpus)
        return cli_usage_error(CMD, "--cpus is required: the application CPUs (\"1-3\")");
    /* Ctrl-C or a TERM ends the run after the current recording, with the node restored. */
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.stop = &stop_requested;
    struct zepto_tune_check r;
    int rc = zepto_tune_check(&o, &r, &err);
    if (rc == -EINTR) {
        cli_fail(CMD, &err);
        return 130;
    }
    if (rc)
        return rc == -EINVAL ? cli_usage_err(CMD, &err) : cli_fail(CMD, &err);
    if (json)
        rc = zepto_tune_check_json(&r, stdout) ? EXIT_FAIL : 0;
    else
        zepto_tune_check_text(&r, stdout);
    zepto_tune_check_free(&r);
    return rc;
}
