/*
 * The report's ktau section: runs zepto-ktau-workload (a short program with known kernel work in
 * named regions: system calls, sleeps, first touch of memory, file I/O, a compute loop, and the
 * loop again against a second thread on its CPU) under ktau_run() (include/zepto/ktau_run.h),
 * reads back the merged TAU profile and shows, per region, how its wall time splits between the
 * program and the kernel (syscalls, interrupts, softirqs, preempted, blocked) with the main kernel
 * entries, and the unit costs that follow (a syscall, a first-touch fault, a sleep's late wake-up).
 * The noise causes table of the same section comes from the noise section's trace
 * (probe_ktau_causes.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/parse.h"
#include "base/preload.h"
#include "report/probe.h"
#include "report/probe_ktau.h"
#include "zepto/ktau_profile.h"
#include "zepto/ktau_run.h"

/* Where each kernel entry of a region goes (by its TAU group). */
enum { K_SYSCALL, K_IRQ, K_SOFTIRQ, K_PREEMPTED, K_BLOCKED, K_FAULTS, K_N };
static const char *const k_label[K_N] = {"syscalls",  "interrupts", "softirqs",
                                         "preempted", "blocked",    "page faults"};

#define TOP 3 /* main kernel entries shown per region */

static const struct {
    const char *name, *what;
} regions[] = {
    {"syscalls", "getppid system calls"},
    {"sleep", "20 sleeps of 5 ms"},
    {"first_touch", "fresh memory, one write per 4 KiB page"},
    {"file_io", "a file written, fsync'ed, read back"},
    {"compute", "a loop on one CPU"},
    {"contention", "the loop against a second thread on its CPU"},
};
#define NREG (sizeof(regions) / sizeof(regions[0]))

struct entry {
    char name[64];
    double calls, us;
};

struct region {
    bool found;
    double calls, wall_us, user_us;
    double k_us[K_N], k_n[K_N];
    struct entry top[TOP];
};

struct ktau_state {
    struct region r[NREG];
    char kernel[256]; /* "on, N records, M lost" or "off (why)" */
    bool kernel_on;
    char warning[256]; /* what the workload could not do */
    unsigned long long syscalls, pages, sleeps, sleep_ns;
    struct zr_ktau_causes causes;
};

static uint64_t estimate(const struct zr_ctx *ctx)
{
    return ctx->quick ? 2000000000ull : 3500000000ull;
}

static int classify(const char *group)
{
    if (strstr(group, "KTAU_SYSCALL"))
        return K_SYSCALL;
    if (strstr(group, "KTAU_IRQ"))
        return K_IRQ;
    if (strstr(group, "KTAU_BH"))
        return K_SOFTIRQ;
    if (strstr(group, "KTAU_EXCEPTION"))
        return K_FAULTS;
    return -1; /* KTAU_SCHEDULE: by name */
}

static void add_top(struct region *r, const char *name, double calls, double us)
{
    for (int i = 0; i < TOP; i++)
        if (!r->top[i].name[0] || us > r->top[i].us) {
            memmove(&r->top[i + 1], &r->top[i], (size_t)(TOP - 1 - i) * sizeof(r->top[0]));
            snprintf(r->top[i].name, sizeof(r->top[i].name), "%s", name);
            r->top[i].calls = calls;
            r->top[i].us = us;
            return;
        }
}

static void read_profile(struct ktau_state *s, const struct ktau_pthread *t)
{
    size_t sep = strlen(KTAU_CALLPATH_SEP);
    for (size_t i = 0; i < NREG; i++) {
        struct region *r = &s->r[i];
        long at = ktau_pthread_find(t, regions[i].name);
        if (at < 0)
            continue;
        r->found = true;
        r->calls = t->f[at].calls;
        r->wall_us = t->f[at].incl_us;
        r->user_us = t->f[at].excl_us;
        size_t nl = strlen(regions[i].name);
        for (size_t k = 0; k < t->n; k++) {
            const struct ktau_pfunc *f = &t->f[k];
            if (strncmp(f->name, regions[i].name, nl) ||
                strncmp(f->name + nl, KTAU_CALLPATH_SEP, sep))
                continue;
            const char *entry = f->name + nl + sep;
            if (strstr(entry, KTAU_CALLPATH_SEP))
                continue; /* deeper paths: counted where they are charged */
            int c = classify(f->group);
            if (c < 0 && !strcmp(entry, "preempted"))
                c = K_PREEMPTED;
            else if (c < 0 && !strcmp(entry, "blocked"))
                c = K_BLOCKED;
            if (c < 0)
                continue;
            r->k_n[c] += f->calls;
            r->k_us[c] += f->incl_us;
            /* blocked/preempted time is also inside the syscall that slept: shown once, as the
             * syscall, among the main entries; faults have no time, so they rank by count. */
            if (c != K_BLOCKED)
                add_top(r, entry, f->calls, c == K_FAULTS ? f->calls : f->incl_us);
        }
    }
}

