/*
 * `zepto bigmem bench`: GUPS, pointer chase and first-touch cost of one table in 4K, THP, 2M
 * hugetlb and bigmem memory, in this process, interleaved (src/bigmem/bench.c measures). As root
 * it raises the 2 MiB pool for the run when it is short and puts it back at exit and on signals;
 * otherwise the hugetlb kinds go without, and the output says why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/parse.h"
#include "base/settings.h"
#include "zepto/bigmem.h"
#include "cli/cli.h"
#include "cli/opts.h"

#define CMD            "bigmem bench"
#define DEFAULT_SIZE   (1ull << 30)
#define DEFAULT_ROUNDS 3
#define KEEP_FREE      (256ull << 20) /* memory left to the rest of the machine */

static const char usage[] =
    "usage: zepto bigmem bench [--size SIZE] [--rounds N] [--json]\n"
    "\n"
    "What the page size does to a memory-bound program, measured in this process on one table\n"
    "in four kinds of memory, run interleaved (every round runs each kind once, in a rotating\n"
    "order) so that a noisy machine slows them alike:\n"
    "  4K      ordinary pages (MADV_NOHUGEPAGE), faulted in when the table is first written\n"
    "  THP     transparent huge pages (MADV_HUGEPAGE), faulted in when first written\n"
    "  2M      2 MiB hugetlb pages (MAP_HUGETLB), faulted in when first written\n"
    "  bigmem  what `zepto bigmem run --pages 2M` gives a program: a 2 MiB hugetlb region,\n"
    "          pre-faulted when it is mapped (the plan's fallback when the pool is short)\n"
    "For each: HPCC RandomAccess (GUPS; 4 updates a word, checked as HPCC does: at most 1 % of\n"
    "the table wrong), a dependent pointer chase (ns per load), the time to allocate and first\n"
    "touch the table, and the page faults taken (run-time: after the allocation returned).\n"
    "Medians of the rounds, and speed-ups over 4K.\n"
    "\n"
    "  --size SIZE   table size (K M G; rounded down to a power of two; default 1G, least 2M)\n"
    "  --rounds N    rounds (1..25, default 3)\n"
    "  --json        one JSON object on stdout\n"
    "\n"
    "2M and bigmem need SIZE/2M free pages in the 2 MiB hugetlb pool. Run as root, the pool is\n"
    "raised for the run and put back at exit (also on Ctrl-C); otherwise 2M is skipped and\n"
    "bigmem falls back, with the reason in the output.\n"
    "\n"
    "example:\n"
    "  zepto bigmem bench --size 1G\n"
    "  zepto bigmem bench --size 256M --rounds 5 --json | jq '.kinds[] | {kind, gups, chase_ns}'\n";

static void progress(void *arg, const char *what, unsigned done, unsigned total)
{
    const uint64_t *start = arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t elapsed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - *start;
    char line[128];
    snprintf(line, sizeof(line), "bigmem bench: %s", what);
    /* The time left is extrapolated from the runs done; unknown before the first. */
    cli_progress(line, elapsed, done ? elapsed / done * total : elapsed);
}

static const char *speedup(double v, char *buf, size_t len)
{
    if (v > 0)
        snprintf(buf, len, "%.2f", v);
    else
        snprintf(buf, len, "-");
    return buf;
}

static void print_text(const struct zbm_bench_result *r, const struct zbm_pool_change *ch,
                       const char *pool_note)
{
    char a[32], b[32], s1[16], s2[16], s3[16];
    int log2w = 0;
    while ((1ull << log2w) < r->words)
        log2w++;
    printf("table %s (2^%d words), %llu updates, %llu chase loads; %u round%s, kinds "
           "interleaved\n",
           zb_fmt_size(r->table_bytes, a, sizeof(a)), log2w, (unsigned long long)r->updates,
           (unsigned long long)r->chase_steps, r->rounds, r->rounds == 1 ? "" : "s");
    if (ch->changed)
        printf("2 MiB pool: raised from %llu to %llu pages for this run, put back at exit\n",
               (unsigned long long)ch->before, (unsigned long long)ch->during);
    else if (pool_note && *pool_note)
        printf("note: %s\n", pool_note);
    printf("\n%-7s %8s %5s %9s %5s %11s %5s %11s %9s %7s  %s\n", "kind", "GUPS", "x4K", "chase ns",
           "x4K", "alloc+touch", "x4K", "alloc+touch", "run-time", "errors", "pages");
    printf("%-7s %8s %5s %9s %5s %11s %5s %11s %9s %7s\n", "", "", "", "", "", "", "", "faults",
           "faults", "");
    for (int k = 0; k < ZBM_KINDS; k++) {
        const struct zbm_bench_kind *kd = &r->kind[k];
        if (!kd->ran) {
            printf("%-7s %s\n", zbm_kind_name(kd->kind), "(not run: see below)");
            continue;
        }
        printf("%-7s %8.4f %5s %9.1f %5s %11s %5s %11.0f %9.0f %6.3f%%  %s\n",
               zbm_kind_name(kd->kind), kd->gups, speedup(kd->gups_speedup, s1, sizeof(s1)),
               kd->chase_ns, speedup(kd->chase_speedup, s2, sizeof(s2)),
               zb_fmt_duration((uint64_t)kd->alloc_touch_ns, b, sizeof(b)),
               speedup(kd->alloc_touch_speedup, s3, sizeof(s3)), kd->alloc_touch_faults,
               kd->runtime_faults, 100.0 * (double)kd->errors_max / (double)r->words, kd->pages);
    }
    printf("\nx4K: speed-up over 4K pages (above 1 is faster); medians of %u round%s. Faults: "
           "minor + major\n(getrusage); run-time = after the allocation returned (first touch "
           "and the loops).\n",
           r->rounds, r->rounds == 1 ? "" : "s");
    for (int k = 0; k < ZBM_KINDS; k++) {
        const struct zbm_bench_kind *kd = &r->kind[k];
        if (kd->note[0])
            printf("%s: %s\n", zbm_kind_name(kd->kind), kd->note);
        if (kd->ran && !zbm_bench_verified(kd, r->words))
            printf("%s: FAILED HPCC's check: %llu words wrong, more than 1 %%\n",
                   zbm_kind_name(kd->kind), (unsigned long long)kd->errors_max);
    }
}

