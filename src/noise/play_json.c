/*
 * The JSON form of what `zepto noise play` injected (struct zn_play_report): per CPU and for all,
 * the detours, the time injected, and how late and how far off in length they were. The one
 * writer of `noise play --json` and `--report FILE`.
 */
#include "base/json.h"
#include "zepto/noise.h"

void zn_play_report_json(const struct zn_play_report *r, struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_bool(j, "realtime", r->realtime);
    zb_json_kv_str(j, "priority", r->priority);
    zb_json_kv_u64(j, "ran_ns", r->ran_ns);
    zb_json_key(j, "cpus");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i <= r->ncpu; i++) {
        const struct zn_play_cpu *c = i < r->ncpu ? &r->cpu[i] : &r->all;
        if (i == r->ncpu) {
            zb_json_arr_end(j);
            zb_json_key(j, "all");
        }
        zb_json_obj_begin(j);
        if (c->cpu >= 0)
            zb_json_kv_i64(j, "cpu", c->cpu);
        zb_json_kv_u64(j, "detours", c->detours);
        zb_json_kv_u64(j, "injected_ns", c->injected_ns);
        zb_json_kv_f64(j, "noise_fraction",
                       r->ran_ns ? (double)c->injected_ns /
                                       ((double)r->ran_ns * (c->cpu >= 0 ? 1 : r->ncpu))
                                 : 0);
        zb_json_kv_u64(j, "late_median_ns", c->late_median_ns);
        zb_json_kv_u64(j, "late_p99_ns", c->late_p99_ns);
        zb_json_kv_u64(j, "late_max_ns", c->late_max_ns);
        zb_json_kv_i64(j, "length_error_median_ns", c->error_median_ns);
        zb_json_kv_i64(j, "length_error_p99_ns", c->error_p99_ns);
        zb_json_kv_i64(j, "length_error_max_ns", c->error_max_ns);
        zb_json_obj_end(j);
    }
    zb_json_obj_end(j);
}
