/*
 * The in-process big-memory comparison (see include/zepto/bigmem.h): one table held in each of
 * four kinds of memory, the kinds run in a rotating order round after round, medians and
 * speed-ups over 4K, and the JSON of the result. The loops are in kernels.c, the 2 MiB pool's
 * raising and restoring in pool.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/json.h"
#include "base/parse.h"
#include "zepto/bigmem.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26) /* log2(2 MiB) << MAP_HUGE_SHIFT */
#endif

static const char *const kind_names[ZBM_KINDS] = {"4K", "THP", "2M", "bigmem"};

const char *zbm_kind_name(enum zbm_kind k)
{
    return k < ZBM_KINDS ? kind_names[k] : "?";
}

/* ---- The four kinds of table ---- */

struct table {
    uint64_t *t;
    void *map; /* 4K, THP, 2M: what to unmap */
    size_t len;
    struct zbm_region region; /* bigmem */
};

static int table_map(enum zbm_kind k, uint64_t bytes, const struct zbm_plan *plan, struct table *tb,
                     struct zepto_err *err)
{
    char a[32];
    memset(tb, 0, sizeof(*tb));
    if (k == ZBM_KIND_BIGMEM) {
        int rc = zbm_region_map(plan, false, &tb->region, err);
        tb->t = tb->region.base;
        return rc;
    }
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    size_t len = bytes;
    if (k == ZBM_KIND_2M)
        flags |= MAP_HUGETLB | MAP_HUGE_2MB;
    if (k == ZBM_KIND_THP)
        len += ZBM_HUGE_2M; /* room to align the start to a huge page */
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (m == MAP_FAILED)
        return zepto_fail(err, errno, "mmap of %s for the %s table: %s",
                          zb_fmt_size(len, a, sizeof(a)), zbm_kind_name(k), strerror(errno));
    if (k == ZBM_KIND_THP) {
        uintptr_t s = (uintptr_t)m, al = (s + ZBM_HUGE_2M - 1) & ~(uintptr_t)(ZBM_HUGE_2M - 1);
        if (al > s)
            munmap(m, al - s);
        if (s + len > al + bytes)
            munmap((void *)(al + bytes), s + len - (al + bytes));
        m = (void *)al;
        len = bytes;
        if (madvise(m, len, MADV_HUGEPAGE)) {
            int e = errno;
            munmap(m, len);
            return zepto_fail(err, e, "madvise(MADV_HUGEPAGE): %s", strerror(e));
        }
    } else if (k == ZBM_KIND_4K) {
        madvise(m, len, MADV_NOHUGEPAGE); /* 4K means 4K, also under THP=always; may fail
                                             harmlessly on a kernel without THP */
    }
    tb->t = m;
    tb->map = m;
    tb->len = len;
    return 0;
}

static void table_unmap(struct table *tb)
{
    if (tb->map)
        munmap(tb->map, tb->len);
    else
        zbm_region_unmap(&tb->region);
}

/* ---- Rounds and medians ---- */

uint64_t zbm_bench_table_bytes(uint64_t size)
{
    uint64_t words = 1;
    while (words <= size / 8 / 2)
        words <<= 1;
    uint64_t bytes = words * 8;
    return bytes < ZBM_BENCH_MIN_SIZE || bytes > size ? 0 : bytes;
}

uint64_t zbm_bench_pool_pages(uint64_t table_bytes)
{
    /* The bigmem region is a whole number of mimalloc blocks; the 2M kind needs no more. */
    return (table_bytes + ZBM_BLOCK - 1) / ZBM_BLOCK * ZBM_BLOCK / ZBM_HUGE_2M;
}

