/*
 * `zepto noise play`: inject recorded or synthetic detours into a program (or into whatever runs
 * on some CPUs for a while), then say what was injected.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "base/clock.h"
#include "base/cpuset.h"
#include "base/json.h"
#include "base/outfile.h"
#include "base/parse.h"
#include "base/spawn.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/noise.h"

#define CMD "noise play"

static const char usage[] =
    "usage: zepto noise play (--trace TRACE | --synthetic period=P,duration=D[,jitter=J])\n"
    "                        [-c CPULIST] [--phase sync|random] [--scale X] [-d DUR]\n"
    "                        [--seed N] [--log FILE] [--report FILE] [--json] [-q]\n"
    "                        [-- CMD ARGS...]\n"
    "\n"
    "Injects detours: per CPU, a thread pinned there at SCHED_FIFO sleeps until each detour is\n"
    "due and spins for its length. With -- CMD, runs CMD on those CPUs until it exits and exits\n"
    "with its status; without, injects for DUR (so that other tools can watch).\n"
    "\n"
    "  --trace TRACE      replay a recorded trace: CPU k plays the trace's CPU k (or cycles\n"
    "                     through the traced CPUs); the trace loops\n"
    "  --synthetic SPEC   a detour of D every P, each start up to J later at random\n"
    "  -c, --cpus LIST    CPUs to inject on, and for CMD to run on (default all)\n"
    "  --phase sync       every CPU, and every process on hosts with synchronised clocks, at\n"
    "                     the same position of the pattern at each instant (default)\n"
    "  --phase random     each CPU at its own random position\n"
    "  --scale X          multiply detour lengths by X (e.g. 10 for \"ten times the noise\")\n"
    "  -d, --duration D   inject this long (required without CMD; with CMD, at most this long)\n"
    "  --seed N           seed of random phases and jitter (default: from time and pid)\n"
    "  --log FILE         CSV of every injection: cpu,due_ns,start_ns,end_ns,length_ns\n"
    "                     (CLOCK_MONOTONIC)\n"
    "  --report FILE      the report as JSON in FILE\n"
    "  --json             the report as JSON on stdout (without CMD)\n"
    "  -q, --quiet        no report on stderr\n"
    "\n"
    "example:\n"
    "  zepto noise play --synthetic period=1ms,duration=100us -c 0 -- ./my_solver input.dat\n"
    "  zepto noise play --trace node.znt --scale 10 --phase random -- mpirun -np 2 ./app\n";

static volatile sig_atomic_t child_pid, interrupted;

static void on_signal(int sig)
{
    interrupted = 1;
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static void report_text(const struct zn_play_report *r, const char *cpus)
{
    const struct zn_play_cpu *a = &r->all;
    char d1[24], d2[24], d3[24], d4[24], d5[24], d6[24];
    fprintf(stderr,
            "zepto noise play: injected %" PRIu64 " detours on CPU%s %s in %s (%s, %.3f %% of "
            "their time) at %s; start late by median %s, p99 %s; length off by median %s, "
            "p99 %s\n",
            a->detours, r->ncpu == 1 ? "" : "s", cpus, zb_fmt_duration(r->ran_ns, d1, sizeof(d1)),
            zb_fmt_duration(a->injected_ns, d2, sizeof(d2)),
            r->ran_ns && r->ncpu ? 100.0 * (double)a->injected_ns / ((double)r->ran_ns * r->ncpu)
                                 : 0.0,
            r->priority, zb_fmt_duration(a->late_median_ns, d3, sizeof(d3)),
            zb_fmt_duration(a->late_p99_ns, d4, sizeof(d4)),
            zb_fmt_duration((uint64_t)(a->error_median_ns > 0 ? a->error_median_ns : 0), d5,
                            sizeof(d5)),
            zb_fmt_duration((uint64_t)(a->error_p99_ns > 0 ? a->error_p99_ns : 0), d6, sizeof(d6)));
}

static int write_log(const struct zn_player *pl, const char *path, struct zepto_err *err)
{
    uint64_t n;
    const struct zn_injection *log = zn_player_log(pl, &n);
    struct zb_out out;
    int rc = zb_out_open(&out, path, err);
    if (rc)
        return rc;
    fprintf(out.f, "cpu,due_ns,start_ns,end_ns,length_ns\n");
    for (uint64_t i = 0; i < n; i++)
        fprintf(out.f, "%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", log[i].cpu,
                log[i].due_ns, log[i].start_ns, log[i].end_ns, log[i].want_ns);
    return zb_out_commit(&out, err);
}

/* Starts CMD on the CPUs of `set` (the affinity is inherited); 127/126 like a shell. */
static int start_child(char **argv, const struct zb_cpuset *set, pid_t *pid)
{
    cpu_set_t old, mask;
    CPU_ZERO(&mask);
    for (unsigned c = 0; c < CPU_SETSIZE; c++)
        if (zb_cpuset_has(set, c))
            CPU_SET(c, &mask);
    sched_getaffinity(0, sizeof(old), &old);
    sched_setaffinity(0, sizeof(mask), &mask);
    struct zepto_err err = {0};
    int rc = zb_spawn(argv, NULL, pid, &err);
    sched_setaffinity(0, sizeof(old), &old);
    if (rc) {
        fprintf(stderr, "zepto %s: %s\n", CMD, err.msg);
        return rc == -ENOENT ? 127 : 126;
    }
    return 0;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

struct params {
    struct zn_play_opts o;
    const char *trace, *synthetic, *cpulist, *log, *report;
    bool json, quiet, help;
    char **cmd; /* after --, or NULL */
    struct zn_synthetic syn;
    struct zb_cpuset set;
    int cpus[ZB_CPU_MAX];
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum { OPT_TRACE = CLI_OPT_LOCAL, OPT_SYNTHETIC, OPT_LOG, OPT_REPORT };
    static const struct option longopts[] = {
        {"trace", required_argument, 0, OPT_TRACE},
        {"synthetic", required_argument, 0, OPT_SYNTHETIC},
        {"cpus", required_argument, 0, 'c'},
        CLI_LONGOPT_PHASE,
        CLI_LONGOPT_SCALE,
        {"duration", required_argument, 0, 'd'},
        CLI_LONGOPT_SEED,
        {"log", required_argument, 0, OPT_LOG},
        {"report", required_argument, 0, OPT_REPORT},
        CLI_LONGOPT_JSON,
        CLI_LONGOPT_QUIET,
        CLI_LONGOPT_HELP,
        {0},
    };
    struct zn_play_opts *o = &p->o;
    int c;
    cli_opts_begin();
    /* Stop at the first operand, so that CMD's own options stay CMD's. */
    while ((c = cli_opts_next(argc, argv, longopts, true, err)) != -1) {
        switch (c) {
        case OPT_TRACE: p->trace = optarg; break;
        case OPT_SYNTHETIC: p->synthetic = optarg; break;
        case 'c': p->cpulist = optarg; break;
        case CLI_OPT_PHASE:
            if (cli_opt_phase(optarg, &o->phase, err))
                return -EINVAL;
            break;
        case CLI_OPT_SCALE:
            if (cli_opt_scale(optarg, &o->scale, err))
                return -EINVAL;
            break;
        case 'd':
            if (cli_opt_named("-d", zb_parse_duration_ns(optarg, &o->duration_ns, err), err))
                return -EINVAL;
            if (!o->duration_ns)
                return zepto_fail(err, EINVAL, "-d '%s': the duration must be longer than zero",
                                  optarg);
            break;
        case CLI_OPT_SEED:
            if (cli_opt_seed(optarg, &o->seed, err))
                return -EINVAL;
            break;
        case OPT_LOG: p->log = optarg; break;
        case OPT_REPORT: p->report = optarg; break;
        case CLI_OPT_JSON: p->json = true; break;
        case 'q': p->quiet = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    if (optind < argc) {
        if (cli_opts_command(argc, argv, err))
            return -EINVAL;
        p->cmd = argv + optind;
    }
    return 0;
}

/* Usage errors only: which noise, for how long, where the report goes. The CPUs follow (their
 * check can also fail at run time). */
static int validate(struct params *p, struct zepto_err *err)
{
    if (!!p->trace == !!p->synthetic)
        return zepto_fail(err, EINVAL, "give exactly one of --trace TRACE and --synthetic SPEC");
    if (p->synthetic &&
        cli_opt_named("--synthetic", zn_synthetic_parse(p->synthetic, &p->syn, err), err))
        return -EINVAL;
    if (!p->cmd && !p->o.duration_ns)
        return zepto_fail(err, EINVAL, "give -d DURATION, or a command after --");
    if (p->cmd && p->json)
        return zepto_fail(err, EINVAL,
                          "--json writes to stdout, which belongs to CMD; use --report");
    return 0;
}

/* The CPUs to inject on; 0, or the exit code after printing why. */
static int choose_cpus(struct params *p)
{
    struct zepto_err err = {0};
    struct zb_cpuset allowed;
    if (zb_cpuset_allowed(&allowed, &err))
        return cli_fail(CMD, &err);
    if (cli_opt_named("-c", zb_cpuset_parse_allowed(p->cpulist, &allowed, &p->set, &err), &err))
        return cli_usage_err(CMD, &err);
    p->o.ncpu = zb_cpuset_list(&p->set, p->cpus, ZB_CPU_MAX);
    p->o.cpus = p->cpus;
    p->o.synthetic = p->synthetic ? &p->syn : NULL;
    p->o.keep_log = p->log != NULL;
    return 0;
}

/* The report on stdout (--json) and in --report FILE, then the --log CSV. */
static int write_outputs(const struct params *p, const struct zn_player *pl,
                         const struct zn_play_report *rep, struct zepto_err *err)
{
    for (int k = 0; k < 2; k++) {
        const char *to = k == 0 ? (p->json ? "-" : NULL) : p->report;
        if (!to)
            continue;
        struct zb_out out = {.f = stdout};
        int rc = k == 1 ? zb_out_open(&out, to, err) : 0;
        if (rc)
            return rc;
        struct zb_json j;
        zb_json_init(&j, out.f, true);
        zn_play_report_json(rep, &j);
        if (zb_json_finish(&j)) {
            if (k == 1)
                zb_out_abort(&out);
            return zepto_fail(err, EIO, "%s: write error", k == 0 ? "stdout" : to);
        }
        if (k == 1 && (rc = zb_out_commit(&out, err)))
            return rc;
    }
    return p->log ? write_log(pl, p->log, err) : 0;
}

/* Injects, around CMD or for the duration, then reports. Returns the exit status. */
static int run(struct params *p, struct zn_trace *trace)
{
    struct zepto_err err = {0};
    p->o.trace = trace;
    pid_t pid = 0;
    int status = 0;
    if (p->cmd && (status = start_child(p->cmd, &p->set, &pid)))
        return status;
    child_pid = pid;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    struct zn_player *pl;
    if (zn_player_start(&p->o, &pl, &err)) {
        if (pid) {
            kill(pid, SIGTERM);
            zb_spawn_wait(pid, &status, NULL);
        }
        return cli_fail(CMD, &err);
    }
    if (!p->quiet && *zn_player_notes(pl))
        fprintf(stderr, "zepto %s: %s\n", CMD, zn_player_notes(pl));

    if (pid) {
        zb_spawn_wait(pid, &status, NULL);
    } else {
        while (!interrupted && !zn_player_done(pl))
            sleep_ns(20000000); /* wakes on a signal too; 20 ms of slack at the end */
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    child_pid = 0;

    struct zn_play_report rep;
    int frc = zn_player_finish(pl, &rep, &err);
    if (!frc) {
        char list[256];
        if (!p->quiet)
            report_text(&rep, zb_cpuset_format(&p->set, list, sizeof(list)));
        frc = write_outputs(p, pl, &rep, &err);
    }
    zn_play_report_free(&rep);
    zn_player_free(pl);
    if (frc) {
        cli_fail(CMD, &err);
        return pid ? status : EXIT_FAIL;
    }
    return status;
}

int cli_noise_play(int argc, char **argv)
{
    struct params p = {.o = {.phase = ZN_PHASE_SYNC, .scale = 1}, .cpulist = "all"};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (validate(&p, &err))
        return cli_usage_err(CMD, &err);
    int rc = choose_cpus(&p);
    if (rc)
        return rc;
    /* The outputs can be written: found out before the run, not after it. */
    if ((p.log && zb_out_check(p.log, &err)) || (p.report && zb_out_check(p.report, &err)))
        return cli_fail(CMD, &err);
    struct zn_trace *trace = NULL;
    if (p.trace && zn_trace_read(p.trace, &trace, &err))
        return cli_fail(CMD, &err);
    rc = run(&p, trace);
    zn_trace_free(trace);
    return rc;
}