struct params {
    uint64_t size, rounds;
    const char *size_arg; /* as given, for messages */
    bool json, help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    enum { OPT_SIZE = CLI_OPT_LOCAL, OPT_ROUNDS };
    static const struct option longopts[] = {
        {"size", required_argument, 0, OPT_SIZE},
        {"rounds", required_argument, 0, OPT_ROUNDS},
        CLI_LONGOPT_JSON,
        CLI_LONGOPT_HELP,
        {0},
    };
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case OPT_SIZE:
            if (cli_opt_named("--size", zb_parse_size(optarg, &p->size, err), err))
                return -EINVAL;
            if (!zbm_bench_table_bytes(p->size))
                return zepto_fail(err, EINVAL, "--size '%s': the table must be at least 2M",
                                  optarg);
            p->size_arg = optarg;
            break;
        case OPT_ROUNDS:
            if (cli_opt_named("--rounds",
                              zb_parse_u64(optarg, 1, ZBM_BENCH_MAX_ROUNDS, &p->rounds, err), err))
                return -EINVAL;
            break;
        case CLI_OPT_JSON: p->json = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    return cli_opts_no_operand(argc, argv, err);
}

/* The table must fit in this machine's memory (a usage error) and in what is available now
 * (a runtime failure). Returns 0, or the exit code after printing why. */
static int validate(const struct params *p, const char *root)
{
    struct zepto_err err = {0};
    struct zbm_system sys;
    if (zbm_system_read(&sys, root, &err))
        return cli_fail(CMD, &err);
    uint64_t table = zbm_bench_table_bytes(p->size);
    char a[32], b[32], c[32];
    if (table > sys.mem_total)
        return cli_usage_error(CMD, "--size '%s': more than this machine's memory (%s)",
                               p->size_arg, zb_fmt_size(sys.mem_total, a, sizeof(a)));
    if (table + KEEP_FREE > sys.mem_available) {
        zepto_fail(&err, ENOMEM, "a %s table and %s to spare do not fit in the %s available",
                   zb_fmt_size(table, a, sizeof(a)), zb_fmt_size(KEEP_FREE, b, sizeof(b)),
                   zb_fmt_size(sys.mem_available, c, sizeof(c)));
        return cli_fail(CMD, &err);
    }
    return 0;
}

/* The run and what was done to the pool for it. */
struct outcome {
    struct zbm_bench_result *r;
    struct zbm_pool_change ch;
    struct zepto_err pool; /* why the hugetlb kinds go without the pool, or empty */
};

static int run(const struct params *p, const char *root, struct outcome *out, struct zepto_err *err)
{
    /* The pool for 2M and bigmem (one table at a time); the 4K and THP tables must still fit
     * beside it. */
    uint64_t table = zbm_bench_table_bytes(p->size);
    struct zepto_err *perr = &out->pool;
    if (zbm_pool_reserve(zbm_bench_pool_pages(table), table + KEEP_FREE, root, &out->ch, perr))
        snprintf(perr->msg + strlen(perr->msg), sizeof(perr->msg) - strlen(perr->msg),
                 "; 2M is skipped, bigmem falls back");

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t start = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    struct zbm_bench_opts o = {
        .size = p->size,
        .rounds = (unsigned)p->rounds,
        .sysroot = root,
        .progress = progress,
        .progress_arg = &start,
    };
    out->r = malloc(sizeof(*out->r));
    if (!out->r) {
        zbm_pool_restore();
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    int rc = zbm_bench_run(&o, out->r, err);
    zbm_pool_restore();
    cli_progress_done();
    if (rc) {
        free(out->r);
        out->r = NULL;
    }
    return rc;
}

int cli_bigmem_bench(int argc, char **argv)
{
    struct params p = {.size = DEFAULT_SIZE, .rounds = DEFAULT_ROUNDS, .size_arg = "1G"};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    const char *root = zb_setting(ZB_SET_SYSROOT, "");
    int rc = validate(&p, root);
    if (rc)
        return rc;
    struct outcome out = {0};
    if (run(&p, root, &out, &err))
        return cli_fail(CMD, &err);

    const struct zbm_bench_result *r = out.r;
    if (p.json) {
        struct zb_json j;
        zb_json_init(&j, stdout, true);
        zbm_bench_json(r, &out.ch, out.pool.msg, &j);
        rc = zb_json_finish(&j) ? EXIT_FAIL : 0;
    } else {
        print_text(r, &out.ch, out.pool.msg);
    }
    /* A table that failed HPCC's check is a broken result, not a slow one. */
    for (int k = 0; k < ZBM_KINDS && !rc; k++)
        if (r->kind[k].ran && !zbm_bench_verified(&r->kind[k], r->words)) {
            zepto_fail(&err, EIO, "the %s table failed HPCC's check (%llu words wrong)",
                       zbm_kind_name((enum zbm_kind)k), (unsigned long long)r->kind[k].errors_max);
            rc = cli_fail(CMD, &err);
        }
    free(out.r);
    return rc;
}
