/*
 * `zepto noise simulate`: predict what a node's noise does to a collective at N ranks, by
 * simulating the collective's messages with every rank replaying a recorded or synthetic detour
 * pattern (the model is in src/noise/simulate.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/parse.h"
#include "cli/cli.h"
#include "cli/noise_cluster.h"
#include "cli/opts.h"
#include "zepto/noise.h"

#define CMD "noise simulate"

#define MAX_ITERS 10000000ull /* the per-iteration times are kept in memory */

static const char usage[] =
    "usage: zepto noise simulate (TRACE... | DIR | --synthetic SPEC) --ranks N [--op "
    "allreduce|barrier]\n"
    "                            [--algo recursive-doubling|binomial|dissemination]\n"
    "                            [--latency L] [--overhead O] [--compute W] [--window W]\n"
    "                            [--iters N] [--phase sync|random] [--scale X] [--seed S]\n"
    "                            [--json]\n"
    "\n"
    "Simulates a collective at N ranks (LogGOP-style: a message costs the sender and the\n"
    "receiver O of CPU time and needs L on the wire), every rank replaying a detour pattern that\n"
    "steals its CPU, and predicts the slowdown against the same collective without noise.\n"
    "Rank r replays CPU record r % (CPUs in TRACE) of the trace, or the synthetic pattern.\n"
    "With several traces or a directory (every *.znt in it: an allocation's nodes), the CPU\n"
    "records of all traces, node after node, and rank r replays record r % (their number).\n"
    "\n"
    "  TRACE                 a trace from `zepto noise record -o`\n"
    "  --synthetic SPEC      period=P,duration=D[,jitter=J]: a detour of D every P\n"
    "  --ranks N             ranks to simulate (1 to 2^32)\n"
    "  --op OP               allreduce (default) or barrier\n"
    "  --algo A              recursive-doubling (allreduce default), binomial (reduce and\n"
    "                        broadcast) or dissemination (barrier default)\n"
    "  --latency L           network latency of a message (default 1us)\n"
    "  --overhead O          CPU time to send or to receive a message (default 200ns)\n"
    "  --compute W           CPU time before the collective in every iteration (default 0)\n"
    "  --window W            0 (default): iterations back to back; else iteration k starts on\n"
    "                        every rank at a common time, W x a random 1..1.5 after the last\n"
    "  --iters N             iterations (default 100)\n"
    "  --phase sync|random   every rank at the same pattern position at time 0, or each at its\n"
    "                        own random position (default random)\n"
    "  --scale X             detour lengths multiplied by X (default 1)\n"
    "  --seed S              random phases, jitter and windows (default 1: runs repeat)\n"
    "  --json                one JSON object on stdout (keys carry their unit: *_ns, *_s)\n"
    "\n"
    "example:\n"
    "  zepto noise simulate --synthetic period=1ms,duration=10us --ranks 1000000\n"
    "  zepto noise simulate node.znt --ranks 65536 --op barrier --json | jq .slowdown\n";

struct params {
    const char *trace, *synthetic;
    int nops;         /* trace operands */
    char **ops;       /* argv from the first one */
    unsigned ntraces; /* trace files read (directories expanded) */
    const char *op;
    bool algo_given, json, help;
    double scale;
    struct zn_sim_opts o;
};

