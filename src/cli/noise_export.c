/*
 * `zepto noise export TRACE --format csv|loggopsim [-o FILE] [-c CPULIST]`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cpuset.h"
#include "base/outfile.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/noise.h"

#define CMD "noise export"

static const char usage[] =
    "usage: zepto noise export TRACE --format csv|loggopsim [-o FILE] [-c CPULIST]\n"
    "\n"
    "  -f, --format csv     header cpu,start_ns,duration_ns; start counted from the start of\n"
    "                       the recording; traces made with --explain add cause,traced_ns\n"
    "  -f, --format loggopsim start<TAB>duration in ns, one detour a line, for LogGOPSim's noise\n"
    "                       injection; one CPU (the first of the trace unless -c names one)\n"
    "  -o, --output FILE    write there instead of stdout\n"
    "  -c, --cpus CPULIST   only these CPUs of the trace\n"
    "\n"
    "example:\n"
    "  zepto noise export node.znt --format loggopsim -c 1 -o cpu1.noise\n";

struct params {
    const char *trace, *format, *out, *cpulist;
    bool help;
    enum zn_export_format fmt;
    int cpus[ZB_CPU_MAX];
    unsigned ncpu; /* 0: every CPU of the trace */
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {
        {"format", required_argument, 0, 'f'},
        {"output", required_argument, 0, 'o'},
        {"cpus", required_argument, 0, 'c'},
        CLI_LONGOPT_HELP,
        {0},
    };
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case 'f': p->format = optarg; break;
        case 'o': p->out = optarg; break;
        case 'c': p->cpulist = optarg; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    if (cli_opts_one_operand(argc, argv, "TRACE", err))
        return -EINVAL;
    p->trace = argv[optind];
    return 0;
}

static int validate(struct params *p, struct zepto_err *err)
{
    if (!p->format)
        return zepto_fail(err, EINVAL, "missing --format csv|loggopsim");
    if (!strcmp(p->format, "csv"))
        p->fmt = ZN_EXPORT_CSV;
    else if (!strcmp(p->format, "loggopsim"))
        p->fmt = ZN_EXPORT_LOGGOPSIM;
    else
        return zepto_fail(err, EINVAL, "--format '%s': use csv or loggopsim", p->format);
    if (!p->cpulist)
        return 0;
    if (!strcmp(p->cpulist, "all"))
        return zepto_fail(err, EINVAL, "-c all: name the CPUs, or leave -c out for all");
    struct zb_cpuset set;
    if (cli_opt_named("-c", zb_cpuset_parse(p->cpulist, &set, err), err))
        return -EINVAL;
    p->ncpu = zb_cpuset_list(&set, p->cpus, ZB_CPU_MAX);
    return 0;
}

/* Writes the export; 0, EXIT_USAGE (a CPU not in the trace) or EXIT_FAIL, with the message
 * printed. */
static int run(struct params *p)
{
    struct zepto_err err = {0};
    struct zn_trace *t;
    if (zn_trace_read(p->trace, &t, &err))
        return cli_fail(CMD, &err);
    if (p->fmt == ZN_EXPORT_LOGGOPSIM && p->ncpu == 0) {
        p->cpus[p->ncpu++] = (int)t->cpu[0].cpu;
        if (t->ncpu > 1)
            fprintf(stderr, "zepto %s: exporting CPU %u of the %u in the trace (choose with -c)\n",
                    CMD, t->cpu[0].cpu, t->ncpu);
    }
    for (unsigned i = 0; i < p->ncpu; i++) { /* before the output is touched */
        uint32_t k = 0;
        while (k < t->ncpu && t->cpu[k].cpu != (uint32_t)p->cpus[i])
            k++;
        if (k == t->ncpu) {
            zn_trace_free(t);
            return cli_usage_error(CMD, "-c %s: CPU %d is not in the trace", p->cpulist,
                                   p->cpus[i]);
        }
    }
    struct zb_out out = {.f = stdout};
    if (p->out && zb_out_open(&out, p->out, &err)) {
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    int rc = zn_export(t, p->fmt, p->cpus, p->ncpu, out.f, &err);
    if (rc == -EIO)
        zepto_err_prefix(&err, "%s", p->out ? p->out : "stdout");
    if (p->out) {
        if (rc)
            zb_out_abort(&out); /* what was at the path stays */
        else
            rc = zb_out_commit(&out, &err);
    } else if (!rc && (fflush(stdout) || ferror(stdout))) {
        rc = zepto_fail(&err, EIO, "stdout: write error");
    }
    zn_trace_free(t);
    if (rc && (rc == -ENOENT || rc == -EINVAL))
        return cli_usage_error(CMD, "-c %s: %s", p->cpulist ? p->cpulist : "", err.msg);
    return rc ? cli_fail(CMD, &err) : 0;
}

int cli_noise_export(int argc, char **argv)
{
    struct params p = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (validate(&p, &err))
        return cli_usage_err(CMD, &err);
    return run(&p);
}
