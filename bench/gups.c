/*
 * bench_gups: the loops of `zepto bigmem bench` in a program of its own, for running under other
 * allocators (bench/bigmem_peers.sh runs it plain, with THP=always, with glibc's hugetlb tunable,
 * with mimalloc's large OS pages and under `zepto bigmem run`). It mallocs one table, writes it
 * (t[i] = i, the first touch), runs HPCC RandomAccess with its verification and the pointer chase,
 * and prints one JSON object: GUPS, ns per chase load, the page faults taken before main() (where
 * a preloaded allocator may pre-fault), during malloc and the first write, and during the timed
 * loops, and the pages the kernel gave the table (from /proc/self/smaps).
 *
 *   bench_gups SIZE [--updates N]      (SIZE rounded down to a power of two of words)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/parse.h"
#include "zepto/bigmem.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What smaps says of the mapping that holds addr. */
struct backing {
    unsigned long kernel_page_kb, size_kb, rss_kb, anon_huge_kb, hugetlb_kb;
    bool found;
};

static void backing_of(const void *addr, struct backing *b)
{
    memset(b, 0, sizeof(*b));
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return;
    char line[512];
    bool inside = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char dash;
        if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
            if (inside)
                break; /* past the mapping */
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
            b->found |= inside;
            continue;
        }
        if (!inside)
            continue;
        unsigned long v;
        if (sscanf(line, "KernelPageSize: %lu", &v) == 1)
            b->kernel_page_kb = v;
        else if (sscanf(line, "Size: %lu", &v) == 1)
            b->size_kb = v;
        else if (sscanf(line, "Rss: %lu", &v) == 1)
            b->rss_kb = v;
        else if (sscanf(line, "AnonHugePages: %lu", &v) == 1)
            b->anon_huge_kb = v;
        else if (sscanf(line, "Private_Hugetlb: %lu", &v) == 1 ||
                 sscanf(line, "Shared_Hugetlb: %lu", &v) == 1)
            b->hugetlb_kb += v;
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    uint64_t start_faults = zbm_faults(); /* before main: the loader, and any preload */
    struct zepto_err err = {0};
    uint64_t size = 0, updates = 0;
    if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "--updates"))) {
        fprintf(stderr, "usage: bench_gups SIZE [--updates N]\n");
        return 2;
    }
    if (zb_parse_size(argv[1], &size, &err) ||
        (argc == 4 && zb_parse_u64(argv[3], 128, UINT64_MAX, &updates, &err))) {
        fprintf(stderr, "bench_gups: %s\n", err.msg);
        return 2;
    }
    uint64_t bytes = zbm_bench_table_bytes(size);
    if (!bytes) {
        fprintf(stderr, "bench_gups: '%s': the table must be at least 2M\n", argv[1]);
        return 2;
    }
    uint64_t words = bytes / 8;

    uint64_t f0 = zbm_faults(), t0 = now_ns();
    uint64_t *t = malloc(bytes);
    if (!t) {
        fprintf(stderr, "bench_gups: malloc(%llu): out of memory\n", (unsigned long long)bytes);
        return 1;
    }
    zbm_gups_fill(t, words);
    uint64_t t1 = now_ns(), f1 = zbm_faults();

    struct zbm_loops l = {
        .updates = updates ? updates : zbm_default_updates(words),
        .chase_steps = zbm_default_chase_steps(words),
    };
    zbm_loops_run(t, words, &l);
    struct backing b;
    backing_of(t, &b);

    struct zb_json j;
    zb_json_init(&j, stdout, false);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "table_bytes", bytes);
    zb_json_kv_u64(&j, "updates", l.updates);
    zb_json_kv_u64(&j, "chase_loads", l.chase_steps);
    zb_json_kv_f64(&j, "gups", l.gups);
    zb_json_kv_u64(&j, "errors", l.errors);
    zb_json_kv_f64(&j, "error_fraction", (double)l.errors / (double)words);
    zb_json_kv_f64(&j, "chase_ns", l.chase_ns);
    zb_json_kv_u64(&j, "alloc_init_ns", t1 - t0);
    zb_json_kv_u64(&j, "startup_faults", start_faults);
    zb_json_kv_u64(&j, "alloc_init_faults", f1 - f0);
    zb_json_kv_u64(&j, "loop_faults", l.loop_faults);
    zb_json_kv_u64(&j, "runtime_faults", f1 - f0 + l.loop_faults);
    zb_json_kv_u64(&j, "kernel_page_bytes", (uint64_t)b.kernel_page_kb * 1024);
    zb_json_kv_u64(&j, "mapping_bytes", (uint64_t)b.size_kb * 1024);
    zb_json_kv_u64(&j, "anon_huge_bytes", (uint64_t)b.anon_huge_kb * 1024);
    zb_json_kv_u64(&j, "hugetlb_bytes", (uint64_t)b.hugetlb_kb * 1024);
    zb_json_obj_end(&j);
    int rc = zb_json_finish(&j);
    free(t);
    if (rc)
        return 1;
    /* HPCC's check: at most 1 % of the table wrong. */
    if (l.errors * 100 > words) {
        fprintf(stderr, "bench_gups: %llu words wrong after the verification\n",
                (unsigned long long)l.errors);
        return 1;
    }
    return 0;
}