/* A duration option into *ns. */
static int duration_opt(const char *name, const char *arg, double *ns, struct zepto_err *err)
{
    uint64_t v;
    if (cli_opt_named(name, zb_parse_duration_ns(arg, &v, err), err))
        return -EINVAL;
    *ns = (double)v;
    return 0;
}

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum {
        OPT_SYNTHETIC = CLI_OPT_LOCAL,
        OPT_RANKS,
        OPT_OP,
        OPT_ALGO,
        OPT_LATENCY,
        OPT_OVERHEAD,
        OPT_COMPUTE,
        OPT_WINDOW,
        OPT_ITERS
    };
    static const struct option longopts[] = {
        {"synthetic", required_argument, 0, OPT_SYNTHETIC},
        {"ranks", required_argument, 0, OPT_RANKS},
        {"op", required_argument, 0, OPT_OP},
        {"algo", required_argument, 0, OPT_ALGO},
        {"latency", required_argument, 0, OPT_LATENCY},
        {"overhead", required_argument, 0, OPT_OVERHEAD},
        {"compute", required_argument, 0, OPT_COMPUTE},
        {"window", required_argument, 0, OPT_WINDOW},
        {"iters", required_argument, 0, OPT_ITERS},
        CLI_LONGOPT_PHASE,
        CLI_LONGOPT_SCALE,
        CLI_LONGOPT_SEED,
        CLI_LONGOPT_JSON,
        CLI_LONGOPT_HELP,
        {0},
    };
    uint64_t v;
    int c, rc = 0;

    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case OPT_SYNTHETIC: p->synthetic = optarg; break;
        case OPT_RANKS:
            rc = cli_opt_named("--ranks", zb_parse_u64(optarg, 1, 1ull << 32, &p->o.ranks, err),
                               err);
            break;
        case OPT_OP:
            if (strcmp(optarg, "allreduce") && strcmp(optarg, "barrier"))
                return zepto_fail(err, EINVAL, "--op '%s': use allreduce or barrier", optarg);
            p->op = optarg;
            break;
        case OPT_ALGO:
            rc = cli_opt_named("--algo", zn_sim_algo_parse(optarg, &p->o.algo, err), err);
            p->algo_given = true;
            break;
        case OPT_LATENCY: rc = duration_opt("--latency", optarg, &p->o.latency_ns, err); break;
        case OPT_OVERHEAD: rc = duration_opt("--overhead", optarg, &p->o.overhead_ns, err); break;
        case OPT_COMPUTE: rc = duration_opt("--compute", optarg, &p->o.compute_ns, err); break;
        case OPT_WINDOW: rc = duration_opt("--window", optarg, &p->o.window_ns, err); break;
        case OPT_ITERS:
            rc = cli_opt_named("--iters", zb_parse_u64(optarg, 1, MAX_ITERS, &v, err), err);
            p->o.iters = rc ? p->o.iters : (unsigned)v;
            break;
        case CLI_OPT_PHASE: rc = cli_opt_phase(optarg, &p->o.phase, err); break;
        case CLI_OPT_SCALE: rc = cli_opt_scale(optarg, &p->scale, err); break;
        case CLI_OPT_SEED: rc = cli_opt_seed(optarg, &p->o.seed, err); break;
        case CLI_OPT_JSON: p->json = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
        if (rc)
            return -EINVAL;
    }
    if (optind < argc)
        p->trace = argv[optind];
    p->nops = argc - optind;
    p->ops = argv + optind;
    return 0;
}

static int validate(struct params *p, struct zepto_err *err)
{
    if (p->trace && p->synthetic)
        return zepto_fail(err, EINVAL, "give TRACE '%s' or --synthetic '%s', not both", p->trace,
                          p->synthetic);
    if (!p->trace && !p->synthetic)
        return zepto_fail(err, EINVAL, "missing TRACE or --synthetic SPEC (see --help)");
    if (!p->o.ranks)
        return zepto_fail(err, EINVAL, "missing --ranks N (see --help)");
    bool barrier = !strcmp(p->op, "barrier");
    if (!p->algo_given)
        p->o.algo = barrier ? ZN_ALGO_DISSEMINATION : ZN_ALGO_RECURSIVE_DOUBLING;
    else if (!barrier && p->o.algo == ZN_ALGO_DISSEMINATION)
        return zepto_fail(err, EINVAL,
                          "--algo dissemination is a barrier: use --op barrier, or "
                          "recursive-doubling or binomial for allreduce");
    double t1 = zn_sim_closed_form_ns(&p->o);
    if (p->o.window_ns > 0 && p->o.window_ns < t1) {
        char w[32], t[32];
        return zepto_fail(err, EINVAL,
                          "--window %s is shorter than one iteration without noise (%s): the "
                          "iterations would pile up (use 0, back to back, or at least %s)",
                          zb_fmt_duration((uint64_t)p->o.window_ns, w, sizeof(w)),
                          zb_fmt_duration((uint64_t)t1, t, sizeof(t)), t);
    }
    return 0;
}

