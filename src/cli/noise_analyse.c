/*
 * `zepto noise analyse TRACE`: the summary of a recorded trace, as a table or JSON; with several
 * traces or a directory, the cluster view (cli/noise_cluster.c).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/noise_cluster.h"
#include "cli/opts.h"
#include "zepto/noise.h"

#define CMD "noise analyse"

static const char usage[] =
    "usage: zepto noise analyse TRACE [--json]\n"
    "       zepto noise analyse TRACE TRACE... | DIR [--json]\n"
    "\n"
    "Per CPU and for the node: time measured, detours, rate, noise fraction, min / median /\n"
    "p99 / max detour, a log-scale histogram, and the periodic signatures (the periods at which\n"
    "detours recur, with their length and the share of the noise each explains); for traces\n"
    "recorded with --explain, the detour time by cause (irq, softirq, thread, page fault,\n"
    "unknown: the host) and how much of it the guest kernel traced.\n"
    "\n"
    "With several traces (or a directory: every *.znt in it), the cluster view: a row per node,\n"
    "the median / min / max noise fraction, outlier nodes (noise fraction above median + 3 x\n"
    "max(1.4826 x MAD, 0.25 x median), or a periodic signature on fewer than half the nodes)\n"
    "with the reason, and which signatures all nodes share.\n"
    "\n"
    "  --json    one JSON object on stdout (keys carry their unit: *_ns, *_per_s, *_fraction)\n"
    "\n"
    "example:\n"
    "  zepto noise analyse node.znt --json | jq .node.noise_fraction\n";

struct params {
    const char *trace;
    int nops;
    char **ops;
    bool json, help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {CLI_LONGOPT_JSON, CLI_LONGOPT_HELP, {0}};
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case CLI_OPT_JSON: p->json = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    p->nops = argc - optind;
    p->ops = argv + optind;
    if (p->nops > 1)
        return 0;
    if (cli_opts_one_operand(argc, argv, "TRACE", err))
        return -EINVAL;
    p->trace = argv[optind];
    return 0;
}

static int print(const struct params *p, const struct zn_summary *s)
{
    if (!p->json) {
        cli_noise_print_summary(stdout, s);
        return 0;
    }
    struct zb_json j;
    zb_json_init(&j, stdout, true);
    zn_summary_json(s, &j);
    return zb_json_finish(&j) ? EXIT_FAIL : 0;
}

int cli_noise_analyse(int argc, char **argv)
{
    struct params p = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    struct stat st;
    if (p.nops > 1 || (!stat(p.trace, &st) && S_ISDIR(st.st_mode)))
        return cli_noise_cluster(p.nops, p.ops, p.json);
    struct zn_trace *t;
    struct zn_summary *s;
    if (zn_trace_read(p.trace, &t, &err))
        return cli_fail(CMD, &err);
    if (zn_analyse(t, &s, &err)) {
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    int status = print(&p, s);
    zn_summary_free(s);
    zn_trace_free(t);
    return status;
}
