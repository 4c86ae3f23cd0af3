/*
 * The common start of a cluster-wide recording (`srun -N 4 zepto noise record -o DIR`): every
 * task of the job registers in a directory of the shared output DIR, waits (bounded) until all
 * have, and derives from the same files the same plan: one common start time, and time slots for
 * tasks that would measure the same CPUs of the same machine (several nodes of the namespace test
 * cluster on one host), so that no task's recording steals from another's.
 *
 * A registration is one line of text, a file per rank in DIR/.zepto-sync-KEY/:
 *   zepto-noise-sync 1 rank=R host=HOST boot=BOOT_ID cpus=LIST t=REALTIME_NS
 * Rank 0 also writes DIR/.zepto-nodes, the traces the recording will write, so that `analyse
 * DIR` can say which node's trace is missing:
 *   zepto-noise-nodes 1 job=KEY tasks=N
 *   HOST.znt            (one line per task; HOST.rRANK.znt when tasks share a host name)
 */
#ifndef ZEPTO_NOISE_RENDEZVOUS_H
#define ZEPTO_NOISE_RENDEZVOUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zepto/zepto.h"

#define ZN_RV_MAX_TASKS 4096
#define ZN_RV_NAME      96 /* a trace's file name, NUL included */
#define ZN_RV_MANIFEST  ".zepto-nodes"
#define ZN_RV_LEAD_NS   300000000ull /* common start: this long after the last registration */
#define ZN_RV_CALIB_NS  700000000ull /* a slot begins with this long to set up and calibrate */
#define ZN_RV_GAP_NS    100000000ull /* and ends with this long before the next slot */
#define ZN_RV_POLL_NS   10000000ull  /* registrations are looked for this often */

struct zn_rv_task {
    unsigned rank;
    char host[64];
    char boot[48];     /* /proc/sys/kernel/random/boot_id: one per machine (and boot) */
    uint64_t cpus[16]; /* the CPUs it records, a bit mask (CPUs 0..1023) */
    uint64_t t_ns;     /* when it registered, CLOCK_REALTIME */
};

struct zn_rv_plan {
    unsigned ntasks;
    unsigned slot, nslots;    /* this task's slot, and how many there are */
    bool dup_host;            /* another task has the same host name */
    char name[ZN_RV_NAME];    /* this task's trace file name in the directory */
    uint64_t begin_unix_ns;   /* this task's slot begins (set up, calibrate) */
    uint64_t start_unix_ns;   /* this task's recording starts */
    uint64_t end_all_unix_ns; /* every slot is over */
};

/* Decodes one registration; -EINVAL with a line naming what is wrong. The fuzzer's target. */
int zn_rv_parse(const char *buf, size_t len, struct zn_rv_task *out, struct zepto_err *err);
/* The line of a registration (NUL-terminated, newline-ended); -ENAMETOOLONG when it does not fit.
 */
int zn_rv_format(const struct zn_rv_task *t, char *buf, size_t len);

/* The plan of task `me` among tasks[0..n) (indexed by rank): slots by rank order, each task in the
 * first slot that no lower rank of the same machine with an overlapping CPU set holds. */
void zn_rv_plan(const struct zn_rv_task *tasks, unsigned n, unsigned me, uint64_t duration_ns,
                struct zn_rv_plan *plan);

struct zn_rv_opts {
    const char *dir;               /* the shared output directory (exists) */
    const char *key;               /* the job (and step): one sync directory per run */
    unsigned rank, size;           /* this task, of size */
    const struct zn_rv_task *self; /* this task's registration (t_ns is set here) */
    uint64_t duration_ns;
    uint64_t timeout_ns; /* how long to wait for every task to register */
};

/* Registers, waits until all size tasks have, and plans. On a timeout: -ETIMEDOUT, naming how
 * many tasks came and the first missing rank; the own registration is removed. */
int zn_rendezvous(const struct zn_rv_opts *o, struct zn_rv_plan *plan, struct zepto_err *err);
struct zn_rv_manifest {
    char key[96];
    unsigned ntasks; /* as the header says */
    unsigned n;      /* names read (== ntasks) */
    char (*name)[ZN_RV_NAME];
};

/* Decodes DIR/.zepto-nodes; -EINVAL with a line naming what is wrong. The fuzzer's target. */
int zn_rv_manifest_parse(const char *buf, size_t len, struct zn_rv_manifest *m,
                         struct zepto_err *err);
void zn_rv_manifest_free(struct zn_rv_manifest *m);

/* Removes the sync directory (rank 0, once every slot is over). */
void zn_rendezvous_cleanup(const char *dir, const char *key);

#endif
