/*
 * `zepto bigmem info`: what this machine offers for big memory, and what `auto` would choose.
 */
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/parse.h"
#include "base/settings.h"
#include "cli/cli.h"
#include "zepto/bigmem.h"

#define CMD "bigmem info"

static const char usage[] =
    "usage: zepto bigmem info [--json]\n"
    "\n"
    "Huge-page pools per page size (total, free, reserved, surplus), the\n"
    "transparent huge page mode and defrag setting, the memlock limit, the\n"
    "memory available, the MPI ranks of this node sharing it, and what\n"
    "`zepto bigmem run --pages auto` would choose here, and why.\n"
    "\n"
    "example:\n"
    "  zepto bigmem info --json | jq .auto\n";

int cli_bigmem_info(int argc, char **argv)
{
    bool json;
    int rc = cli_json_option(CMD, argc, argv, usage, &json);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);

    struct zepto_err err = {0}, perr = {0};
    struct zbm_system s;
    struct zbm_plan plan;
    if (zbm_system_read(&s, zb_setting(ZB_SET_SYSROOT, ""), &err))
        return cli_fail(CMD, &err);
    int prc = zbm_plan_make(&s, ZBM_AUTO, 0, false, &plan, &perr);
    char dflt[320] = ""; /* what a run without --size does */
    if (!prc)
        zbm_default_describe(&plan, dflt, sizeof(dflt));

    char a[32], b[32];
    if (json) {
        struct zb_json j;
        zb_json_init(&j, stdout, true);
        zb_json_obj_begin(&j);
        zb_json_key(&j, "pools");
        zb_json_arr_begin(&j);
        for (unsigned i = 0; i < s.npools; i++) {
            zb_json_obj_begin(&j);
            zb_json_kv_u64(&j, "page_size_bytes", s.pool[i].page_size);
            zb_json_kv_u64(&j, "total_pages", s.pool[i].total);
            zb_json_kv_u64(&j, "free_pages", s.pool[i].free);
            zb_json_kv_u64(&j, "reserved_pages", s.pool[i].reserved);
            zb_json_kv_u64(&j, "surplus_pages", s.pool[i].surplus);
            zb_json_obj_end(&j);
        }
        zb_json_arr_end(&j);
        zb_json_kv_str(&j, "thp_enabled", s.thp_enabled);
        zb_json_kv_str(&j, "thp_defrag", s.thp_defrag);
        zb_json_kv_u64(&j, "thp_size_bytes", s.thp_size);
        zb_json_kv_u64(&j, "mem_total_bytes", s.mem_total);
        zb_json_kv_u64(&j, "mem_available_bytes", s.mem_available);
        if (s.memlock == UINT64_MAX) {
            zb_json_key(&j, "memlock_bytes");
            zb_json_null(&j);
        } else {
            zb_json_kv_u64(&j, "memlock_bytes", s.memlock);
        }
        zb_json_kv_bool(&j, "memlock_unlimited_by_capability", s.can_lock_all);
        zb_json_kv_u64(&j, "local_ranks", s.local_ranks);
        zb_json_key(&j, "auto");
        zb_json_obj_begin(&j);
        if (prc) {
            zb_json_kv_str(&j, "error", perr.msg);
        } else {
            zb_json_kv_str(&j, "pages", zbm_pages_name(plan.pages));
            zb_json_kv_u64(&j, "page_size_bytes", plan.page_size);
            zb_json_kv_u64(&j, "region_bytes", plan.size);
            zb_json_kv_str(&j, "why", plan.why);
            zb_json_kv_str(&j, "default_run", dflt);
        }
        zb_json_obj_end(&j);
        zb_json_obj_end(&j);
        return zb_json_finish(&j) ? EXIT_FAIL : 0;
    }

    printf("%-12s %8s %8s %9s %8s\n", "hugetlb pool", "total", "free", "reserved", "surplus");
    for (unsigned i = 0; i < s.npools; i++)
        printf("%-12s %8llu %8llu %9llu %8llu\n", zb_fmt_size(s.pool[i].page_size, a, sizeof(a)),
               (unsigned long long)s.pool[i].total, (unsigned long long)s.pool[i].free,
               (unsigned long long)s.pool[i].reserved, (unsigned long long)s.pool[i].surplus);
    if (!s.npools)
        printf("(no hugetlb pools)\n");
    printf("\ntransparent huge pages: %s (defrag %s), %s pages\n",
           s.thp_enabled[0] ? s.thp_enabled : "not available", s.thp_defrag[0] ? s.thp_defrag : "-",
           zb_fmt_size(s.thp_size, a, sizeof(a)));
    printf("memory: %s total, %s available\n", zb_fmt_size(s.mem_total, a, sizeof(a)),
           zb_fmt_size(s.mem_available, b, sizeof(b)));
    if (s.memlock == UINT64_MAX)
        printf("memlock limit: unlimited\n");
    else
        printf("memlock limit: %s%s\n", zb_fmt_size(s.memlock, a, sizeof(a)),
               s.can_lock_all ? " (does not apply: CAP_IPC_LOCK)" : "");
    printf("MPI ranks on this node sharing the memory: %u\n", s.local_ranks);
    if (prc)
        printf("auto: %s\n", perr.msg);
    else {
        printf("auto would use: %s\n", plan.why);
        printf("default run: %s\n", dflt);
    }
    return 0;
}
