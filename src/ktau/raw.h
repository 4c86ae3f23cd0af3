/*
 * The per-thread files libktau writes into $KTAU_DIR (`ktau.<pid>.<tid>.bin`), and their reader:
 * the profile of one thread (routines with calls, child calls, inclusive and exclusive time) and
 * its enter/exit event log in CLOCK_MONOTONIC nanoseconds. Native byte order (little-endian on
 * x86-64); docs/FORMATS.md ("ktau") describes the layout.
 */
#ifndef ZEPTO_KTAU_RAW_H
#define ZEPTO_KTAU_RAW_H

#include <stdint.h>

#include "zepto/zepto.h"

#define KTAU_RAW_MAGIC   "ZKTAURAW"
#define KTAU_RAW_VERSION 1u

enum {
    KTAU_RAW_MAIN = 1u,      /* the process's main thread */
    KTAU_RAW_TRUNCATED = 2u, /* the event log hit its limit: events after it are missing */
    KTAU_RAW_RANK = 4u,      /* rank holds the process's MPI rank */
    KTAU_RAW_UEVENTS = 8u,   /* the events are followed by the atomic events (below) */
};

struct ktau_raw_header {
    char magic[8];    /* KTAU_RAW_MAGIC */
    uint32_t version; /* KTAU_RAW_VERSION */
    uint32_t flags;   /* KTAU_RAW_* */
    uint32_t pid, tid;
    uint32_t nroutines;
    uint32_t rank;     /* MPI rank when flags has KTAU_RAW_RANK, else 0 (was reserved, always 0) */
    uint64_t nevents;  /* events that follow the routines */
    uint64_t dropped;  /* events not logged (log limit) */
    uint64_t start_ns; /* CLOCK_MONOTONIC: the thread's first timer */
    uint64_t end_ns;   /* CLOCK_MONOTONIC: when the file was written */
    char comm[64];     /* the program's name, NUL-terminated */
};

/* Each routine: this record, then name_len bytes of name (no NUL), padded with zeros to 8. */
struct ktau_raw_routine {
    uint64_t calls, subrs;
    uint64_t incl_ns, excl_ns;
    uint32_t name_len;
    uint32_t kind; /* 0 root, 1 named timer, 2 instrumented function */
};

/* Each event. Index 0 is the root routine. */
struct ktau_raw_event {
    uint64_t t_ns;    /* CLOCK_MONOTONIC */
    uint32_t rid_dir; /* routine index << 1, | 1 for an exit */
    uint32_t pad;
};

/* With KTAU_RAW_UEVENTS, after the events: a uint64_t count, then each atomic event (TAU's user
 * event): this record, then name_len bytes of name (no NUL), padded with zeros to 8. */
struct ktau_raw_uevent {
    uint64_t n;
    double min, max, sum, sumsq;
    uint32_t name_len;
    uint32_t pad;
};

/* A file read back. */
struct ktau_raw_thread {
    struct ktau_raw_header h;
    struct ktau_raw_routine *routines; /* nroutines */
    char **names;                      /* nroutines, NUL-terminated */
    struct ktau_raw_event *events;     /* h.nevents */
    uint64_t nuev;                     /* atomic events */
    struct ktau_raw_uevent *uev;       /* nuev */
    char **uev_names;                  /* nuev, NUL-terminated */
};

/* Reads a file; 0 or a negative errno with err naming the file and the problem. */
int ktau_raw_read(const char *path, struct ktau_raw_thread *out, struct zepto_err *err);
void ktau_raw_free(struct ktau_raw_thread *t);

#endif
