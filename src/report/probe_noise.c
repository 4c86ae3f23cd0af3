/*
 * The report's noise section: records detours on every CPU (10 s, or 2 s with --quick), keeps
 * the trace in data/noise.znt, and shows the summary, the per-CPU table, the histogram of detour
 * lengths, detours over time, the slowdown the noise predicts for allreduce at 10^2..10^6 ranks
 * (sync and random phase), and the periodic signatures. The recording is explained when the
 * kernel capture is permitted (zn_explainer): the ktau section shows its causes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpuset.h"
#include "base/json.h"
#include "base/parse.h"
#include "report/probe.h"
#include "zepto/noise.h"

#define SCATTER_MAX_POINTS 40000         /* more make the SVG slow to open */
#define CALIBRATION_NS     400000000ull  /* TSC and loop calibration before the recording */
#define SCALE_POINTS       5             /* 10^2 .. 10^6 ranks */
#define SCALE_COMPUTE_NS   1000000.0     /* a bulk-synchronous step: 1 ms compute, one allreduce */
#define SCALE_SIM_NS       7000000000ull /* what the predictions take here (quick: a third) */

/* The slowdown this node's noise predicts for allreduce at scale. */
struct scale_point {
    uint64_t ranks;
    double slowdown[2]; /* sync, random */
};

struct noise_state {
    struct zn_trace *trace;
    struct zn_summary *sum;
    struct scale_point scale[SCALE_POINTS];
    unsigned scale_iters;
    char scale_error[256];
};

#define D(ns) zb_fmt_duration((ns), (char[24]){0}, 24)

static uint64_t duration_ns(const struct zr_ctx *ctx)
{
    return ctx->quick ? 2000000000ull : 10000000000ull;
}

static uint64_t estimate(const struct zr_ctx *ctx)
{
    return duration_ns(ctx) + CALIBRATION_NS + (ctx->quick ? SCALE_SIM_NS / 3 : SCALE_SIM_NS);
}

/* Allreduce (recursive doubling) at 10^2..10^6 ranks, each rank replaying one CPU of the trace,
 * in sync and random phase: the `zepto noise simulate` model, one step of 1 ms compute. */
static void predict_scale(struct noise_state *s, const struct zr_ctx *ctx)
{
    struct zepto_err err = {0};
    const struct zn_trace *t = s->trace;
    struct zn_pattern *pat = calloc(t->ncpu, sizeof(*pat));
    if (!pat) {
        snprintf(s->scale_error, sizeof(s->scale_error), "out of memory");
        return;
    }
    unsigned n = 0;
    for (; n < t->ncpu; n++)
        if (zn_pattern_from_trace(t, n, 1.0, &pat[n], &err)) {
            snprintf(s->scale_error, sizeof(s->scale_error), "%s", err.msg);
            goto out;
        }
    s->scale_iters = ctx->quick ? 10 : 30;
    uint64_t ranks = 100;
    for (unsigned i = 0; i < SCALE_POINTS; i++, ranks *= 10) {
        s->scale[i].ranks = ranks;
        for (int ph = 0; ph < 2; ph++) {
            char what[96];
            snprintf(what, sizeof(what), "simulating allreduce at %llu ranks (%s phase)",
                     (unsigned long long)ranks, ph ? "random" : "sync");
            ctx->progress(ctx, what,
                          (ctx->quick ? SCALE_SIM_NS / 3 : SCALE_SIM_NS) * (SCALE_POINTS - i) /
                              SCALE_POINTS);
            struct zn_sim_opts o = {
                .ranks = ranks,
                .algo = ZN_ALGO_RECURSIVE_DOUBLING,
                .iters = s->scale_iters,
                .latency_ns = 1000,
                .overhead_ns = 200,
                .compute_ns = SCALE_COMPUTE_NS,
                .phase = ph ? ZN_PHASE_RANDOM : ZN_PHASE_SYNC,
                .seed = 1,
                .patterns = pat,
                .npatterns = t->ncpu,
            };
            struct zn_sim_result r;
            if (zn_simulate(&o, &r, &err)) {
                snprintf(s->scale_error, sizeof(s->scale_error), "%s", err.msg);
                goto out;
            }
            s->scale[i].slowdown[ph] = r.slowdown;
        }
    }
out:
    for (unsigned i = 0; i < n; i++)
        zn_pattern_free(&pat[i]);
    free(pat);
}

static void progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
    const struct zr_ctx *ctx = arg;
    uint64_t left = total > done ? total - done : 0;
    if (!strcmp(phase, "calibrating"))
        ctx->progress(ctx, "calibrating the clock loop", left + duration_ns(ctx));
    else
        ctx->progress(ctx, "recording noise on every CPU", left);
}

