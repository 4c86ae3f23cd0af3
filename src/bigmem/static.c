/*
 * Moving a running program's static data (and optionally its code) into huge pages, without
 * relinking: run by libzepto-bigmem.so's constructor, before main.
 *
 * For each writable PT_LOAD segment of the executable (and of its shared libraries, when asked),
 * the 2 MiB-aligned part of it (past its RELRO part, which stays read-only where it is) is copied
 * into a new huge-page mapping (hugetlb 2 MiB pages, or anonymous memory under MADV_HUGEPAGE,
 * faulted in whole) which mremap then puts at the very same addresses: every pointer stays valid,
 * the unaligned head and tail stay in small pages. Pages of .bss that were never touched are
 * zero and not copied (mincore). With `text`, the executable's r-x segment gets the same
 * treatment (THP: first MADV_COLLAPSE of the file pages in place, where the kernel can), the copy
 * made read+exec. This code lives in the preloaded library, never on the pages it replaces.
 *
 * No allocation, no stdio: it runs before malloc works.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/parse.h"
#include "bigmem/lines.h"
#include "zepto/bigmem.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#define HUGE  ZBM_HUGE_2M
#define SMALL 4096ul

static uintptr_t up(uintptr_t v, uintptr_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static uintptr_t down(uintptr_t v, uintptr_t a)
{
    return v & ~(a - 1);
}

struct walk {
    struct zbm_static *st;
    bool data, libs, text;
    uintptr_t self; /* an address inside this library: its own segments are left alone */
    bool main_seen;
};

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct walk *w = arg;
    bool is_main = !w->main_seen;
    w->main_seen = true;
    if (!is_main && !(w->libs && w->data))
        return 0;
    if (!is_main && (!info->dlpi_name[0] || !strncmp(info->dlpi_name, "linux-vdso", 10)))
        return 0;
    uintptr_t relro_end = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO)
            relro_end = up(info->dlpi_addr + ph->p_vaddr + ph->p_memsz, SMALL);
    }
    for (int i = 0; i < info->dlpi_phnum && w->st->n < ZBM_STATIC_MAX; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        bool data = ph->p_flags & PF_W, code = (ph->p_flags & PF_X) && !(ph->p_flags & PF_W);
        if (data ? !w->data : !(code && is_main && w->text))
            continue;
        uintptr_t start = down(info->dlpi_addr + ph->p_vaddr, SMALL);
        uintptr_t end = up(info->dlpi_addr + ph->p_vaddr + ph->p_memsz, SMALL);
        if (w->self >= start && w->self < end)
            return 0;
        struct zbm_segment *s = &w->st->seg[w->st->n++];
        memset(s, 0, sizeof(*s));
        s->start = start;
        s->end = end;
        s->text = !data;
        s->prot = PROT_READ | (data ? PROT_WRITE : PROT_EXEC);
        s->file_end = up(info->dlpi_addr + ph->p_vaddr + ph->p_filesz, SMALL);
        uintptr_t from = data && relro_end > start && relro_end < end ? relro_end : start;
        s->lo = up(from, HUGE);
        s->hi = down(end, HUGE);
        if (s->hi <= s->lo)
            s->lo = s->hi = 0;
        snprintf(s->name, sizeof(s->name), "%s %s",
                 is_main ? "executable" : base_name(info->dlpi_name), data ? "data" : "text");
    }
    return 0;
}

/* Copies [lo, hi) to m, skipping the pages at or past `anon_from` that were never touched (they
 * read as zero, and m is zero). */
static void copy_in(unsigned char *m, uintptr_t lo, uintptr_t hi, uintptr_t anon_from)
{
    if (anon_from < lo)
        anon_from = lo;
    if (anon_from > lo)
        memcpy(m, (void *)lo, (anon_from < hi ? anon_from : hi) - lo);
    unsigned char vec[4096];
    for (uintptr_t at = anon_from; at < hi; at += sizeof(vec) * SMALL) {
        uintptr_t n = (hi - at) / SMALL;
        if (n > sizeof(vec))
            n = sizeof(vec);
        if (mincore((void *)at, n * SMALL, vec)) {
            memcpy(m + (at - lo), (void *)at, n * SMALL);
            continue;
        }
        for (uintptr_t i = 0; i < n; i++)
            if (vec[i] & 1)
                memcpy(m + (at - lo) + i * SMALL, (void *)(at + i * SMALL), SMALL);
    }
}

