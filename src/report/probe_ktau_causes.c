/*
 * The noise causes table of the report's ktau section (see probe_ktau.h): the noise section's
 * trace read back, and the time of its detours by the cause `--explain` named, with how much of
 * that time the guest kernel's tracepoints account for (the rest happened outside the guest).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/parse.h"
#include "report/probe_ktau.h"
#include "zepto/noise.h"

#define ROWS 12 /* causes shown; the rest are summed in one row */

#define D(ns) zb_fmt_duration((ns), (char[24]){0}, 24)

void zr_ktau_causes_read(const struct zr_ctx *ctx, struct zr_ktau_causes *c)
{
    memset(c, 0, sizeof(*c));
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/data/noise.znt", ctx->dir);
    struct zepto_err err = {0};
    if (zn_trace_read(path, &c->trace, &err)) {
        snprintf(c->why, sizeof(c->why), "the noise section left no trace (%s)", err.msg);
        return;
    }
    if (!(c->trace->flags & ZN_TRACE_EXPLAINED)) {
        /* The noise section says why it could not explain (data/noise-explain.txt). */
        snprintf(c->why, sizeof(c->why), "the noise section recorded without causes");
        snprintf(path, sizeof(path), "%s/data/noise-explain.txt", ctx->dir);
        FILE *f = fopen(path, "r");
        char line[sizeof(c->why) - 48];
        if (f && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(c->why, sizeof(c->why), "the noise section recorded without causes: %s", line);
        }
        if (f)
            fclose(f);
        return;
    }
    if (zn_analyse(c->trace, &c->sum, &err)) {
        snprintf(c->why, sizeof(c->why), "%s", err.msg);
        c->sum = NULL;
    }
}

static void label(const struct zr_ktau_causes *c, uint32_t i, char *buf, size_t len)
{
    const struct zn_cause_summary *k = &c->sum->node.cause[i];
    zn_cause_label(&c->trace->causes[k->cause], buf, len);
}

void zr_ktau_causes_json(const struct zr_ktau_causes *c, struct zb_json *j)
{
    zb_json_obj_begin(j);
    if (!c->sum) {
        zb_json_kv_str(j, "missing", c->why);
        zb_json_obj_end(j);
        return;
    }
    zb_json_kv_u64(j, "detour_total_ns", c->sum->node.detour_ns);
    zb_json_key(j, "causes");
    zn_causes_json(c->trace, &c->sum->node, j);
    zb_json_obj_end(j);
}

void zr_ktau_causes_html(const struct zr_ktau_causes *c, FILE *f)
{
    if (!c->sum) {
        fprintf(f, "<p>No causes: ");
        zr_html_escape(f, c->why);
        fprintf(f, ".</p>\n");
        return;
    }
    const struct zn_cpu_summary *n = &c->sum->node;
    fprintf(f, "<p>While the noise section recorded, the kernel's tracepoints on the same CPUs "
               "(interrupts and x86 system vectors, softirqs, context switches, page faults) named "
               "the cause of each detour: the activity that took most of it, or <em>unknown "
               "(host)</em> when the guest kernel traced nothing inside it. <em>Traced</em> is the "
               "share of the time the guest kernel accounts for; on a VM the rest of a detour is "
               "the hypervisor's.</p>\n");
    fprintf(f, "<table><tr><th>cause</th><th>detours</th><th>time</th><th>share of noise</th>"
               "<th>median length</th><th>traced</th></tr>\n");
    uint64_t rest_n = 0, rest_ns = 0;
    double rest_share = 0;
    for (unsigned i = 0; i < n->ncause; i++) {
        const struct zn_cause_summary *k = &n->cause[i];
        if (i >= ROWS) {
            rest_n += k->detours;
            rest_ns += k->detour_ns;
            rest_share += k->share;
            continue;
        }
        char name[96];
        label(c, i, name, sizeof(name));
        fprintf(f, "<tr><td>");
        zr_html_escape(f, name);
        fprintf(f,
                "</td><td>%" PRIu64 "</td><td>%s</td><td>%.1f %%</td><td>%s</td>"
                "<td>%.0f %%</td></tr>\n",
                k->detours, D(k->detour_ns), 100 * k->share, D(k->median_ns),
                100 * k->traced_fraction);
    }
    if (rest_n)
        fprintf(f,
                "<tr><td>%u other causes</td><td>%" PRIu64 "</td><td>%s</td><td>%.1f %%</td>"
                "<td></td><td></td></tr>\n",
                n->ncause - ROWS, rest_n, D(rest_ns), 100 * rest_share);
    fprintf(f, "</table>\n");
}

void zr_ktau_causes_summary(const struct zr_ktau_causes *c, char *buf, size_t len)
{
    if (!c->sum || !c->sum->node.ncause) {
        snprintf(buf, len, "noise causes: %s", c->sum ? "no detours" : c->why);
        return;
    }
    char name[96];
    label(c, 0, name, sizeof(name));
    snprintf(buf, len, "noise mostly %s (%.0f %% of detour time)", name,
             100 * c->sum->node.cause[0].share);
}

void zr_ktau_causes_free(struct zr_ktau_causes *c)
{
    zn_summary_free(c->sum);
    zn_trace_free(c->trace);
    c->sum = NULL;
    c->trace = NULL;
}