static int run(const struct zr_ctx *ctx, void **state, struct zepto_err *err)
{
    struct zb_cpuset allowed;
    int cpus[ZB_CPU_MAX];
    int rc = zb_cpuset_allowed(&allowed, err);
    if (rc)
        return rc;
    struct zn_record_opts o = {
        .cpus = cpus,
        .ncpu = zb_cpuset_list(&allowed, cpus, ZB_CPU_MAX),
        .duration_ns = duration_ns(ctx),
    };
    struct zn_recorder *rec;
    if ((rc = zn_recorder_new(&o, &rec, err)))
        return rc;
    /* The kernel's account of each detour, for the ktau section's causes table; without it
     * (not root, no tracefs) that section says why, from data/noise-explain.txt. */
    struct zepto_err xerr = {0};
    struct zn_explainer *ex = NULL;
    if (zn_explainer_start(&o, &ex, &xerr))
        ex = NULL;
    rc = zn_recorder_run(rec, progress, (void *)ctx, err);
    struct zn_trace *t = rc ? NULL : zn_recorder_take_trace(rec);
    if (ex && zn_explainer_finish(ex, rec, t, &xerr) == 0)
        xerr.msg[0] = 0;
    zn_explainer_free(ex);
    zn_recorder_free(rec);
    if (rc)
        return rc;
    if (xerr.msg[0]) {
        struct zepto_err e2 = {0};
        FILE *f = zr_open(ctx, "data/noise-explain.txt", &e2);
        if (f) {
            fprintf(f, "%s\n", xerr.msg);
            fclose(f);
        }
    }

    struct noise_state *s = calloc(1, sizeof(*s));
    if (!s) {
        zn_trace_free(t);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    s->trace = t;
    char path[4096];
    snprintf(path, sizeof(path), "%s/data/noise.znt", ctx->dir);
    if ((rc = zn_trace_write(t, path, err)) || (rc = zn_analyse(t, &s->sum, err))) {
        zn_trace_free(t);
        free(s);
        return rc;
    }
    predict_scale(s, ctx);
    *state = s;
    return 0;
}

static void json(const void *state, struct zb_json *j)
{
    const struct noise_state *s = state;
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "trace", "data/noise.znt");
    zb_json_key(j, "summary");
    zn_summary_json(s->sum, j);
    zb_json_key(j, "predicted_allreduce");
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "model",
                   "zepto noise simulate: recursive doubling, L 1us, o 200ns, "
                   "1 ms compute per step");
    zb_json_kv_u64(j, "iterations", s->scale_iters);
    if (s->scale_error[0])
        zb_json_kv_str(j, "error", s->scale_error);
    zb_json_key(j, "points");
    zb_json_arr_begin(j);
    for (unsigned i = 0; !s->scale_error[0] && i < SCALE_POINTS; i++) {
        zb_json_obj_begin(j);
        zb_json_kv_u64(j, "ranks", s->scale[i].ranks);
        zb_json_kv_f64(j, "slowdown_sync", s->scale[i].slowdown[0]);
        zb_json_kv_f64(j, "slowdown_random", s->scale[i].slowdown[1]);
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);
    zb_json_obj_end(j);
    zb_json_obj_end(j);
}

static void scale_plot(const struct noise_state *s, const struct zr_ctx *ctx, FILE *html)
{
    if (s->scale_error[0]) {
        fprintf(html, "<p class=\"error\">The prediction failed: ");
        zr_html_escape(html, s->scale_error);
        fprintf(html, "</p>\n");
        return;
    }
    fprintf(html,
            "<p>What this node's noise does to a bulk-synchronous code at scale: every rank "
            "computes for 1 ms and joins an allreduce (recursive doubling, latency 1 us, "
            "overhead 200 ns a message), each rank replaying one CPU of the trace above, %u "
            "steps (<code>zepto noise simulate</code>). <em>sync</em>: every rank's noise at "
            "the same instant; <em>random</em>: each rank at its own phase, as on nodes whose "
            "timers are not aligned.</p>\n"
            "<table><tr><th>ranks</th><th>slowdown, sync</th><th>slowdown, random</th></tr>\n",
            s->scale_iters);
    struct zepto_err err = {0};
    FILE *f = zr_open(ctx, "data/noise-scale.dat", &err);
    if (f)
        fprintf(f, "# ranks slowdown_sync slowdown_random\n");
    for (unsigned i = 0; i < SCALE_POINTS; i++) {
        fprintf(html, "<tr><td>%llu</td><td>%.3f</td><td>%.3f</td></tr>\n",
                (unsigned long long)s->scale[i].ranks, s->scale[i].slowdown[0],
                s->scale[i].slowdown[1]);
        if (f)
            fprintf(f, "%llu %.6f %.6f\n", (unsigned long long)s->scale[i].ranks,
                    s->scale[i].slowdown[0], s->scale[i].slowdown[1]);
    }
    fprintf(html, "</table>\n");
    if (!f) {
        fprintf(html, "<p class=\"noplot\">%s</p>\n", err.msg);
        return;
    }
    fclose(f);
    zr_plot(ctx, html, "noise-scale", "Predicted allreduce slowdown at scale (this node's noise)",
            "set logscale x\nset logscale y\nset format x '10^{%L}'\n"
            "set xlabel 'ranks'\nset ylabel 'slowdown (time / noiseless time)'\n"
            "set key top left\n"
            "plot 'data/noise-scale.dat' using 1:3 with linespoints pt 7 lc rgb '#c0392b' "
            "title 'random phase', '' using 1:2 with linespoints pt 5 lc rgb '#4a7ab5' "
            "title 'sync phase'");
}

