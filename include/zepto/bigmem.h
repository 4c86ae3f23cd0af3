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
 * The pool, plan and region functions are safe to call from the preload's constructor: no
 * allocation, no stdio. The benchmark (last section) is not: it allocates its tables.
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

/* bigmem's environment variables (src/bigmem/settings.c); `zepto --help` lists them. */
enum zbm_setting {
    ZBM_SET_LIB,     /* ZEPTO_BIGMEM_LIB: the preloaded library of bigmem run */
    ZBM_SET_SIZE,    /* ZEPTO_BIGMEM_SIZE: region size (set by bigmem run) */
    ZBM_SET_PAGES,   /* ZEPTO_BIGMEM_PAGES: auto | 1G | 2M | thp | 4K */
    ZBM_SET_PIN,     /* ZEPTO_BIGMEM_PIN: 1 to mlock the region */
    ZBM_SET_STRICT,  /* ZEPTO_BIGMEM_STRICT: 1 to fail instead of falling back */
    ZBM_SET_VERBOSE, /* ZEPTO_BIGMEM_VERBOSE: 1 for a line at exit */
    ZBM_SET_STATIC,  /* ZEPTO_BIGMEM_STATIC: 1 to move .data/.bss into huge pages */
    ZBM_SET_LIBS,    /* ZEPTO_BIGMEM_LIBS: 1 for the shared libraries' too */
    ZBM_SET_TEXT,    /* ZEPTO_BIGMEM_TEXT: 1 to map the executable's text in huge pages */
    ZBM_SET_COUNT
};
const struct zepto_settings *zbm_settings(void);
/* The value of a setting, or `fallback` when unset or empty. */
const char *zbm_setting(enum zbm_setting s, const char *fallback);

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

struct zb_json; /* base/json.h */

/* The JSON form of the system, as keys of the object open in j (pools, thp_*, mem_*_bytes,
 * memlock_bytes (null: unlimited), memlock_unlimited_by_capability, local_ranks): the one writer
 * of `zepto bigmem info --json` and of report.json's bigmem section. */
void zbm_system_json_fields(const struct zbm_system *s, struct zb_json *j);

/* The plan as one object {pages, page_size_bytes, region_bytes, why}, or {error} when `error`
 * is not empty (the plan could not be made). */
struct zbm_plan;
void zbm_plan_json(const struct zbm_plan *plan, const char *error, struct zb_json *j);

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

/* The default region grows on demand: a first chunk of ZBM_CHUNK_FIRST, then each chunk as large
 * as the region so far (it doubles), at most ZBM_CHUNK_MAX, or as large as the allocation that
 * needs it. An explicit size is mapped and pre-faulted whole, at start. */
#define ZBM_CHUNK_FIRST (32ull << 20)
#define ZBM_CHUNK_MAX   (1ull << 30)

/* The size of the next chunk of a region of `size` bytes (of at most `capacity`) with pages of
 * `page_size`, for an allocation of `need` bytes (0: none in particular) that did not fit. Whole
 * mimalloc blocks and pages; 0 when nothing more fits. */
uint64_t zbm_chunk_next(uint64_t size, uint64_t capacity, uint64_t page_size, uint64_t need);
/* One sentence for `bigmem info`: what a run with the default size will do with this plan. */
void zbm_default_describe(const struct zbm_plan *plan, char *out, size_t len);

/* A mapped region: [base, base + size) is mapped and pre-faulted, the rest of the reservation up
 * to base + capacity is PROT_NONE address space that zbm_region_grow maps chunk by chunk. */
struct zbm_region {
    void *base;        /* ZBM_ALIGN-aligned */
    uint64_t size;     /* bytes mapped and pre-faulted so far, from base */
    uint64_t capacity; /* bytes it may grow to (the plan's size) */
    void *reservation; /* the PROT_NONE reservation around it */
    uint64_t reserved;
    uint64_t page_size;
    enum zbm_pages pages;
    bool pin; /* mlock() each chunk */
    bool pinned;
    unsigned chunks; /* zbm_region_grow calls that succeeded */
    uint64_t map_ns; /* time to map and pre-fault (and pin), all chunks */
};

/* Maps a region as planned: reserves address space, maps the pages at an aligned address inside
 * it, pre-faults them (MADV_POPULATE_WRITE, or touching), and mlock()s them when pin is set. */
int zbm_region_map(const struct zbm_plan *plan, bool pin, struct zbm_region *r,
                   struct zepto_err *err);
/* Reserves the plan's size as PROT_NONE address space, mapping nothing (r->size is 0). */
int zbm_region_reserve(const struct zbm_plan *plan, bool pin, struct zbm_region *r,
                       struct zepto_err *err);