/* The patterns the ranks replay: one per CPU record of the trace, or the synthetic one. */
static int load_patterns(struct params *p, struct zn_pattern **out, unsigned *n)
{
    struct zepto_err err = {0};
    *out = NULL;
    *n = 0;
    struct stat st;
    if (p->trace && (p->nops > 1 || (!stat(p->trace, &st) && S_ISDIR(st.st_mode))))
        return cli_noise_sim_patterns(p->nops, p->ops, p->scale, out, n, &p->ntraces);
    if (p->synthetic) {
        struct zn_synthetic spec;
        if (zn_synthetic_parse(p->synthetic, &spec, &err))
            return cli_usage_error(CMD, "--synthetic %s", err.msg);
        struct zn_pattern *pat = calloc(1, sizeof(*pat));
        if (!pat) {
            zepto_fail(&err, ENOMEM, "out of memory");
            return cli_fail(CMD, &err);
        }
        if (zn_pattern_from_synthetic(&spec, p->scale, p->o.seed, pat, &err)) {
            free(pat);
            return cli_fail(CMD, &err);
        }
        *out = pat;
        *n = 1;
        return 0;
    }
    struct zn_trace *t;
    if (zn_trace_read(p->trace, &t, &err))
        return cli_fail(CMD, &err);
    if (!t->ncpu) {
        zepto_fail(&err, EINVAL, "%s: the trace holds no CPU record", p->trace);
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    struct zn_pattern *pat = calloc(t->ncpu, sizeof(*pat));
    if (!pat) {
        zepto_fail(&err, ENOMEM, "out of memory for %u patterns", t->ncpu);
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    for (unsigned i = 0; i < t->ncpu; i++) {
        if (zn_pattern_from_trace(t, i, p->scale, &pat[i], &err)) {
            zepto_err_prefix(&err, "%s", p->trace);
            for (unsigned k = 0; k < i; k++)
                zn_pattern_free(&pat[k]);
            free(pat);
            zn_trace_free(t);
            return cli_fail(CMD, &err);
        }
    }
    *out = pat;
    *n = t->ncpu;
    zn_trace_free(t);
    return 0;
}

static void free_patterns(struct zn_pattern *pat, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        zn_pattern_free(&pat[i]);
    free(pat);
}

/* The patterns' mean noise fraction: what one rank loses on average. */
static double mean_fraction(const struct zn_pattern *pat, unsigned n)
{
    double f = 0;
    for (unsigned i = 0; i < n; i++)
        f += zn_pattern_fraction(&pat[i]);
    return n ? f / n : 0;
}

static const char *dur(double ns, char *buf)
{
    return zb_fmt_duration(ns > 0 ? (uint64_t)(ns + 0.5) : 0, buf, 32);
}

static void print_human(const struct params *p, double fraction, unsigned npat,
                        const struct zn_sim_result *r)
{
    const struct zn_sim_opts *o = &p->o;
    char a[32], b[32], c[32], d[32];
    printf("ranks       %llu, %s by %s, %llu message rounds per iteration\n",
           (unsigned long long)o->ranks, p->op, zn_sim_algo_name(o->algo),
           (unsigned long long)r->rounds);
    if (p->synthetic)
        printf("noise       synthetic %s", p->synthetic);
    else if (p->ntraces)
        printf("noise       %u traces from %s, %u CPU pattern%s", p->ntraces, p->trace, npat,
               npat == 1 ? "" : "s");
    else
        printf("noise       %s, %u CPU pattern%s", p->trace, npat, npat == 1 ? "" : "s");
    printf(" (%.3f %% of the time), phase %s, seed %llu\n", 100 * fraction,
           o->phase == ZN_PHASE_SYNC ? "sync" : "random", (unsigned long long)o->seed);
    printf("model       latency %s, overhead %s, compute %s, ", dur(o->latency_ns, a),
           dur(o->overhead_ns, b), dur(o->compute_ns, c));
    if (o->window_ns > 0)
        printf("window %s, %u iterations\n", dur(o->window_ns, d), o->iters);
    else
        printf("back to back, %u iterations\n", o->iters);
    printf("noiseless   %s per iteration\n", dur(r->noiseless_ns, a));
    printf("with noise  mean %s, median %s, p99 %s, max %s\n", dur(r->mean_ns, a),
           dur(r->median_ns, b), dur(r->p99_ns, c), dur(r->max_ns, d));
    printf("slowdown    %.3fx\n", r->slowdown);
    printf("simulated   in %.2f s\n", r->seconds);
}

static int print_json(const struct params *p, double fraction, unsigned npat,
                      const struct zn_sim_result *r)
{
    const struct zn_sim_opts *o = &p->o;
    struct zb_json j;
    zb_json_init(&j, stdout, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_u64(&j, "ranks", o->ranks);
    zb_json_kv_str(&j, "op", p->op);
    zb_json_kv_str(&j, "algorithm", zn_sim_algo_name(o->algo));
    zb_json_kv_u64(&j, "rounds", r->rounds);
    zb_json_kv_u64(&j, "iterations", o->iters);
    if (p->synthetic)
        zb_json_kv_str(&j, "synthetic", p->synthetic);
    else
        zb_json_kv_str(&j, "trace", p->trace);
    if (p->ntraces)
        zb_json_kv_u64(&j, "traces", p->ntraces);
    zb_json_kv_u64(&j, "patterns", npat);
    zb_json_kv_f64(&j, "noise_fraction", fraction);
    zb_json_kv_f64(&j, "scale", p->scale);
    zb_json_kv_str(&j, "phase", o->phase == ZN_PHASE_SYNC ? "sync" : "random");
    zb_json_kv_u64(&j, "seed", o->seed);
    zb_json_kv_f64(&j, "latency_ns", o->latency_ns);
    zb_json_kv_f64(&j, "overhead_ns", o->overhead_ns);
    zb_json_kv_f64(&j, "compute_ns", o->compute_ns);
    zb_json_kv_f64(&j, "window_ns", o->window_ns);
    zb_json_kv_f64(&j, "noiseless_ns", r->noiseless_ns);
    zb_json_kv_f64(&j, "mean_ns", r->mean_ns);
    zb_json_kv_f64(&j, "median_ns", r->median_ns);
    zb_json_kv_f64(&j, "p99_ns", r->p99_ns);
    zb_json_kv_f64(&j, "max_ns", r->max_ns);
    zb_json_kv_f64(&j, "slowdown", r->slowdown);
    zb_json_kv_f64(&j, "simulation_s", r->seconds);
    zb_json_obj_end(&j);
    return zb_json_finish(&j) ? EXIT_FAIL : 0;
}

int cli_noise_simulate(int argc, char **argv)
{
    struct params p = {
        .op = "allreduce",
        .scale = 1,
        .o = {.iters = 100,
              .latency_ns = 1000,
              .overhead_ns = 200,
              .phase = ZN_PHASE_RANDOM,
              .seed = 1},
    };
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (validate(&p, &err))
        return cli_usage_err(CMD, &err);

    struct zn_pattern *pat;
    unsigned npat;
    int rc = load_patterns(&p, &pat, &npat);
    if (rc)
        return rc;
    for (unsigned i = 0; i < npat; i++) {
        double f = zn_pattern_fraction(&pat[i]);
        if (f >= 1) {
            free_patterns(pat, npat);
            return cli_usage_error(CMD,
                                   "--scale %g: the detours of pattern %u would take %.0f %% "
                                   "of the time; the simulation needs less than 100 %%",
                                   p.scale, i, 100 * f);
        }
    }
    p.o.patterns = pat;
    p.o.npatterns = npat;

    struct zn_sim_result r;
    if (zn_simulate(&p.o, &r, &err)) {
        free_patterns(pat, npat);
        return cli_fail(CMD, &err);
    }
    double fraction = mean_fraction(pat, npat);
    free_patterns(pat, npat);
    if (p.json)
        return print_json(&p, fraction, npat, &r);
    print_human(&p, fraction, npat, &r);
    return 0;
}
