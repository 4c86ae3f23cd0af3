/*
 * Plots for the report: a generated gnuplot script per plot, rendered to SVG. Scripts and data
 * stay next to the report (plots/, data/) so a user can change and re-run them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/spawn.h"
#include "report/probe.h"

FILE *zr_open(const struct zr_ctx *ctx, const char *name, struct zepto_err *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", ctx->dir, name);
    FILE *f = fopen(path, "we");
    if (!f)
        zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    return f;
}

static void missing(FILE *html, const char *alt, const char *why)
{
    fprintf(html, "<p class=\"noplot\">Plot missing (");
    zr_html_escape(html, alt);
    fprintf(html, "): ");
    zr_html_escape(html, why);
    fprintf(html, "</p>\n");
}

void zr_plot(const struct zr_ctx *ctx, FILE *html, const char *stem, const char *alt,
             const char *script)
{
    struct zepto_err err = {0};
    char name[256], log[4096], why[512];
    if (!ctx->gnuplot) {
        missing(html, alt, ctx->no_plots);
        return;
    }
    snprintf(name, sizeof(name), "plots/%s.gp", stem);
    FILE *f = zr_open(ctx, name, &err);
    if (!f) {
        missing(html, alt, err.msg);
        return;
    }
    fprintf(f,
            "set terminal svg size 860,420 dynamic enhanced font 'sans,12' background '#ffffff'\n"
            "set output '%s.svg'\n"
            "set grid lc rgb '#dddddd'\n"
            "set key top right\n"
            "%s\n",
            stem, script);
    if (fclose(f)) {
        missing(html, alt, "could not write the gnuplot script");
        return;
    }
    /* gnuplot runs in the report directory so that the script's paths are relative to it. */
    char script_path[300];
    snprintf(script_path, sizeof(script_path), "plots/%s.gp", stem);
    snprintf(log, sizeof(log), "%s/plots/%s.log", ctx->dir, stem);
    char *argv[] = {(char *)ctx->gnuplot, script_path, NULL};
    struct zb_spawn_opts o = {.stderr_path = log, .cwd = ctx->dir};
    int status = 0;
    if (zb_run(argv, &o, &status, &err)) {
        missing(html, alt, err.msg);
        return;
    }
    if (status) {
        snprintf(why, sizeof(why), "gnuplot exited with status %d; see plots/%s.log", status, stem);
        missing(html, alt, why);
        return;
    }
    fprintf(html, "<figure><img src=\"%s.svg\" alt=\"", stem);
    zr_html_escape(html, alt);
    fprintf(html, "\"><figcaption>");
    zr_html_escape(html, alt);
    fprintf(html, "</figcaption></figure>\n");
}