/* A 2 MiB-aligned anonymous mapping of len bytes, read+write. */
static void *map_aligned(size_t len, bool hugetlb)
{
    if (hugetlb) {
        void *m =
            mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB | MAP_POPULATE, -1, 0);
        return m == MAP_FAILED ? NULL : m;
    }
    unsigned char *r = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return NULL;
    unsigned char *m = (unsigned char *)up((uintptr_t)r, HUGE);
    if (m > r)
        munmap(r, (size_t)(m - r));
    munmap(m + len, (size_t)(r + HUGE - m));
    madvise(m, len, MADV_HUGEPAGE);
    if (madvise(m, len, MADV_POPULATE_WRITE))
        for (size_t off = 0; off < len; off += SMALL)
            ((volatile unsigned char *)m)[off] = 0;
    return m;
}

static int move_one(struct zbm_segment *s, enum zbm_pages pages)
{
    size_t len = s->hi - s->lo;
    if (s->text && pages == ZBM_THP && !madvise((void *)s->lo, len, MADV_HUGEPAGE) &&
        !madvise((void *)s->lo, len, MADV_COLLAPSE)) {
        s->pages = ZBM_THP;
        s->in_place = true;
        return 0;
    }
    void *m = map_aligned(len, pages == ZBM_2M);
    if (!m)
        return -errno;
    copy_in(m, s->lo, s->hi, s->text ? s->hi : s->file_end);
    if (s->prot != (PROT_READ | PROT_WRITE) && mprotect(m, len, s->prot)) {
        int e = errno;
        munmap(m, len);
        return -e;
    }
    if (mremap(m, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)s->lo) == MAP_FAILED) {
        int e = errno;
        munmap(m, len);
        return -e;
    }
    s->pages = pages;
    return 0;
}

/* Free 2 MiB hugetlb pages (the default pool). */
static uint64_t pool_free(void)
{
    int fd = open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32] = "";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? strtoull(buf, NULL, 10) : 0;
}

static bool thp_possible(void)
{
    int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[64] = "";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 && !strstr(buf, "[never]");
}

int zbm_static_move(const struct zbm_static_opts *o, struct zbm_static *st, char *note,
                    size_t note_len, struct zepto_err *err)
{
    memset(st, 0, sizeof(*st));
    note[0] = 0;
    struct walk w = {.st = st,
                     .data = o->data,
                     .libs = o->libs,
                     .text = o->text,
                     .self = (uintptr_t)zbm_static_move};
    dl_iterate_phdr(each_object, &w);
    if (!w.main_seen)
        return zepto_fail(err, ENOENT, "static data: no program headers found");

    uint64_t need = 0;
    for (unsigned i = 0; i < st->n; i++)
        need += (st->seg[i].hi - st->seg[i].lo) / HUGE;
    if (!need)
        return 0; /* nothing 2 MiB-aligned: everything stays in small pages, as it is */

    enum zbm_pages pages = o->pages;
    char a[32];
    if (pages == ZBM_4K)
        return 0;
    if (pages == ZBM_1G)
        pages = ZBM_2M; /* static segments are not 1 GiB-aligned: their 2 MiB part */
    if (pages == ZBM_AUTO)
        pages = pool_free() >= need ? ZBM_2M : ZBM_THP;
    else if (pages == ZBM_2M && pool_free() < need) {
        if (o->strict)
            return zepto_fail(err, ENOMEM,
                              "static data: %s needs %llu pages of 2.0 MiB, the pool has %llu "
                              "free (raise /proc/sys/vm/nr_hugepages)",
                              zb_fmt_size(need * HUGE, a, sizeof(a)), (unsigned long long)need,
                              (unsigned long long)pool_free());
        snprintf(note, note_len,
                 "static data: %s needs %llu pages of 2.0 MiB, the pool has %llu free; using THP",
                 zb_fmt_size(need * HUGE, a, sizeof(a)), (unsigned long long)need,
                 (unsigned long long)pool_free());
        pages = ZBM_THP;
    }
    if (pages == ZBM_THP && !thp_possible()) {
        if (o->strict)
            return zepto_fail(err, ENOTSUP,
                              "static data: no huge pages (the 2 MiB pool is short and "
                              "transparent huge pages are off)");
        snprintf(note, note_len,
                 "static data: no huge pages (pool short, THP off); left in small pages");
        return 0;
    }
    for (unsigned i = 0; i < st->n; i++) {
        struct zbm_segment *s = &st->seg[i];
        if (s->hi <= s->lo)
            continue;
        int rc = move_one(s, pages);
        if (rc && pages == ZBM_2M && !o->strict)
            rc = move_one(s, ZBM_THP);
        if (rc) {
            if (o->strict)
                return zepto_fail(err, -rc, "static data: moving %s (%s) into %s pages: %s",
                                  s->name, zb_fmt_size(s->hi - s->lo, a, sizeof(a)),
                                  zbm_pages_name(pages), strerror(-rc));
            if (!note[0])
                snprintf(note, note_len, "static data: %s left in small pages: %s", s->name,
                         strerror(-rc));
            continue;
        }
        s->moved = true;
        if (s->pages != pages && !note[0])
            snprintf(note, note_len, "static data: %s fell back to THP", s->name);
    }
    return 0;
}