/* The KEY=VALUE lines the workload printed. */
static void read_workload_out(struct ktau_state *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "syscalls=%llu", &v) == 1)
            s->syscalls = v;
        else if (sscanf(line, "first_touch_pages=%llu", &v) == 1)
            s->pages = v;
        else if (sscanf(line, "sleeps=%llu", &v) == 1)
            s->sleeps = v;
        else if (sscanf(line, "sleep_ns=%llu", &v) == 1)
            s->sleep_ns = v;
    }
    fclose(f);
}

/* The run's warnings go to the log, where the workload's stderr goes too. */
static void log_warning(void *ctx, const char *msg)
{
    FILE *log = ctx;
    fprintf(log, "zepto ktau run: %s\n", msg);
    fflush(log);
}

/* The first complaint of the workload (it exits 1 when a region could not run). */
static void read_warning(struct ktau_state *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[sizeof(s->warning)];
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "zepto-ktau-workload: ", 21)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(s->warning, sizeof(s->warning), "%s", line);
            break;
        }
    fclose(f);
}

static int run(const struct zr_ctx *ctx, void **state, struct zepto_err *err)
{
    char dir[PATH_MAX], workload[PATH_MAX + 32];
    int rc = zb_self_dir(dir, sizeof(dir), err);
    if (rc)
        return rc;
    snprintf(workload, sizeof(workload), "%szepto-ktau-workload", dir);
    if (access(workload, X_OK))
        return zepto_fail(err, ENOENT, "%s: not found (build it: make)", workload);

    char out[PATH_MAX], log[PATH_MAX], wout[PATH_MAX], profile[PATH_MAX + 32];
    snprintf(out, sizeof(out), "%s/ktau", ctx->dir);
    snprintf(log, sizeof(log), "%s/data/ktau-run.log", ctx->dir);
    snprintf(wout, sizeof(wout), "%s/data/ktau-workload.txt", ctx->dir);
    ctx->progress(ctx, "profiling a short workload with ktau (user + kernel)", estimate(ctx));
    char *argv[] = {workload, ctx->quick ? "--quick" : out, ctx->quick ? out : NULL, NULL};
    /* The files are appended to by the run: start them empty. */
    FILE *logf = fopen(log, "w");
    if (!logf)
        return zepto_fail(err, errno, "%s: %s", log, strerror(errno));
    FILE *woutf = fopen(wout, "w");
    if (woutf)
        fclose(woutf);
    /* Under a launcher (the report run by srun or mpirun), the run would write one rank's files;
     * the workload is not an MPI program: not a rank, and no rank in its environment either. */
    struct ktau_run_opts o = {.dir = out,
                              .argv = argv,
                              .kernel = true,
                              .force = true,
                              .rank = -1,
                              .hide_rank = true,
                              .stdout_path = wout,
                              .stderr_path = log,
                              .warn = log_warning,
                              .warn_ctx = logf};
    struct ktau_run_result r;
    rc = ktau_run(&o, &r, err);
    if (!rc)
        fprintf(logf, "zepto ktau run: %zu thread profile(s) in %s (kernel: %s)\n", r.threads, out,
                r.kernel_note);
    fclose(logf);
    if (rc) {
        zepto_err_prefix(err, "ktau run (see data/ktau-run.log)");
        return rc;
    }
    if (r.status && r.status != 1)
        return zepto_fail(err, EIO, "the ktau workload exited %d (see data/ktau-run.log)",
                          r.status);

    struct ktau_state *s = calloc(1, sizeof(*s));
    if (!s)
        return zepto_fail(err, ENOMEM, "out of memory");
    snprintf(s->kernel, sizeof(s->kernel), "%s", r.kernel_note);
    s->kernel_on = r.kernel_on;
    if (r.status)
        read_warning(s, log);
    read_workload_out(s, wout);
    snprintf(profile, sizeof(profile), "%s/profile.0.0.0", out);
    struct ktau_pthread t = {0};
    if ((rc = ktau_tau_read(profile, &t, err))) {
        free(s);
        return rc;
    }
    read_profile(s, &t);
    ktau_pthread_free(&t);
    zr_ktau_causes_read(ctx, &s->causes);
    *state = s;
    return 0;
}

/* Per-event costs that follow from the regions (0 when not measurable). */
static double syscall_ns(const struct ktau_state *s)
{
    const struct region *r = &s->r[0];
    return r->k_n[K_SYSCALL] > 0 ? r->k_us[K_SYSCALL] * 1e3 / r->k_n[K_SYSCALL] : 0;
}

