/*
 * zepto report: characterise this node with every part of Zepto and write an HTML page with
 * plots (index.html) and the same figures as JSON (report.json).
 */
#ifndef ZEPTO_REPORT_H
#define ZEPTO_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "zepto/zepto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct zepto_report_opts {
    const char *dir; /* output directory, created when missing */
    bool quick;      /* shorter measurements (seconds instead of tens of seconds) */
    bool
        tune_check; /* root: the tune section measures noise untuned and tuned (zepto tune check) */
};

/* Progress: the probe running, what it does, and the time left for the whole report. */
typedef void (*zepto_report_progress_fn)(void *arg, const char *probe, const char *what,
                                         uint64_t left_ns);

/* Runs every probe and writes the report. A probe that fails is reported in its section; the
 * report as a whole fails only when it cannot be written. */
int zepto_report_run(const struct zepto_report_opts *opts, zepto_report_progress_fn progress,
                     void *arg, struct zepto_err *err);

/* Time the report is expected to take with these options. */
uint64_t zepto_report_estimate_ns(const struct zepto_report_opts *opts);

/* ---- one page for an allocation (`srun -N 4 zepto report -o DIR`) ------------------------ */

/* The job step a task runs in, from the launcher's environment: Slurm (SLURM_JOB_ID,
 * SLURM_STEP_ID, SLURM_PROCID, SLURM_NODEID, SLURM_LOCALID, SLURM_STEP_NUM_NODES,
 * SLURM_STEP_NODELIST, SLURMD_NODENAME) or Open MPI (OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK,
 * _LOCAL_SIZE). */
struct zepto_report_alloc {
    char launcher[16]; /* "slurm" or "openmpi" */
    char job[128];  /* the step's key: cluster, job, step and launcher port ("zepto5-7.0-41555") */
    unsigned nodes; /* nodes in the step */
    int node_index; /* this task's node, 0..nodes-1; -1 when the launcher does not say */
    unsigned rank;  /* this task */
    unsigned ntasks;
    bool node_leader;    /* the first task of its node: the one that does the node's work */
    char host[64];       /* the node's name (SLURMD_NODENAME, else the host name) */
    char nodelist[1024]; /* SLURM_STEP_NODELIST as given; empty for Open MPI */
};

/* Fills a from the environment. 1: a job step of more than one task; 0: not in one (the
 * single-node report applies); negative errno with err filled when the environment is
 * inconsistent (names the variable). */
int zepto_report_alloc_detect(struct zepto_report_alloc *a, struct zepto_err *err);

struct zepto_report_alloc_result {
    bool assembled;     /* this task wrote DIR/index.html */
    unsigned expected;  /* nodes of the step */
    unsigned delivered; /* nodes whose report made it onto the page */
    char missing[512];  /* names of the nodes that did not (comma separated, may be shortened) */
    uint64_t wait_ns;   /* how long the assembler waited at most for the others */
};

/* This task's part of the allocation report: the node's leader runs the node's report into
 * DIR/nodes/HOST (in turns with the other nodes that share its CPUs on one machine) and leaves
 * its part; the first node's leader then waits at most wait_ns (0: a minute plus the node
 * report's time, as measured, times the nodes) for the others' and writes
 * DIR/index.html and DIR/report.json. Other tasks of a node return at once. 0 when this task's
 * work went well (res says whether nodes are missing); negative errno otherwise. */
int zepto_report_alloc_run(const struct zepto_report_opts *opts, const struct zepto_report_alloc *a,
                           uint64_t wait_ns, zepto_report_progress_fn progress, void *arg,
                           struct zepto_report_alloc_result *res, struct zepto_err *err);

#ifdef __cplusplus
}
#endif
#endif