/* Maps, pre-faults (and pins) the next `bytes` of a reserved region, a multiple of its page size.
 * -ENOSPC when it would pass the capacity; the kernel's errno when the pages cannot be had (the
 * reservation is put back). No allocation: safe in the preload. */
int zbm_region_grow(struct zbm_region *r, uint64_t bytes, struct zepto_err *err);
/* The same, pre-faulting only the first `prefault` bytes: the rest gets its pages (the same
 * huge pages, reserved by the mmap for hugetlb) when first touched. For a chunk made for one
 * very large allocation, which a program may touch only in part (GNU sort's buffer). */
int zbm_region_grow_part(struct zbm_region *r, uint64_t bytes, uint64_t prefault,
                         struct zepto_err *err);
void zbm_region_unmap(struct zbm_region *r);

/* The page size the kernel really gave the region, from /proc/self/smaps: writes e.g.
 * "2 MiB hugetlb", "THP (254 of 256 MiB)" or "4 KiB"; the huge share in *huge_fraction. */
int zbm_region_check(const struct zbm_region *r, char *out, size_t len, double *huge_fraction);

/* In a program run by `zepto bigmem run`: the region its heap lives in (a region grown on demand:
 * its whole reserved range, of which only the chunks mapped so far are readable). Returns false
 * when the program is not running under bigmem. (Exported by libzepto-bigmem.so; find it with
 * dlsym.) */
bool zepto_bigmem_region(void **start, size_t *size);
typedef bool (*zepto_bigmem_region_fn)(void **start, size_t *size);
#define ZEPTO_BIGMEM_REGION_SYMBOL "zepto_bigmem_region"

/* ---- Static data and code ------------------------------------------------------------------
 *
 * In the preloaded library's constructor, before main: the program's writable segments (.data,
 * .bss; its shared libraries' with `libs`) and, with `text`, its code, moved into huge pages at
 * the same addresses (src/bigmem/static.c). Only each segment's 2 MiB-aligned part moves; the
 * head and tail stay in small pages, RELRO stays where it is.
 */

#define ZBM_STATIC_MAX 24

struct zbm_segment {
    uintptr_t start, end; /* the segment in memory, page-rounded */
    uintptr_t lo, hi;     /* its 2 MiB-aligned part (lo == hi: none) */
    uintptr_t file_end;   /* past here: .bss, anonymous */
    int prot;
    bool text, moved, in_place; /* in_place: file text collapsed into THP where it is */
    enum zbm_pages pages;       /* what it was moved into */
    char name[96];              /* "executable data", "libfoo.so text", ... */
};

struct zbm_static {
    unsigned n;
    struct zbm_segment seg[ZBM_STATIC_MAX];
};

struct zbm_static_opts {
    enum zbm_pages pages;          /* auto: 2M if the pool has room for all, else THP */
    bool data, libs, text, strict; /* data: .data/.bss; libs: the libraries' too */
};

/* Moves the segments. A fallback (pool short, a move refused) is described in `note` (empty:
 * none); fails only with o->strict, before anything moved when the pool is short. */
int zbm_static_move(const struct zbm_static_opts *o, struct zbm_static *st, char *note,
                    size_t note_len, struct zepto_err *err);

/* One line on a segment: what moved, into which pages (from /proc/self/smaps). */
void zbm_static_describe(const struct zbm_segment *s, char *out, size_t len, double *huge_fraction);

/* What an executable is, from its first bytes (ELF header and program headers): */
enum { ZBM_ELF_NOT_ELF, ZBM_ELF_BAD, ZBM_ELF_DYNAMIC, ZBM_ELF_STATIC };
int zbm_elf_kind(const unsigned char *buf, size_t len);
/* Fails (with why) when `cmd` (as execvp would find it) is a statically linked executable. */
int zbm_exec_check(const char *cmd, struct zepto_err *err);

/* ---- The benchmark -------------------------------------------------------------------------
 *
 * The big-memory benchmark: HPCC RandomAccess (GUPS) and a dependent pointer chase on one table
 * held in each of four kinds of memory, measured in one process, the kinds interleaved round by
 * round so that a noisy machine moves them all alike. `zepto bigmem bench`, the report's bigmem
 * section and bench/gups.c (the same loops under other allocators) share it.
 *
 * The kinds:
 *   4K      mmap + MADV_NOHUGEPAGE; faulted in page by page when the table is first written
 *   THP     mmap aligned to 2 MiB + MADV_HUGEPAGE; faulted in (2 MiB at a time) when first written
 *   2M      mmap MAP_HUGETLB | MAP_HUGE_2MB from the hugetlb pool; faulted in when first written
 *   bigmem  zbm_region_map() with a plan for 2 MiB pages, pre-faulted while mapping: what
 *           libzepto-bigmem.so does before main(); the plan's fallback when the pool is short
 *
 * "Run-time" page faults are those taken after the allocation call returned: for the first three
 * kinds the first touch, for bigmem none but what the loops take.
 *
 * The kernels take no lock and allocate nothing; the runner allocates nothing but the tables.
 * Nothing here prints.
 */

