/*
 * `zepto ktau run`: runs a program under ktau (include/zepto/ktau_run.h): libktau.so preloaded,
 * the kernel capture following it and everything it starts, both merged into DIR. The program's
 * exit status is passed through (127 when it cannot be run, 128+N when signal N killed it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/spawn.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/ktau_run.h"

#define CMD "ktau run"

static const char usage[] =
    "usage: zepto ktau run [-o DIR] [--no-kernel] [--mpi] [--force] -- CMD ARGS...\n"
    "\n"
    "Runs CMD with libktau preloaded (its ktau_start/ktau_stop timers and -finstrument-functions\n"
    "hooks) and the kernel's tracepoints recorded for CMD's threads and children (syscalls,\n"
    "interrupts, softirqs, scheduling, page faults), then writes into DIR:\n"
    "  profile.<node>.0.<thread>  TAU profiles (pprof, ParaProf), kernel entries in the KTAU_*\n"
    "                             groups and under each routine as 'routine => entry'\n"
    "  trace.json                 Chrome trace events (Perfetto, chrome://tracing)\n"
    "  summary.txt                per thread: wall time and the kernel's share\n"
    "  ktau-raw/                  libktau's per-thread files (docs/FORMATS.md)\n"
    "A program without timers is one routine (its name) with its kernel breakdown.\n"
    "\n"
    "  -o, --output DIR  where to write (default: ktau-profile)\n"
    "  --no-kernel       user-level timers only (no perf_event_open)\n"
    "  --mpi             also preload libktau-mpi.so: each MPI call (send, receive, wait,\n"
    "                    collective, init...) is a routine MPI_<name>, and the profiles of a\n"
    "                    process are named with its rank: profile.<rank>.0.<thread> (other\n"
    "                    processes, such as mpirun, take the nodes after the last rank)\n"
    "  --force           replace the profiles of an earlier run in DIR\n"
    "\n"
    "Under an MPI launcher (mpirun -np N zepto ktau run --mpi -o DIR -- ./app: the way for\n"
    "several nodes), each rank writes only its own files into the shared DIR:\n"
    "profile.<rank>.<context>.<thread> (context 0 is the program, 1, 2... the processes it\n"
    "starts), trace.<rank>.json, summary.<rank>.txt, ktau-raw/rank.<rank>/. Under Slurm:\n"
    "srun --mpi=pmix ... zepto ktau run --mpi, or salloc/sbatch + mpirun; srun without an MPI\n"
    "plugin (no PMI for the ranks) is refused. MPI profiles also hold message sizes and\n"
    "partners (TAU atomic events); Fortran programs (mpif.h, mpi_f08) are profiled too.\n"
    "\n"
    "The kernel side needs root or kernel.perf_event_paranoid <= 1, and tracefs.\n"
    "\n"
    "example:\n"
    "  zepto ktau run -o prof -- ./solver input.dat && zepto ktau show prof\n"
    "  mpirun -np 4 zepto ktau run --mpi -o prof -- ./solver && zepto ktau show prof\n"
    "  srun --mpi=pmix -N 2 --ntasks-per-node=2 zepto ktau run --mpi -o prof -- ./solver\n";

static void warn(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "zepto %s: %s\n", CMD, msg);
}

enum { OPT_NO_KERNEL = CLI_OPT_LOCAL, OPT_MPI, OPT_FORCE };

struct params {
    struct ktau_run_opts o;
    bool help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"no-kernel", no_argument, 0, OPT_NO_KERNEL},
        {"mpi", no_argument, 0, OPT_MPI},
        {"force", no_argument, 0, OPT_FORCE},
        CLI_LONGOPT_HELP,
        {0},
    };
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, true, err)) != -1) {
        switch (c) {
        case 'o':
            if (!*optarg)
                return zepto_fail(err, EINVAL, "-o: empty directory name");
            p->o.dir = optarg;
            break;
        case OPT_NO_KERNEL: p->o.kernel = false; break;
        case OPT_FORCE: p->o.force = true; break;
        case OPT_MPI: p->o.mpi = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    if (cli_opts_command(argc, argv, err))
        return -EINVAL;
    p->o.argv = argv + optind;
    return 0;
}

int cli_ktau_run(int argc, char **argv)
{
    struct params p = {
        .o = {.dir = "ktau-profile", .kernel = true, .rank = KTAU_RUN_RANK_LAUNCHER, .warn = warn}};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    struct ktau_run_opts o = p.o;
    int found = zb_executable_check(o.argv[0]);
    if (found) { /* as a shell says it */
        fprintf(stderr, "zepto %s: %s: %s\n", CMD, o.argv[0],
                found == -ENOENT ? "command not found" : strerror(-found));
        return found == -ENOENT ? 127 : 126;
    }
    struct ktau_run_result r;
    if (ktau_run(&o, &r, &err)) {
        cli_fail(CMD, &err);
        return r.exec_errno ? r.status : EXIT_FAIL;
    }
    char who[32] = "";
    if (r.rank >= 0)
        snprintf(who, sizeof(who), "rank %d: ", r.rank);
    fprintf(stderr, "zepto %s: %s%zu thread profile(s) in %s (kernel: %s)\n", CMD, who, r.threads,
            o.dir, r.kernel_note);
    return r.status;
}