struct range_scan {
    uintptr_t lo, hi;
    bool inside;
    uint64_t size_kb, kernel_page_kb, anon_huge_kb, file_pmd_kb, hugetlb_kb;
};

static int range_line(const char *line, void *arg)
{
    struct range_scan *s = arg;
    if (line[0] && strchr("0123456789abcdef", line[0])) {
        char *dash;
        uintptr_t a = strtoull(line, &dash, 16);
        uintptr_t b = *dash == '-' ? strtoull(dash + 1, NULL, 16) : a;
        s->inside = a >= s->lo && b <= s->hi && a < b;
        return 0;
    }
    if (!s->inside)
        return 0;
    if (!strncmp(line, "Size:", 5))
        s->size_kb += zbm_field_kb(line);
    else if (!strncmp(line, "KernelPageSize:", 15)) {
        uint64_t k = zbm_field_kb(line);
        if (k > s->kernel_page_kb)
            s->kernel_page_kb = k;
    } else if (!strncmp(line, "AnonHugePages:", 14))
        s->anon_huge_kb += zbm_field_kb(line);
    else if (!strncmp(line, "FilePmdMapped:", 14))
        s->file_pmd_kb += zbm_field_kb(line);
    else if (!strncmp(line, "Private_Hugetlb:", 16) || !strncmp(line, "Shared_Hugetlb:", 15))
        s->hugetlb_kb += zbm_field_kb(line);
    return 0;
}

void zbm_static_describe(const struct zbm_segment *s, char *out, size_t len, double *huge_fraction)
{
    char a[32], b[32], c[32], d[32];
    *huge_fraction = 0;
    size_t n =
        (size_t)snprintf(out, len, "%s %s at %#lx", s->name,
                         zb_fmt_size(s->end - s->start, a, sizeof(a)), (unsigned long)s->start);
    if (n >= len)
        return;
    if (!s->moved) {
        snprintf(out + n, len - n, ": %s",
                 s->hi > s->lo ? "not moved, small pages" : "no 2 MiB-aligned part, small pages");
        return;
    }
    struct range_scan r = {.lo = s->lo, .hi = s->hi};
    zbm_each_line("/proc/self/smaps", range_line, &r);
    uint64_t moved = s->hi - s->lo, huge_kb = 0;
    const char *kind = "4 KiB";
    if (r.kernel_page_kb > 4) {
        kind = "2.0 MiB hugetlb";
        huge_kb = r.hugetlb_kb;
    } else if (r.anon_huge_kb || r.file_pmd_kb) {
        kind = r.file_pmd_kb ? "THP (file, in place)" : "THP";
        huge_kb = r.anon_huge_kb + r.file_pmd_kb;
    }
    *huge_fraction = moved ? (double)huge_kb * 1024 / (double)moved : 0;
    snprintf(out + n, len - n,
             ": %s moved to %s pages (%s huge, from smaps), head %s and tail %s "
             "in 4 KiB pages",
             zb_fmt_size(moved, b, sizeof(b)), kind, zb_fmt_size(huge_kb * 1024, c, sizeof(c)),
             zb_fmt_size(s->lo - s->start, d, sizeof(d)),
             zb_fmt_size(s->end - s->hi, a, sizeof(a)));
}
