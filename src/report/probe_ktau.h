/*
 * The noise causes table of the report's ktau section: what `zepto noise record --explain` named
 * as the cause of each detour of the noise section's trace (data/noise.znt), as time by cause.
 */
#ifndef ZEPTO_REPORT_PROBE_KTAU_H
#define ZEPTO_REPORT_PROBE_KTAU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "report/probe.h"

struct zn_summary;
struct zn_trace;

struct zr_ktau_causes {
    struct zn_trace *trace; /* data/noise.znt, or NULL */
    struct zn_summary *sum; /* its analysis, when it has causes; else NULL */
    char why[256];          /* why there is no table (sum NULL, or a trace without causes) */
};

/* Reads ctx->dir/data/noise.znt (written by the noise section) and analyses its causes. */
void zr_ktau_causes_read(const struct zr_ctx *ctx, struct zr_ktau_causes *c);
void zr_ktau_causes_json(const struct zr_ktau_causes *c, struct zb_json *j);
void zr_ktau_causes_html(const struct zr_ktau_causes *c, FILE *f);
/* One phrase for the summary line: "noise mostly <cause> (N %)". */
void zr_ktau_causes_summary(const struct zr_ktau_causes *c, char *buf, size_t len);
void zr_ktau_causes_free(struct zr_ktau_causes *c);

#endif
