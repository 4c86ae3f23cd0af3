/*
 * The allocation's index.html: the per-node summary table with the outliers and their reasons,
 * the noise across the nodes (noise fraction per node, detour lengths per node), the periodic
 * signatures shared by all nodes or seen on some only, the prediction from all nodes' traces,
 * and each node's own report one click away (nodes/HOST/index.html).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "report/alloc.h"
#include "report/probe.h"
#include "zepto/noise.h"
#include "zepto/noise_cluster.h"

#define D(ns) zb_fmt_duration((ns), (char[24]){0}, 24)

static void esc(FILE *f, const char *s)
{
    zr_html_escape(f, s);
}

static void head(const struct zr_alloc_data *d, FILE *f)
{
    const struct zr_alloc_page *p = d->page;
    unsigned ok = 0;
    for (unsigned i = 0; i < p->n; i++)
        ok += p->node[i].state == ZR_NODE_OK;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Zepto "
               "report: allocation ");
    esc(f, p->alloc->job);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n", zr_css);
    fprintf(f, "<h1>Zepto report: an allocation of %u nodes</h1>\n<dl><dt>Job</dt><dd>", p->n);
    esc(f, p->alloc->job);
    fprintf(f, " (");
    esc(f, p->alloc->launcher);
    fprintf(f, ")</dd><dt>Nodes</dt><dd>");
    esc(f, p->alloc->nodelist[0] ? p->alloc->nodelist : "(the launcher gives no list)");
    fprintf(f, "</dd><dt>Delivered</dt><dd id=\"delivered\">%u of %u</dd><dt>Date</dt><dd>", ok,
            p->n);
    esc(f, d->when);
    fprintf(f, "</dd><dt>Zepto</dt><dd>%s (commit ", zepto_version);
    esc(f, zepto_commit);
    fprintf(f, ")%s</dd></dl>\n", p->quick ? ", --quick" : "");
    for (unsigned i = 0; i < p->n; i++) {
        const struct zr_alloc_node *nd = &p->node[i];
        if (nd->state == ZR_NODE_OK)
            continue;
        fprintf(f, "<p class=\"error\">");
        esc(f, nd->host);
        fprintf(f, " %s: ", nd->state == ZR_NODE_MISSING ? "is missing" : "failed");
        esc(f, nd->why);
        fprintf(f, "</p>\n");
    }
    fprintf(f,
            "<h2>How the nodes were measured</h2>\n<p>Every node ran the single-node report "
            "(<code>zepto report%s</code>) on the CPUs its job step gave it. ",
            p->quick ? " --quick" : "");
    esc(f, d->sharing);
    fprintf(f, "</p>\n");
}

static void sig_text(const struct zn_signature *g, char *buf, size_t len)
{
    snprintf(buf, len, "%s every %s on CPU %s (%.0f %% of its noise)", D(g->length_ns),
             D((uint64_t)g->period_ns), g->cpus, 100 * g->noise_share);
}

static void table(const struct zr_alloc_data *d, FILE *f)
{
    const struct zr_alloc_page *p = d->page;
    fprintf(f, "<h2 id=\"nodes\">Nodes</h2>\n<table id=\"node-table\"><tr><th>node</th>"
               "<th>CPUs</th><th>noise</th><th>detours/s</th><th>p99</th><th>max</th>"
               "<th>strongest signature</th><th>outlier</th></tr>\n");
    for (unsigned i = 0; i < p->n; i++) {
        const struct zr_alloc_node *nd = &p->node[i];
        int k = d->traced[i];
        fprintf(f, "<tr class=\"node-%s\"><td>",
                nd->state == ZR_NODE_OK       ? "ok"
                : nd->state == ZR_NODE_FAILED ? "failed"
                                              : "missing");
        if (nd->state == ZR_NODE_OK) {
            fprintf(f, "<a href=\"nodes/");
            esc(f, nd->host);
            fprintf(f, "/index.html\">");
            esc(f, nd->host);
            fprintf(f, "</a>");
        } else {
            esc(f, nd->host);
        }
        fprintf(f, "</td><td>");
        esc(f, nd->cpus);
        fprintf(f, "</td>");
        if (k < 0 || !d->cluster) {
            fprintf(f, "<td colspan=\"6\" class=\"error\">%s: ",
                    nd->state == ZR_NODE_MISSING ? "missing" : "failed");
            esc(f, nd->why);
            fprintf(f, "</td></tr>\n");
            continue;
        }
        const struct zn_cluster_node *c = &d->cluster->node[k];
        const struct zn_cpu_summary *s = &c->sum->node;
        const struct zn_signature *g = zn_cluster_strongest(c->sum);
        char sig[160] = "-";
        if (g)
            sig_text(g, sig, sizeof(sig));
        fprintf(f, "<td>%.4f %%</td><td>%.1f</td><td>%s</td><td>%s</td><td>",
                100 * s->noise_fraction, s->rate_per_s, D(s->p99_ns), D(s->max_ns));
        esc(f, sig);
        fprintf(f, "</td><td%s>", c->outlier ? " class=\"error\"" : "");
        esc(f, c->outlier ? c->reason : "no");
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    const struct zn_cluster *c = d->cluster;
    if (!c) {
        fprintf(f, "<p class=\"error\">No node delivered a noise trace.</p>\n");
        return;
    }
    fprintf(f,
            "<p>Noise fraction over %u nodes: median %.4f %%, min %.4f %%, max %.4f %%, MAD "
            "%.4f %%. A node is an outlier when its fraction is above %.4f %% (median + %.0f x "
            "max(%.4f x MAD, %.2f x median)) or when it carries a periodic signature that "
            "fewer than half the nodes have.</p>\n",
            c->n, 100 * c->median, 100 * c->min, 100 * c->max, 100 * c->mad, 100 * c->limit,
            ZN_CLUSTER_K, ZN_CLUSTER_MAD_SCALE, ZN_CLUSTER_REL_FLOOR);
    unsigned nout = 0;
    for (unsigned i = 0; i < c->n; i++)
        nout += c->node[i].outlier;
    fprintf(f, "<p id=\"outliers\"><strong>Outliers:</strong> %s</p>\n", nout ? "" : "none");
    if (nout) {
        fprintf(f, "<ul>\n");
        for (unsigned i = 0; i < c->n; i++)
            if (c->node[i].outlier) {
                fprintf(f, "<li>");
                esc(f, c->node[i].name);
                fprintf(f, ": ");
                esc(f, c->node[i].reason);
                fprintf(f, "</li>\n");
            }
        fprintf(f, "</ul>\n");
    }
}

static void plots(const struct zr_alloc_data *d, const struct zr_ctx *ctx, FILE *f)
{
    const struct zn_cluster *c = d->cluster;
    if (!c)
        return;
    struct zepto_err err = {0};
    FILE *dat = zr_open(ctx, "data/alloc-nodes.dat", &err);
    fprintf(f, "<h2>Noise across the nodes</h2>\n");
    if (!dat) {
        fprintf(f, "<p class=\"noplot\">");
        esc(f, err.msg);
        fprintf(f, "</p>\n");
        return;
    }
    fprintf(dat, "# i node noise_percent min_us median_us p99_us max_us outlier\n");
    for (unsigned i = 0; i < c->n; i++) {
        const struct zn_cpu_summary *s = &c->node[i].sum->node;
        char name[64];
        snprintf(name, sizeof(name), "%s", c->node[i].trace->host);
        for (char *q = name; *q; q++)
            if (*q == '"' || *q == '\\' || *q == ' ')
                *q = '_';
        fprintf(dat, "%u \"%s\" %.6f %.3f %.3f %.3f %.3f %d\n", i, name, 100 * s->noise_fraction,
                s->min_ns / 1e3, s->median_ns / 1e3, s->p99_ns / 1e3, s->max_ns / 1e3,
                c->node[i].outlier);
    }
    fclose(dat);
    char script[1024];
    snprintf(script, sizeof(script),
             "set style fill solid 0.8 border -1\nset boxwidth 0.6\nset yrange [0:*]\n"
             "set ylabel 'noise (%% of CPU time)'\nset xtics rotate by -45\nset key below\n"
             "plot 'data/alloc-nodes.dat' using 1:($8 > 0 ? $3 : 1/0):xtic(2) with boxes "
             "lc rgb '#c0392b' title 'outlier', '' using 1:($8 > 0 ? 1/0 : $3):xtic(2) with boxes "
             "lc rgb '#4a7ab5' title 'node', %.6f with lines dt 2 lc rgb '#333333' "
             "title 'outlier limit', %.6f with lines lc rgb '#888888' title 'median'",
             100 * c->limit, 100 * c->median);
    zr_plot(ctx, f, "alloc-noise", "Noise fraction per node, with the median and the outlier limit",
            script);
    snprintf(script, sizeof(script),
             "set logscale y\nset ylabel 'detour length (us)'\nset boxwidth 0.4\n"
             "set xtics rotate by -45\nset xrange [-0.7:%u.7]\nset key below\n"
             "plot 'data/alloc-nodes.dat' using 1:5:4:7:6:xtic(2) with candlesticks "
             "whiskerbars lc rgb '#4a7ab5' title 'box: median to p99, whiskers: min and max'",
             c->n - 1);
    zr_plot(ctx, f, "alloc-detours",
            "Detour lengths per node: box from median to p99, whiskers to min and max (log)",
            script);
}

static void signatures(const struct zr_alloc_data *d, FILE *f)
{
    const struct zn_cluster *c = d->cluster;
    if (!c)
        return;
    fprintf(f, "<h3>Periodic signatures</h3>\n");
    unsigned rows = 0;
    for (unsigned i = 0; i < c->n; i++) {
        const struct zn_cpu_summary *s = &c->node[i].sum->node;
        for (unsigned k = 0; k < s->nsig; k++) {
            const struct zn_signature *g = &s->sig[k];
            if (g->noise_share < ZN_CLUSTER_MIN_SHARE)
                continue;
            if (!rows++)
                fprintf(f, "<table><tr><th>node</th><th>period</th><th>detour length</th>"
                           "<th>CPUs</th><th>share of its noise</th><th>seen on</th></tr>\n");
            unsigned on = zn_cluster_sig_nodes(c, g);
            fprintf(f, "<tr><td>");
            esc(f, c->node[i].name);
            fprintf(f, "</td><td>%s</td><td>%s</td><td>", D((uint64_t)g->period_ns),
                    D(g->length_ns));
            esc(f, g->cpus);
            fprintf(f, "</td><td>%.1f %%</td><td>", 100 * g->noise_share);
            if (on == c->n)
                fprintf(f, "all %u nodes (shared)", c->n);
            else
                fprintf(f, "%u of %u nodes (unique to some)", on, c->n);
            fprintf(f, "</td></tr>\n");
        }
    }
    if (rows)
        fprintf(f, "</table>\n");
    else
        fprintf(f, "<p>No periodic signature explains %.0f %% or more of any node's noise.</p>\n",
                100 * ZN_CLUSTER_MIN_SHARE);
}

static void prediction(const struct zr_alloc_data *d, const struct zr_ctx *ctx, FILE *f)
{
    fprintf(f, "<h2 id=\"prediction\">Predicted effect at scale</h2>\n");
    if (d->scale_error[0]) {
        fprintf(f, "<p class=\"error\">The prediction failed: ");
        esc(f, d->scale_error);
        fprintf(f, "</p>\n");
        return;
    }
    fprintf(f,
            "<p>What this allocation's noise does to a bulk-synchronous code at scale: every "
            "rank computes for 1 ms and joins an allreduce (recursive doubling, latency 1 us, "
            "overhead 200 ns a message), rank r replaying CPU r (cycling) of the traces of all "
            "%u nodes, %u steps (<code>zepto noise simulate DIR</code>). <em>sync</em>: every "
            "rank's noise at the same instant; <em>random</em>: each rank at its own phase.</p>\n"
            "<table id=\"prediction-table\"><tr><th>ranks</th><th>slowdown, sync</th>"
            "<th>slowdown, random</th></tr>\n",
            d->ntraces, d->iters);
    struct zepto_err err = {0};
    FILE *dat = zr_open(ctx, "data/alloc-scale.dat", &err);
    if (dat)
        fprintf(dat, "# ranks slowdown_sync slowdown_random\n");
    for (unsigned i = 0; i < ZR_ALLOC_SCALE_POINTS; i++) {
        fprintf(f, "<tr><td>%" PRIu64 "</td><td>%.3f</td><td>%.3f</td></tr>\n", d->ranks[i],
                d->slowdown[i][0], d->slowdown[i][1]);
        if (dat)
            fprintf(dat, "%" PRIu64 " %.6f %.6f\n", d->ranks[i], d->slowdown[i][0],
                    d->slowdown[i][1]);
    }
    fprintf(f, "</table>\n");
    if (!dat) {
        fprintf(f, "<p class=\"noplot\">");
        esc(f, err.msg);
        fprintf(f, "</p>\n");
        return;
    }
    fclose(dat);
    zr_plot(ctx, f, "alloc-scale", "Predicted allreduce slowdown at scale (all nodes' noise)",
            "set logscale x\nset logscale y\nset format x '10^{%L}'\n"
            "set xlabel 'ranks'\nset ylabel 'slowdown (time / noiseless time)'\n"
            "set key top left\n"
            "plot 'data/alloc-scale.dat' using 1:3 with linespoints pt 7 lc rgb '#c0392b' "
            "title 'random phase', '' using 1:2 with linespoints pt 5 lc rgb '#4a7ab5' "
            "title 'sync phase'");
}

static void node_links(const struct zr_alloc_data *d, FILE *f)
{
    const struct zr_alloc_page *p = d->page;
    fprintf(f, "<h2 id=\"node-reports\">Each node's own report</h2>\n<ul>\n");
    for (unsigned i = 0; i < p->n; i++) {
        const struct zr_alloc_node *nd = &p->node[i];
        fprintf(f, "<li>");
        if (nd->state != ZR_NODE_OK) {
            esc(f, nd->host);
            fprintf(f, ": %s</li>\n", nd->state == ZR_NODE_MISSING ? "missing" : "failed");
            continue;
        }
        fprintf(f, "<a class=\"node-report\" href=\"nodes/");
        esc(f, nd->host);
        fprintf(f, "/index.html\">");
        esc(f, nd->host);
        fprintf(f, "</a>: noise, bigmem, ktau; %.1f s", nd->seconds);
        if (nd->waited_for[0]) {
            fprintf(f, ", recorded after ");
            esc(f, nd->waited_for);
        }
        if (nd->state == ZR_NODE_OK && nd->why[0]) {
            fprintf(f, " <span class=\"error\">(");
            esc(f, nd->why);
            fprintf(f, ")</span>");
        }
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
}

int zr_alloc_html(const struct zr_alloc_data *d, const struct zr_ctx *ctx, struct zepto_err *err)
{
    FILE *f = zr_open(ctx, "index.html.tmp", err);
    if (!f)
        return -err->code;
    head(d, f);
    if (!ctx->gnuplot) {
        fprintf(f, "<p class=\"noplot\">This report has no plots: ");
        esc(f, ctx->no_plots);
        fprintf(f, ".</p>\n");
    }
    table(d, f);
    plots(d, ctx, f);
    signatures(d, f);
    prediction(d, ctx, f);
    node_links(d, f);
    fprintf(f, "<p><small>Figures as JSON: <a href=\"report.json\">report.json</a>. Plot "
               "scripts and data: plots/ and data/.</small></p>\n</body></html>\n");
    if (ferror(f) | fclose(f))
        return zepto_fail(err, EIO, "%s/index.html: write error", ctx->dir);
    char from[4200], to[4200];
    snprintf(from, sizeof(from), "%s/index.html.tmp", ctx->dir);
    snprintf(to, sizeof(to), "%s/index.html", ctx->dir);
    if (rename(from, to))
        return zepto_fail(err, errno, "%s: %s", to, strerror(errno));
    return 0;
}