static void summary(const void *state, char *buf, size_t len)
{
    const struct noise_state *s = state;
    const struct zn_cpu_summary *n = &s->sum->node;
    int used = snprintf(buf, len,
                        "%.4f %% of CPU time taken by the OS; %.0f detours/s per CPU, "
                        "median %s, longest %s",
                        100 * n->noise_fraction, n->rate_per_s / (s->sum->ncpu ? s->sum->ncpu : 1),
                        D(n->median_ns), D(n->max_ns));
    if (n->nsig && used > 0 && (size_t)used < len)
        snprintf(buf + used, len - (size_t)used, "; strongest period %s (%.0f %% of the noise)",
                 D((uint64_t)n->sig[0].period_ns), 100 * n->sig[0].noise_share);
}

static void cpu_row(FILE *f, const char *label, const struct zn_cpu_summary *c)
{
    fprintf(f,
            "<tr><td>%s</td><td>%s</td><td>%" PRIu64 "</td><td>%.1f</td><td>%.4f %%</td>"
            "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
            label, D(c->measured_ns), c->detours, c->rate_per_s, 100 * c->noise_fraction,
            D(c->min_ns), D(c->median_ns), D(c->p99_ns), D(c->max_ns));
}

static void histogram_plot(const struct noise_state *s, const struct zr_ctx *ctx, FILE *html)
{
    struct zepto_err err = {0};
    FILE *f = zr_open(ctx, "data/noise-histogram.dat", &err);
    if (!f) {
        fprintf(html, "<p class=\"noplot\">%s</p>\n", err.msg);
        return;
    }
    const struct zn_hist *h = &s->sum->node.hist;
    fprintf(f, "# bin from_ns detours time_share label\n");
    unsigned rows = 0;
    for (unsigned b = 0; b < ZN_HIST_BINS; b++) {
        if (!h->count[b])
            continue;
        char label[24];
        zb_fmt_duration(h->lo_ns[b], label, sizeof(label));
        fprintf(f, "%u %" PRIu64 " %" PRIu64 " %.6f \"%s\"\n", b, h->lo_ns[b], h->count[b],
                s->sum->node.detour_ns ? (double)h->total_ns[b] / (double)s->sum->node.detour_ns
                                       : 0.0,
                label);
        rows++;
    }
    fclose(f);
    if (!rows) {
        fprintf(html, "<p>No detours above the threshold: nothing to plot.</p>\n");
        return;
    }
    zr_plot(ctx, html, "noise-histogram", "Detour lengths, all CPUs (log scale)",
            "set style fill solid 0.8 border -1\n"
            "set boxwidth 0.8\n"
            "set logscale y\n"
            "set ylabel 'detours'\n"
            "set y2label 'share of noise time'\n"
            "set y2range [0:1]\n"
            "set y2tics\n"
            "set xlabel 'detour length (bin start)'\n"
            "set xtics rotate by -45\n"
            "plot 'data/noise-histogram.dat' using 1:3:xtic(5) with boxes lc rgb '#4a7ab5' "
            "title 'detours', '' using 1:4 axes x1y2 with linespoints lc rgb '#c0392b' pt 7 "
            "title 'share of noise time'");
}