#define ZBM_GUPS_STREAMS     128 /* HPCC's independent update streams */
#define ZBM_BENCH_MAX_ROUNDS 25
#define ZBM_BENCH_MIN_SIZE   (2ull << 20) /* one 2 MiB page */
#define ZBM_HUGE_2M          (2ull << 20)

enum zbm_kind { ZBM_KIND_4K, ZBM_KIND_THP, ZBM_KIND_2M, ZBM_KIND_BIGMEM, ZBM_KINDS };

/* "4K", "THP", "2M", "bigmem". */
const char *zbm_kind_name(enum zbm_kind k);

/* --- The kernels, on a table of `words` 64-bit words (a power of two) --- */

/* The HPCC generator advanced n steps from its start (HPCC_starts). */
uint64_t zbm_hpcc_starts(int64_t n);

/* t[i] = i: RandomAccess's initial table, and the table's first touch. */
void zbm_gups_fill(uint64_t *t, uint64_t words);

/* RandomAccess's update loop: `updates` (a multiple of 128) xor-updates at the HPCC sequence's
 * addresses, in 128 independent streams as HPCC's single-CPU core runs them. */
void zbm_gups_update(uint64_t *t, uint64_t words, uint64_t updates);

/* RandomAccess's verification: the same updates again, serially, then the words that are not
 * back to t[i] == i. HPCC accepts up to 1 % of the table. The table is left undone. */
uint64_t zbm_gups_verify(uint64_t *t, uint64_t words, uint64_t updates);

/* Links the table's 64-byte lines into one random cycle (word 0 of each line holds the word index
 * of the next line) and follows it `steps` times from line 0; returns where it ended, which the
 * caller must use so that the walk is not optimised away. */
void zbm_chase_fill(uint64_t *t, uint64_t words);
uint64_t zbm_chase_walk(const uint64_t *t, uint64_t steps);

/* What the timed part measured on one table. */
struct zbm_loops {
    uint64_t updates;     /* in: GUPS updates (a multiple of 128) */
    uint64_t chase_steps; /* in: dependent loads timed */
    double gups;          /* giga-updates per second */
    uint64_t errors;      /* words wrong after the verification */
    double chase_ns;      /* ns per dependent load */
    uint64_t loop_faults; /* page faults (minor + major) during the update loop and the chase */
};

/* On a table already filled by zbm_gups_fill(): timed updates, the verification (untimed), the
 * chase links (untimed) and the timed chase. */
void zbm_loops_run(uint64_t *t, uint64_t words, struct zbm_loops *l);

/* Standard sizes: updates = 4 per word (HPCC's NUPDATE); chase steps = one per line, at most
 * 2^22 (about half a second of misses). */
uint64_t zbm_default_updates(uint64_t words);
uint64_t zbm_default_chase_steps(uint64_t words);

/* Page faults of this process so far (getrusage: minor + major). */
uint64_t zbm_faults(void);

/* --- The in-process comparison --- */

struct zbm_bench_opts {
    uint64_t size;        /* table bytes; rounded down to a power of two (>= ZBM_BENCH_MIN_SIZE) */
    unsigned rounds;      /* 1..ZBM_BENCH_MAX_ROUNDS */
    uint64_t updates;     /* 0: zbm_default_updates() */
    uint64_t chase_steps; /* 0: zbm_default_chase_steps() */
    const char *sysroot;  /* for zbm_system_read ("" or NULL: the real /proc and /sys) */
    /* Called before each run: what it is, and runs done of total. */
    void (*progress)(void *arg, const char *what, unsigned done, unsigned total);
    void *progress_arg;
};

/* One kind in one round. */
struct zbm_bench_run {
    unsigned round, position; /* position in that round's order (0 first) */
    uint64_t alloc_ns;        /* the allocation call (bigmem: zbm_region_map, pre-faulting) */
    uint64_t touch_ns;        /* the first write of the whole table (zbm_gups_fill) */
    uint64_t alloc_faults, touch_faults;
    struct zbm_loops loops;
};