/* Decides, before the rounds, whether each kind can run here. */
static void check_kinds(const struct zbm_system *s, struct zbm_bench_result *r,
                        struct zbm_plan *plan, bool *eligible)
{
    struct zepto_err perr = {0};
    for (int k = 0; k < ZBM_KINDS; k++) {
        r->kind[k].kind = (enum zbm_kind)k;
        eligible[k] = true;
    }
    if (strcmp(s->thp_enabled, "always") && strcmp(s->thp_enabled, "madvise")) {
        eligible[ZBM_KIND_THP] = false;
        snprintf(r->kind[ZBM_KIND_THP].note, sizeof(r->kind[0].note),
                 "transparent huge pages are '%s' here, so MADV_HUGEPAGE would give 4 KiB pages",
                 s->thp_enabled[0] ? s->thp_enabled : "not built in");
    }
    const struct zbm_pool *p = zbm_pool_of(s, ZBM_HUGE_2M);
    uint64_t need = r->table_bytes / ZBM_HUGE_2M;
    if (!p || p->free < need) {
        eligible[ZBM_KIND_2M] = false;
        if (!p)
            snprintf(r->kind[ZBM_KIND_2M].note, sizeof(r->kind[0].note),
                     "this kernel has no 2 MiB hugetlb pool");
        else
            snprintf(r->kind[ZBM_KIND_2M].note, sizeof(r->kind[0].note),
                     "the 2 MiB pool has %llu free pages, the table needs %llu (as root: echo "
                     "%llu > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)",
                     (unsigned long long)p->free, (unsigned long long)need,
                     (unsigned long long)(p->total - p->free + r->pool_pages_needed));
    }
    struct zbm_bench_kind *b = &r->kind[ZBM_KIND_BIGMEM];
    if (zbm_plan_make(s, ZBM_2M, r->table_bytes, false, plan, &perr)) {
        eligible[ZBM_KIND_BIGMEM] = false;
        snprintf(b->note, sizeof(b->note), "%s", perr.msg);
    } else if (plan->fell_back) {
        b->fell_back = true;
        snprintf(b->note, sizeof(b->note), "%s", plan->why);
    }
}

/* Before the rounds, untimed: a table's worth of ordinary memory and the hugetlb pages the
 * tables will use are written once and freed. In a virtual machine the first write to guest
 * memory the hypervisor has not backed yet costs a host fault on top of the guest's; without
 * this, whichever kind ran first (and the 2M pages fresh in the pool) would pay it, and the
 * comparison would measure the host. */
static void warm_up(const struct zbm_bench_result *r, bool hugetlb)
{
    size_t len = r->table_bytes;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED) {
        madvise(m, len, MADV_HUGEPAGE); /* fewer guest faults: it is the host's we are after */
        if (madvise(m, len, MADV_POPULATE_WRITE))
            for (size_t off = 0; off < len; off += 4096)
                ((volatile char *)m)[off] = 1;
        munmap(m, len);
    }
    if (!hugetlb)
        return;
    len = r->pool_pages_needed * ZBM_HUGE_2M;
    m = mmap(NULL, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB | MAP_POPULATE, -1, 0);
    if (m != MAP_FAILED)
        munmap(m, len);
}

static int run_one(struct zbm_bench_kind *kd, unsigned round, unsigned pos,
                   const struct zbm_bench_result *r, const struct zbm_plan *plan,
                   struct zepto_err *err)
{
    struct zbm_bench_run *run = &kd->run[kd->nruns];
    struct table tb;
    memset(run, 0, sizeof(*run));
    run->round = round;
    run->position = pos;

    uint64_t f0 = zbm_faults(), t0 = zb_mono_read();
    int rc = table_map(kd->kind, r->table_bytes, plan, &tb, err);
    uint64_t t1 = zb_mono_read(), f1 = zbm_faults();
    if (rc)
        return rc;
    zbm_gups_fill(tb.t, r->words);
    uint64_t t2 = zb_mono_read(), f2 = zbm_faults();
    run->alloc_ns = t1 - t0;
    run->touch_ns = t2 - t1;
    run->alloc_faults = f1 - f0;
    run->touch_faults = f2 - f1;

