/*
 * The report's bigmem section: what the machine offers for big memory (hugetlb pools, THP mode
 * and defrag, the memlock limit, what `zepto bigmem run --pages auto` would choose) and a short
 * run of `zepto bigmem bench`: GUPS, pointer chase and first-touch cost in 4K, THP, 2M and bigmem
 * memory, as speed-ups over 4K in a bar chart and a table.
 *
 * Short: a 64 MiB table for 2 rounds with --quick (about 2 s), 128 MiB for 3 rounds otherwise
 * (about 5 s), with 2^22 updates instead of HPCC's 4 per word and 2^18 / 2^19 chase loads. The
 * 4K kind's first touch sets the pace: a fault per 4 KiB page, which costs ~10 us on some VMs.
 * As root, the 2 MiB pool is raised for the run when it is short and put back before the section
 * ends (and on SIGINT/SIGTERM); otherwise 2M is skipped and bigmem falls back, said on the page.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/parse.h"
#include "base/settings.h"
#include "base/sysinfo.h"
#include "zepto/bigmem.h"
#include "report/bigmem_static.h"
#include "report/probe.h"

#define KEEP_FREE (256ull << 20) /* memory left to the rest of the machine */

struct bigmem_state {
    struct zbm_system sys; /* as found, before the run raised anything */
    struct zbm_plan plan;
    char plan_error[ZEPTO_ERR_MSG_MAX];
    bool on_vm;
    struct zbm_pool_change pool;
    char pool_note[ZEPTO_ERR_MSG_MAX];
    struct zbm_bench_result *bench; /* NULL when it failed */
    char bench_error[ZEPTO_ERR_MSG_MAX];
    struct zr_bms statics; /* the static-array program, plain and under --static */
};

static uint64_t table_size(const struct zr_ctx *ctx)
{
    return ctx->quick ? 64ull << 20 : 128ull << 20;
}

static uint64_t estimate(const struct zr_ctx *ctx)
{
    return ctx->quick ? 3000000000ull : 7000000000ull; /* the bench, then the static program */
}

static void progress(void *arg, const char *what, unsigned done, unsigned total)
{
    const struct zr_ctx *ctx = arg;
    char line[128];
    snprintf(line, sizeof(line), "bigmem bench, %s", what);
    ctx->progress(ctx, line, total ? estimate(ctx) / total * (total - done) : 0);
}

static bool on_vm(void)
{
    char flags[4096];
    if (zb_sysinfo_cpu_flags(flags, sizeof(flags)))
        return false;
    return strstr(flags, " hypervisor") || !strncmp(flags, "hypervisor", 10);
}

/* The huge-page pool is the machine's: reports that run at once on one machine (the nodes of an
 * allocation on the test cluster) take turns to raise and restore it, or one would "find" the
 * other's raised pool and restore that, leaving it raised. A lock file in /run/lock, which all
 * namespaces of the machine share; without it the report goes on unlocked. */
#define POOL_LOCK "/run/lock/zepto-report-hugepages.lock"

#define POOL_LOCK_WAIT_MS 120000 /* longer than a full report's bench; then go on unlocked */

/* /run/lock is world-writable: no symlinks followed, and a bounded wait, so that a user who
 * holds the lock file can delay a report but not stop it. */
