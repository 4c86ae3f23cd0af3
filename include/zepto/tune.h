/*
 * zepto tune: make a node quiet for an application that runs on some of its CPUs.
 *
 * A plan lists every change, each with the value it finds and the value it would write: device
 * IRQ affinities, unbound kernel threads and workqueues, user-space daemons (moved into a
 * housekeeping cpuset), sysctls that put per-CPU work on every CPU (vmstat, watchdog, RT
 * throttling, NUMA balancing), khugepaged's defrag, and per-CPU frequency governors and idle
 * states where they exist. What needs a reboot is given as advice with the line to add.
 *
 * Applying first saves every old value to a state file (written atomically, with a checksum, the
 * host and the boot it belongs to), then writes and reads back each new value. Restoring puts
 * back what the state file says, in reverse order, and is idempotent; the state file is the
 * truth, so a restore also works after the applying process was killed half-way.
 *
 * Every path is read and written under ZEPTO_SYSROOT when it is set (tests give a fake tree; in
 * that mode thread affinities and cpuset membership are written into the fake /proc files).
 */
#ifndef ZEPTO_TUNE_H
#define ZEPTO_TUNE_H

#include <stdbool.h>
#include <stdio.h>

#include "zepto/zepto.h"

/* The groups of the plan, in the order they are printed and applied. */
enum zepto_tune_group {
    ZT_GROUP_IRQ,       /* /proc/irq: default affinity and each device IRQ */
    ZT_GROUP_WORKQUEUE, /* unbound workqueues' cpumask */
    ZT_GROUP_KTHREAD,   /* unbound kernel threads */
    ZT_GROUP_DAEMONS,   /* user-space processes: a housekeeping cpuset */
    ZT_GROUP_SYSCTL,    /* vmstat interval, watchdog CPUs, RT throttling, timers, NUMA balancing */
    ZT_GROUP_THP,       /* memory: khugepaged defrag, THP defrag, free page reporting */
    ZT_GROUP_CPU,       /* frequency governor and idle states of the application CPUs */
    ZT_GROUP_COUNT
};

/* What a change touches. */
enum zepto_tune_kind {
    ZT_KIND_FILE,     /* a /proc or /sys file: old and new are its contents */
    ZT_KIND_AFFINITY, /* a thread's CPU affinity: old and new are CPU lists */
    ZT_KIND_CGDIR,    /* a cpuset the tuning creates: old "absent", new its CPU list */
    ZT_KIND_CGMOVE,   /* a process moved between cpusets: old and new are cpuset paths */
    ZT_KIND_SERVICE   /* irqbalance under systemd: old its state ("active"), new "stopped" or
                         "banned:CPULIST" (restarted with a runtime drop-in) */
};

/* What apply does with a running irqbalance (under systemd; otherwise a note says what to do). */
enum zepto_tune_irqbalance {
    ZT_IRQBALANCE_BAN,  /* default: restart it with the application CPUs banned */
    ZT_IRQBALANCE_STOP, /* stop it for the tuning's lifetime */
    ZT_IRQBALANCE_LEAVE /* leave it (a note says it will undo the IRQ changes) */
};

/* How the values of a file compare (a cpumask read back as "3" equals one written as "03"). */
enum zepto_tune_value { ZT_VALUE_TEXT, ZT_VALUE_CPULIST, ZT_VALUE_CPUMASK, ZT_VALUE_CHOICE };

/* What happened to a change. */
enum zepto_tune_status {
    ZT_PENDING,  /* planned, not yet written */
    ZT_APPLIED,  /* written and read back */
    ZT_REFUSED,  /* the kernel refused or kept another value: `result` says what */
    ZT_GONE,     /* the file or the thread no longer exists */
    ZT_RESTORED, /* the old value is back */
};

struct zepto_tune_change {
    enum zepto_tune_group group;
    enum zepto_tune_kind kind;
    enum zepto_tune_value vtype;
    char target[256];             /* the path (FILE, CGDIR), the cpuset hierarchy (CGMOVE) */
    char comm[32];                /* the process's name (AFFINITY, CGMOVE) */
    int pid;                      /* AFFINITY, CGMOVE */
    unsigned long long starttime; /* the process's start time, so a reused pid is noticed */
    char *old_value;              /* as found (malloc'd) */
    char *new_value;              /* as it will be written (malloc'd) */
    char why[160];
    char affinity[256]; /* CGMOVE: the process's CPU affinity before the move (a cpuset move
                           resets it), put back on every thread after moving back */
    enum zepto_tune_status status;
    char result[160]; /* the kernel's answer when REFUSED or GONE */
};

