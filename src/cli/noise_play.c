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
#include "base/parse.h"
#include "base/spawn.h"
#include "cli/cli.h"
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

static void report_json(struct zb_json *j, const struct zn_play_report *r)
{
    zb_json_obj_begin(j);
    zb_json_kv_bool(j, "realtime", r->realtime);
    zb_json_kv_str(j, "priority", r->priority);
    zb_json_kv_u64(j, "ran_ns", r->ran_ns);
    zb_json_key(j, "cpus");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i <= r->ncpu; i++) {
        const struct zn_play_cpu *c = i < r->ncpu ? &r->cpu[i] : &r->all;
        if (i == r->ncpu) {
            zb_json_arr_end(j);
            zb_json_key(j, "all");
        }
        zb_json_obj_begin(j);
        if (c->cpu >= 0)
            zb_json_kv_i64(j, "cpu", c->cpu);
        zb_json_kv_u64(j, "detours", c->detours);
        zb_json_kv_u64(j, "injected_ns", c->injected_ns);
        zb_json_kv_f64(j, "noise_fraction",
                       r->ran_ns ? (double)c->injected_ns /
                                       ((double)r->ran_ns * (c->cpu >= 0 ? 1 : r->ncpu))
                                 : 0);
        zb_json_kv_u64(j, "late_median_ns", c->late_median_ns);
        zb_json_kv_u64(j, "late_p99_ns", c->late_p99_ns);
        zb_json_kv_u64(j, "late_max_ns", c->late_max_ns);
        zb_json_kv_i64(j, "length_error_median_ns", c->error_median_ns);
        zb_json_kv_i64(j, "length_error_p99_ns", c->error_p99_ns);
        zb_json_kv_i64(j, "length_error_max_ns", c->error_max_ns);
        zb_json_obj_end(j);
    }
    zb_json_obj_end(j);
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
    FILE *f = fopen(path, "we");
    if (!f)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    fprintf(f, "cpu,due_ns,start_ns,end_ns,length_ns\n");
    for (uint64_t i = 0; i < n; i++)
        fprintf(f, "%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", log[i].cpu,
                log[i].due_ns, log[i].start_ns, log[i].end_ns, log[i].want_ns);
    if (ferror(f) | fclose(f))
        return zepto_fail(err, EIO, "%s: write error", path);
    return 0;
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

int cli_noise_play(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"trace", required_argument, 0, 't'},
        {"synthetic", required_argument, 0, 's'},
        {"cpus", required_argument, 0, 'c'},
        {"phase", required_argument, 0, 'p'},
        {"scale", required_argument, 0, 'x'},
        {"duration", required_argument, 0, 'd'},
        {"seed", required_argument, 0, 'S'},
        {"log", required_argument, 0, 'l'},
        {"report", required_argument, 0, 'r'},
        {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    struct zepto_err err = {0};
    struct zn_synthetic syn;
    struct zn_play_opts o = {.phase = ZN_PHASE_SYNC, .scale = 1};
    const char *trace_path = NULL, *spec = NULL, *cpulist = "all", *log = NULL, *report = NULL;
    bool json = false, quiet = false;
    int c;

    optind = 1;
    /* '+': stop at the first operand, so that CMD's own options stay CMD's. */
    while ((c = cli_getopt(CMD, argc, argv, "+:c:d:qh", longopts)) != -1) {
        switch (c) {
        case 't': trace_path = optarg; break;
        case 's': spec = optarg; break;
        case 'c': cpulist = optarg; break;
        case 'p':
            if (zn_phase_parse(optarg, &o.phase, &err))
                return cli_usage_error(CMD, "--phase %s", err.msg);
            break;
        case 'x':
            if (zb_parse_double(optarg, 0, 1e6, &o.scale, &err) || !(o.scale > 0))
                return cli_usage_error(CMD, "--scale '%s': must be a number above 0 (up to 1e6)",
                                       optarg);
            break;
        case 'd':
            if (zb_parse_duration_ns(optarg, &o.duration_ns, &err))
                return cli_usage_error(CMD, "-d %s", err.msg);
            if (!o.duration_ns)
                return cli_usage_error(CMD, "-d '%s': the duration must be longer than zero",
                                       optarg);
            break;
        case 'S':
            if (zb_parse_u64(optarg, 1, UINT64_MAX, &o.seed, &err))
                return cli_usage_error(CMD, "--seed %s", err.msg);
            break;
        case 'l': log = optarg; break;
        case 'r': report = optarg; break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    char **cmd = optind < argc ? argv + optind : NULL;
    if (cmd && optind > 0 && strcmp(argv[optind - 1], "--"))
        return cli_usage_error(CMD, "unexpected argument '%s' (put the command after --)",
                               argv[optind]);
    if (!!trace_path == !!spec)
        return cli_usage_error(CMD, "give exactly one of --trace TRACE and --synthetic SPEC");
    if (spec && zn_synthetic_parse(spec, &syn, &err))
        return cli_usage_error(CMD, "--synthetic %s", err.msg);
    if (!cmd && !o.duration_ns)
        return cli_usage_error(CMD, "give -d DURATION, or a command after --");
    if (cmd && json)
        return cli_usage_error(CMD, "--json writes to stdout, which belongs to CMD; use --report");

    struct zb_cpuset allowed, set;
    int cpus[ZB_CPU_MAX];
    if (zb_cpuset_allowed(&allowed, &err))
        return cli_fail(CMD, &err);
    if (zb_cpuset_parse_allowed(cpulist, &allowed, &set, &err))
        return cli_usage_error(CMD, "-c %s", err.msg);
    o.ncpu = zb_cpuset_list(&set, cpus, ZB_CPU_MAX);
    o.cpus = cpus;
    o.synthetic = spec ? &syn : NULL;
    o.keep_log = log != NULL;

    struct zn_trace *trace = NULL;
    if (trace_path && zn_trace_read(trace_path, &trace, &err))
        return cli_fail(CMD, &err);
    o.trace = trace;

    pid_t pid = 0;
    int status = 0;
    if (cmd && (status = start_child(cmd, &set, &pid))) {
        zn_trace_free(trace);
        return status;
    }
    child_pid = pid;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    struct zn_player *pl;
    int rc = zn_player_start(&o, &pl, &err);
    if (rc) {
        if (pid) {
            kill(pid, SIGTERM);
            zb_spawn_wait(pid, &status, NULL);
        }
        zn_trace_free(trace);
        return cli_fail(CMD, &err);
    }
    if (!quiet && *zn_player_notes(pl))
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
        if (!quiet)
            report_text(&rep, zb_cpuset_format(&set, list, sizeof(list)));
        for (int k = 0; k < 2 && !frc; k++) {
            const char *to = k == 0 ? (json ? "-" : NULL) : report;
            if (!to)
                continue;
            FILE *f = k == 0 ? stdout : fopen(to, "we");
            if (!f) {
                frc = zepto_fail(&err, errno, "%s: %s", to, strerror(errno));
                break;
            }
            struct zb_json j;
            zb_json_init(&j, f, true);
            report_json(&j, &rep);
            if (zb_json_finish(&j) || (k == 1 && fclose(f)))
                frc = zepto_fail(&err, EIO, "%s: write error", k == 0 ? "stdout" : to);
        }
        if (!frc && log)
            frc = write_log(pl, log, &err);
    }
    zn_play_report_free(&rep);
    zn_player_free(pl);
    zn_trace_free(trace);
    if (frc) {
        cli_fail(CMD, &err);
        return pid ? status : EXIT_FAIL;
    }
    return status;
}
