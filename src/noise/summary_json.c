/*
 * The JSON form of a noise summary: what `zepto noise analyse --json` and `record --json` print
 * and what the report embeds; and of its causes table, which the report's ktau section also shows
 * (one writer, one schema). Keys of measured numbers end with their unit; fractions are 0..1.
 */
#include "base/json.h"
#include "zepto/noise.h"

static void signature_json(struct zb_json *j, const struct zn_signature *s)
{
    zb_json_obj_begin(j);
    zb_json_kv_f64(j, "period_ns", s->period_ns);
    zb_json_kv_u64(j, "detour_length_ns", s->length_ns);
    zb_json_kv_u64(j, "detours", s->detours);
    zb_json_kv_u64(j, "detour_total_ns", s->detour_ns);
    zb_json_kv_f64(j, "noise_share_fraction", s->noise_share);
    zb_json_kv_f64(j, "regularity_fraction", s->regularity);
    zb_json_kv_str(j, "cpus", s->cpus);
    zb_json_obj_end(j);
}

void zn_causes_json(const struct zn_trace *t, const struct zn_cpu_summary *s, struct zb_json *j)
{
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < s->ncause; i++) {
        const struct zn_cause_summary *c = &s->cause[i];
        const struct zn_cause *k = &t->causes[c->cause];
        char label[96];
        zn_cause_label(k, label, sizeof(label));
        static const char *const kinds[ZN_CAUSE_KINDS] = {"unknown", "irq", "softirq", "thread",
                                                          "page_fault"};
        zb_json_obj_begin(j);
        zb_json_kv_str(j, "cause", label);
        zb_json_kv_str(j, "kind", k->kind < ZN_CAUSE_KINDS ? kinds[k->kind] : "?");
        zb_json_kv_str(j, "name", k->name);
        zb_json_kv_u64(j, "detours", c->detours);
        zb_json_kv_u64(j, "detour_total_ns", c->detour_ns);
        zb_json_kv_f64(j, "detour_time_fraction", c->share);
        zb_json_kv_u64(j, "median_ns", c->median_ns);
        zb_json_kv_u64(j, "traced_ns", c->traced_ns);
        zb_json_kv_f64(j, "traced_fraction", c->traced_fraction);
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);
}

static void cpu_json(struct zb_json *j, const struct zn_trace *t, const struct zn_cpu_summary *s)
{
    zb_json_obj_begin(j);
    if (s->cpu != UINT32_MAX)
        zb_json_kv_u64(j, "cpu", s->cpu);
    zb_json_kv_u64(j, "measured_ns", s->measured_ns);
    zb_json_kv_u64(j, "detours", s->detours);
    zb_json_kv_u64(j, "detour_total_ns", s->detour_ns);
    zb_json_kv_f64(j, "rate_per_s", s->rate_per_s);
    zb_json_kv_f64(j, "noise_fraction", s->noise_fraction);
    zb_json_kv_u64(j, "min_ns", s->min_ns);
    zb_json_kv_u64(j, "median_ns", s->median_ns);
    zb_json_kv_u64(j, "p99_ns", s->p99_ns);
    zb_json_kv_u64(j, "max_ns", s->max_ns);
    zb_json_kv_f64(j, "loop_min_ns", (double)s->loop_min_ps / 1000.0);
    zb_json_kv_f64(j, "loop_tail_ns", (double)s->loop_tail_ps / 1000.0);
    zb_json_kv_f64(j, "loop_mean_ns", (double)s->loop_mean_ps / 1000.0);
    zb_json_kv_bool(j, "truncated", s->truncated);
    if (s->truncated)
        zb_json_kv_u64(j, "truncated_at_ns", s->truncated_at_ns);
    zb_json_kv_u64(j, "stored_detours", s->stored);

    zb_json_key(j, "histogram");
    zb_json_arr_begin(j);
    for (unsigned b = 0; b < ZN_HIST_BINS; b++) {
        if (!s->hist.count[b])
            continue;
        zb_json_obj_begin(j);
        zb_json_kv_u64(j, "from_ns", s->hist.lo_ns[b]);
        if (b + 1 < ZN_HIST_BINS)
            zb_json_kv_u64(j, "to_ns", s->hist.lo_ns[b + 1]);
        zb_json_kv_u64(j, "detours", s->hist.count[b]);
        zb_json_kv_u64(j, "detour_total_ns", s->hist.total_ns[b]);
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);

    zb_json_key(j, "signatures");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < s->nsig; i++)
        signature_json(j, &s->sig[i]);
    zb_json_arr_end(j);
    if (t->flags & ZN_TRACE_EXPLAINED) {
        zb_json_key(j, "causes");
        zn_causes_json(t, s, j);
    }
    zb_json_obj_end(j);
}

void zn_summary_json(const struct zn_summary *s, struct zb_json *j)
{
    const struct zn_trace *t = s->trace;
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_str(j, "host", t->host);
    zb_json_kv_str(j, "kernel", t->kernel);
    zb_json_kv_str(j, "cpu_model", t->cpu_model);
    zb_json_kv_str(j, "clock", t->clock);
    zb_json_kv_u64(j, "clock_hz", t->clock_hz);
    zb_json_kv_u64(j, "start_unix_ns", t->start_unix_ns);
    zb_json_kv_u64(j, "start_monotonic_ns", t->start_mono_ns);
    zb_json_kv_u64(j, "duration_ns", t->duration_ns);
    zb_json_kv_u64(j, "threshold_ns", t->threshold_ns);
    zb_json_kv_bool(j, "threshold_auto", t->flags & ZN_TRACE_AUTO_THRESHOLD);
    zb_json_kv_bool(j, "interrupted", t->flags & ZN_TRACE_INTERRUPTED);
    if (t->flags & ZN_TRACE_EXPLAINED)
        zb_json_kv_bool(j, "explained", true);
    zb_json_key(j, "node");
    cpu_json(j, t, &s->node);
    zb_json_key(j, "cpus");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < s->ncpu; i++)
        cpu_json(j, t, &s->cpu[i]);
    zb_json_arr_end(j);
    zb_json_obj_end(j);
}