struct zepto_tune_plan {
    char app_cpus[256]; /* the application CPUs, as a list */
    char housekeeping[256];
    struct zepto_tune_change *changes;
    unsigned count, cap;
    char boot_advice[512]; /* kernel parameters to add ("" when nothing is missing) */
    char notes[4][256];    /* what cannot be changed at run time here (irqbalance, cgroups) */
    unsigned nnotes;
};

struct zepto_tune_opts {
    const char *app_cpus;     /* required: the CPUs the application runs on */
    const char *housekeeping; /* NULL: CPU 0 and its SMT siblings */
    enum zepto_tune_irqbalance irqbalance;
};

/* The CPUs an application would get on this node by default: the online CPUs but CPU 0 and
 * its siblings ("" on a single-CPU node). */
const char *zepto_tune_default_app(char *buf, size_t len);

/* Builds the plan for this node (unprivileged: only reads). */
int zepto_tune_plan_make(const struct zepto_tune_opts *o, struct zepto_tune_plan *p,
                         struct zepto_err *err);
void zepto_tune_plan_free(struct zepto_tune_plan *p);

const char *zepto_tune_group_name(enum zepto_tune_group g);
const char *zepto_tune_status_name(enum zepto_tune_status s);

/* The default state file (/run/zepto/tune.state; ZEPTO_TUNE_STATE overrides it). */
const char *zepto_tune_default_state(void);

/* Applies a plan (root): writes the state file first (refuses when one exists: a tuning is in
 * effect), then each change, reading it back. Changes the kernel refuses are marked in the plan
 * and kept in the state; the return is 0 even then (the caller reports them). */
int zepto_tune_apply(struct zepto_tune_plan *p, const char *state_path, struct zepto_err *err);

/* Restores from the state file: every change back to its old value, in reverse order. Removes
 * the state file when everything is back (or gone). *nothing is set when there was no state
 * file. Changes that could not be restored leave the state file in place and return -EIO. */
int zepto_tune_restore(const char *state_path, struct zepto_tune_plan *done, bool *nothing,
                       struct zepto_err *err);

/* Reads the state file and compares each change with the machine: status APPLIED when the new
 * value is in effect, RESTORED when the old one is back, REFUSED (drift) when something else
 * is there, GONE when the target has disappeared. *nothing when no state file exists. */
int zepto_tune_status(const char *state_path, struct zepto_tune_plan *now, bool *nothing,
                      struct zepto_err *err);

/* Writes the plan (or a status/restore result) as JSON / as text. */
int zepto_tune_plan_json(const struct zepto_tune_plan *p, FILE *f);
void zepto_tune_plan_text(const struct zepto_tune_plan *p, bool show_status, FILE *f);

/* ---- check: noise on the application CPUs before and after, alternating in one run ---- */

struct zepto_tune_check_opts {
    const char *app_cpus, *housekeeping, *state;
    unsigned long long phase_ns; /* each recording (default 5 s) */
    unsigned rounds;             /* untuned/tuned pairs (default 2) */
    bool explain;                /* attribute detours to causes (root and tracefs) */
    volatile int *stop;          /* set (by a signal handler) to end after the current
                                    recording, with the node restored: -EINTR */
};

struct zepto_tune_check_cause {
    char label[80];           /* "irq virtio3-rx", "unknown (host)" */
    unsigned long long ns[2]; /* detour time untuned [0] and tuned [1] */
    unsigned long long detours[2];
    bool guest; /* the guest kernel traced it (not "unknown (host)") */
    bool tick;  /* the timer tick: irq local_timer and the softirqs it raises */
};

struct zepto_tune_check {
    char app_cpus[256], housekeeping[256];
    unsigned rounds;
    unsigned long long measured_ns[2], detours[2], detour_ns[2];
    bool explained;
    char explain_note[200]; /* why there are no causes */
    unsigned ncause;
    struct zepto_tune_check_cause *cause; /* by untuned time, largest first */
    unsigned changes, refused;            /* of the last apply */
    bool virtual_machine;                 /* the CPU says it runs under a hypervisor */
};

int zepto_tune_check(const struct zepto_tune_check_opts *o, struct zepto_tune_check *out,
                     struct zepto_err *err);
void zepto_tune_check_free(struct zepto_tune_check *c);
/* The guest-attributable detour time other than the tick, untuned [0] and tuned [1]. */
void zepto_tune_check_guest(const struct zepto_tune_check *c, unsigned long long out[2]);
void zepto_tune_check_text(const struct zepto_tune_check *c, FILE *f);
int zepto_tune_check_json(const struct zepto_tune_check *c, FILE *f);

#endif
