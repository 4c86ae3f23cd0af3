/*
 * zepto-noise-collective: the MPI program behind `zepto noise collective` (which execs it, so that
 * the zepto command itself does not load MPI). Options are checked before MPI_Init, so --help and
 * usage errors work without a launcher; under mpirun only the first rank prints them.
 */
#include <errno.h>
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/parse.h"
#include "base/rand.h"
#include "base/sysinfo.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/noise.h"

#define CMD "noise collective"

static const char usage[] =
    "usage: mpirun -np N zepto noise collective [--op allreduce|barrier|bcast] [--bytes N]\n"
    "           [--iters N] [--inject SPEC | --trace TRACE] [--phase sync|random] [--scale X]\n"
    "           [--window DUR] [--blocks N] [--seed N] [--json]\n"
    "\n"
    "Times an MPI collective with and without injected noise, each rank injecting into its own\n"
    "CPU, in alternating blocks, with a barrier-free method: ranks agree on start times on rank\n"
    "0's clock (offsets measured by ping-pong), each starts the operation at its start time, and\n"
    "an iteration takes the latest finish over the ranks (docs/noise.md).\n"
    "\n"
    "  --op OP          allreduce (default), barrier or bcast\n"
    "  --bytes N        message size (default 8)\n"
    "  --iters N        timed iterations per mode (default 1000)\n"
    "  --inject SPEC    period=P,duration=D[,jitter=J]: synthetic noise\n"
    "  --trace TRACE    replay a recorded trace (rank on CPU k plays its CPU k)\n"
    "  --phase P        sync (default) or random\n"
    "  --scale X        multiply detour lengths\n"
    "  --window DUR     time between starts (default: from the warm-up)\n"
    "  --blocks N       quiet/noisy block pairs (default 5)\n"
    "  --seed N         seed of the schedule and of random phases\n"
    "  --json           one JSON object on stdout (rank 0)\n"
    "\n"
    "example:\n"
    "  mpirun --allow-run-as-root --oversubscribe -np 2 zepto noise collective \\\n"
    "      --inject period=1ms,duration=50us --phase random --json\n"
    "  srun -N 4 --ntasks-per-node=32 zepto noise collective --trace node.znt --op barrier\n";

/* Usage errors are printed once, by the launcher's rank 0 (before MPI_Init), or when no
 * launcher says. */
static bool first_rank(void)
{
    return zb_launcher_rank() <= 0;
}

static void print_text(const struct zn_coll_opts *o, const struct zn_coll_result *r)
{
    char w[24], a[24], b[24], c[24], d[24];
    printf("%s of %llu bytes on %d ranks (%d host%s), window %s, clock offsets up to %s\n",
           zn_coll_op_name(o->op), (unsigned long long)(o->op == ZN_OP_BARRIER ? 0 : o->bytes),
           r->ranks, r->hosts, r->hosts == 1 ? "" : "s", zb_fmt_duration(r->window_ns, w, 24),
           zb_fmt_duration((uint64_t)r->clock_offset_max_ns, a, 24));
    printf("%-7s %10s %10s %10s %10s %10s\n", "", "iters", "mean", "median", "p99", "max");
    const struct zn_coll_stats *s[2] = {&r->quiet, &r->noisy};
    for (int i = 0; i < (r->noise ? 2 : 1); i++)
        printf("%-7s %10llu %10s %10s %10s %10s\n", i ? "noisy" : "quiet",
               (unsigned long long)s[i]->valid, zb_fmt_duration((uint64_t)s[i]->mean_ns, a, 24),
               zb_fmt_duration((uint64_t)s[i]->median_ns, b, 24),
               zb_fmt_duration((uint64_t)s[i]->p99_ns, c, 24),
               zb_fmt_duration((uint64_t)s[i]->max_ns, d, 24));
    if (r->noise)
        printf("slowdown: %.3fx (mean), %.3fx (median); injected %llu detours (%s) at %s; "
               "%llu iterations dropped as overruns\n",
               r->slowdown_mean, r->slowdown_median, (unsigned long long)r->injected.detours,
               zb_fmt_duration(r->injected.injected_ns, a, 24), r->priority,
               (unsigned long long)r->overruns);
}

