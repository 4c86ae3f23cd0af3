/*
 * zepto report: characterise this node with every part of Zepto and write an HTML page with
 * plots (index.html) and the same figures as JSON (report.json).
 */
#ifndef ZEPTO_REPORT_H
#define ZEPTO_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct zepto_report_opts {
    const char *dir; /* output directory, created when missing */
    bool quick;      /* shorter measurements (seconds instead of tens of seconds) */
};

/* Progress: the probe running, what it does, and the time left for the whole report. */
typedef void (*zepto_report_progress_fn)(void *arg, const char *probe, const char *what,
                                         uint64_t left_ns);

/* Runs every probe and writes the report. A probe that fails is reported in its section; the
 * report as a whole fails only when it cannot be written. */
int zepto_report_run(const struct zepto_report_opts *opts, zepto_report_progress_fn progress,
                     void *arg, struct zepto_err *err);

/* Time the report is expected to take with these options. */
uint64_t zepto_report_estimate_ns(const struct zepto_report_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
