/*
 * `zepto noise record`: record detours on a set of CPUs, print the summary, keep the trace; with
 * --explain, name each detour's cause from the kernel's tracepoints (src/noise/explain.c).
 */
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

int cli_noise_record(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"duration", required_argument, 0, 'd'},
        {"cpus", required_argument, 0, 'c'},
        {"threshold", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'},
        {"json", no_argument, 0, 'j'},
        {"buffer", required_argument, 0, 'b'},
        {"clock", required_argument, 0, 'k'},
        {"quiet", no_argument, 0, 'q'},
        {"explain", no_argument, 0, 'x'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    struct zepto_err err = {0};
    struct zb_cpuset allowed, cpus;
    struct zn_record_opts o = {.duration_ns = 10000000000ull};
    const char *cpulist = "all", *out = NULL;
    bool json = false, quiet = false, explain = false;
    enum zb_clock_kind clock = ZB_CLOCK_AUTO;
    int c;

    if (zb_clock_parse_kind(zb_setting(ZB_SET_CLOCK, "auto"), &clock, &err))
        return cli_usage_error(CMD, "ZEPTO_CLOCK=%s", err.msg);
    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, ":d:c:t:o:qh", longopts)) != -1) {
        switch (c) {
        case 'd':
            if (zb_parse_duration_ns(optarg, &o.duration_ns, &err))
                return cli_usage_error(CMD, "-d %s", err.msg);
            if (!o.duration_ns)
                return cli_usage_error(CMD, "-d '%s': the duration must be longer than zero",
                                       optarg);
            break;
        case 'c': cpulist = optarg; break;
        case 't':
            if (!strcmp(optarg, "auto")) {
                o.threshold_ns = 0;
                break;
            }
            if (zb_parse_duration_ns(optarg, &o.threshold_ns, &err))
                return cli_usage_error(CMD, "-t %s (or auto)", err.msg);
            if (!o.threshold_ns)
                return cli_usage_error(CMD, "-t '%s': the threshold must be longer than zero",
                                       optarg);
            break;
        case 'o': out = optarg; break;
        case 'j': json = true; break;
        case 'b':
            if (zb_parse_u64(optarg, 1, 1ull << 32, &o.buffer_detours, &err))
                return cli_usage_error(CMD, "--buffer %s", err.msg);
            break;
        case 'k':
            if (zb_clock_parse_kind(optarg, &clock, &err))
                return cli_usage_error(CMD, "--clock %s", err.msg);
            break;
        case 'q': quiet = true; break;
        case 'x': explain = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (zb_cpuset_allowed(&allowed, &err))
        return cli_fail(CMD, &err);
    if (zb_cpuset_parse_allowed(cpulist, &allowed, &cpus, &err))
        return cli_usage_error(CMD, "-c %s", err.msg);

    int list[ZB_CPU_MAX];
    o.ncpu = zb_cpuset_list(&cpus, list, ZB_CPU_MAX);
    o.cpus = list;
    o.clock = clock;

    struct zn_recorder *rec;
    if (zn_recorder_new(&o, &rec, &err))
        return cli_fail(CMD, &err);
    struct zn_explainer *ex = explain ? explain_start(&o, quiet || json) : NULL;
    /* Handlers first: the line below tells a watcher that a signal now stops the recording. */
    active = rec;
    struct sigaction sa = {.sa_handler = on_sigint, .sa_flags = SA_RESETHAND};
    struct sigaction old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (!quiet && !json)
        fprintf(stderr, "zepto noise record: %u CPU%s, clock %s; calibrating\n", o.ncpu,
                o.ncpu == 1 ? "" : "s", zn_recorder_clock_note(rec));
    announce_start = !quiet && !json;
    int rc = zn_recorder_run(rec, progress, &quiet, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    active = NULL;
    cli_progress_done();
    if (rc) {
        explain_end(ex, NULL, NULL, true);
        zn_recorder_free(rec);
        return cli_fail(CMD, &err);
    }
    struct zn_trace *t = zn_recorder_take_trace(rec);
    explain_end(ex, rec, t, quiet || json);
    zn_recorder_free(rec);

    int status = 0;
    if (out && zn_trace_write(t, out, &err))
        status = cli_fail(CMD, &err);

    struct zn_summary *sum;
    if (zn_analyse(t, &sum, &err)) {
        zn_trace_free(t);
        return cli_fail(CMD, &err);
    }
    if (json) {
        struct zb_json j;
        zb_json_init(&j, stdout, true);
        zn_summary_json(sum, &j);
        if (zb_json_finish(&j))
            status = EXIT_FAIL;
    } else {
        cli_noise_print_summary(stdout, sum);
        if (out && !status)
            printf("\ntrace written to %s\n", out);
        else if (!out)
            printf("\n(no trace kept; -o FILE keeps the detours for analyse and export)\n");
    }
    if (t->flags & ZN_TRACE_INTERRUPTED)
        fprintf(stderr, "zepto noise record: stopped early; everything recorded was kept\n");
    zn_summary_free(sum);
    zn_trace_free(t);
    return status;
}
