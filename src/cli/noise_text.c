/*
 * The table that `zepto noise analyse` and `record` print: per CPU and node figures, the
 * histogram of detour lengths, the periodic signatures and, for explained traces, the detour
 * time by cause.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "zepto/noise.h"

#define D(ns) zb_fmt_duration((ns), (char[24]){0}, 24)

static void row(FILE *f, const char *label, const struct zn_cpu_summary *s)
{
    fprintf(f, "%-5s %10s %9" PRIu64 " %9.1f %8.4f%% %9s %9s %9s %9s\n", label, D(s->measured_ns),
            s->detours, s->rate_per_s, 100.0 * s->noise_fraction, D(s->min_ns), D(s->median_ns),
            D(s->p99_ns), D(s->max_ns));
}

static void histogram(FILE *f, const struct zn_cpu_summary *s)
{
    uint64_t most = 0;
    int first = -1, last = -1;
    for (int b = 0; b < ZN_HIST_BINS; b++) {
        if (!s->hist.count[b])
            continue;
        if (first < 0)
            first = b;
        last = b;
        if (s->hist.count[b] > most)
            most = s->hist.count[b];
    }
    if (first < 0)
        return;
    fprintf(f, "\nDetour lengths (all CPUs)\n%10s  %-10s %9s %7s\n", "from", "to", "detours",
            "time");
    for (int b = first; b <= last; b++) {
        char to[24] = "and more";
        if (b + 1 < ZN_HIST_BINS)
            zb_fmt_duration(s->hist.lo_ns[b + 1], to, sizeof(to));
        int bar = most ? (int)((s->hist.count[b] * 40 + most - 1) / most) : 0;
        double share =
            s->detour_ns ? 100.0 * (double)s->hist.total_ns[b] / (double)s->detour_ns : 0;
        fprintf(f, "%10s  %-10s %9" PRIu64 " %6.1f%%  %.*s\n", D(s->hist.lo_ns[b]), to,
                s->hist.count[b], share, bar, "########################################");
    }
}

static void signatures(FILE *f, const struct zn_cpu_summary *s)
{
    fprintf(f, "\nPeriodic signatures (all CPUs)\n");
    if (!s->nsig) {
        fprintf(f, "  none found\n");
        return;
    }
    fprintf(f, "%12s %10s %9s %7s %11s  %s\n", "period", "length", "detours", "share", "regularity",
            "CPUs");
    for (unsigned i = 0; i < s->nsig; i++) {
        const struct zn_signature *g = &s->sig[i];
        fprintf(f, "%12s %10s %9" PRIu64 " %6.1f%% %10.0f%%  %s\n", D((uint64_t)g->period_ns),
                D(g->length_ns), g->detours, 100.0 * g->noise_share, 100.0 * g->regularity,
                g->cpus);
    }
}

static void causes(FILE *f, const struct zn_trace *t, const struct zn_cpu_summary *s)
{
    fprintf(f, "\nDetour time by cause (all CPUs%s)\n", s->truncated ? ", stored detours" : "");
    fprintf(f, "%-30s %9s %10s %7s %10s %14s\n", "cause", "detours", "time", "share", "median",
            "traced (guest)");
    for (unsigned i = 0; i < s->ncause; i++) {
        const struct zn_cause_summary *c = &s->cause[i];
        char label[96];
        zn_cause_label(&t->causes[c->cause], label, sizeof(label));
        fprintf(f, "%-30s %9" PRIu64 " %10s %6.1f%% %10s %13.1f%%\n", label, c->detours,
                D(c->detour_ns), 100.0 * c->share, D(c->median_ns), 100.0 * c->traced_fraction);
    }
}

void cli_noise_print_summary(FILE *f, const struct zn_summary *s)
{
    const struct zn_trace *t = s->trace;
    fprintf(f, "Noise on %s (Linux %s, %s)\n", t->host, t->kernel, t->cpu_model);
    fprintf(f, "%u CPU%s, %s asked, clock %s at %.6f GHz, threshold %s%s%s\n\n", t->ncpu,
            t->ncpu == 1 ? "" : "s", D(t->duration_ns), t->clock, t->clock_hz / 1e9,
            D(t->threshold_ns), t->flags & ZN_TRACE_AUTO_THRESHOLD ? " (auto)" : "",
            t->flags & ZN_TRACE_INTERRUPTED ? ", stopped early" : "");
    fprintf(f, "%-5s %10s %9s %9s %9s %9s %9s %9s %9s\n", "CPU", "measured", "detours", "rate/s",
            "noise", "min", "median", "p99", "max");
    for (unsigned i = 0; i < s->ncpu; i++) {
        char label[16];
        snprintf(label, sizeof(label), "%u", s->cpu[i].cpu);
        row(f, label, &s->cpu[i]);
    }
    if (s->ncpu > 1)
        row(f, "node", &s->node);
    for (unsigned i = 0; i < s->ncpu; i++)
        if (s->cpu[i].truncated)
            fprintf(f,
                    "CPU %u: detour buffer full at %s; counts and noise stay exact, the list "
                    "(quantiles, histogram, signatures) stops there (raise --buffer)\n",
                    s->cpu[i].cpu, D(s->cpu[i].truncated_at_ns));
    histogram(f, &s->node);
    signatures(f, &s->node);
    if (t->flags & ZN_TRACE_EXPLAINED)
        causes(f, t, &s->node);
}
