/*
 * `zepto bigmem info --pid`: the segments of a running program and of its libraries, from the
 * text of /proc/PID/smaps, with the page size backing each mapping, so that one can see which
 * segments `bigmem run --static/--libs/--text` moved into huge pages.
 *
 * Kept: the writable and the executable mappings of each mapped file, and the anonymous mappings
 * that follow a writable one of it without a gap (.bss, and the huge-page copies put in place of
 * a segment, which the kernel shows as anonymous or as /anon_hugepage; an anonymous executable
 * one: a moved text). A pure parser over a buffer: fuzzed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/bigmem.h"

/* The value in kB of "Key:   123 kB". */
static uint64_t kb(const char *p, const char *end)
{
    while (p < end && (*p < '0' || *p > '9'))
        p++;
    uint64_t v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static bool hex_word(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0;
    for (; s < end && n < 17; s++, n++) {
        int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v << 4 | (uint64_t)d;
    }
    if (!n || n > 16)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* A header line "start-end perms offset dev inode   path": fills m; false when it is not one. */
static bool header(const char *l, const char *end, struct zbm_mapping *m, char *path, size_t plen)
{
    const char *p = l;
    if (!hex_word(&p, end, &m->start) || p >= end || *p++ != '-' || !hex_word(&p, end, &m->end) ||
        m->start >= m->end || p + 5 > end || *p++ != ' ')
        return false;
    memcpy(m->perms, p, 4);
    m->perms[4] = 0;
    p += 4;
    for (int field = 0; field < 3; field++) { /* offset, device, inode */
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            return false;
        while (p < end && *p != ' ')
            p++;
    }
    while (p < end && *p == ' ')
        p++;
    size_t n = (size_t)(end - p);
    if (n >= plen)
        n = plen - 1;
    memcpy(path, p, n);
    path[n] = 0;
    return true;
}

static bool anonymous(const char *path)
{
    return !path[0] || !strncmp(path, "/anon_hugepage", 14);
}

unsigned zbm_mappings_parse(const char *text, size_t len, struct zbm_mapping *out, unsigned max)
{
    unsigned n = 0;
    char object[sizeof(out->object)] = "";
    uint64_t last_end = 0;      /* end of the last mapping */
    bool last_writable = false; /* and whether it was writable */
    bool keep = false;          /* the current mapping is out[n - 1] */
    const char *end = text + len;
    for (const char *l = text; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        const char *le = nl ? nl : end;
        struct zbm_mapping m = {0};
        char path[sizeof(out->object)];
        if (le > l && ((*l >= '0' && *l <= '9') || (*l >= 'a' && *l <= 'f')) &&
            header(l, le, &m, path, sizeof(path))) {
            keep = false;
            bool anon = anonymous(path);
            if (!anon && path[0] == '/') {
                snprintf(object, sizeof(object), "%s", path);
            } else if (!(anon && object[0] && m.start == last_end &&
                         (last_writable || m.perms[2] == 'x'))) {
                /* [heap], [stack], a gap, or anonymous memory after a read-only file (a data
                 * file's neighbour): what follows belongs to no file */
                object[0] = 0;
            }
            last_end = m.end;
            last_writable = m.perms[1] == 'w';
            bool wanted = m.perms[1] == 'w' || m.perms[2] == 'x';
            if (object[0] && wanted && n < max) {
                m.anon = anon;
                snprintf(m.object, sizeof(m.object), "%s", object);
                out[n++] = m;
                keep = true;
            }
        } else if (keep) {
            struct zbm_mapping *c = &out[n - 1];
            size_t ll = (size_t)(le - l);
            if (ll > 15 && !strncmp(l, "KernelPageSize:", 15))
                c->kernel_page_kb = kb(l + 15, le);
            else if (ll > 4 && !strncmp(l, "Rss:", 4))
                c->rss_kb = kb(l + 4, le);
            else if (ll > 14 && !strncmp(l, "AnonHugePages:", 14))
                c->anon_huge_kb = kb(l + 14, le);
            else if (ll > 14 && !strncmp(l, "FilePmdMapped:", 14))
                c->file_pmd_kb = kb(l + 14, le);
            else if (ll > 16 && !strncmp(l, "Private_Hugetlb:", 16))
                c->hugetlb_kb += kb(l + 16, le);
            else if (ll > 15 && !strncmp(l, "Shared_Hugetlb:", 15))
                c->hugetlb_kb += kb(l + 15, le);
        }
        l = nl ? nl + 1 : end;
    }
    return n;
}

enum zbm_backing zbm_mapping_backing(const struct zbm_mapping *m)
{
    if (m->kernel_page_kb >= 1024 * 1024)
        return ZBM_BACK_1G;
    if (m->kernel_page_kb >= 2048)
        return ZBM_BACK_2M;
    if (m->anon_huge_kb || m->file_pmd_kb)
        return ZBM_BACK_THP;
    return ZBM_BACK_SMALL;
}

const char *zbm_backing_name(enum zbm_backing b)
{
    switch (b) {
    case ZBM_BACK_1G: return "1G hugetlb";
    case ZBM_BACK_2M: return "2M hugetlb";
    case ZBM_BACK_THP: return "THP";
    default: return "4K";
    }
}

uint64_t zbm_mapping_huge_bytes(const struct zbm_mapping *m)
{
    switch (zbm_mapping_backing(m)) {
    case ZBM_BACK_1G:
    case ZBM_BACK_2M: return m->hugetlb_kb ? m->hugetlb_kb * 1024 : m->end - m->start;
    case ZBM_BACK_THP: return (m->anon_huge_kb + m->file_pmd_kb) * 1024;
    default: return 0;
    }
}
