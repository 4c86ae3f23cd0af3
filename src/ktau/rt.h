/*
 * The inside of libktau (the runtime loaded into profiled programs): per-thread state, the clock,
 * and what the timer code (rt.c), the write-out (rt_write.c) and the symbol resolver (rt_sym.c)
 * share. Nothing here is visible outside the library.
 *
 * A thread's state is one anonymous mapping (no malloc: the library may be preloaded into a
 * program whose allocator is itself being set up), created at the thread's first timer. The event
 * log grows by chunks, so that logging takes no page faults inside the
 * regions it measures more than once per chunk: chunks are 2 MiB, aligned and advised for a
 * transparent huge page, and touched when mapped (one fault instead of 512; MAP_POPULATE alone
 * left the first writes slow on the VM this was measured on).
 */
#ifndef ZEPTO_KTAU_RT_H
#define ZEPTO_KTAU_RT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/clock.h"
#include "ktau/raw.h"

#define KT_HIDDEN       __attribute__((visibility("hidden")))
#define KT_MAX_DEPTH    1024u       /* timers running at once on a thread */
#define KT_MAX_ROUTINES 8192u       /* routines per thread (the last one collects the rest) */
#define KT_HASH_SIZE    16384u      /* power of two, twice KT_MAX_ROUTINES */
#define KT_CHUNK_EVENTS 131072u     /* events per log chunk (2 MiB: one huge page) */
#define KT_LOG_MAX_DEF  (64u << 20) /* bytes of log per thread by default (KTAU_LOG_MAX) */
#define KT_MAX_UEVENTS  1024u       /* atomic events per thread (more are counted as dropped) */
#define KT_UE_HASH      2048u       /* power of two, twice KT_MAX_UEVENTS */
#define KT_LIKELY(x)    __builtin_expect(!!(x), 1)
#define KT_UNLIKELY(x)  __builtin_expect(!!(x), 0)

enum kt_key_kind {
    KT_KEY_ROOT = 0, /* the thread's implicit outermost routine (the program's name) */
    KT_KEY_NAME = 1, /* ktau_start(name): the key is the name's address */
    KT_KEY_FUNC = 2, /* -finstrument-functions: the key is the function's address */
};

struct kt_routine {
    uintptr_t key;    /* name or function address */
    const char *name; /* KT_KEY_NAME: the caller's string; else NULL until resolved */
    uint64_t calls;   /* completed and running calls */
    uint64_t subrs;   /* calls of other timers started while this one was innermost */
    uint64_t incl;    /* clock ticks, outermost instances only (recursion counted once) */
    uint64_t excl;    /* clock ticks */
    uint32_t active;  /* instances on the stack (for recursion) */
    uint8_t kind;     /* enum kt_key_kind */
    uint8_t excluded; /* KTAU_EXCLUDE matched: enter/exit do nothing */
    uint8_t warned;   /* a mismatched stop of this name was reported */
    uint8_t resolved; /* name filled in (for KT_KEY_FUNC) */
    char sym[128];    /* resolved name of a function (truncated) */
};

struct kt_frame {
    uint64_t start; /* clock ticks */
    uint64_t child; /* inclusive ticks of the timers it called */
    uint32_t rid;
    uint32_t pad;
};

struct kt_event {
    uint64_t t;       /* clock ticks (nanoseconds in the file) */
    uint32_t rid_dir; /* routine index << 1 | 1 for exit */
    uint32_t pad;
};

struct kt_chunk {
    struct kt_chunk *next;
    struct kt_event ev[KT_CHUNK_EVENTS - 1]; /* the chunk is KT_CHUNK_EVENTS events long */
};

/* A slot of the lookup table: a key (name or function address) and its routine. Several keys may
 * lead to one routine (the same name text at two addresses). */
struct kt_slot {
    uintptr_t key;
    uint32_t rid1; /* routine index + 1; 0 = empty */
    uint32_t kind;
};

/* An atomic event (TAU's "user event"): a value recorded many times, kept as count, min, max,
 * sum and sum of squares. Found by the address of its name, like named timers. */
struct kt_uevent {
    const char *name; /* the caller's string: must live as long as the thread */
    uint64_t n;
    double min, max, sum, sumsq;
};

