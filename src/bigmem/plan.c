/*
 * The plan of a bigmem run: which page size, and how large a region.
 *
 * auto takes the largest page size whose hugetlb pool has room, then THP (when the kernel has it
 * in `always` or `madvise` mode), then ordinary 4 KiB pages. A page size asked for that cannot be
 * had is an error with --strict (saying what to change) and a fallback, said, otherwise. The
 * default size is the pool (its pages divided among the node's MPI ranks, at most what is free),
 * else half of the memory (divided among the ranks, at most half of what is available). Sizes are
 * rounded up to whole mimalloc blocks (32 MiB) and whole pages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "zepto/bigmem.h"

#define GIB (1ull << 30)
#define MIB (1ull << 20)

static const char *const names[] = {"auto", "1G", "2M", "thp", "4K"};

int zbm_pages_parse(const char *s, enum zbm_pages *out, struct zepto_err *err)
{
    for (int i = 0; i < 5; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (enum zbm_pages)i;
            return 0;
        }
    return zepto_fail(err, EINVAL, "'%s': use auto, 1G, 2M, thp or 4K", s ? s : "");
}

const char *zbm_pages_name(enum zbm_pages p)
{
    return p <= ZBM_4K ? names[p] : "?";
}

static uint64_t round_up(uint64_t v, uint64_t unit)
{
    return (v + unit - 1) / unit * unit;
}

static uint64_t unit_of(uint64_t page_size)
{
    return page_size > ZBM_BLOCK ? page_size : ZBM_BLOCK; /* both are powers of two */
}

static bool thp_usable(const struct zbm_system *s)
{
    return !strcmp(s->thp_enabled, "always") || !strcmp(s->thp_enabled, "madvise");
}

/* How large a region of this kind would be; 0 when the kind cannot be had. */
static uint64_t fit(const struct zbm_system *s, enum zbm_pages k, uint64_t want_size,
                    uint64_t *page_size)
{
    unsigned ranks = s->local_ranks ? s->local_ranks : 1;
    if (k == ZBM_1G || k == ZBM_2M) {
        *page_size = k == ZBM_1G ? GIB : 2 * MIB;
        const struct zbm_pool *p = zbm_pool_of(s, *page_size);
        if (!p)
            return 0;
        /* The default share is taken of the pool's total, so that ranks starting one after the
         * other get the same; each takes what is free when it starts. */
        uint64_t unit = unit_of(*page_size), have = p->free * *page_size;
        uint64_t share = p->total * *page_size / ranks;
        uint64_t size =
            want_size ? round_up(want_size, unit) : (share < have ? share : have) / unit * unit;
        return size && size <= have ? size : 0;
    }
    if (k == ZBM_THP && !thp_usable(s))
        return 0;
    *page_size = k == ZBM_THP ? (s->thp_size ? s->thp_size : 2 * MIB) : 4096;
    /* Default: half of the memory, shared among the ranks, and no more than half of what is
     * available now. */
    uint64_t share = s->mem_total / 2 / ranks, now = s->mem_available / 2;
    uint64_t size = want_size ? round_up(want_size, ZBM_BLOCK)
                              : (share < now ? share : now) / ZBM_BLOCK * ZBM_BLOCK;
    return size && size <= s->mem_available ? size : 0;
}

/* Why a kind cannot be had, and what to change. */
static void explain(const struct zbm_system *s, enum zbm_pages k, uint64_t want_size, char *out,
                    size_t len)
{
    char a[32], b[32];
    if (k == ZBM_1G || k == ZBM_2M) {
        uint64_t ps = k == ZBM_1G ? GIB : 2 * MIB;
        const struct zbm_pool *p = zbm_pool_of(s, ps);
        if (!p) {
            snprintf(out, len,
                     "this kernel has no %s hugetlb pool (boot with hugepagesz=%s hugepages=N)",
                     k == ZBM_1G ? "1 GiB" : "2 MiB", k == ZBM_1G ? "1G" : "2M");
            return;
        }
        uint64_t need = want_size ? round_up(want_size, unit_of(ps)) / ps : unit_of(ps) / ps;
        snprintf(out, len,
                 "%s needs %llu pages of %s, the pool has %llu free of %llu: as root, echo %llu > "
                 "/sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages (or hugeadm "
                 "--pool-pages-min %s:%llu)",
                 want_size ? zb_fmt_size(round_up(want_size, unit_of(ps)), a, sizeof(a))
                           : "a region",
                 (unsigned long long)need, zb_fmt_size(ps, b, sizeof(b)),
                 (unsigned long long)p->free, (unsigned long long)p->total,
                 (unsigned long long)(p->total - p->free + need), (unsigned long long)(ps / 1024),
                 k == ZBM_1G ? "1GB" : "2MB", (unsigned long long)(p->total - p->free + need));
        return;
    }
    if (k == ZBM_THP)
        snprintf(out, len,
                 "transparent huge pages are '%s' (as root: echo madvise > "
                 "/sys/kernel/mm/transparent_hugepage/enabled)",
                 s->thp_enabled[0] ? s->thp_enabled : "not built in");
    else
        snprintf(out, len, "%s is more than the %s available", zb_fmt_size(want_size, a, sizeof(a)),
                 zb_fmt_size(s->mem_available, b, sizeof(b)));
}

