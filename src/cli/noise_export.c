/*
 * `zepto noise export TRACE --format csv|loggopsim [-o FILE] [-c CPULIST]`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cpuset.h"
#include "cli/cli.h"
#include "zepto/noise.h"

#define CMD "noise export"

static const char usage[] =
    "usage: zepto noise export TRACE --format csv|loggopsim [-o FILE] [-c CPULIST]\n"
    "\n"
    "  --format csv         header cpu,start_ns,duration_ns; start counted from the start of\n"
    "                       the recording; traces made with --explain add cause,traced_ns\n"
    "  --format loggopsim   start<TAB>duration in ns, one detour a line, for LogGOPSim's noise\n"
    "                       injection; one CPU (the first of the trace unless -c names one)\n"
    "  -o, --output FILE    write there instead of stdout\n"
    "  -c, --cpus CPULIST   only these CPUs of the trace\n"
    "\n"
    "example:\n"
    "  zepto noise export node.znt --format loggopsim -c 1 -o cpu1.noise\n";

int cli_noise_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, 0, 'f'},
        {"output", required_argument, 0, 'o'},
        {"cpus", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    const char *format = NULL, *out = NULL, *cpulist = NULL;
    int c;
    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, ":f:o:c:h", longopts)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'o': out = optarg; break;
        case 'c': cpulist = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (cli_one_operand(CMD, argc, argv, "TRACE"))
        return EXIT_USAGE;
    if (!format)
        return cli_usage_error(CMD, "missing --format csv|loggopsim");
    enum zn_export_format fmt;
    if (!strcmp(format, "csv"))
        fmt = ZN_EXPORT_CSV;
    else if (!strcmp(format, "loggopsim"))
        fmt = ZN_EXPORT_LOGGOPSIM;
    else
        return cli_usage_error(CMD, "--format '%s': use csv or loggopsim", format);

    struct zepto_err err = {0};
    struct zb_cpuset set;
    int cpus[ZB_CPU_MAX];
    unsigned ncpu = 0;
    if (cpulist) {
        if (!strcmp(cpulist, "all"))
            return cli_usage_error(CMD, "-c all: name the CPUs, or leave -c out for all");
        if (zb_cpuset_parse(cpulist, &set, &err))
            return cli_usage_error(CMD, "-c %s", err.msg);
        ncpu = zb_cpuset_list(&set, cpus, ZB_CPU_MAX);
    }

    struct zn_trace *t;
    if (zn_trace_read(argv[optind], &t, &err))
        return cli_fail(CMD, &err);
    if (fmt == ZN_EXPORT_LOGGOPSIM && ncpu == 0) {
        cpus[ncpu++] = (int)t->cpu[0].cpu;
        if (t->ncpu > 1)
            fprintf(stderr, "zepto %s: exporting CPU %u of the %u in the trace (choose with -c)\n",
                    CMD, t->cpu[0].cpu, t->ncpu);
    }
    FILE *f = out ? fopen(out, "we") : stdout;
    if (!f) {
        zepto_fail(&err, errno, "%s: %s", out, strerror(errno));
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    int rc = zn_export(t, fmt, cpus, ncpu, f, &err);
    if (out && fclose(f) && !rc)
        rc = zepto_fail(&err, errno, "%s: %s", out, strerror(errno));
    if (rc && out)
        unlink(out);
    zn_trace_free(t);
    if (rc && (rc == -ENOENT || rc == -EINVAL))
        return cli_usage_error(CMD, "-c %s: %s", cpulist ? cpulist : "", err.msg);
    return rc ? cli_fail(CMD, &err) : 0;
}
