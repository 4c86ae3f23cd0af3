/*
 * `zepto noise record`: record detours on a set of CPUs, print the summary, keep the trace; with
 * --explain, name each detour's cause from the kernel's tracepoints (src/noise/explain.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/cpuset.h"
#include "base/json.h"
#include "base/parse.h"
#include "base/settings.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/noise.h"

#define CMD "noise record"

static const char usage[] =
    "usage: zepto noise record [-d DUR] [-c CPULIST] [-t auto|DUR] [-o TRACE] [--json]\n"
    "                          [--buffer N] [--clock auto|tsc|monotonic] [--explain] [-q]\n"
    "\n"
    "Runs one pinned thread per CPU in a loop that only reads the clock; every gap longer than\n"
    "the threshold is a detour: time the OS took the CPU away. Ctrl-C stops early and keeps\n"
    "what was recorded.\n"
    "\n"
    "  -d, --duration DUR    how long to record (default 10s; units ns us ms s)\n"
    "  -c, --cpus CPULIST    CPUs to record on, e.g. 0-3,6 (default all)\n"
    "  -t, --threshold T     auto (default: from the measured loop time) or a duration\n"
    "  -o, --output TRACE    write the trace there (binary, see docs/FORMATS.md)\n"
    "      --json            print the summary as JSON (the same as analyse --json)\n"
    "      --buffer N        detours kept per CPU (default: 50,000 per second of duration)\n"
    "      --clock C         auto, tsc or monotonic (default auto, or $ZEPTO_CLOCK)\n"
    "      --explain         name the cause of each detour (interrupt, softirq, other thread,\n"
    "                        page fault, or unknown: the host) from kernel tracepoints; needs\n"
    "                        root or perf_event_paranoid <= 0, else records without causes\n"
    "  -q, --quiet           no progress on stderr\n"
    "\n"
    "example:\n"
    "  zepto noise record -d 30s -c 0-1 -o node.znt\n";

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
    int cpus[ZB_CPU_MAX];
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum { OPT_BUFFER = CLI_OPT_LOCAL, OPT_CLOCK, OPT_EXPLAIN };
    static const struct option longopts[] = {
        {"duration", required_argument, 0, 'd'},
        {"cpus", required_argument, 0, 'c'},
        {"threshold", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'},
        CLI_LONGOPT_JSON,
        {"buffer", required_argument, 0, OPT_BUFFER},
        {"clock", required_argument, 0, OPT_CLOCK},
        {"quiet", no_argument, 0, 'q'},
        {"explain", no_argument, 0, OPT_EXPLAIN},
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

static int print(const struct params *p, const struct zn_summary *sum, bool written)
{
    if (p->json) {
        struct zb_json j;
        zb_json_init(&j, stdout, true);
        zn_summary_json(sum, &j);
        return zb_json_finish(&j) ? EXIT_FAIL : 0;
    }
    cli_noise_print_summary(stdout, sum);
    if (p->out && written)
        printf("\ntrace written to %s\n", p->out);
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

    struct zn_trace *t;
    if (run(&p, &t, &err))
        return cli_fail(CMD, &err);
    int status = 0;
    if (p.out && zn_trace_write(t, p.out, &err))
        status = cli_fail(CMD, &err);
    struct zn_summary *sum;
    if (zn_analyse(t, &sum, &err)) {
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    int prc = print(&p, sum, !status);
    if (prc)
        status = prc;
    if (t->flags & ZN_TRACE_INTERRUPTED)
        fprintf(stderr, "zepto noise record: stopped early; everything recorded was kept\n");
    zn_summary_free(sum);
    zn_trace_free(t);
    return status;
}