struct zbm_bench_kind {
    enum zbm_kind kind;
    bool ran;             /* false: skipped or failed, `note` says why */
    bool fell_back;       /* bigmem: the plan's fallback was used (note says which, and why) */
    char note[400];       /* why skipped, or how it fell back; "" otherwise */
    char pages[96];       /* the pages the kernel gave, from /proc/self/smaps (first run) */
    double huge_fraction; /* 0..1 of the table in huge pages */
    unsigned nruns;
    struct zbm_bench_run run[ZBM_BENCH_MAX_ROUNDS];
    /* Medians over the runs. */
    double gups, chase_ns;
    double alloc_ns, touch_ns, alloc_touch_ns;
    double alloc_touch_faults, runtime_faults, loop_faults;
    uint64_t errors_max; /* worst run */
    /* Speed-up over 4K (4K's figure / this kind's time, or this kind's GUPS / 4K's): higher is
     * faster; 0 when 4K did not run. */
    double gups_speedup, chase_speedup, alloc_touch_speedup;
};

struct zbm_bench_result {
    uint64_t table_bytes, words, updates, chase_steps;
    unsigned rounds;
    uint64_t pool_pages_needed; /* 2 MiB pages the 2M and bigmem kinds need (one at a time) */
    struct zbm_bench_kind kind[ZBM_KINDS];
};

/* The table size for a requested size (a power of two of words, 0 if below the minimum), and the
 * 2 MiB pages the hugetlb kinds need for it. */
uint64_t zbm_bench_table_bytes(uint64_t size);
uint64_t zbm_bench_pool_pages(uint64_t table_bytes);

/* Runs every kind `rounds` times, in a rotating order, and fills r (caller-owned: it is large).
 * A kind that cannot be had is skipped with the reason in its note; a run that fails marks the
 * kind failed and the others go on. Fails only when nothing could run. */
int zbm_bench_run(const struct zbm_bench_opts *o, struct zbm_bench_result *r,
                  struct zepto_err *err);

/* HPCC's check: at most 1 % of the table wrong after the verification, in every run. */
bool zbm_bench_verified(const struct zbm_bench_kind *kd, uint64_t words);

struct zb_json;
struct zbm_pool_change;

/* The result as one JSON object (medians, speed-ups, every run), with what was done to the pool
 * (ch may be NULL) and why the hugetlb kinds could not have it (pool_note, may be NULL). */
void zbm_bench_json(const struct zbm_bench_result *r, const struct zbm_pool_change *ch,
                    const char *pool_note, struct zb_json *j);

/* --- The 2 MiB pool, raised for a run and put back --- */

struct zbm_pool_change {
    bool changed;            /* nr_hugepages was raised and will be restored */
    uint64_t before, during; /* nr_hugepages */
};

/* Makes sure the 2 MiB hugetlb pool has `pages` free pages. When it has not and we are root, it
 * raises nr_hugepages (leaving `keep_free` bytes of memory available), and restores the old value
 * in zbm_pool_restore(), at exit, and on SIGINT, SIGTERM and SIGHUP (then re-raised). Fails with
 * -EPERM when not root, -ENOMEM when memory or the kernel falls short (nothing left changed). */
int zbm_pool_reserve(uint64_t pages, uint64_t keep_free, const char *sysroot,
                     struct zbm_pool_change *ch, struct zepto_err *err);
void zbm_pool_restore(void);

/* One mapping of a running program or of one of its libraries (`zepto bigmem info --pid`), from
 * /proc/PID/smaps: the writable and executable mappings of each file, and the anonymous mappings
 * right after them (.bss, and the huge-page copies `bigmem run --static` put in a segment's
 * place). Sizes in kB as smaps gives them. */
struct zbm_mapping {
    uint64_t start, end;
    char perms[5];    /* "rw-p" */
    char object[256]; /* the file the mapping belongs to */
    bool anon;        /* anonymous: .bss, or a moved segment */
    uint64_t rss_kb, kernel_page_kb, anon_huge_kb, file_pmd_kb, hugetlb_kb;
};

/* Parses the text of an smaps file into at most max mappings; returns how many. Any bytes. */
unsigned zbm_mappings_parse(const char *text, size_t len, struct zbm_mapping *out, unsigned max);

enum zbm_backing { ZBM_BACK_SMALL, ZBM_BACK_THP, ZBM_BACK_2M, ZBM_BACK_1G };
/* The pages backing a mapping: hugetlb (by its KernelPageSize), THP (any AnonHugePages or
 * FilePmdMapped), else small pages. */
enum zbm_backing zbm_mapping_backing(const struct zbm_mapping *m);
const char *zbm_backing_name(enum zbm_backing b); /* "4K", "THP", "2M hugetlb", "1G hugetlb" */
/* The bytes of the mapping in huge pages. */
uint64_t zbm_mapping_huge_bytes(const struct zbm_mapping *m);

#ifdef __cplusplus
}
#endif
#endif