struct kt_thread {
    pid_t pid, tid;
    uint32_t depth;    /* frames on the stack */
    uint32_t overflow; /* starts beyond KT_MAX_DEPTH not pushed (their stops are skipped) */
    uint32_t nroutines;
    uint32_t nkeys; /* used slots of hash */
    uint32_t is_main;
    struct kt_event *log_cur, *log_end; /* free space of the current chunk */
    struct kt_chunk *first, *last;      /* the log */
    uint64_t log_bytes;                 /* mapped for the log */
    uint64_t dropped;                   /* events not logged: the log limit was reached */
    uint64_t start_ticks;
    _Atomic int written;    /* the thread's file has been written (at its exit) */
    struct kt_thread *next; /* all threads of the process, for the write-out at exit */
    struct kt_slot hash[KT_HASH_SIZE];
    struct kt_frame stack[KT_MAX_DEPTH];
    struct kt_routine routines[KT_MAX_ROUTINES];
    uint32_t nuev;                 /* used entries of uev */
    uint32_t uev_dropped;          /* values of events beyond KT_MAX_UEVENTS */
    uint16_t uev_hash[KT_UE_HASH]; /* index + 1 into uev, by name address; 0 = empty */
    struct kt_uevent uev[KT_MAX_UEVENTS];
};

/* Process-wide settings, fixed by the constructor (read-mostly afterwards). */
struct kt_global {
    bool use_tsc;         /* the clock is the TSC (converted to CLOCK_MONOTONIC at write-out) */
    bool have_exclude;    /* KTAU_EXCLUDE is set: functions are resolved at first sight */
    uint64_t log_max;     /* bytes of event log per thread */
    uint64_t tsc0, mono0; /* a TSC / CLOCK_MONOTONIC pair taken at start */
    _Atomic int rank;     /* MPI rank naming the profiles (ktau_set_rank, the launcher's
                             environment), or -1 */
    char dir[4096];       /* KTAU_DIR, or "" */
    char exclude[1024];   /* KTAU_EXCLUDE */
    char comm[64];        /* the program's name (root routine) */
};

extern struct kt_global kt_g KT_HIDDEN;
extern __thread struct kt_thread *kt_self KT_HIDDEN __attribute__((tls_model("initial-exec")));
extern struct kt_thread *_Atomic kt_threads KT_HIDDEN;

static inline uint64_t kt_now(void)
{
    return KT_LIKELY(kt_g.use_tsc) ? zb_tsc_read() : zb_mono_read();
}

/* The calling thread's state, created on first use; NULL when it cannot be had. */
struct kt_thread *kt__thread_new(void) KT_HIDDEN;
/* A new log chunk; false when the log limit is reached (the event is counted as dropped). */
bool kt__log_grow(struct kt_thread *t) KT_HIDDEN;
/* Reads the settings (idempotent); called by the constructor and by the first timer. */
void kt__init(void) KT_HIDDEN;

/* Converts clock ticks to CLOCK_MONOTONIC nanoseconds, given a second pair taken now. */
struct kt_conv {
    long double scale; /* ns per tick */
    uint64_t tsc0, mono0;
    bool tsc;
};
void kt__conv_now(struct kt_conv *c) KT_HIDDEN;
static inline uint64_t kt_conv_ns(const struct kt_conv *c, uint64_t ticks)
{
    if (!c->tsc)
        return ticks;
    long double d = (long double)(int64_t)(ticks - c->tsc0) * c->scale;
    return (uint64_t)((long double)c->mono0 + d);
}

/* Fills r->sym with the function's name (dladdr, then the ELF .symtab of its object). */
void kt__resolve(struct kt_routine *r) KT_HIDDEN;
/* Whether name matches one of the comma-separated globs in list. */
bool kt__excluded(const char *list, const char *name) KT_HIDDEN;

/* Called once a new thread's state is complete: arranges its write-out at thread exit. */
void kt__thread_registered(struct kt_thread *t) KT_HIDDEN;

/* Writes one thread's file into dir; 0 or a negative errno. */
int kt__write_thread(struct kt_thread *t, const char *dir) KT_HIDDEN;

#endif
