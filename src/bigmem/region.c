/*
 * Mapping a big-memory region: address space reserved PROT_NONE, the pages mapped MAP_FIXED at an
 * aligned address inside it (mimalloc needs 32 MiB alignment, 1 GiB pages need 1 GiB), pre-faulted
 * and optionally pinned, so that the program takes no page fault in it afterwards. All at once
 * (zbm_region_map, an explicit size), or chunk by chunk as the heap grows (zbm_region_reserve,
 * then zbm_region_grow: the default). And asking the
 * kernel, through /proc/self/smaps, which pages the region really got. No allocation anywhere:
 * the preloaded library runs this before malloc works.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/parse.h"
#include "bigmem/lines.h"
#include "zepto/bigmem.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int log2_of(uint64_t v)
{
    int n = 0;
    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

int zbm_region_reserve(const struct zbm_plan *plan, bool pin, struct zbm_region *r,
                       struct zepto_err *err)
{
    char a[32];
    memset(r, 0, sizeof(*r));
    uint64_t align = plan->page_size > ZBM_ALIGN ? plan->page_size : ZBM_ALIGN;
    r->reserved = plan->size + align;
    r->reservation =
        mmap(NULL, r->reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r->reservation == MAP_FAILED) {
        r->reservation = NULL;
        return zepto_fail(err, errno, "reserving %s of address space: %s",
                          zb_fmt_size(r->reserved, a, sizeof(a)), strerror(errno));
    }
    r->base = (void *)(((uintptr_t)r->reservation + align - 1) & ~(uintptr_t)(align - 1));
    r->capacity = plan->size;
    r->page_size = plan->page_size;
    r->pages = plan->pages;
    r->pin = pin;
    return 0;
}

/* Puts the PROT_NONE reservation back over [p, p + len) after a failed MAP_FIXED, which may have
 * unmapped it: no other mapping may land inside the region. */
static void re_reserve(void *p, uint64_t len)
{
    mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

int zbm_region_grow(struct zbm_region *r, uint64_t bytes, struct zepto_err *err)
{
    return zbm_region_grow_part(r, bytes, bytes, err);
}

int zbm_region_grow_part(struct zbm_region *r, uint64_t bytes, uint64_t prefault,
                         struct zepto_err *err)
{
    char a[32], b[32];
    if (prefault > bytes)
        prefault = bytes;
    prefault -= prefault % (r->page_size ? r->page_size : 4096);
    uint64_t t0 = now_ns();
    if (!r->base || bytes % r->page_size || bytes > r->capacity - r->size)
        return zepto_fail(err, ENOSPC, "%s more does not fit in the %s region",
                          zb_fmt_size(bytes, a, sizeof(a)), zb_fmt_size(r->capacity, b, sizeof(b)));
    void *at = (char *)r->base + r->size;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    bool hugetlb = r->pages == ZBM_1G || r->pages == ZBM_2M;
    if (hugetlb) /* the pool's pages are reserved at the mmap, faulted in when touched */
        flags |= MAP_HUGETLB | (prefault == bytes ? MAP_POPULATE : 0) |
                 (log2_of(r->page_size) << MAP_HUGE_SHIFT);
    void *m = mmap(at, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        re_reserve(at, bytes);
        return zepto_fail(err, e, "mapping %s of %s pages: %s", zb_fmt_size(bytes, a, 32),
                          zbm_pages_name(r->pages), strerror(e));
    }
    if (!hugetlb) {
        if (r->pages == ZBM_THP)
            madvise(m, bytes, MADV_HUGEPAGE);
        else
            madvise(m, bytes, MADV_NOHUGEPAGE); /* 4K means 4K, also under THP=always */
    }
    if ((!hugetlb || prefault < bytes) && prefault && madvise(m, prefault, MADV_POPULATE_WRITE)) {
        /* Before Linux 5.14: touch every page. */
        uint64_t step = hugetlb ? r->page_size : 4096;
        for (uint64_t off = 0; off < prefault; off += step)
            ((volatile char *)m)[off] = 0;
    }
    if (r->pin) {
        if (mlock(m, bytes)) {
            int e = errno;
            munmap(m, bytes);
            re_reserve(at, bytes);
            return zepto_fail(err, e,
                              "pinning %s (mlock): %s; raise the memlock limit (ulimit -l) or "
                              "run as root",
                              zb_fmt_size(bytes, a, sizeof(a)), strerror(e));
        }
        r->pinned = true;
    }
    r->size += bytes;
    r->chunks++;
    r->map_ns += now_ns() - t0;
    return 0;
}

int zbm_region_map(const struct zbm_plan *plan, bool pin, struct zbm_region *r,
                   struct zepto_err *err)
{
    uint64_t t0 = now_ns();
    int rc = zbm_region_reserve(plan, pin, r, err);
    if (!rc && (rc = zbm_region_grow(r, plan->size, err)))
        zbm_region_unmap(r);
    r->map_ns = now_ns() - t0;
    return rc;
}

void zbm_region_unmap(struct zbm_region *r)
{
    if (r->reservation)
        munmap(r->reservation, r->reserved);
    memset(r, 0, sizeof(*r));
}

/* Calls fn for each line of a file, read in chunks into a stack buffer; stops when fn returns
 * nonzero. Lines longer than the buffer are cut. */
int zbm_each_line(const char *path, int (*fn)(const char *line, void *arg), void *arg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[8192];
    size_t used = 0;
    int stop = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, sizeof(buf) - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            if ((stop = fn(line, arg)))
                break;
            line = nl + 1;
        }
        if (stop)
            break;
        used = (size_t)(buf + used - line);
        memmove(buf, line, used);
        if (used == sizeof(buf) - 1)
            used = 0; /* an over-long line: drop it */
    }
    close(fd);
    return 0;
}

