/*
 * `zepto noise record`: record detours on a set of CPUs, print the summary, keep the trace; with
 * --explain, name each detour's cause from the kernel's tracepoints (src/noise/explain.c). Run as
 * several tasks of a job (srun, mpirun), -o names a directory: one trace per node, a common
 * start, and turns for tasks that share CPUs (include/zepto/noise_rendezvous.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/cpuset.h"
#include "base/json.h"
#include "base/outfile.h"
#include "base/parse.h"
#include "base/settings.h"
#include "base/sysinfo.h"
#include "cli/cli.h"
#include "cli/noise_job.h"
#include "cli/opts.h"
#include "zepto/noise.h"
#include "zepto/noise_rendezvous.h"

#define CMD "noise record"

static const char usage[] =
    "usage: zepto noise record [-d DUR] [-c CPULIST] [-t auto|DUR] [-o TRACE] [--json]\n"
    "                          [--buffer N] [--clock auto|tsc|monotonic] [--explain] [-q]\n"
    "                          [--sync-timeout DUR]\n"
    "\n"
    "Runs one pinned thread per CPU in a loop that only reads the clock; every gap longer than\n"
    "the threshold is a detour: time the OS took the CPU away. Ctrl-C stops early and keeps\n"
    "what was recorded.\n"
    "\n"
    "  -d, --duration DUR    how long to record (default 10s; units ns us ms s)\n"
    "  -c, --cpus CPULIST    CPUs to record on, e.g. 0-3,6 (default all)\n"
    "  -t, --threshold T     auto (default: from the measured loop time) or a duration\n"
    "  -o, --output TRACE    write the trace there (binary, see docs/FORMATS.md); a directory\n"
    "                        (it exists, or the name ends with /) gets DIR/HOST.znt\n"
    "      --json            print the summary as JSON (the same as analyse --json)\n"
    "      --buffer N        detours kept per CPU (default: 50,000 per second of duration)\n"
    "      --clock C         auto, tsc or monotonic (default auto, or $ZEPTO_CLOCK)\n"
    "      --explain         name the cause of each detour (interrupt, softirq, other thread,\n"
    "                        page fault, or unknown: the host) from kernel tracepoints; needs\n"
    "                        root or perf_event_paranoid <= 0, else records without causes\n"
    "  -q, --quiet           no progress on stderr\n"
    "      --sync-timeout D  several tasks: how long to wait for all to register (default 30s)\n"
    "\n"
    "Several tasks (srun -N 4, or mpirun; from SLURM_PROCID/SLURM_NTASKS or\n"
    "OMPI_COMM_WORLD_RANK/SIZE): -o names a directory (made when missing), each task writes\n"
    "DIR/HOST.znt (DIR/HOST.rRANK.znt when tasks share a host name), all start together after\n"
    "registering in DIR/.zepto-sync-JOB/, and tasks that would record the same CPUs of one\n"
    "machine record in turns, one after another.\n"
    "\n"
    "examples:\n"
    "  zepto noise record -d 30s -c 0-1 -o node.znt\n"
    "  srun -N 4 zepto noise record -d 10s -o DIR; zepto noise analyse DIR\n";

static struct zn_recorder *volatile active; /* for the SIGINT handler */

static void on_sigint(int sig)
{
    (void)sig;
    zn_recorder_stop(active);
}

static bool announce_start; /* say when the recording really starts (after calibration) */

static void progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
    if (announce_start && !strcmp(phase, "recording") && done < total) {
        announce_start = false;
        cli_progress_done();
        fprintf(stderr, "zepto noise record: calibrated, recording now\n");
    }
    if (!*(bool *)arg)
        cli_progress(phase, done, total);
}