/* Time per page on the CPU: the region's wall time less what other tasks took from it. */
static double touch_us(const struct ktau_state *s)
{
    const struct region *r = &s->r[2];
    return r->found && s->pages ? (r->wall_us - r->k_us[K_PREEMPTED]) / (double)s->pages : 0;
}

/* How much longer each sleep took, in the kernel, than it asked for. */
static double late_us(const struct ktau_state *s)
{
    const struct region *r = &s->r[1];
    return r->k_n[K_SYSCALL] > 0 && s->sleeps
               ? (r->k_us[K_SYSCALL] - (double)(s->sleeps * s->sleep_ns) / 1e3) / (double)s->sleeps
               : 0;
}

static double compute_lost(const struct ktau_state *s)
{
    const struct region *r = &s->r[4];
    /* The merge takes the kernel's intervals out of the routine's exclusive time. */
    return r->found && r->wall_us > 0 ? (r->wall_us - r->user_us) / r->wall_us : 0;
}

static void json(const void *state, struct zb_json *j)
{
    const struct ktau_state *s = state;
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "kernel_capture", s->kernel);
    zb_json_kv_f64(j, "syscall_ns", syscall_ns(s));
    zb_json_kv_f64(j, "first_touch_us_per_page", touch_us(s));
    zb_json_kv_f64(j, "sleep_late_wakeup_us", late_us(s));
    zb_json_kv_f64(j, "compute_kernel_fraction", compute_lost(s));
    zb_json_key(j, "regions");
    zb_json_arr_begin(j);
    for (size_t i = 0; i < NREG; i++) {
        const struct region *r = &s->r[i];
        if (!r->found)
            continue;
        zb_json_obj_begin(j);
        zb_json_kv_str(j, "name", regions[i].name);
        zb_json_kv_f64(j, "wall_us", r->wall_us);
        zb_json_kv_f64(j, "user_us", r->user_us);
        for (int c = 0; c < K_N; c++) {
            char key[48];
            snprintf(key, sizeof(key), "%s_count", k_label[c]);
            for (char *p = key; *p; p++)
                if (*p == ' ')
                    *p = '_';
            zb_json_kv_f64(j, key, r->k_n[c]);
            if (c != K_FAULTS) {
                snprintf(key, sizeof(key), "%s_us", k_label[c]);
                zb_json_kv_f64(j, key, r->k_us[c]);
            }
        }
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);
    zb_json_key(j, "noise_causes");
    zr_ktau_causes_json(&s->causes, j);
    zb_json_obj_end(j);
}

static void cell(FILE *f, double n, double us)
{
    if (!n)
        fprintf(f, "<td>&ndash;</td>");
    else
        fprintf(f, "<td>%.0f &middot; %.3f ms</td>", n, us / 1e3);
}

static void share_plot(const struct ktau_state *s, const struct zr_ctx *ctx, FILE *html)
{
    struct zepto_err err = {0};
    FILE *f = zr_open(ctx, "data/ktau-regions.dat", &err);
    if (!f) {
        fprintf(html, "<p class=\"noplot\">%s</p>\n", err.msg);
        return;
    }
    fprintf(f, "# region user%% syscalls%% interrupts%% softirqs%% preempted%% blocked%%\n");
    for (size_t i = 0; i < NREG; i++) {
        const struct region *r = &s->r[i];
        if (!r->found || r->wall_us <= 0)
            continue;
        /* The outermost kernel intervals (wall - user, as the merge charges them) less the
         * time of everything that also nests inside system calls: the calls' own time. */
        double sys = r->wall_us - r->user_us - r->k_us[K_BLOCKED] - r->k_us[K_PREEMPTED] -
                     r->k_us[K_IRQ] - r->k_us[K_SOFTIRQ];
        if (sys < 0)
            sys = 0;
        fprintf(f, "%s %.3f %.3f %.3f %.3f %.3f %.3f\n", regions[i].name,
                100 * r->user_us / r->wall_us, 100 * sys / r->wall_us,
                100 * r->k_us[K_IRQ] / r->wall_us, 100 * r->k_us[K_SOFTIRQ] / r->wall_us,
                100 * r->k_us[K_PREEMPTED] / r->wall_us, 100 * r->k_us[K_BLOCKED] / r->wall_us);
    }
    fclose(f);
    zr_plot(ctx, html, "ktau-regions", "Where each region's wall time went (per cent)",
            "set style data histograms\n"
            "set style histogram rowstacked\n"
            "set style fill solid 0.85 border -1\n"
            "set boxwidth 0.7\n"
            "set yrange [0:105]\n"
            "set ylabel 'share of wall time (%)'\n"
            "set key outside right\n"
            "set xtics noenhanced\n"
            "plot 'data/ktau-regions.dat' using 2:xtic(1) title 'user' lc rgb '#4a7ab5', "
            "'' using 3 title 'syscalls' lc rgb '#e67e22', "
            "'' using 4 title 'interrupts' lc rgb '#c0392b', "
            "'' using 5 title 'softirqs' lc rgb '#8e44ad', "
            "'' using 6 title 'preempted' lc rgb '#7f8c8d', "
            "'' using 7 title 'blocked' lc rgb '#27ae60'");
}