struct smaps_scan {
    uintptr_t base;
    bool inside;
    uint64_t kernel_page_kb, rss_kb, anon_huge_kb, hugetlb_kb;
};

uint64_t zbm_field_kb(const char *line)
{
    const char *p = strchr(line, ':');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static int scan_line(const char *line, void *arg)
{
    struct smaps_scan *s = arg;
    /* A mapping's line starts with its address in lower-case hex; field names start with a
     * capital letter ("Size:", "VmFlags:"). */
    bool mapping = line[0] && strchr("0123456789abcdef", line[0]);
    if (mapping) {
        if (s->inside)
            return 1; /* past our region */
        s->inside = strtoull(line, NULL, 16) == s->base;
        return 0;
    }
    if (!s->inside)
        return 0;
    if (!strncmp(line, "KernelPageSize:", 15))
        s->kernel_page_kb = zbm_field_kb(line);
    else if (!strncmp(line, "Rss:", 4))
        s->rss_kb = zbm_field_kb(line);
    else if (!strncmp(line, "AnonHugePages:", 14))
        s->anon_huge_kb = zbm_field_kb(line);
    else if (!strncmp(line, "Private_Hugetlb:", 16) || !strncmp(line, "Shared_Hugetlb:", 15))
        s->hugetlb_kb += zbm_field_kb(line);
    return 0;
}

int zbm_region_check(const struct zbm_region *r, char *out, size_t len, double *huge_fraction)
{
    struct smaps_scan s = {.base = (uintptr_t)r->base};
    int rc = zbm_each_line("/proc/self/smaps", scan_line, &s);
    *huge_fraction = 0;
    if (rc || !s.kernel_page_kb) {
        snprintf(out, len, "unknown (no region in /proc/self/smaps)");
        return rc ? rc : -ENOENT;
    }
    char a[32], b[32];
    if (s.kernel_page_kb > 4) {
        snprintf(out, len, "%s hugetlb", zb_fmt_size(s.kernel_page_kb * 1024, a, sizeof(a)));
        *huge_fraction = r->size ? (double)s.hugetlb_kb * 1024 / (double)r->size : 0;
    } else if (s.anon_huge_kb) {
        snprintf(out, len, "THP (%s of %s in huge pages)",
                 zb_fmt_size(s.anon_huge_kb * 1024, a, sizeof(a)),
                 zb_fmt_size(r->size, b, sizeof(b)));
        *huge_fraction = (double)s.anon_huge_kb * 1024 / (double)r->size;
    } else {
        snprintf(out, len, "%s", zb_fmt_size(s.kernel_page_kb * 1024, a, sizeof(a)));
    }
    return 0;
}
