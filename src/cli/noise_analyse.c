/*
 * `zepto noise analyse TRACE`: the summary of a recorded trace, as a table or JSON.
 */
#include <stdio.h>

#include "base/json.h"
#include "cli/cli.h"
#include "zepto/noise.h"

#define CMD "noise analyse"

static const char usage[] =
    "usage: zepto noise analyse TRACE [--json]\n"
    "\n"
    "Per CPU and for the node: time measured, detours, rate, noise fraction, min / median /\n"
    "p99 / max detour, a log-scale histogram, and the periodic signatures (the periods at which\n"
    "detours recur, with their length and the share of the noise each explains); for traces\n"
    "recorded with --explain, the detour time by cause (irq, softirq, thread, page fault,\n"
    "unknown: the host) and how much of it the guest kernel traced.\n"
    "\n"
    "  --json    one JSON object on stdout (keys carry their unit: *_ns, *_per_s, *_fraction)\n"
    "\n"
    "example:\n"
    "  zepto noise analyse node.znt --json | jq .node.noise_fraction\n";

int cli_noise_analyse(int argc, char **argv)
{
    bool json;
    int rc = cli_json_option(CMD, argc, argv, usage, &json);
    if (rc >= 0)
        return rc;
    if (cli_one_operand(CMD, argc, argv, "TRACE"))
        return EXIT_USAGE;

    struct zepto_err err = {0};
    struct zn_trace *t;
    struct zn_summary *s;
    if (zn_trace_read(argv[optind], &t, &err))
        return cli_fail(CMD, &err);
    if (zn_analyse(t, &s, &err)) {
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    int status = 0;
    if (json) {
        struct zb_json j;
        zb_json_init(&j, stdout, true);
        zn_summary_json(s, &j);
        status = zb_json_finish(&j) ? EXIT_FAIL : 0;
    } else {
        cli_noise_print_summary(stdout, s);
    }
    zn_summary_free(s);
    zn_trace_free(t);
    return status;
}