static int pool_lock(void)
{
    int fd = open(POOL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -1;
    for (int ms = 0; flock(fd, LOCK_EX | LOCK_NB); ms += 20) {
        if (errno != EWOULDBLOCK || ms >= POOL_LOCK_WAIT_MS) {
            close(fd);
            return -1;
        }
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    }
    return fd;
}

static void pool_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

static int run(const struct zr_ctx *ctx, void **state, struct zepto_err *err)
{
    const char *root = zb_setting(ZB_SET_SYSROOT, "");
    struct bigmem_state *s = calloc(1, sizeof(*s));
    if (!s)
        return zepto_fail(err, ENOMEM, "out of memory");
    /* The pools are read under the lock too: while another report has the pool raised, this
     * one would report (and a test compare against) that report's temporary value. */
    int lock = pool_lock();
    int rc = zbm_system_read(&s->sys, root, err);
    pool_unlock(lock);
    if (rc) {
        free(s);
        return rc;
    }
    struct zepto_err e = {0};
    if (zbm_plan_make(&s->sys, ZBM_AUTO, 0, false, &s->plan, &e))
        snprintf(s->plan_error, sizeof(s->plan_error), "%s", e.msg);
    s->on_vm = on_vm();

    s->bench = malloc(sizeof(*s->bench));
    if (!s->bench) {
        snprintf(s->bench_error, sizeof(s->bench_error), "out of memory");
        *state = s;
        return 0;
    }
    uint64_t table = zbm_bench_table_bytes(table_size(ctx));
    memset(&e, 0, sizeof(e));
    lock = pool_lock();
    if (zbm_pool_reserve(zbm_bench_pool_pages(table), table + KEEP_FREE, root, &s->pool, &e))
        snprintf(s->pool_note, sizeof(s->pool_note), "%s", e.msg);
    struct zbm_bench_opts o = {
        .size = table,
        .rounds = ctx->quick ? 2 : 3,
        .updates = 1ull << 22,
        .chase_steps = ctx->quick ? 1ull << 18 : 1ull << 19,
        .sysroot = root,
        .progress = progress,
        .progress_arg = (void *)ctx,
    };
    memset(&e, 0, sizeof(e));
    rc = zbm_bench_run(&o, s->bench, &e);
    zbm_pool_restore(); /* before anything else can fail: the report must leave the pool as found */
    ctx->progress(ctx, "bigmem, a static-array program plain and under --static", 1000000000ull);
    memset(&e, 0, sizeof(e));
    bool pool_ok = !zbm_pool_reserve(ZR_BMS_POOL_PAGES, ZR_BMS_POOL_PAGES * ZBM_HUGE_2M + KEEP_FREE,
                                     root, &s->statics.pool, &e);
    if (!pool_ok)
        snprintf(s->statics.pool_note, sizeof(s->statics.pool_note), "%s", e.msg);
    zr_bms_run(ctx->quick ? 1 : 3, pool_ok, &s->statics);
    zbm_pool_restore();
    pool_unlock(lock);
    if (rc) {
        snprintf(s->bench_error, sizeof(s->bench_error), "%s", e.msg);
        free(s->bench);
        s->bench = NULL;
    }
    *state = s;
    return 0;
}

static void json(const void *state, struct zb_json *j)
{
    const struct bigmem_state *s = state;
    const struct zbm_system *y = &s->sys;
    zb_json_obj_begin(j);
    zbm_system_json_fields(y, j);
    zb_json_key(j, "auto");
    zbm_plan_json(&s->plan, s->plan_error, j);
    zb_json_kv_bool(j, "virtual_machine", s->on_vm);
    if (s->bench) {
        zb_json_key(j, "bench");
        zbm_bench_json(s->bench, &s->pool, s->pool_note, j);
    } else {
        zb_json_kv_str(j, "bench_error", s->bench_error);
    }
    zb_json_key(j, "static_arrays");
    zr_bms_json(&s->statics, j);
    zb_json_obj_end(j);
}

static void machine_html(const struct bigmem_state *s, FILE *f)
{
    const struct zbm_system *y = &s->sys;
    char a[32], b[32];
    fprintf(f, "<p><code>zepto bigmem run</code> gives an unmodified program its whole heap in "
               "one region of huge pages, reserved and faulted in before <code>main()</code>. "
               "What this node offers for it:</p>\n");
    if (!y->npools) {
        fprintf(f, "<p>This kernel has no hugetlb pools.</p>\n");
    } else {
        fprintf(f, "<table><tr><th>hugetlb pool</th><th>total</th><th>free</th>"
                   "<th>reserved</th><th>surplus</th></tr>\n");
        for (unsigned i = 0; i < y->npools; i++)
            fprintf(f, "<tr><td>%s</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td></tr>\n",
                    zb_fmt_size(y->pool[i].page_size, a, sizeof(a)),
                    (unsigned long long)y->pool[i].total, (unsigned long long)y->pool[i].free,
                    (unsigned long long)y->pool[i].reserved,
                    (unsigned long long)y->pool[i].surplus);
        fprintf(f, "</table>\n");
    }
    fprintf(f, "<dl><dt>Transparent huge pages</dt><dd>");
    zr_html_escape(f, y->thp_enabled[0] ? y->thp_enabled : "not available");
    fprintf(f, " (defrag ");
    zr_html_escape(f, y->thp_defrag[0] ? y->thp_defrag : "-");
    fprintf(f, "), %s pages</dd>\n<dt>Memory available</dt><dd>%s</dd>\n<dt>memlock limit</dt><dd>",
            zb_fmt_size(y->thp_size, a, sizeof(a)), zb_fmt_size(y->mem_available, b, sizeof(b)));
    if (y->memlock == UINT64_MAX)
        fprintf(f, "unlimited");
    else
        fprintf(f, "%s%s", zb_fmt_size(y->memlock, a, sizeof(a)),
                y->can_lock_all ? " (does not apply: CAP_IPC_LOCK)" : "");
    fprintf(f, "</dd>\n<dt><code>--pages auto</code></dt><dd>");
    zr_html_escape(f, s->plan_error[0] ? s->plan_error : s->plan.why);
    fprintf(f, "</dd></dl>\n");
}

static void bench_plot(const struct zbm_bench_result *r, const struct zr_ctx *ctx, FILE *html)
{
    struct zepto_err err = {0};
    if (!r->kind[ZBM_KIND_4K].ran) {
        fprintf(html, "<p>No chart: the 4K kind, the reference, did not run.</p>\n");
        return;
    }
    FILE *f = zr_open(ctx, "data/bigmem-bench.dat", &err);
    if (!f) {
        fprintf(html, "<p class=\"noplot\">%s</p>\n", err.msg);
        return;
    }
    fprintf(f, "# kind gups_speedup_vs_4k chase_speedup_vs_4k\n");
    for (int k = 0; k < ZBM_KINDS; k++)
        if (r->kind[k].ran)
            fprintf(f, "\"%s\" %.4f %.4f\n", zbm_kind_name((enum zbm_kind)k),
                    r->kind[k].gups_speedup, r->kind[k].chase_speedup);
    fclose(f);
    zr_plot(ctx, html, "bigmem-bench", "Speed-up over 4 KiB pages: GUPS and pointer chase",
            "set style data histograms\n"
            "set style histogram clustered gap 1\n"
            "set style fill solid 0.8 border -1\n"
            "set boxwidth 0.9\n"
            "set yrange [0:*]\n"
            "set ylabel 'speed-up over 4 KiB pages (above 1 is faster)'\n"
            "set key top left\n"
            "plot 'data/bigmem-bench.dat' using 2:xtic(1) title 'GUPS (RandomAccess)' "
            "lc rgb '#4a7ab5', '' using 3 title 'pointer chase' lc rgb '#c0392b', "
            "1 with lines dt 2 lc rgb '#555555' title '4K'");
}

static void bench_html(const struct bigmem_state *s, const struct zr_ctx *ctx, FILE *f)
{
    const struct zbm_bench_result *r = s->bench;
    char a[32];
    if (!r) {
        fprintf(f, "<p class=\"error\">The benchmark failed: ");
        zr_html_escape(f, s->bench_error);
        fprintf(f, "</p>\n");
        return;
    }
    fprintf(f,
            "<p>HPCC RandomAccess (GUPS, checked as HPCC does: at most 1 %% of the table wrong) "
            "and a dependent pointer chase on a %s table in four kinds of memory, in one process, "
            "%u rounds with the kinds interleaved (<code>zepto bigmem bench --size %lluM --rounds "
            "%u</code>, shortened to %llu updates and %llu chase loads). <em>4K</em>, "
            "<em>THP</em> and <em>2M</em> are faulted in when the table is first written; "
            "<em>bigmem</em> is mapped and pre-faulted as <code>zepto bigmem run --pages 2M</code> "
            "does before <code>main()</code>, so a program takes no fault in it.",
            zb_fmt_size(r->table_bytes, a, sizeof(a)), r->rounds,
            (unsigned long long)(r->table_bytes >> 20), r->rounds, (unsigned long long)r->updates,
            (unsigned long long)r->chase_steps);
    if (s->pool.changed)
        fprintf(f, " The 2 MiB pool was raised from %llu to %llu pages for the run and put back.",
                (unsigned long long)s->pool.before, (unsigned long long)s->pool.during);
    fprintf(f, "</p>\n");
    bench_plot(r, ctx, f);
    fprintf(f, "<table><tr><th>kind</th><th>pages</th><th>GUPS</th><th>&times;4K</th>"
               "<th>chase</th><th>&times;4K</th><th>alloc + first touch</th><th>&times;4K</th>"
               "<th>faults, alloc + touch</th><th>faults, run-time</th><th>errors</th></tr>\n");
    for (int k = 0; k < ZBM_KINDS; k++) {
        const struct zbm_bench_kind *kd = &r->kind[k];
        fprintf(f, "<tr><td>%s</td>", zbm_kind_name(kd->kind));
        if (!kd->ran) {
            fprintf(f, "<td colspan=\"10\">not run</td></tr>\n");
            continue;
        }
        fprintf(f, "<td>");
        zr_html_escape(f, kd->pages);
        fprintf(f,
                "</td><td>%.4f</td><td>%.2f</td><td>%.1f ns</td><td>%.2f</td><td>%s</td>"
                "<td>%.2f</td><td>%.0f</td><td>%.0f</td><td>%.3f %%</td></tr>\n",
                kd->gups, kd->gups_speedup, kd->chase_ns, kd->chase_speedup,
                zb_fmt_duration((uint64_t)kd->alloc_touch_ns, a, sizeof(a)),
                kd->alloc_touch_speedup, kd->alloc_touch_faults, kd->runtime_faults,
                100.0 * (double)kd->errors_max / (double)r->words);
    }
    fprintf(f, "</table>\n<p><small>Medians of the rounds. &times;4K: speed-up over 4K pages, "
               "above 1 is faster. Run-time faults: after the allocation returned (the first "
               "touch and the loops).</small></p>\n");
    if (s->pool_note[0]) {
        fprintf(f, "<p>2 MiB pool: ");
        zr_html_escape(f, s->pool_note);
        fprintf(f, ".</p>\n");
    }
    for (int k = 0; k < ZBM_KINDS; k++)
        if (r->kind[k].note[0]) {
            fprintf(f, "<p><strong>%s</strong>: ", zbm_kind_name((enum zbm_kind)k));
            zr_html_escape(f, r->kind[k].note);
            fprintf(f, "</p>\n");
        }
    if (s->on_vm)
        fprintf(f, "<p>This node is a virtual machine. A TLB entry covers the smaller of the "
                   "guest's page and the host's: where the hypervisor backs guest memory with "
                   "4 KiB pages, huge pages in the guest save only the guest's part of each page "
                   "walk, and GUPS and the chase move little. The first touch still shows the "
                   "whole difference.</p>\n");
}

static void html(const void *state, const struct zr_ctx *ctx, FILE *f)
{
    const struct bigmem_state *s = state;
    machine_html(s, f);
    fprintf(f, "<h3>Page size and a memory-bound program</h3>\n");
    bench_html(s, ctx, f);
    fprintf(f, "<h3>Static arrays in huge pages</h3>\n");
    zr_bms_html(&s->statics, f);
}

static void summary(const void *state, char *buf, size_t len)
{
    const struct bigmem_state *s = state;
    const struct zbm_pool *p = zbm_pool_of(&s->sys, 2ull << 20);
    int n = snprintf(buf, len, "2 MiB pool %llu pages (%llu free), THP %s",
                     (unsigned long long)(p ? p->total : 0), (unsigned long long)(p ? p->free : 0),
                     s->sys.thp_enabled[0] ? s->sys.thp_enabled : "not available");
    const struct zbm_bench_result *r = s->bench;
    if (n < 0 || (size_t)n >= len || !r)
        return;
    const struct zbm_bench_kind *bm = &r->kind[ZBM_KIND_BIGMEM], *k4 = &r->kind[ZBM_KIND_4K];
    if (bm->ran && k4->ran)
        snprintf(buf + n, len - (size_t)n,
                 "; bigmem%s vs 4K: GUPS x%.2f, chase x%.2f, first touch x%.1f, run-time faults "
                 "%.0f vs %.0f",
                 bm->fell_back ? " (fell back)" : "", bm->gups_speedup, bm->chase_speedup,
                 bm->alloc_touch_speedup, bm->runtime_faults, k4->runtime_faults);
    n = (int)strlen(buf);
    const struct zr_bms *st = &s->statics;
    if (st->ran && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n,
                 "; static arrays, --static vs plain: faults %.0f vs %.0f", st->bigmem.faults,
                 st->plain.faults);
}

static void release(void *state)
{
    struct bigmem_state *s = state;
    free(s->bench);
    free(s);
}

const struct zr_probe zr_probe_bigmem = {
    .id = "bigmem",
    .title = "Big memory",
    .estimate_ns = estimate,
    .run = run,
    .json = json,
    .html = html,
    .summary = summary,
    .free = release,
};