    if (!kd->nruns) {
        struct zbm_region seen = tb.region;
        if (!tb.region.base) {
            seen.base = tb.t;
            seen.size = r->table_bytes;
        }
        zbm_region_check(&seen, kd->pages, sizeof(kd->pages), &kd->huge_fraction);
    }
    run->loops.updates = r->updates;
    run->loops.chase_steps = r->chase_steps;
    zbm_loops_run(tb.t, r->words, &run->loops);
    table_unmap(&tb);
    kd->nruns++;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of one field over a kind's runs, picked by `get`. */
static double median(const struct zbm_bench_kind *kd, double (*get)(const struct zbm_bench_run *))
{
    double v[ZBM_BENCH_MAX_ROUNDS];
    unsigned n = kd->nruns;
    if (!n)
        return 0;
    for (unsigned i = 0; i < n; i++)
        v[i] = get(&kd->run[i]);
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double get_gups(const struct zbm_bench_run *x)
{
    return x->loops.gups;
}
static double get_chase(const struct zbm_bench_run *x)
{
    return x->loops.chase_ns;
}
static double get_alloc(const struct zbm_bench_run *x)
{
    return (double)x->alloc_ns;
}
static double get_touch(const struct zbm_bench_run *x)
{
    return (double)x->touch_ns;
}
static double get_alloc_touch(const struct zbm_bench_run *x)
{
    return (double)(x->alloc_ns + x->touch_ns);
}
static double get_at_faults(const struct zbm_bench_run *x)
{
    return (double)(x->alloc_faults + x->touch_faults);
}
static double get_runtime_faults(const struct zbm_bench_run *x)
{
    return (double)(x->touch_faults + x->loops.loop_faults);
}
static double get_loop_faults(const struct zbm_bench_run *x)
{
    return (double)x->loops.loop_faults;
}

static void summarise(struct zbm_bench_result *r)
{
    for (int k = 0; k < ZBM_KINDS; k++) {
        struct zbm_bench_kind *kd = &r->kind[k];
        if (!kd->ran)
            continue;
        kd->gups = median(kd, get_gups);
        kd->chase_ns = median(kd, get_chase);
        kd->alloc_ns = median(kd, get_alloc);
        kd->touch_ns = median(kd, get_touch);
        kd->alloc_touch_ns = median(kd, get_alloc_touch);
        kd->alloc_touch_faults = median(kd, get_at_faults);
        kd->runtime_faults = median(kd, get_runtime_faults);
        kd->loop_faults = median(kd, get_loop_faults);
        for (unsigned i = 0; i < kd->nruns; i++)
            if (kd->run[i].loops.errors > kd->errors_max)
                kd->errors_max = kd->run[i].loops.errors;
    }
    const struct zbm_bench_kind *base = &r->kind[ZBM_KIND_4K];
    for (int k = 0; k < ZBM_KINDS && base->ran; k++) {
        struct zbm_bench_kind *kd = &r->kind[k];
        if (!kd->ran)
            continue;
        kd->gups_speedup = base->gups > 0 ? kd->gups / base->gups : 0;
        kd->chase_speedup = kd->chase_ns > 0 ? base->chase_ns / kd->chase_ns : 0;
        kd->alloc_touch_speedup =
            kd->alloc_touch_ns > 0 ? base->alloc_touch_ns / kd->alloc_touch_ns : 0;
    }
}

int zbm_bench_run(const struct zbm_bench_opts *o, struct zbm_bench_result *r, struct zepto_err *err)
{
    char a[32], b[32], what[96];
    struct zbm_system sys;
    struct zbm_plan plan;
    bool eligible[ZBM_KINDS];
    int rc;

    memset(r, 0, sizeof(*r));
    if (!o->rounds || o->rounds > ZBM_BENCH_MAX_ROUNDS)
        return zepto_fail(err, EINVAL, "rounds: %u is not in 1..%d", o->rounds,
                          ZBM_BENCH_MAX_ROUNDS);
    r->table_bytes = zbm_bench_table_bytes(o->size);
    if (!r->table_bytes)
        return zepto_fail(err, EINVAL, "a table of %s is below the smallest, %s",
                          zb_fmt_size(o->size, a, sizeof(a)),
                          zb_fmt_size(ZBM_BENCH_MIN_SIZE, b, sizeof(b)));
    r->words = r->table_bytes / 8;
    r->updates = (o->updates ? o->updates : zbm_default_updates(r->words)) / ZBM_GUPS_STREAMS *
                 ZBM_GUPS_STREAMS;
    if (!r->updates)
        r->updates = ZBM_GUPS_STREAMS;
    r->chase_steps = o->chase_steps ? o->chase_steps : zbm_default_chase_steps(r->words);
    r->rounds = o->rounds;
    r->pool_pages_needed = zbm_bench_pool_pages(r->table_bytes);

    if ((rc = zbm_system_read(&sys, o->sysroot ? o->sysroot : "", err)))
        return rc;
    if (r->table_bytes > sys.mem_available)
        return zepto_fail(err, ENOMEM, "a %s table does not fit in the %s of memory available",
                          zb_fmt_size(r->table_bytes, a, sizeof(a)),
                          zb_fmt_size(sys.mem_available, b, sizeof(b)));
    check_kinds(&sys, r, &plan, eligible);

    unsigned total = 0, done = 0;
    for (int k = 0; k < ZBM_KINDS; k++)
        total += eligible[k] ? o->rounds : 0;
    if (o->progress)
        o->progress(o->progress_arg, "warming up", 0, total);
    warm_up(r, eligible[ZBM_KIND_2M] || (eligible[ZBM_KIND_BIGMEM] && (plan.pages == ZBM_2M)));
    for (unsigned round = 0; round < o->rounds; round++) {
        /* Each round starts one kind later, so that no kind always runs first (on memory the
         * host has not backed yet) or always right after the same neighbour. */
        for (unsigned pos = 0; pos < ZBM_KINDS; pos++) {
            enum zbm_kind k = (enum zbm_kind)((round + pos) % ZBM_KINDS);
            struct zbm_bench_kind *kd = &r->kind[k];
            if (!eligible[k])
                continue;
            if (o->progress) {
                snprintf(what, sizeof(what), "round %u of %u: %s", round + 1, o->rounds,
                         zbm_kind_name(k));
                o->progress(o->progress_arg, what, done, total);
            }
            struct zepto_err rerr = {0};
            if (run_one(kd, round, pos, r, &plan, &rerr)) {
                eligible[k] = false;
                snprintf(kd->note, sizeof(kd->note), "failed in round %u: %s", round + 1, rerr.msg);
            }
            done++;
        }
    }
    bool any = false;
    for (int k = 0; k < ZBM_KINDS; k++) {
        r->kind[k].ran = eligible[k] && r->kind[k].nruns == o->rounds;
        any |= r->kind[k].ran;
    }
    if (!any)
        return zepto_fail(err, ENOMEM, "no kind of memory could be benchmarked (%s: %s)",
                          zbm_kind_name(ZBM_KIND_4K), r->kind[ZBM_KIND_4K].note);
    summarise(r);
    return 0;
}

bool zbm_bench_verified(const struct zbm_bench_kind *kd, uint64_t words)
{
    return kd->errors_max * 100 <= words;
}

static void run_json(const struct zbm_bench_run *x, uint64_t words, struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "round", x->round + 1);
    zb_json_kv_u64(j, "position", x->position + 1);
    zb_json_kv_f64(j, "gups", x->loops.gups);
    zb_json_kv_u64(j, "errors", x->loops.errors);
    zb_json_kv_f64(j, "error_fraction", (double)x->loops.errors / (double)words);
    zb_json_kv_f64(j, "chase_ns", x->loops.chase_ns);
    zb_json_kv_u64(j, "alloc_ns", x->alloc_ns);
    zb_json_kv_u64(j, "first_touch_ns", x->touch_ns);
    zb_json_kv_u64(j, "alloc_faults", x->alloc_faults);
    zb_json_kv_u64(j, "first_touch_faults", x->touch_faults);
    zb_json_kv_u64(j, "loop_faults", x->loops.loop_faults);
    zb_json_obj_end(j);
}

void zbm_bench_json(const struct zbm_bench_result *r, const struct zbm_pool_change *ch,
                    const char *pool_note, struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_u64(j, "table_bytes", r->table_bytes);
    zb_json_kv_u64(j, "table_words", r->words);
    zb_json_kv_u64(j, "updates", r->updates);
    zb_json_kv_u64(j, "chase_loads", r->chase_steps);
    zb_json_kv_u64(j, "rounds", r->rounds);
    zb_json_kv_str(j, "order",
                   "interleaved: every round runs each kind once, starting one kind "
                   "later than the round before");
    zb_json_kv_str(j, "warm_up",
                   "before the rounds, a table of ordinary memory and the hugetlb "
                   "pages were written once, untimed, so that no kind pays for the "
                   "hypervisor backing guest memory for the first time");
    zb_json_kv_str(j, "speedup_vs_4k",
                   "4K's time over this kind's (GUPS: this kind's over 4K's); above 1 is faster");
    zb_json_key(j, "pool");
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "page_size_bytes", ZBM_HUGE_2M);
    zb_json_kv_u64(j, "pages_needed", r->pool_pages_needed);
    if (ch) {
        zb_json_kv_bool(j, "raised_for_the_run", ch->changed);
        zb_json_kv_u64(j, "nr_hugepages_before", ch->before);
        zb_json_kv_u64(j, "nr_hugepages_during", ch->during);
    }
    if (pool_note && *pool_note)
        zb_json_kv_str(j, "note", pool_note);
    zb_json_obj_end(j);
    zb_json_key(j, "kinds");
    zb_json_arr_begin(j);
    for (int k = 0; k < ZBM_KINDS; k++) {
        const struct zbm_bench_kind *kd = &r->kind[k];
        zb_json_obj_begin(j);
        zb_json_kv_str(j, "kind", zbm_kind_name(kd->kind));
        zb_json_kv_bool(j, "ran", kd->ran);
        zb_json_kv_bool(j, "fell_back", kd->fell_back);
        zb_json_kv_str(j, "note", kd->note);
        if (kd->ran) {
            zb_json_kv_str(j, "pages", kd->pages);
            zb_json_kv_f64(j, "huge_fraction", kd->huge_fraction);
            zb_json_kv_f64(j, "gups", kd->gups);
            zb_json_kv_u64(j, "errors", kd->errors_max);
            zb_json_kv_f64(j, "error_fraction", (double)kd->errors_max / (double)r->words);
            zb_json_kv_bool(j, "verified", zbm_bench_verified(kd, r->words));
            zb_json_kv_f64(j, "chase_ns", kd->chase_ns);
            zb_json_kv_f64(j, "alloc_ns", kd->alloc_ns);
            zb_json_kv_f64(j, "first_touch_ns", kd->touch_ns);
            zb_json_kv_f64(j, "alloc_touch_ns", kd->alloc_touch_ns);
            zb_json_kv_f64(j, "alloc_touch_faults", kd->alloc_touch_faults);
            zb_json_kv_f64(j, "runtime_faults", kd->runtime_faults);
            zb_json_kv_f64(j, "loop_faults", kd->loop_faults);
            if (r->kind[ZBM_KIND_4K].ran) {
                zb_json_kv_f64(j, "gups_speedup_vs_4k", kd->gups_speedup);
                zb_json_kv_f64(j, "chase_speedup_vs_4k", kd->chase_speedup);
                zb_json_kv_f64(j, "alloc_touch_speedup_vs_4k", kd->alloc_touch_speedup);
            }
            zb_json_key(j, "runs");
            zb_json_arr_begin(j);
            for (unsigned i = 0; i < kd->nruns; i++)
                run_json(&kd->run[i], r->words, j);
            zb_json_arr_end(j);
        }
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);
    zb_json_obj_end(j);
}
