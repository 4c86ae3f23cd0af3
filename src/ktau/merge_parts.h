/*
 * What the files of the merge share (merge.c, entry_names.c, chrome_trace.c, merge_jobs.c): the
 * kernel entries a merge names, the Chrome trace it writes, and the threads ("jobs") it merges
 * with their TAU numbers. Private to src/ktau.
 */
#ifndef ZEPTO_KTAU_MERGE_PARTS_H
#define ZEPTO_KTAU_MERGE_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/json.h"
#include "ktau/merge.h"

/* entry_names.c: the kernel entries of a merge ("sys_getppid", "irq 24 virtio0",
 * "softirq TIMER", "preempted"...), each in one of KTAU's TAU groups. */
enum kt_kgroup { KT_G_SYSCALL, KT_G_IRQ, KT_G_BH, KT_G_SCHED, KT_G_EXC };

/* The TAU group of each kt_kgroup ("KTAU_SYSCALL"...). */
extern const char *const kt_group_names[];

struct kt_kname {
    char name[96];
    enum kt_kgroup group;
};

struct kt_knames {
    struct kt_kname *names;
    size_t n, cap;
};

/* The index of (name, group), added when new; UINT32_MAX when out of memory. */
uint32_t kt_kname_id(struct kt_knames *k, const char *name, enum kt_kgroup g);
void kt_knames_free(struct kt_knames *k);

/* chrome_trace.c: trace.json, Chrome's trace event format. */
struct kt_trace {
    struct zb_json json;
    bool on;          /* a trace is being written */
    uint64_t t0;      /* CLOCK_MONOTONIC of ts 0 */
    uint64_t events;  /* written */
    uint64_t dropped; /* left out past the limit */
};

/* Starts the trace into f (NULL: no trace; every call below then does nothing). */
void kt_trace_begin(struct kt_trace *t, FILE *f, uint64_t t0);
/* A complete event ("X") of dur ns, or an instant ("i") when dur is UINT64_MAX. */
void kt_trace_event(struct kt_trace *t, const char *name, const char *cat, uint64_t start,
                    uint64_t dur, uint32_t pid, uint32_t tid);
/* The name of thread tid shown by the viewers. */
void kt_trace_thread_name(struct kt_trace *t, uint32_t pid, uint32_t tid, const char *name);
/* Ends the trace; 0 or a negative errno from the writer. */
int kt_trace_end(struct kt_trace *t);

/* merge_jobs.c: one thread to merge, with its numbers in TAU's files. */
struct kt_job {
    uint32_t pid, tid;
    struct ktau_raw_thread *user; /* or NULL */
    size_t k0, k1;                /* its kernel records */
    uint64_t start, end;
    int rank;                  /* MPI rank of its process, or -1 */
    const char *comm;          /* its program's name: from a libktau file of its process, else
                                  in->comm */
    int node, context, thread; /* profile.<node>.<context>.<thread> */
};

/* The threads of a merge in their profiles' order: one per libktau file and per thread seen
 * only by the kernel (and the root process when nothing else was seen of it), numbered.
 * 0 or -ENOMEM. */
int kt_jobs_make(const struct ktau_merge_in *in, struct kt_job **jobs, size_t *n);

#endif
