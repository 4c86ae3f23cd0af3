/*
 * zepto bigmem: run an unmodified program with its heap in one pre-reserved, pre-faulted,
 * optionally pinned huge-page region ("big memory", after ZeptoOS).
 *
 * `zepto bigmem run` preloads libzepto-bigmem.so, which reserves the region in its constructor and
 * serves the whole malloc family from it through mimalloc. This header is what the CLI, the
 * report and the benchmarks share with that library: reading the machine's huge-page pools, the
 * choice of page size and region size (the plan), mapping a region, and asking a running program
 * for its region.
 *
 * Everything here is safe to call from the preload's constructor: no allocation, no stdio.
 */
#ifndef ZEPTO_BIGMEM_H
#define ZEPTO_BIGMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mimalloc hands memory out in 32 MiB blocks; regions are multiples of it, aligned to twice it. */
#define ZBM_BLOCK (32ull << 20)
#define ZBM_ALIGN (64ull << 20)

enum zbm_pages { ZBM_AUTO, ZBM_1G, ZBM_2M, ZBM_THP, ZBM_4K };

int zbm_pages_parse(const char *s, enum zbm_pages *out, struct zepto_err *err);
const char *zbm_pages_name(enum zbm_pages p);

/* One hugetlb pool (/sys/kernel/mm/hugepages/hugepages-<size>kB). */
struct zbm_pool {
    uint64_t page_size;                      /* bytes */
    uint64_t total, free, reserved, surplus; /* pages */
};

#define ZBM_MAX_POOLS 4

/* What the machine offers. */
struct zbm_system {
    unsigned npools;
    struct zbm_pool pool[ZBM_MAX_POOLS]; /* by page size, largest first */
    char thp_enabled[16];                /* "always", "madvise", "never", or "" if no THP */
    char thp_defrag[24];
    uint64_t thp_size;                 /* bytes, 0 if unknown */
    uint64_t mem_total, mem_available; /* bytes */
    uint64_t memlock;                  /* RLIMIT_MEMLOCK in bytes; UINT64_MAX: unlimited */
    bool can_lock_all;                 /* CAP_IPC_LOCK (root): the limit does not apply */
    unsigned local_ranks;              /* MPI ranks on this node sharing the memory (>= 1) */
};

/* Reads /proc and /sys under `root` ("" for the real ones; tests give a fake tree). Fails, with
 * the file named, when a file that must be there cannot be read. */
int zbm_system_read(struct zbm_system *s, const char *root, struct zepto_err *err);

/* The pool of a page size, or NULL. */
const struct zbm_pool *zbm_pool_of(const struct zbm_system *s, uint64_t page_size);

/* The choice made for a run. */
struct zbm_plan {
    enum zbm_pages pages; /* what will be used: 1G, 2M, THP or 4K */
    uint64_t page_size;   /* bytes: 1 GiB, 2 MiB, or the THP/base page size */
    uint64_t size;        /* region size, a multiple of ZBM_BLOCK and of page_size */
    bool fell_back;       /* the page size asked for could not be had */
    char why[320];        /* one sentence: what was chosen and why */
};

/* Chooses page size and region size. want: ZBM_AUTO or a page size; size 0: the default (the
 * pool's free pages, else 50 % of available memory, divided among the node's local MPI ranks).
 * strict: fail instead of falling back, with a message that says what to change. */
int zbm_plan_make(const struct zbm_system *s, enum zbm_pages want, uint64_t size, bool strict,
                  struct zbm_plan *plan, struct zepto_err *err);

/* A mapped region. */
struct zbm_region {
    void *base; /* ZBM_ALIGN-aligned */
    uint64_t size;
    void *reservation; /* the PROT_NONE reservation around it */
    uint64_t reserved;
    enum zbm_pages pages;
    bool pinned;
    uint64_t map_ns; /* time to map and pre-fault (and pin) */
};

/* Maps a region as planned: reserves address space, maps the pages at an aligned address inside
 * it, pre-faults them (MADV_POPULATE_WRITE, or touching), and mlock()s them when pin is set. */
int zbm_region_map(const struct zbm_plan *plan, bool pin, struct zbm_region *r,
                   struct zepto_err *err);
void zbm_region_unmap(struct zbm_region *r);

/* The page size the kernel really gave the region, from /proc/self/smaps: writes e.g.
 * "2 MiB hugetlb", "THP (254 of 256 MiB)" or "4 KiB"; the huge share in *huge_fraction. */
int zbm_region_check(const struct zbm_region *r, char *out, size_t len, double *huge_fraction);

/* In a program run by `zepto bigmem run`: the region its heap lives in. Returns false when the
 * program is not running under bigmem. (Exported by libzepto-bigmem.so; find it with dlsym.) */
bool zepto_bigmem_region(void **start, size_t *size);
typedef bool (*zepto_bigmem_region_fn)(void **start, size_t *size);
#define ZEPTO_BIGMEM_REGION_SYMBOL "zepto_bigmem_region"

#ifdef __cplusplus
}
#endif
#endif