struct params {
    struct zn_coll_opts o;
    const char *inject, *trace;
    bool json, help;
    struct zn_synthetic syn;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum {
        OPT_OP = CLI_OPT_LOCAL,
        OPT_BYTES,
        OPT_ITERS,
        OPT_INJECT,
        OPT_TRACE,
        OPT_WINDOW,
        OPT_BLOCKS
    };
    static const struct option longopts[] = {
        {"op", required_argument, 0, OPT_OP},
        {"bytes", required_argument, 0, OPT_BYTES},
        {"iters", required_argument, 0, OPT_ITERS},
        {"inject", required_argument, 0, OPT_INJECT},
        {"trace", required_argument, 0, OPT_TRACE},
        CLI_LONGOPT_PHASE,
        CLI_LONGOPT_SCALE,
        {"window", required_argument, 0, OPT_WINDOW},
        {"blocks", required_argument, 0, OPT_BLOCKS},
        CLI_LONGOPT_SEED,
        CLI_LONGOPT_JSON,
        CLI_LONGOPT_HELP,
        {0},
    };
    struct zn_coll_opts *o = &p->o;
    uint64_t v;
    int c, rc = 0;

    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case OPT_OP: rc = cli_opt_named("--op", zn_coll_op_parse(optarg, &o->op, err), err); break;
        case OPT_BYTES:
            if (zb_parse_size(optarg, &o->bytes, err) || !o->bytes || o->bytes > (1u << 30))
                return zepto_fail(err, EINVAL, "--bytes '%s': a size from 1 to 1G", optarg);
            break;
        case OPT_ITERS:
            rc = cli_opt_named("--iters", zb_parse_u64(optarg, 1, 10000000, &v, err), err);
            o->iters = rc ? o->iters : (unsigned)v;
            break;
        case OPT_INJECT: p->inject = optarg; break;
        case OPT_TRACE: p->trace = optarg; break;
        case CLI_OPT_PHASE: rc = cli_opt_phase(optarg, &o->phase, err); break;
        case CLI_OPT_SCALE: rc = cli_opt_scale(optarg, &o->scale, err); break;
        case OPT_WINDOW:
            if (zb_parse_duration_ns(optarg, &o->window_ns, err) || !o->window_ns)
                return zepto_fail(err, EINVAL, "--window '%s': a duration above zero", optarg);
            break;
        case OPT_BLOCKS:
            rc = cli_opt_named("--blocks", zb_parse_u64(optarg, 1, 1000, &v, err), err);
            o->blocks = rc ? o->blocks : (unsigned)v;
            break;
        case CLI_OPT_SEED: rc = cli_opt_seed(optarg, &o->seed, err); break;
        case CLI_OPT_JSON: p->json = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
        if (rc)
            return -EINVAL;
    }
    return cli_opts_no_operand(argc, argv, err);
}

static int validate(struct params *p, struct zepto_err *err)
{
    if (p->inject && p->trace)
        return zepto_fail(err, EINVAL, "give --inject or --trace, not both");
    if (p->inject && cli_opt_named("--inject", zn_synthetic_parse(p->inject, &p->syn, err), err))
        return -EINVAL;
    if (p->o.blocks > p->o.iters)
        p->o.blocks = p->o.iters;
    p->o.synthetic = p->inject ? &p->syn : NULL;
    return 0;
}

static int print(const struct params *p, const struct zn_coll_result *r)
{
    int status = 0;
    if (p->json) {
        struct zb_json j;
        zb_json_init(&j, stdout, true);
        zn_coll_result_json(&p->o, r, &j);
        status = zb_json_finish(&j) ? 1 : 0;
    } else {
        print_text(&p->o, r);
    }
    fflush(stdout);
    return status;
}

int main(int argc, char **argv)
{
    struct params p = {.o = {.op = ZN_OP_ALLREDUCE,
                             .bytes = 8,
                             .iters = 1000,
                             .warmup = 200,
                             .blocks = 5,
                             .phase = ZN_PHASE_SYNC,
                             .scale = 1}};
    struct zepto_err err = {0};
    /* Checked before MPI_Init; printed once, by the launcher's first rank. */
    if (parse(argc, argv, &p, &err) || (!p.help && validate(&p, &err)))
        return first_rank() ? cli_usage_err(CMD, &err) : EXIT_USAGE;
    if (p.help) {
        if (first_rank())
            fputs(usage, stdout);
        return 0;
    }
    struct zn_trace *trace = NULL;
    if (p.trace && zn_trace_read(p.trace, &trace, &err)) {
        if (first_rank())
            fprintf(stderr, "zepto %s: %s\n", CMD, err.msg);
        return 1;
    }
    p.o.trace = trace;

    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (!p.o.seed) {
        p.o.seed = zb_rand_seed();
        MPI_Bcast(&p.o.seed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    }
    struct zn_coll_result r;
    int status = 0;
    if (zn_collective_run(&p.o, &r, &err)) {
        fprintf(stderr, "zepto %s: rank %d: %s\n", CMD, rank, err.msg);
        status = 1;
    } else if (rank == 0) {
        status = print(&p, &r);
    }
    zn_trace_free(trace);
    MPI_Finalize();
    return status;
}
