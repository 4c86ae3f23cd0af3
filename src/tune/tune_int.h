/*
 * What the files of the tune part share: the OS boundary (every read and write of /proc and
 * /sys, thread affinities, cpuset membership, all under ZEPTO_SYSROOT), value comparison, and
 * the plan's builders per group.
 */
#ifndef ZEPTO_TUNE_INT_H
#define ZEPTO_TUNE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/cpuset.h"
#include "zepto/tune.h"

#define ZT_CPUSET_NAME "zepto-housekeeping" /* the cpuset (v1) or cgroup (v2) daemons go into */

/* ---- os.c: the OS boundary ---- */
const char *zt_sysroot(void);
bool zt_fake(void); /* a fake tree: affinities and cpusets are files */
/* "SYSROOT" + rel into buf. */
const char *zt_path(const char *rel, char *buf, size_t len);
bool zt_exists(const char *rel);
/* The file's contents without the trailing newline; 0 or -errno. */
int zt_read(const char *rel, char *buf, size_t len);
/* Writes value (one write, as echo does); 0 or -errno as the kernel answered. */
int zt_write(const char *rel, const char *value);
int zt_mkdir(const char *rel);
int zt_rmdir(const char *rel);

struct zt_proc {
    int pid, ppid, sid;
    char comm[32];
    char state;
    unsigned long flags;
    unsigned long long starttime;
};
#define ZT_PF_KTHREAD        0x00200000UL
#define ZT_PF_NO_SETAFFINITY 0x04000000UL
int zt_proc_read(int pid, struct zt_proc *pr);
/* Calls fn for every process in /proc (ascending pid) until it returns non-zero. */
int zt_proc_each(int (*fn)(const struct zt_proc *pr, void *arg), void *arg);
int zt_affinity_get(int pid, struct zb_cpuset *set);
int zt_affinity_set(int pid, const struct zb_cpuset *set);
/* The process's cpuset path ("/" for the root cpuset). */
int zt_cpuset_of(int pid, char *buf, size_t len);
/* Moves a process into the cpuset at `cg` ("/" or "/zepto-housekeeping") of hierarchy `root`. */
int zt_cpuset_move(int pid, const char *root, const char *cg);

/* ---- values.c ---- */
/* Parses a hex cpumask ("3", "00000000,00000003"). */
int zt_mask_parse(const char *s, struct zb_cpuset *set);
/* The set as a hex cpumask in the kernel's form (32-bit words, comma-separated). */
const char *zt_mask_format(const struct zb_cpuset *set, char *buf, size_t len);
/* Whether the value read back (`now`) equals `want`, compared as the value type says. */
bool zt_value_equal(enum zepto_tune_value t, const char *now, const char *want);
/* For choice files ("always [madvise] never"): the selected word into buf. */
const char *zt_choice_selected(const char *s, char *buf, size_t len);

/* ---- plan.c: adding to a plan ---- */
struct zt_ctx {
    struct zb_cpuset app, hk, online;
    char app_list[256], hk_list[256];
    int keep_sid[32]; /* sessions of the caller and its ancestors: their processes stay */
    unsigned nkeep;
    int keep_pid[64]; /* the caller's ancestors themselves, also when their session is init's */
    unsigned nkeep_pid;
};
/* The sessions and the ancestors of the caller, which the daemons group leaves alone. */
void zt_keep_sessions(struct zt_ctx *c);
int zt_plan_add(struct zepto_tune_plan *p, enum zepto_tune_group g, enum zepto_tune_kind k,
                enum zepto_tune_value t, const char *target, const char *old_value,
                const char *new_value, const char *why);
/* A file change when the file exists and its value differs from new_value. */
int zt_plan_file(struct zepto_tune_plan *p, enum zepto_tune_group g, enum zepto_tune_value t,
                 const char *rel, const char *new_value, const char *why);
void zt_plan_note(struct zepto_tune_plan *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The builders, one per group (plan_irq.c, plan_threads.c, plan_sysctl.c). */
int zt_plan_irq(struct zepto_tune_plan *p, const struct zt_ctx *c);
int zt_plan_workqueue(struct zepto_tune_plan *p, const struct zt_ctx *c);
int zt_plan_kthreads(struct zepto_tune_plan *p, const struct zt_ctx *c);
int zt_plan_daemons(struct zepto_tune_plan *p, const struct zt_ctx *c);
int zt_plan_sysctl(struct zepto_tune_plan *p, const struct zt_ctx *c);
int zt_plan_thp(struct zepto_tune_plan *p, const struct zt_ctx *c);
int zt_plan_cpu(struct zepto_tune_plan *p, const struct zt_ctx *c);
void zt_plan_boot_advice(struct zepto_tune_plan *p, const struct zt_ctx *c);
/* After apply's moves: processes still in the root cpuset whose parent was confined (forked
 * between the plan and the parent's move) are moved too, in rounds until none is left. */
void zt_follow_moved(struct zepto_tune_plan *p);

/* ---- service.c: irqbalance under systemd ---- */
int zt_plan_irqbalance(struct zepto_tune_plan *p, enum zepto_tune_irqbalance mode);
/* Whether a SERVICE change read from a state file names what zepto tune does, nothing else. */
bool zt_service_valid(const char *target, const char *new_value);
void zt_service_do(struct zepto_tune_change *c, bool forward, enum zepto_tune_status ok);
/* 1 the change holds, 2 the old state is back, 0 something else. */
int zt_service_probe(const struct zepto_tune_change *c);

/* ---- state.c ---- */
int zt_state_write(const struct zepto_tune_plan *p, const char *path, const char *phase,
                   struct zepto_err *err);
/* Reads and checks (format, checksum, host, boot) a state file into p; -ENOENT when absent. */
int zt_state_read(const char *path, struct zepto_tune_plan *p, char *phase, size_t plen,
                  struct zepto_err *err);

/* Parses a state file's bytes (NUL-terminated, modified in place): format, checksum, every
 * change (paths only under the trees zepto tune writes). host and boot receive the file's. */
int zt_state_parse(char *buf, size_t len, const char *path, struct zepto_tune_plan *p, char *phase,
                   size_t plen, char *host, size_t hl, char *boot, size_t bl,
                   struct zepto_err *err);

/* ---- apply.c ---- */
/* 0, or -EPERM with a message saying that `what` needs root (not with a fake tree). */
int zt_need_root(const char *what, struct zepto_err *err);
/* Does one change (new value when forward, old value when not); sets status and result. */
void zt_change_do(struct zepto_tune_change *c, bool forward);
/* Whether the target still exists and which value it holds now: 1 new, 2 old, 0 other, -1 gone. */
int zt_change_probe(const struct zepto_tune_change *c);

#endif