/* --explain: the capture starts before the loops; refused, the recording goes on without it. */
static struct zn_explainer *explain_start(const struct zn_record_opts *o, bool quiet)
{
    struct zepto_err err = {0};
    struct zn_explainer *e;
    if (zn_explainer_start(o, &e, &err)) {
        fprintf(stderr, "zepto " CMD ": --explain: %s; recording without causes\n", err.msg);
        return NULL;
    }
    if (!quiet)
        fprintf(stderr, "zepto " CMD ": --explain: kernel capture on, drained %s\n",
                zn_explainer_drain_cpu(e) >= 0
                    ? "from a CPU not recorded"
                    : "on the recorded CPUs (its detours show as thread zn-explain)");
    return e;
}

/* Gives every stored detour of t its cause; says what went wrong, and what it cost. */
static void explain_end(struct zn_explainer *e, const struct zn_recorder *rec, struct zn_trace *t,
                        bool quiet)
{
    if (!e)
        return;
    struct zepto_err err = {0};
    if (zn_explainer_finish(e, rec, t, &err) && t)
        fprintf(stderr, "zepto " CMD ": --explain: %s; the trace has no causes\n", err.msg);
    struct zn_explain_stats st;
    zn_explainer_stats(e, &st);
    if (st.lost)
        fprintf(stderr,
                "zepto " CMD ": --explain: the kernel lost %" PRIu64 " of its records (buffers "
                "full): some detours may show as unknown\n",
                st.lost);
    if (t && !quiet)
        fprintf(stderr,
                "zepto " CMD ": --explain: %" PRIu64 " kernel records, %.1f MB drained in %" PRIu64
                " drains (%.3f ms copying)\n",
                st.records, (double)st.bytes / 1e6, st.drains, (double)st.drain_ns / 1e6);
    zn_explainer_free(e);
}

struct params {
    struct zn_record_opts o;
    const char *cpulist, *out;
    enum zb_clock_kind clock;
    bool json, quiet, explain, help;
    uint64_t sync_timeout_ns;
    int cpus[ZB_CPU_MAX];
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum { OPT_BUFFER = CLI_OPT_LOCAL, OPT_CLOCK, OPT_EXPLAIN, OPT_SYNC_TIMEOUT };
    static const struct option longopts[] = {
        {"duration", required_argument, 0, 'd'},
        {"cpus", required_argument, 0, 'c'},
        {"threshold", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'},
        CLI_LONGOPT_JSON,
        {"buffer", required_argument, 0, OPT_BUFFER},
        {"clock", required_argument, 0, OPT_CLOCK},
        CLI_LONGOPT_QUIET,
        {"explain", no_argument, 0, OPT_EXPLAIN},
        {"sync-timeout", required_argument, 0, OPT_SYNC_TIMEOUT},
        CLI_LONGOPT_HELP,
        {0},
    };
    struct zn_record_opts *o = &p->o;
    int c;

    if (zb_clock_parse_kind(zb_setting(ZB_SET_CLOCK, "auto"), &p->clock, err)) {
        char msg[sizeof(err->msg)];
        memcpy(msg, err->msg, sizeof(msg));
        snprintf(err->msg, sizeof(err->msg), "ZEPTO_CLOCK=%.400s", msg);
        return -EINVAL;
    }
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case 'd':
            if (cli_opt_named("-d", zb_parse_duration_ns(optarg, &o->duration_ns, err), err))
                return -EINVAL;
            if (!o->duration_ns)
                return zepto_fail(err, EINVAL, "-d '%s': the duration must be longer than zero",
                                  optarg);
            break;
        case 'c': p->cpulist = optarg; break;
        case 't':
            if (!strcmp(optarg, "auto")) {
                o->threshold_ns = 0;
                break;
            }
            if (cli_opt_named("-t", zb_parse_duration_ns(optarg, &o->threshold_ns, err), err)) {
                snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
                         " (or auto)");
                return -EINVAL;
            }
            if (!o->threshold_ns)
                return zepto_fail(err, EINVAL, "-t '%s': the threshold must be longer than zero",
                                  optarg);
            break;
        case 'o': p->out = optarg; break;
        case CLI_OPT_JSON: p->json = true; break;
        case OPT_BUFFER:
            if (cli_opt_named("--buffer",
                              zb_parse_u64(optarg, 1, 1ull << 32, &o->buffer_detours, err), err))
                return -EINVAL;
            break;
        case OPT_CLOCK:
            if (cli_opt_named("--clock", zb_clock_parse_kind(optarg, &p->clock, err), err))
                return -EINVAL;
            break;
        case 'q': p->quiet = true; break;
        case OPT_EXPLAIN: p->explain = true; break;
        case OPT_SYNC_TIMEOUT:
            if (cli_opt_named("--sync-timeout",
                              zb_parse_duration_ns(optarg, &p->sync_timeout_ns, err), err))
                return -EINVAL;
            if (!p->sync_timeout_ns)
                return zepto_fail(err, EINVAL,
                                  "--sync-timeout '%s': the timeout must be longer than zero",
                                  optarg);
            break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    return cli_opts_no_operand(argc, argv, err);
}

