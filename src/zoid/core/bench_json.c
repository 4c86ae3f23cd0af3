/*
 * The ZOID benchmark's result as one JSON object (the format of `zepto zoid bench --json`).
 */
#include "base/json.h"
#include "zoid/core/bench.h"

static void print_bandwidth_json(struct zb_json *j, const char *key,
                                 const struct zoid_bench_bandwidth *bw)
{
    zb_json_key(j, key);
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < 2 * ZOID_BENCH_NSIZES; i++) {
        const struct zoid_bench_bandwidth *b = &bw[i];
        zb_json_obj_begin(j);
        zb_json_kv_str(j, "direction", b->upload ? "upload" : "download");
        zb_json_kv_str(j, "function", b->upload ? "sink" : "source");
        zb_json_kv_u64(j, "payload_bytes", b->bytes);
        zb_json_kv_u64(j, "in_flight", b->depth);
        if (b->skipped) {
            zb_json_kv_str(j, "skipped", "above the daemon's payload limit");
        } else {
            zb_json_kv_u64(j, "calls", b->calls);
            zb_json_kv_u64(j, "duration_ns", b->ns);
            zb_json_kv_f64(j, "bandwidth_bytes_per_s",
                           zoid_bench_per_s(b->calls * b->bytes, b->ns));
        }
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);
}

int zoid_bench_write_json(FILE *out, const struct zoid_bench_result *r)
{
    struct zb_json j;
    zb_json_init(&j, out, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_str(&j, "server", r->server);
    zb_json_kv_str(&j, "transport", r->transport);
    zb_json_kv_bool(&j, "quick", r->quick);
    zb_json_kv_u64(&j, "max_payload_bytes", r->max_payload);
    zb_json_kv_u64(&j, "latency_warmup_calls", r->warmup_calls);
    zb_json_kv_u64(&j, "latency_calls", r->latency_calls);
    zb_json_kv_u64(&j, "latency_median_ns", r->median_ns);
    zb_json_kv_u64(&j, "latency_p99_ns", r->p99_ns);
    zb_json_kv_u64(&j, "latency_min_ns", r->min_ns);
    zb_json_kv_u64(&j, "latency_max_ns", r->max_ns);
    zb_json_kv_f64(&j, "latency_mean_ns", r->mean_ns);
    zb_json_key(&j, "clients");
    zb_json_arr_begin(&j);
    for (unsigned i = 0; i < ZOID_BENCH_NCOUNTS; i++) {
        zb_json_obj_begin(&j);
        zb_json_kv_u64(&j, "clients", r->rate[i].clients);
        zb_json_kv_u64(&j, "calls", r->rate[i].calls);
        zb_json_kv_u64(&j, "duration_ns", r->rate[i].ns);
        zb_json_kv_f64(&j, "calls_per_s", zoid_bench_per_s(r->rate[i].calls, r->rate[i].ns));
        zb_json_obj_end(&j);
    }
    zb_json_arr_end(&j);
    print_bandwidth_json(&j, "bandwidth", r->bw);
    print_bandwidth_json(&j, "bandwidth_pipelined", r->piped);
    zb_json_obj_end(&j);
    return zb_json_finish(&j);
}
