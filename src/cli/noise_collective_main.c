/*
 * zepto-noise-collective: the MPI program behind `zepto noise collective` (which execs it, so that
 * the zepto command itself does not load MPI). Options are checked before MPI_Init, so --help and
 * usage errors work without a launcher; under mpirun only the first rank prints them.
 */
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/parse.h"
#include "base/rand.h"
#include "base/sysinfo.h"
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

static int usage_error(const char *fmt, const char *a, const char *b)
{
    if (first_rank()) {
        fprintf(stderr, "zepto %s: ", CMD);
        fprintf(stderr, fmt, a, b);
        fputc('\n', stderr);
    }
    return 2;
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

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"op", required_argument, 0, 'o'},
        {"bytes", required_argument, 0, 'b'},
        {"iters", required_argument, 0, 'i'},
        {"inject", required_argument, 0, 'I'},
        {"trace", required_argument, 0, 't'},
        {"phase", required_argument, 0, 'p'},
        {"scale", required_argument, 0, 'x'},
        {"window", required_argument, 0, 'w'},
        {"blocks", required_argument, 0, 'B'},
        {"seed", required_argument, 0, 'S'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    struct zn_coll_opts o = {.op = ZN_OP_ALLREDUCE,
                             .bytes = 8,
                             .iters = 1000,
                             .warmup = 200,
                             .blocks = 5,
                             .phase = ZN_PHASE_SYNC,
                             .scale = 1};
    struct zn_synthetic syn;
    struct zepto_err err = {0};
    const char *spec = NULL, *trace_path = NULL;
    bool json = false;
    uint64_t v;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (zn_coll_op_parse(optarg, &o.op, &err))
                return usage_error("--op %s%s", err.msg, "");
            break;
        case 'b':
            if (zb_parse_size(optarg, &o.bytes, &err) || !o.bytes || o.bytes > (1u << 30))
                return usage_error("--bytes '%s': a size from 1 to 1G%s", optarg, "");
            break;
        case 'i':
            if (zb_parse_u64(optarg, 1, 10000000, &v, &err))
                return usage_error("--iters %s%s", err.msg, "");
            o.iters = (unsigned)v;
            break;
        case 'I': spec = optarg; break;
        case 't': trace_path = optarg; break;
        case 'p':
            if (zn_phase_parse(optarg, &o.phase, &err))
                return usage_error("--phase %s%s", err.msg, "");
            break;
        case 'x':
            if (zb_parse_double(optarg, 0, 1e6, &o.scale, &err) || !(o.scale > 0))
                return usage_error("--scale '%s': must be a number above 0%s", optarg, "");
            break;
        case 'w':
            if (zb_parse_duration_ns(optarg, &o.window_ns, &err) || !o.window_ns)
                return usage_error("--window '%s': a duration above zero%s", optarg, "");
            break;
        case 'B':
            if (zb_parse_u64(optarg, 1, 1000, &v, &err))
                return usage_error("--blocks %s%s", err.msg, "");
            o.blocks = (unsigned)v;
            break;
        case 'S':
            if (zb_parse_u64(optarg, 1, UINT64_MAX, &o.seed, &err))
                return usage_error("--seed %s%s", err.msg, "");
            break;
        case 'j': json = true; break;
        case 'h':
            if (first_rank())
                fputs(usage, stdout);
            return 0;
        case ':': return usage_error("option '%s' needs a value%s", argv[optind - 1], "");
        default: return usage_error("unknown option '%s' (see --help)%s", argv[optind - 1], "");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'%s", argv[optind], "");
    if (spec && trace_path)
        return usage_error("give --inject or --trace, not both%s%s", "", "");
    if (spec && zn_synthetic_parse(spec, &syn, &err))
        return usage_error("--inject %s%s", err.msg, "");
    if (o.blocks > o.iters)
        o.blocks = o.iters;
    o.synthetic = spec ? &syn : NULL;
    struct zn_trace *trace = NULL;
    if (trace_path && zn_trace_read(trace_path, &trace, &err)) {
        if (first_rank())
            fprintf(stderr, "zepto %s: %s\n", CMD, err.msg);
        return 1;
    }
    o.trace = trace;

    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (!o.seed) {
        o.seed = zb_rand_seed();
        MPI_Bcast(&o.seed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    }
    struct zn_coll_result r;
    int rc = zn_collective_run(&o, &r, &err);
    int status = 0;
    if (rc) {
        fprintf(stderr, "zepto %s: rank %d: %s\n", CMD, rank, err.msg);
        status = 1;
    } else if (rank == 0) {
        if (json) {
            struct zb_json j;
            zb_json_init(&j, stdout, true);
            zn_coll_result_json(&o, &r, &j);
            status = zb_json_finish(&j) ? 1 : 0;
        } else {
            print_text(&o, &r);
        }
        fflush(stdout);
    }
    zn_trace_free(trace);
    MPI_Finalize();
    return status;
}