/* The CPUs: a usage error when the list is malformed or names a CPU this process may not use;
 * a runtime failure when the allowed set cannot be read (*bad_input false). */
static int validate(struct params *p, bool *bad_input, struct zepto_err *err)
{
    struct zb_cpuset allowed, cpus;
    *bad_input = false;
    if (zb_cpuset_allowed(&allowed, err))
        return -1;
    *bad_input = true;
    if (cli_opt_named("-c", zb_cpuset_parse_allowed(p->cpulist, &allowed, &cpus, err), err))
        return -EINVAL;
    p->o.ncpu = zb_cpuset_list(&cpus, p->cpus, ZB_CPU_MAX);
    p->o.cpus = p->cpus;
    p->o.clock = p->clock;
    return 0;
}

/* Records (Ctrl-C stops early), with the kernel capture of --explain around it. */
static int run(struct params *p, struct zn_trace **out, struct zepto_err *err)
{
    struct zn_recorder *rec;
    if (zn_recorder_new(&p->o, &rec, err))
        return -1;
    bool quiet = p->quiet;
    struct zn_explainer *ex = p->explain ? explain_start(&p->o, quiet || p->json) : NULL;
    /* Handlers first: the line below tells a watcher that a signal now stops the recording. */
    active = rec;
    struct sigaction sa = {.sa_handler = on_sigint, .sa_flags = SA_RESETHAND};
    struct sigaction old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!quiet && !p->json)
        fprintf(stderr, "zepto noise record: %u CPU%s, clock %s; calibrating\n", p->o.ncpu,
                p->o.ncpu == 1 ? "" : "s", zn_recorder_clock_note(rec));
    announce_start = !quiet && !p->json;
    int rc = zn_recorder_run(rec, progress, &quiet, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    active = NULL;
    cli_progress_done();
    if (rc) {
        explain_end(ex, NULL, NULL, true);
        zn_recorder_free(rec);
        return rc;
    }
    *out = zn_recorder_take_trace(rec);
    explain_end(ex, rec, *out, quiet || p->json);
    zn_recorder_free(rec);
    return 0;
}

/* Where the trace goes and how this task fits in its job. */
struct place {
    struct cli_noise_job job;
    bool dir;        /* -o names a directory */
    char path[4096]; /* the trace file, when -o */
    bool synced;     /* the plan below holds */
    bool say;        /* notes on stderr (not -q) */
    struct zn_rv_plan plan;
};

#define DEFAULT_SYNC_TIMEOUT_NS 30000000000ull
#define LATE_NS                 50000000ull /* a start later than this is reported */