static void html(const void *state, const struct zr_ctx *ctx, FILE *f)
{
    const struct ktau_state *s = state;
    fprintf(f, "<p>A short program with known work in named regions ran under <code>zepto ktau "
               "run</code>: its libktau timers and the kernel's tracepoints (syscalls, interrupts, "
               "softirqs, scheduling, page faults) merged into one profile, so each region shows "
               "what the kernel did inside it. Kernel capture: ");
    zr_html_escape(f, s->kernel);
    fprintf(f, ". Profiles: <a href=\"ktau/\">ktau/</a> (TAU's pprof and ParaProf read them; "
               "<code>ktau/trace.json</code> opens in Perfetto; <code>zepto ktau show "
               "ktau</code> prints them).</p>\n");
    if (s->warning[0]) {
        fprintf(f, "<p class=\"error\">");
        zr_html_escape(f, s->warning);
        fprintf(f, "</p>\n");
    }
    fprintf(f, "<table><tr><th>region</th><th>work</th><th>wall</th><th>user</th>");
    for (int c = 0; c < K_N; c++)
        fprintf(f, "<th>%s</th>", k_label[c]);
    fprintf(f, "<th>main kernel entries</th></tr>\n");
    for (size_t i = 0; i < NREG; i++) {
        const struct region *r = &s->r[i];
        if (!r->found)
            continue;
        fprintf(f, "<tr><td>%s</td><td>%s</td><td>%.3f ms</td><td>%.3f ms</td>", regions[i].name,
                regions[i].what, r->wall_us / 1e3, r->user_us / 1e3);
        for (int c = 0; c < K_N; c++) {
            if (c == K_FAULTS)
                fprintf(f, r->k_n[c] ? "<td>%.0f</td>" : "<td>&ndash;</td>", r->k_n[c]);
            else
                cell(f, r->k_n[c], r->k_us[c]);
        }
        fprintf(f, "<td>");
        for (int k = 0; k < TOP && r->top[k].name[0]; k++) {
            fprintf(f, "%s", k ? "<br>" : "");
            zr_html_escape(f, r->top[k].name);
            fprintf(f, " &times;%.0f", r->top[k].calls);
        }
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n<p><small>Cells: count &middot; time. Blocked and preempted time "
               "spent inside a system call is also part of that call's time. Page faults are "
               "counted but not timed (their tracepoint has no exit): their time stays in the "
               "region's user time. Time between a system call's entry and exit tracepoints "
               "counts as the call's; the entry and exit paths around them (and the cost of "
               "tracing them) count as user time.</small></p>\n");
    if (s->kernel_on)
        fprintf(f,
                "<ul><li>time in the kernel per system call (getppid, traced): %.0f ns</li>"
                "<li>first touch of a 4 KiB page (fault + zeroing), CPU time: %.2f us</li>"
                "<li>a 5 ms sleep wakes %.1f us late</li>"
                "<li>share of a compute loop's wall time spent outside it (kernel, other tasks): "
                "%.3f %%</li></ul>\n",
                syscall_ns(s), touch_us(s), late_us(s), 100 * compute_lost(s));
    share_plot(s, ctx, f);
    fprintf(f, "<h3>What the detours of the noise section were</h3>\n");
    zr_ktau_causes_html(&s->causes, f);
}

static void summary(const void *state, char *buf, size_t len)
{
    const struct ktau_state *s = state;
    if (!s->kernel_on) {
        snprintf(buf, len, "kernel capture %s", s->kernel);
        return;
    }
    char causes[160];
    zr_ktau_causes_summary(&s->causes, causes, sizeof(causes));
    snprintf(buf, len,
             "%.0f ns in the kernel per syscall, 4 KiB first touch %.1f us, sleeps wake %.0f us "
             "late; %s",
             syscall_ns(s), touch_us(s), late_us(s), causes);
}

static void release(void *state)
{
    struct ktau_state *s = state;
    zr_ktau_causes_free(&s->causes);
    free(s);
}

const struct zr_probe zr_probe_ktau = {
    .id = "ktau",
    .title = "Kernel activity inside the program (ktau)",
    .estimate_ns = estimate,
    .run = run,
    .json = json,
    .html = html,
    .summary = summary,
    .free = release,
};
