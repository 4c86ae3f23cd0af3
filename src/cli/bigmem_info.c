/*
 * `zepto bigmem info`: what this machine offers for big memory, and what `auto` would choose.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/parse.h"
#include "base/settings.h"
#include "cli/bigmem_pid.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/bigmem.h"

#define CMD "bigmem info"

static const char usage[] =
    "usage: zepto bigmem info [--json] [--pid PID]\n"
    "\n"
    "Huge-page pools per page size (total, free, reserved, surplus), the\n"
    "transparent huge page mode and defrag setting, the memlock limit, the\n"
    "memory available, the MPI ranks of this node sharing it, and what\n"
    "`zepto bigmem run --pages auto` would choose here, and why.\n"
    "\n"
    "\n"
    "With --pid PID: the writable and executable segments of that running\n"
    "program and of its libraries, each with its addresses and the pages\n"
    "backing it (4K, THP, 2M/1G hugetlb, from /proc/PID/smaps): which ones\n"
    "`zepto bigmem run --static/--libs/--text` moved into huge pages.\n"
    "\n"
    "example:\n"
    "  zepto bigmem info --json | jq .auto\n"
    "  zepto bigmem info --pid 1234\n";

struct params {
    bool json, help;
    uint64_t pid; /* 0: the machine, not a process */
};

/* What is printed: the system, and the plan `auto` would make on it (or why it cannot). */
struct info {
    struct zbm_system sys;
    struct zbm_plan plan;
    struct zepto_err plan_err; /* msg empty: the plan was made */
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum { OPT_PID = CLI_OPT_LOCAL };
    static const struct option longopts[] = {
        CLI_LONGOPT_JSON, {"pid", required_argument, 0, OPT_PID}, CLI_LONGOPT_HELP, {0}};
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case CLI_OPT_JSON: p->json = true; break;
        case OPT_PID:
            if (cli_opt_named("--pid", zb_parse_u64(optarg, 1, INT32_MAX, &p->pid, err), err))
                return -EINVAL;
            break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    return cli_opts_no_operand(argc, argv, err);
}

static int run(struct info *r, struct zepto_err *err)
{
    memset(r, 0, sizeof(*r));
    if (zbm_system_read(&r->sys, zb_setting(ZB_SET_SYSROOT, ""), err))
        return -1;
    if (zbm_plan_make(&r->sys, ZBM_AUTO, 0, false, &r->plan, &r->plan_err) && !r->plan_err.msg[0])
        snprintf(r->plan_err.msg, sizeof(r->plan_err.msg), "no plan");
    return 0;
}

static int print_json(const struct info *r)
{
    struct zb_json j;
    zb_json_init(&j, stdout, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "schema_version", 1); /* docs/schema/ */
    zbm_system_json_fields(&r->sys, &j);
    zb_json_key(&j, "auto");
    zbm_plan_json(&r->plan, r->plan_err.msg, &j);
    zb_json_obj_end(&j);
    return zb_json_finish(&j) ? EXIT_FAIL : 0;
}

static int print_text(const struct info *r)
{
    const struct zbm_system *s = &r->sys;
    char a[32], b[32];
    printf("%-12s %8s %8s %9s %8s\n", "hugetlb pool", "total", "free", "reserved", "surplus");
    for (unsigned i = 0; i < s->npools; i++)
        printf("%-12s %8llu %8llu %9llu %8llu\n", zb_fmt_size(s->pool[i].page_size, a, sizeof(a)),
               (unsigned long long)s->pool[i].total, (unsigned long long)s->pool[i].free,
               (unsigned long long)s->pool[i].reserved, (unsigned long long)s->pool[i].surplus);
    if (!s->npools)
        printf("(no hugetlb pools)\n");
    printf("\ntransparent huge pages: %s (defrag %s), %s pages\n",
           s->thp_enabled[0] ? s->thp_enabled : "not available",
           s->thp_defrag[0] ? s->thp_defrag : "-", zb_fmt_size(s->thp_size, a, sizeof(a)));
    printf("memory: %s total, %s available\n", zb_fmt_size(s->mem_total, a, sizeof(a)),
           zb_fmt_size(s->mem_available, b, sizeof(b)));
    if (s->memlock == UINT64_MAX)
        printf("memlock limit: unlimited\n");
    else
        printf("memlock limit: %s%s\n", zb_fmt_size(s->memlock, a, sizeof(a)),
               s->can_lock_all ? " (does not apply: CAP_IPC_LOCK)" : "");
    printf("MPI ranks on this node sharing the memory: %u\n", s->local_ranks);
    if (r->plan_err.msg[0])
        printf("auto: %s\n", r->plan_err.msg);
    else {
        char dflt[320]; /* what a run without --size does */
        zbm_default_describe(&r->plan, dflt, sizeof(dflt));
        printf("auto would use: %s\ndefault run: %s\n", r->plan.why, dflt);
    }
    return 0;
}

int cli_bigmem_info(int argc, char **argv)
{
    struct params p = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (p.pid)
        return cli_bigmem_info_pid(CMD, (pid_t)p.pid, p.json);
    struct info r;
    if (run(&r, &err))
        return cli_fail(CMD, &err);
    return p.json ? print_json(&r) : print_text(&r);
}