static bool is_dir(const char *path)
{
    struct stat st;
    return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static void sleep_until_unix(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* -o is a directory when it is one, when its name ends with '/', or when several tasks write
 * into it (one file would be overwritten by each); it is made when missing. */
static int prepare_out(const struct params *p, struct place *pl, bool *bad_input,
                       struct zepto_err *err)
{
    *bad_input = false;
    if (!p->out)
        return 0;
    size_t len = strlen(p->out);
    pl->dir = is_dir(p->out) || (len && p->out[len - 1] == '/') || pl->job.size > 1;
    if (!pl->dir) {
        snprintf(pl->path, sizeof pl->path, "%s", p->out);
        return zb_out_check(p->out, err); /* before the recording, not after it */
    }
    if (mkdir(p->out, 0777) && errno != EEXIST)
        return zepto_fail(err, errno, "-o %s: %s", p->out, strerror(errno));
    if (is_dir(p->out) && access(p->out, W_OK | X_OK))
        return zepto_fail(err, errno, "-o %s: %s", p->out, strerror(errno));
    if (!is_dir(p->out)) {
        *bad_input = true;
        return zepto_fail(err, ENOTDIR,
                          "-o '%s': %u tasks write one trace each into a directory, and this is "
                          "a file",
                          p->out, pl->job.size);
    }
    return 0;
}

/* The trace's name in the directory: HOST.znt, or HOST.rRANK.znt when another task of the job
 * has the same host name. */
static void name_trace(const struct params *p, struct place *pl)
{
    if (!pl->dir)
        return;
    struct zb_sysinfo si;
    zb_sysinfo_get(&si);
    size_t len = strlen(p->out);
    const char *sep = len && p->out[len - 1] == '/' ? "" : "/";
    if (pl->synced)
        snprintf(pl->path, sizeof pl->path, "%s%s%s", p->out, sep, pl->plan.name);
    else
        snprintf(pl->path, sizeof pl->path, "%s%s%s.znt", p->out, sep, si.host);
}

/* Several tasks: register in the output directory, wait for the others, and sleep until this
 * task's turn begins; the recording then starts at the common time of its turn. */
static int sync_start(struct params *p, struct place *pl, struct zepto_err *err)
{
    if (pl->job.size < 2)
        return 0;
    if (!p->out) {
        if (!pl->job.rank)
            fprintf(stderr,
                    "zepto " CMD ": warning: %u tasks without -o DIR: no common start "
                    "and no turns (tasks on one machine may steal from each other)\n",
                    pl->job.size);
        return 0;
    }
    struct zn_rv_task self = {0};
    struct zb_sysinfo si;
    zb_sysinfo_get(&si);
    snprintf(self.host, sizeof self.host, "%s", si.host);
    /* Unknown: every task counts as the same machine, which only costs turns. */
    if (zb_sysinfo_read_line("/proc/sys/kernel/random/boot_id", self.boot, sizeof self.boot))
        snprintf(self.boot, sizeof self.boot, "unknown");
    for (unsigned i = 0; i < p->o.ncpu; i++)
        if (p->cpus[i] >= 0 && p->cpus[i] < 1024)
            self.cpus[p->cpus[i] / 64] |= 1ull << (p->cpus[i] % 64);
    struct zn_rv_opts o = {
        .dir = p->out,
        .key = pl->job.key,
        .rank = pl->job.rank,
        .size = pl->job.size,
        .self = &self,
        .duration_ns = p->o.duration_ns,
        .timeout_ns = p->sync_timeout_ns ? p->sync_timeout_ns : DEFAULT_SYNC_TIMEOUT_NS,
    };
    if (zn_rendezvous(&o, &pl->plan, err))
        return -1;
    pl->synced = true;
    const struct zn_rv_plan *pn = &pl->plan;
    if (pl->say && !pl->job.rank)
        fprintf(stderr, "zepto " CMD ": %u tasks (%s) registered; %s\n", pn->ntasks,
                pl->job.launcher,
                pn->nslots > 1 ? "tasks that share CPUs of one machine record "
                                 "in turns"
                               : "all record together");
    if (pl->say && pn->nslots > 1)
        fprintf(stderr, "zepto " CMD ": %s: turn %u of %u\n", self.host, pn->slot + 1, pn->nslots);
    sleep_until_unix(pn->begin_unix_ns);
    p->o.start_unix_ns = pn->start_unix_ns;
    return 0;
}

/* After the recording: wait until every turn is over (writing and analysing cost CPU time that
 * would land in another task's turn), say when this one started late, and tidy up. */
static void sync_end(const struct params *p, const struct place *pl, const struct zn_trace *t)
{
    if (!pl->synced)
        return;
    sleep_until_unix(pl->plan.end_all_unix_ns);
    if (t && t->start_unix_ns > pl->plan.start_unix_ns + LATE_NS)
        fprintf(stderr,
                "zepto " CMD ": warning: %s started %.0f ms after the common start (set-up "
                "and calibration overran; a busy machine?)\n",
                t->host, (double)(t->start_unix_ns - pl->plan.start_unix_ns) / 1e6);
    if (!pl->job.rank)
        zn_rendezvous_cleanup(p->out, pl->job.key);
}

/* One line per task when several tasks share the terminal, from the trace's exact counts: the
 * full analysis (signatures) is for `analyse DIR`, and would only keep every task waiting. */
static void print_line(const struct place *pl, const struct zn_trace *t, bool written)
{
    uint64_t measured = 0, lost = 0, detours = 0;
    for (unsigned i = 0; i < t->ncpu; i++) {
        measured += t->cpu[i].measured_ns;
        lost += t->cpu[i].detour_ns;
        detours += t->cpu[i].detours;
    }
    printf("%s: %u CPU%s, %.3f s, noise %.4f%%, %" PRIu64 " detours; %s%s\n", t->host, t->ncpu,
           t->ncpu == 1 ? "" : "s", (double)t->duration_ns / 1e9,
           measured ? 100.0 * (double)lost / (double)measured : 0.0, detours,
           written && pl->path[0] ? "trace written to " : "no trace kept",
           written && pl->path[0] ? pl->path : "");
}

static int print(const struct params *p, const struct place *pl, const struct zn_summary *sum,
                 bool written)
{
    if (p->json) {
        struct zb_json j;
        zb_json_init(&j, stdout, true);
        zn_summary_json(sum, &j);
        return zb_json_finish(&j) ? EXIT_FAIL : 0;
    }
    cli_noise_print_summary(stdout, sum);
    if (p->out && written)
        printf("\ntrace written to %s\n", pl->path);
    else if (!p->out)
        printf("\n(no trace kept; -o FILE keeps the detours for analyse and export)\n");
    return 0;
}

int cli_noise_record(int argc, char **argv)
{
    struct params p = {
        .o = {.duration_ns = 10000000000ull}, .cpulist = "all", .clock = ZB_CLOCK_AUTO};
    struct zepto_err err = {0};
    bool bad_input;
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (validate(&p, &bad_input, &err))
        return bad_input ? cli_usage_err(CMD, &err) : cli_fail(CMD, &err);
    struct place pl = {0};
    cli_noise_job_detect(&pl.job);
    if (prepare_out(&p, &pl, &bad_input, &err))
        return bad_input ? cli_usage_err(CMD, &err) : cli_fail(CMD, &err);
    pl.say = !p.quiet;
    if (pl.job.size > 1)
        p.quiet = true; /* several tasks' progress lines would garble one terminal */
    if (sync_start(&p, &pl, &err))
        return cli_fail(CMD, &err);
    name_trace(&p, &pl);

    struct zn_trace *t = NULL;
    int rc = run(&p, &t, &err);
    sync_end(&p, &pl, rc ? NULL : t);
    if (rc)
        return cli_fail(CMD, &err);
    int status = 0;
    if (p.out && zn_trace_write(t, pl.path, &err))
        status = cli_fail(CMD, &err);
    if (pl.job.size > 1 && !p.json) {
        print_line(&pl, t, !status);
        if (t->flags & ZN_TRACE_INTERRUPTED)
            fprintf(stderr, "zepto noise record: stopped early; everything recorded was kept\n");
        zn_trace_free(t);
        return status;
    }
    struct zn_summary *sum;
    if (zn_analyse(t, &sum, &err)) {
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    int prc = print(&p, &pl, sum, !status);
    if (prc)
        status = prc;
    if (t->flags & ZN_TRACE_INTERRUPTED)
        fprintf(stderr, "zepto noise record: stopped early; everything recorded was kept\n");
    zn_summary_free(sum);
    zn_trace_free(t);
    return status;
}
