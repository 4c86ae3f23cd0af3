/*
 * `zepto report [-o DIR] [--quick]`: characterise this node; progress with the time left on
 * stderr, the path of the report at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/report.h"

#define CMD "report"

static const char usage[] =
    "usage: zepto report [-o DIR] [--quick]\n"
    "\n"
    "Characterises this node with every part of Zepto and writes DIR/index.html (with SVG plots\n"
    "made by gnuplot) and DIR/report.json: OS noise on every CPU and what it predicts for\n"
    "allreduce at scale; huge-page pools and a page-size benchmark (bigmem); what the kernel\n"
    "does inside a short program's regions, and what caused the noise's detours (ktau).\n"
    "\n"
    "  -o, --output DIR   where to write (default ./zepto-report)\n"
    "      --quick        short measurements (about 8 s instead of 25 s)\n"
    "\n"
    "example:\n"
    "  zepto report --quick -o /tmp/node-report && xdg-open /tmp/node-report/index.html\n";

static void progress(void *arg, const char *probe, const char *what, uint64_t left_ns)
{
    (void)arg;
    char line[256];
    snprintf(line, sizeof(line), "report [%s] %s", probe, what);
    cli_progress(line, 0, left_ns);
}

struct params {
    struct zepto_report_opts o;
    bool help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum { OPT_QUICK = CLI_OPT_LOCAL };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"quick", no_argument, 0, OPT_QUICK},
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
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    return cli_opts_no_operand(argc, argv, err);
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