int zbm_plan_make(const struct zbm_system *s, enum zbm_pages want, uint64_t size, bool strict,
                  struct zbm_plan *plan, struct zepto_err *err)
{
    char a[32], b[32], why[256];
    memset(plan, 0, sizeof(*plan));
    if (size > s->mem_total)
        return zepto_fail(err, E2BIG, "%s is more than this machine's memory (%s)",
                          zb_fmt_size(size, a, sizeof(a)), zb_fmt_size(s->mem_total, b, sizeof(b)));

    enum zbm_pages first = want == ZBM_AUTO ? ZBM_1G : want;
    for (enum zbm_pages k = first; k <= ZBM_4K; k++) {
        uint64_t ps = 0, got = fit(s, k, size, &ps);
        if (got) {
            plan->pages = k;
            plan->page_size = ps;
            plan->size = got;
            plan->fell_back = want != ZBM_AUTO && k != want;
            if (plan->fell_back) {
                explain(s, want, size, why, sizeof(why));
                snprintf(plan->why, sizeof(plan->why), "%s pages cannot be had (%s); using %s",
                         zbm_pages_name(want), why, zbm_pages_name(k));
            } else {
                snprintf(plan->why, sizeof(plan->why), "%s of %s pages%s%s",
                         zb_fmt_size(got, a, sizeof(a)), zbm_pages_name(k),
                         want == ZBM_AUTO ? " (auto: the largest page size with room)" : "",
                         s->local_ranks > 1 && !size ? ", shared among the node's MPI ranks" : "");
            }
            return 0;
        }
        if (k == want && strict) {
            explain(s, k, size, why, sizeof(why));
            return zepto_fail(err, ENOMEM, "--strict: %s", why);
        }
        if (want == ZBM_AUTO && k == ZBM_4K)
            break;
    }
    explain(s, ZBM_4K, size, why, sizeof(why));
    return zepto_fail(err, ENOMEM, "no region can be had: %s", why);
}

uint64_t zbm_chunk_next(uint64_t size, uint64_t capacity, uint64_t page_size, uint64_t need)
{
    uint64_t unit = unit_of(page_size ? page_size : 4096);
    uint64_t chunk = size < ZBM_CHUNK_FIRST ? ZBM_CHUNK_FIRST : size;
    if (chunk > ZBM_CHUNK_MAX)
        chunk = ZBM_CHUNK_MAX;
    /* An allocation larger than a block takes whole blocks plus mimalloc's segment header. */
    if (need && need <= capacity && chunk < need + ZBM_BLOCK)
        chunk = need + ZBM_BLOCK;
    chunk = round_up(chunk, unit);
    uint64_t room = capacity > size ? (capacity - size) / unit * unit : 0;
    return chunk < room ? chunk : room;
}

void zbm_default_describe(const struct zbm_plan *plan, char *out, size_t len)
{
    char cap[32], first[32], max[32], page[32];
    uint64_t chunk = zbm_chunk_next(0, plan->size, plan->page_size, 0);
    uint64_t top = ZBM_CHUNK_MAX > chunk ? ZBM_CHUNK_MAX : chunk;
    snprintf(out, len,
             "reserves %s of address space, commits it in pre-faulted chunks of %s pages (%s) as "
             "the heap grows: %s first, doubling, at most %s a chunk; --size SIZE commits and "
             "pre-faults SIZE at start",
             zb_fmt_size(plan->size, cap, sizeof(cap)), zbm_pages_name(plan->pages),
             zb_fmt_size(plan->page_size, page, sizeof(page)),
             zb_fmt_size(chunk, first, sizeof(first)), zb_fmt_size(top, max, sizeof(max)));
}