static void scatter_plot(const struct noise_state *s, const struct zr_ctx *ctx, FILE *html)
{
    struct zepto_err err = {0};
    const struct zn_trace *t = s->trace;
    uint64_t total = 0;
    for (uint32_t i = 0; i < t->ncpu; i++)
        total += t->cpu[i].stored;
    if (!total)
        return;
    /* Thin the short detours evenly when there are too many points; keep every long one. */
    uint64_t keep_every = total > SCATTER_MAX_POINTS ? total / SCATTER_MAX_POINTS + 1 : 1;
    uint64_t p99 = s->sum->node.p99_ns;

    FILE *f = zr_open(ctx, "data/noise-detours.dat", &err);
    if (!f) {
        fprintf(html, "<p class=\"noplot\">%s</p>\n", err.msg);
        return;
    }
    char plot[4096];
    int used = snprintf(plot, sizeof(plot),
                        "set logscale y\nset xlabel 'time since start (s)'\n"
                        "set ylabel 'detour length (us)'\nset key outside right\nplot ");
    for (uint32_t i = 0; i < t->ncpu; i++) {
        const struct zn_cpu_trace *c = &t->cpu[i];
        fprintf(f, "# CPU %u: start_s length_us\n", c->cpu);
        for (uint64_t k = 0; k < c->stored; k++)
            if (c->d[k].duration_ns >= p99 || k % keep_every == 0)
                fprintf(f, "%.6f %.3f\n", c->d[k].start_ns / 1e9, c->d[k].duration_ns / 1e3);
        fprintf(f, "\n\n");
        if (used > 0 && (size_t)used < sizeof(plot) - 100 && i < 16)
            used += snprintf(plot + used, sizeof(plot) - (size_t)used,
                             "%s'data/noise-detours.dat' index %u with points pt 7 ps 0.3 "
                             "title 'CPU %u'",
                             i ? ", " : "", i, c->cpu);
    }
    fclose(f);
    zr_plot(ctx, html, "noise-scatter", "Detours over time: start vs length, per CPU", plot);
    if (keep_every > 1)
        fprintf(html,
                "<p><small>Plotted: every detour above the 99th percentile and one in %" PRIu64
                " of the others (%" PRIu64 " detours in all).</small></p>\n",
                keep_every, total);
}

static void html(const void *state, const struct zr_ctx *ctx, FILE *f)
{
    const struct noise_state *s = state;
    const struct zn_trace *t = s->trace;
    const struct zn_summary *sum = s->sum;
    fprintf(f,
            "<p>One pinned thread per CPU read the clock (%s, %.6f GHz) in a loop for %s; every "
            "gap above %s%s was a <em>detour</em>, time the CPU spent away from the "
            "application. Trace: <a href=\"data/noise.znt\">data/noise.znt</a> "
            "(<code>zepto noise analyse</code> reads it).</p>\n",
            t->clock, t->clock_hz / 1e9, D(t->duration_ns), D(t->threshold_ns),
            t->flags & ZN_TRACE_AUTO_THRESHOLD ? " (auto threshold)" : "");
    fprintf(f, "<table><tr><th>CPU</th><th>measured</th><th>detours</th><th>per s</th>"
               "<th>noise</th><th>min</th><th>median</th><th>p99</th><th>max</th></tr>\n");
    for (unsigned i = 0; i < sum->ncpu; i++) {
        char label[16];
        snprintf(label, sizeof(label), "%u", sum->cpu[i].cpu);
        cpu_row(f, label, &sum->cpu[i]);
    }
    cpu_row(f, "node", &sum->node);
    fprintf(f, "</table>\n");
    for (unsigned i = 0; i < sum->ncpu; i++)
        if (sum->cpu[i].truncated)
            fprintf(f,
                    "<p class=\"error\">CPU %u: the detour buffer filled at %s; counts and "
                    "noise fraction are exact, the rest covers what was stored.</p>\n",
                    sum->cpu[i].cpu, D(sum->cpu[i].truncated_at_ns));

    fprintf(f, "<h3>Detour lengths</h3>\n");
    histogram_plot(s, ctx, f);
    fprintf(f, "<h3>Detours over time</h3>\n");
    scatter_plot(s, ctx, f);

    fprintf(f, "<h3>Predicted effect at scale</h3>\n");
    scale_plot(s, ctx, f);

    fprintf(f, "<h3>Periodic signatures</h3>\n");
    if (!sum->node.nsig) {
        fprintf(f, "<p>No periodic signature found.</p>\n");
        return;
    }
    fprintf(f, "<table><tr><th>period</th><th>detour length</th><th>detours</th>"
               "<th>share of noise</th><th>regularity</th><th>CPUs</th></tr>\n");
    for (unsigned i = 0; i < sum->node.nsig; i++) {
        const struct zn_signature *g = &sum->node.sig[i];
        fprintf(f,
                "<tr><td>%s</td><td>%s</td><td>%" PRIu64 "</td><td>%.1f %%</td>"
                "<td>%.0f %%</td><td>",
                D((uint64_t)g->period_ns), D(g->length_ns), g->detours, 100 * g->noise_share,
                100 * g->regularity);
        zr_html_escape(f, g->cpus);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
}

static void release(void *state)
{
    struct noise_state *s = state;
    zn_summary_free(s->sum);
    zn_trace_free(s->trace);
    free(s);
}

const struct zr_probe zr_probe_noise = {
    .id = "noise",
    .title = "OS noise",
    .estimate_ns = estimate,
    .run = run,
    .json = json,
    .html = html,
    .summary = summary,
    .free = release,
};
