/*
 * `zepto report`: runs every probe of probes.c in turn, then writes report.json and index.html.
 * A probe that fails leaves a note in its section and in the JSON (`"error"`); the others still
 * run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/dir.h"
#include "base/json.h"
#include "base/settings.h"
#include "base/spawn.h"
#include "base/sysinfo.h"
#include "report/probe.h"
#include "zepto/report.h"

#define NPROBES_MAX 32

struct outcome {
    void *state;
    struct zepto_err err;
    int rc;
};

struct progress_relay {
    zepto_report_progress_fn fn;
    void *arg;
    const char *probe;
};

static void relay(const struct zr_ctx *ctx, const char *what, uint64_t left_ns)
{
    struct progress_relay *r = ctx->progress_arg;
    if (r->fn)
        r->fn(r->arg, r->probe, what, left_ns + ctx->after_ns);
}

void zr_html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f); break;
        }
    }
}

void zr_ctx_init(struct zr_ctx *ctx, const struct zepto_report_opts *opts)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->dir = opts->dir;
    ctx->quick = opts->quick;
    ctx->tune_check = opts->tune_check;
    const char *gp = zb_setting(ZB_SET_GNUPLOT, "gnuplot");
    if (zb_executable_exists(gp))
        ctx->gnuplot = gp;
    else
        snprintf(ctx->no_plots, sizeof(ctx->no_plots),
                 "gnuplot ('%s') was not found; install gnuplot-nox (scripts/deps.sh does) and "
                 "run the report again",
                 gp);
}

uint64_t zepto_report_estimate_ns(const struct zepto_report_opts *opts)
{
    struct zr_ctx ctx;
    zr_ctx_init(&ctx, opts);
    uint64_t total = 0;
    for (const struct zr_probe *const *p = zr_probes; *p; p++)
        total += (*p)->estimate_ns(&ctx);
    return total;
}

const char zr_css[] =
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{padding:.2em .7em;text-align:right;"
    "border-bottom:1px solid #ddd}th{background:#f3f3f3}td:first-child,th:first-child{"
    "text-align:left}.noplot{color:#a40;font-style:italic}.error{color:#b00}"
    "figure{margin:1em 0}img{max-width:100%}dl{display:grid;grid-template-columns:max-content "
    "auto;gap:.2em 1em}dt{font-weight:bold}";

static void page_head(FILE *f, const struct zb_sysinfo *si, const char *when)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Zepto "
               "report: ");
    zr_html_escape(f, si->host);
    fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>Zepto report: ", zr_css);
    zr_html_escape(f, si->host);
    fprintf(f, "</h1>\n<dl><dt>Kernel</dt><dd>Linux ");
    zr_html_escape(f, si->kernel);
    fprintf(f, "</dd><dt>CPU</dt><dd>");
    zr_html_escape(f, si->cpu_model);
    fprintf(f, " (%u online)</dd><dt>Date</dt><dd>", si->cpus_online);
    zr_html_escape(f, when);
    fprintf(f, "</dd><dt>Zepto</dt><dd>%s (commit ", zepto_version);
    zr_html_escape(f, zepto_commit);
    fprintf(f, ")</dd></dl>\n");
}

static int write_json(const struct zr_ctx *ctx, const struct zb_sysinfo *si, const char *when,
                      struct outcome *res, unsigned n, struct zepto_err *err)
{
    FILE *f = zr_open(ctx, "report.json", err);
    if (!f)
        return -err->code;
    struct zb_json j;
    zb_json_init(&j, f, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_str(&j, "zepto_version", zepto_version);
    zb_json_kv_str(&j, "zepto_commit", zepto_commit);
    zb_json_kv_str(&j, "date", when);
    zb_json_kv_str(&j, "host", si->host);
    zb_json_kv_str(&j, "kernel", si->kernel);
    zb_json_kv_str(&j, "cpu_model", si->cpu_model);
    zb_json_kv_u64(&j, "cpus_online", si->cpus_online);
    zb_json_kv_bool(&j, "quick", ctx->quick);
    zb_json_key(&j, "sections");
    zb_json_obj_begin(&j);
    for (unsigned i = 0; i < n; i++) {
        zb_json_key(&j, zr_probes[i]->id);
        if (res[i].rc) {
            zb_json_obj_begin(&j);
            zb_json_kv_str(&j, "error", res[i].err.msg);
            zb_json_obj_end(&j);
        } else {
            zr_probes[i]->json(res[i].state, &j);
        }
    }
    zb_json_obj_end(&j);
    zb_json_obj_end(&j);
    int rc = zb_json_finish(&j);
    if (fclose(f) || rc)
        return zepto_fail(err, EIO, "%s/report.json: write error", ctx->dir);
    return 0;
}

static int write_html(const struct zr_ctx *ctx, const struct zb_sysinfo *si, const char *when,
                      struct outcome *res, unsigned n, struct zepto_err *err)
{
    FILE *f = zr_open(ctx, "index.html", err);
    if (!f)
        return -err->code;
    page_head(f, si, when);
    fprintf(f, "<h2>Summary</h2>\n<ul>\n");
    for (unsigned i = 0; i < n; i++) {
        char line[512] = "";
        if (res[i].rc)
            snprintf(line, sizeof(line), "failed: %s", res[i].err.msg);
        else
            zr_probes[i]->summary(res[i].state, line, sizeof(line));
        fprintf(f, "<li><a href=\"#%s\">", zr_probes[i]->id);
        zr_html_escape(f, zr_probes[i]->title);
        fprintf(f, "</a>: ");
        zr_html_escape(f, line);
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
    if (!ctx->gnuplot) {
        fprintf(f, "<p class=\"noplot\">This report has no plots: ");
        zr_html_escape(f, ctx->no_plots);
        fprintf(f, ".</p>\n");
    }
    for (unsigned i = 0; i < n; i++) {
        fprintf(f, "<section id=\"%s\"><h2>", zr_probes[i]->id);
        zr_html_escape(f, zr_probes[i]->title);
        fprintf(f, "</h2>\n");
        if (res[i].rc) {
            fprintf(f, "<p class=\"error\">This section failed: ");
            zr_html_escape(f, res[i].err.msg);
            fprintf(f, "</p>\n");
        } else {
            zr_probes[i]->html(res[i].state, ctx, f);
        }
        fprintf(f, "</section>\n");
    }
    fprintf(f, "<p><small>Figures as JSON: <a href=\"report.json\">report.json</a>. Plot "
               "scripts and data: plots/ and data/.</small></p>\n</body></html>\n");
    if (ferror(f) | fclose(f))
        return zepto_fail(err, EIO, "%s/index.html: write error", ctx->dir);
    return 0;
}

int zepto_report_run(const struct zepto_report_opts *opts, zepto_report_progress_fn progress,
                     void *arg, struct zepto_err *err)
{
    struct zr_ctx ctx;
    struct outcome res[NPROBES_MAX] = {0};
    int rc;

    zr_ctx_init(&ctx, opts);
    if ((rc = zb_make_dir(err, "%s", opts->dir)) ||
        (rc = zb_make_dir(err, "%s/plots", opts->dir)) ||
        (rc = zb_make_dir(err, "%s/data", opts->dir)))
        return rc;

    struct zb_sysinfo si;
    zb_sysinfo_get(&si);
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", localtime(&now));

    unsigned n = 0;
    while (zr_probes[n] && n < NPROBES_MAX)
        n++;
    struct progress_relay r = {progress, arg, NULL};
    ctx.progress = relay;
    ctx.progress_arg = &r;
    for (unsigned i = 0; i < n; i++) {
        ctx.after_ns = 0;
        for (unsigned k = i + 1; k < n; k++)
            ctx.after_ns += zr_probes[k]->estimate_ns(&ctx);
        r.probe = zr_probes[i]->id;
        res[i].rc = zr_probes[i]->run(&ctx, &res[i].state, &res[i].err);
    }
    rc = write_json(&ctx, &si, when, res, n, err);
    if (!rc)
        rc = write_html(&ctx, &si, when, res, n, err);
    for (unsigned i = 0; i < n; i++)
        if (!res[i].rc && zr_probes[i]->free)
            zr_probes[i]->free(res[i].state);
    return rc;
}
