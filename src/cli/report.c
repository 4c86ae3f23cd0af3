/*
 * `zepto report [-o DIR] [--quick] [--wait D]`: characterise this node, or, run as every task of
 * a job step (`srun -N 4 zepto report -o DIR`), the allocation on one page; progress with the time
 * left on stderr, the path of the report at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/parse.h"
#include "cli/opts.h"
#include "zepto/report.h"

#define CMD "report"

static const char usage[] =
    "usage: zepto report [-o DIR] [--quick] [--tune-check] [--wait DURATION]\n"
    "\n"
    "Characterises this node with every part of Zepto and writes DIR/index.html (with SVG plots\n"
    "made by gnuplot) and DIR/report.json: OS noise on every CPU and what it predicts for\n"
    "allreduce at scale; huge-page pools and a page-size benchmark (bigmem); what the kernel\n"
    "does inside a short program's regions, and what caused the noise's detours (ktau); what\n"
    "`zepto tune` would change to quiet the node (tune).\n"
    "\n"
    "  -o, --output DIR   where to write (default ./zepto-report)\n"
    "      --quick        short measurements (about 8 s instead of 25 s)\n"
    "      --tune-check   as root: measure the noise untuned and tuned (zepto tune check),\n"
    "                     about 8 s more (4 s with --quick); the node is restored after\n"
    "      --wait D       in a job step: how long the first node waits for the others' reports\n"
    "                     (default 60 s + this node's report time x the nodes)\n"
    "\n"
    "Run by every task of a Slurm step (srun) or an Open MPI job (mpirun), it writes one page for\n"
    "the allocation: DIR/index.html and DIR/report.json with a per-node table and the outliers,\n"
    "the noise across the nodes and the prediction from all their traces; each node's own report\n"
    "is in DIR/nodes/HOST/. Nodes that share CPUs of one machine record in turns.\n"
    "\n"
    "examples:\n"
    "  zepto report --quick -o /tmp/node-report && xdg-open /tmp/node-report/index.html\n"
    "  srun -N 4 zepto report --quick -o /shared/alloc-report\n";

static void progress(void *arg, const char *probe, const char *what, uint64_t left_ns)
{
    (void)arg;
    char line[256];
    snprintf(line, sizeof(line), "report [%s] %s", probe, what);
    cli_progress(line, 0, left_ns);
}

struct params {
    struct zepto_report_opts o;
    uint64_t wait_ns; /* 0: the default */
    bool help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum { OPT_QUICK = CLI_OPT_LOCAL, OPT_WAIT, OPT_TUNE_CHECK };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"quick", no_argument, 0, OPT_QUICK},
        {"tune-check", no_argument, 0, OPT_TUNE_CHECK},
        {"wait", required_argument, 0, OPT_WAIT},
        CLI_LONGOPT_HELP,
        {0},
    };
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case 'o':
            if (!*optarg)
                return zepto_fail(err, EINVAL, "-o: empty directory name");
            p->o.dir = optarg;
            break;
        case OPT_QUICK: p->o.quick = true; break;
        case OPT_TUNE_CHECK: p->o.tune_check = true; break;
        case OPT_WAIT:
            if (zb_parse_duration_ns(optarg, &p->wait_ns, err) || !p->wait_ns) {
                if (!p->wait_ns && !err->msg[0])
                    zepto_fail(err, EINVAL, "--wait %s: must be more than 0", optarg);
                zepto_err_prefix(err, "--wait");
                return -EINVAL;
            }
            break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    return cli_opts_no_operand(argc, argv, err);
}

/* One task of a job step: its node's part, and the page when it is the first node's. */
static int run_alloc(const struct params *p, const struct zepto_report_alloc *a)
{
    struct zepto_err err = {0};
    if (!a->node_leader) {
        printf("zepto report: task %u on %s: the node is reported by its first task\n", a->rank,
               a->host);
        return 0;
    }
    struct zepto_report_alloc_result res;
    int rc = zepto_report_alloc_run(&p->o, a, p->wait_ns, progress, NULL, &res, &err);
    cli_progress_done();
    if (res.assembled)
        printf("report written to %s/index.html (%u of %u nodes)\n", p->o.dir, res.delivered,
               res.expected);
    else if (!rc)
        printf("zepto report: %s: node report written to %s/nodes/%s/index.html\n", a->host,
               p->o.dir, a->host);
    if (rc)
        return cli_fail(CMD, &err);
    if (res.assembled && res.delivered < res.expected) {
        fprintf(stderr,
                "zepto report: %u of %u nodes did not deliver within %llu s: %s (marked on "
                "%s/index.html)\n",
                res.expected - res.delivered, res.expected,
                (unsigned long long)((res.wait_ns + 500000000u) / 1000000000u), res.missing,
                p->o.dir);
        return EXIT_FAIL;
    }
    return 0;
}

int cli_report(int argc, char **argv)
{
    struct params p = {.o = {.dir = "zepto-report"}};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    struct zepto_report_alloc a;
    int in_alloc = zepto_report_alloc_detect(&a, &err);
    if (in_alloc < 0)
        return cli_fail(CMD, &err);
    if (in_alloc)
        return run_alloc(&p, &a);
    uint64_t est = zepto_report_estimate_ns(&p.o);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "zepto report: characterising this node, about %llu s\n",
                (unsigned long long)((est + 999999999u) / 1000000000u));
    int rc = zepto_report_run(&p.o, progress, NULL, &err);
    cli_progress_done();
    if (rc)
        return cli_fail(CMD, &err);
    printf("report written to %s/index.html\n", p.o.dir);
    return 0;
}
