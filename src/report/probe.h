/*
 * The contract between `zepto report` and its sections. Each part of Zepto adds one probe: a file
 * src/report/probe_<part>.c defining a `struct zr_probe`, and one line in probes.c. A probe
 * measures, then writes its JSON value, its HTML fragment and one summary line; plots go through
 * zr_plot() so that a machine without gnuplot still gets the tables.
 */
#ifndef ZEPTO_REPORT_PROBE_H
#define ZEPTO_REPORT_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "zepto/zepto.h"

struct zb_json;

struct zr_ctx {
    const char *dir;     /* where the report is written */
    bool quick;          /* --quick */
    bool tune_check;     /* --tune-check */
    const char *gnuplot; /* gnuplot program, or NULL when there is none */
    char no_plots[160];  /* why there are no plots (when gnuplot is NULL) */
    /* Progress of the running probe: what it does and the time it has left. */
    void (*progress)(const struct zr_ctx *ctx, const char *what, uint64_t left_ns);
    void *progress_arg;
    uint64_t after_ns; /* time the probes after this one will take (for the report's time left) */
};

struct zr_probe {
    const char *id;    /* JSON key and HTML anchor: "noise" */
    const char *title; /* section heading: "OS noise" */
    /* Expected run time with these options. */
    uint64_t (*estimate_ns)(const struct zr_ctx *ctx);
    /* Measures; returns its state in *state, or fails with a message for the section. */
    int (*run)(const struct zr_ctx *ctx, void **state, struct zepto_err *err);
    /* Its JSON value (an object), written at the current position of j. */
    void (*json)(const void *state, struct zb_json *j);
    /* Its HTML fragment (inside the section, after the heading); may write plots into ctx->dir. */
    void (*html)(const void *state, const struct zr_ctx *ctx, FILE *f);
    /* One line for the summary at the top of the page (plain text). */
    void (*summary)(const void *state, char *buf, size_t len);
    void (*free)(void *state);
};

struct zepto_report_opts;
/* A context for writing into opts->dir: finds gnuplot (or says why there is none). */
void zr_ctx_init(struct zr_ctx *ctx, const struct zepto_report_opts *opts);

/* The page's style sheet, shared by the node's and the allocation's pages. */
extern const char zr_css[];

/* NULL-terminated list of all probes, in page order (probes.c). */
extern const struct zr_probe *const zr_probes[];

/* Writes s with &, <, >, " and ' escaped. */
void zr_html_escape(FILE *f, const char *s);

/* Renders `script` (gnuplot commands after the terminal and output settings, data files named
 * relative to ctx->dir) into ctx->dir/<stem>.svg and writes the HTML for it: an <img>, or a note
 * saying why the plot is missing. The script is kept in ctx->dir/plots/<stem>.gp. */
void zr_plot(const struct zr_ctx *ctx, FILE *html, const char *stem, const char *alt,
             const char *script);

/* Opens ctx->dir/<name> for writing (for plot data); NULL with err filled on failure. */
FILE *zr_open(const struct zr_ctx *ctx, const char *name, struct zepto_err *err);

#endif
