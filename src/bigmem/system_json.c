/*
 * The JSON form of what the machine offers for big memory (struct zbm_system) and of the plan
 * `--pages auto` makes on it: one writer, used by `zepto bigmem info --json` and by the bigmem
 * section of report.json. Keys of sizes end with _bytes.
 */
#include "base/json.h"
#include "zepto/bigmem.h"

void zbm_system_json_fields(const struct zbm_system *s, struct zb_json *j)
{
    zb_json_key(j, "pools");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < s->npools; i++) {
        zb_json_obj_begin(j);
        zb_json_kv_u64(j, "page_size_bytes", s->pool[i].page_size);
        zb_json_kv_u64(j, "total_pages", s->pool[i].total);
        zb_json_kv_u64(j, "free_pages", s->pool[i].free);
        zb_json_kv_u64(j, "reserved_pages", s->pool[i].reserved);
        zb_json_kv_u64(j, "surplus_pages", s->pool[i].surplus);
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);
    zb_json_kv_str(j, "thp_enabled", s->thp_enabled);
    zb_json_kv_str(j, "thp_defrag", s->thp_defrag);
    zb_json_kv_u64(j, "thp_size_bytes", s->thp_size);
    zb_json_kv_u64(j, "mem_total_bytes", s->mem_total);
    zb_json_kv_u64(j, "mem_available_bytes", s->mem_available);
    zb_json_key(j, "memlock_bytes");
    if (s->memlock == UINT64_MAX)
        zb_json_null(j); /* unlimited */
    else
        zb_json_u64(j, s->memlock);
    zb_json_kv_bool(j, "memlock_unlimited_by_capability", s->can_lock_all);
    zb_json_kv_u64(j, "local_ranks", s->local_ranks);
}

void zbm_plan_json(const struct zbm_plan *plan, const char *error, struct zb_json *j)
{
    zb_json_obj_begin(j);
    if (error && error[0]) {
        zb_json_kv_str(j, "error", error);
    } else {
        zb_json_kv_str(j, "pages", zbm_pages_name(plan->pages));
        zb_json_kv_u64(j, "page_size_bytes", plan->page_size);
        zb_json_kv_u64(j, "region_bytes", plan->size);
        zb_json_kv_str(j, "why", plan->why);
        char dflt[320]; /* what a run without --size does */
        zbm_default_describe(plan, dflt, sizeof(dflt));
        zb_json_kv_str(j, "default_run", dflt);
    }
    zb_json_obj_end(j);
}
