/*
 * The Chrome trace of a ktau run (trace.json: Perfetto, chrome://tracing): one complete event
 * per user routine call and kernel interval, one instant per page fault, and each thread's name.
 * Times in microseconds from the first thread's start.
 */
#include "ktau/merge_parts.h"

/* Events in trace.json at most (~100 bytes each): viewers choke on more. */
#define KTAU_TRACE_MAX 4000000u

void kt_trace_begin(struct kt_trace *t, FILE *f, uint64_t t0)
{
    t->on = f != NULL;
    t->t0 = t0;
    t->events = t->dropped = 0;
    if (!t->on)
        return;
    zb_json_init(&t->json, f, false);
    zb_json_obj_begin(&t->json);
    zb_json_kv_str(&t->json, "displayTimeUnit", "ns");
    zb_json_key(&t->json, "traceEvents");
    zb_json_arr_begin(&t->json);
}

void kt_trace_event(struct kt_trace *t, const char *name, const char *cat, uint64_t start,
                    uint64_t dur, uint32_t pid, uint32_t tid)
{
    if (!t->on)
        return;
    if (t->events >= KTAU_TRACE_MAX) {
        t->dropped++;
        return;
    }
    t->events++;
    struct zb_json *j = &t->json;
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "name", name);
    zb_json_kv_str(j, "cat", cat);
    zb_json_kv_str(j, "ph", dur == UINT64_MAX ? "i" : "X");
    zb_json_kv_f64(j, "ts", (double)(start - t->t0) / 1e3);
    if (dur == UINT64_MAX)
        zb_json_kv_str(j, "s", "t");
    else
        zb_json_kv_f64(j, "dur", (double)dur / 1e3);
    zb_json_kv_u64(j, "pid", pid);
    zb_json_kv_u64(j, "tid", tid);
    zb_json_obj_end(j);
}

void kt_trace_thread_name(struct kt_trace *t, uint32_t pid, uint32_t tid, const char *name)
{
    if (!t->on)
        return;
    struct zb_json *j = &t->json;
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "name", "thread_name");
    zb_json_kv_str(j, "ph", "M");
    zb_json_kv_u64(j, "pid", pid);
    zb_json_kv_u64(j, "tid", tid);
    zb_json_key(j, "args");
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "name", name);
    zb_json_obj_end(j);
    zb_json_obj_end(j);
}

int kt_trace_end(struct kt_trace *t)
{
    if (!t->on)
        return 0;
    struct zb_json *j = &t->json;
    zb_json_arr_end(j);
    zb_json_key(j, "otherData");
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "profiler", "zepto ktau");
    zb_json_kv_u64(j, "events_left_out", t->dropped);
    zb_json_obj_end(j);
    zb_json_obj_end(j);
    t->on = false;
    return zb_json_finish(j);
}
