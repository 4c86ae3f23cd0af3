/*
 * The allocation report's internals (`srun -N 4 zepto report -o DIR`): the Slurm host list, the
 * small `key value` files the tasks leave in the shared directory, the protocol that makes them
 * cooperate without MPI, and the page that the first node's task assembles from their parts.
 *
 * Layout of DIR: index.html and report.json (the allocation), nodes/HOST/ (each node's own
 * report), parts/JOB/ (the coordination files of one job step: claim.HOST, hello.HOST,
 * done.HOST, part.HOST; JOB names the cluster, job, step and srun, so that a leftover DIR of an
 * earlier job is never mixed in).
 */
#ifndef ZEPTO_REPORT_ALLOC_H
#define ZEPTO_REPORT_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zepto/report.h"

#define ZR_HOSTLIST_MAX 4096 /* nodes in one allocation */
#define ZR_HOST_MAX     64   /* a host name, with its NUL */

/* Expands a Slurm host list ("zn[1-4,7],io[01-02]") into *names (n x ZR_HOST_MAX bytes, the
 * caller frees). Fails on a malformed list, a name too long or more than max names. */
int zr_hostlist_expand(const char *list, unsigned max, char (**names)[ZR_HOST_MAX], unsigned *n,
                       struct zepto_err *err);

/* Do two CPU lists ("0-3,8") share a CPU? True also when one cannot be read. */
bool zr_cpus_overlap(const char *a, const char *b);

/* ---- key value files ---------------------------------------------------------------------- */

#define ZR_KV_MAX     24  /* keys in one file */
#define ZR_KV_VAL_MAX 512 /* a value, with its NUL */

/* A parsed file: lines `key value` (key [a-z_]+, value up to the end of the line). */
struct zr_kv {
    unsigned n;
    char key[ZR_KV_MAX][32];
    char val[ZR_KV_MAX][ZR_KV_VAL_MAX];
};

/* Parses buf (len bytes; not NUL-terminated). Fails on a line without a key, a bad key, a
 * value too long, a NUL byte or too many keys; the message names `what`. */
int zr_kv_parse(const char *buf, size_t len, const char *what, struct zr_kv *kv,
                struct zepto_err *err);
/* Reads and parses path (at most 64 KiB). -ENOENT when it does not exist. */
int zr_kv_read(const char *path, struct zr_kv *kv, struct zepto_err *err);
/* The value of key, or NULL. */
const char *zr_kv_get(const struct zr_kv *kv, const char *key);
/* Writes text to path atomically: a temporary name in the same directory, then rename. */
int zr_write_atomic(const char *path, const char *text, struct zepto_err *err);

/* ---- the page ------------------------------------------------------------------------------ */

enum zr_node_state { ZR_NODE_OK, ZR_NODE_FAILED, ZR_NODE_MISSING };

/* What the assembler knows of one node of the allocation. */
struct zr_alloc_node {
    char host[ZR_HOST_MAX];
    int index;                /* node index in the step (Slurm), or -1 */
    enum zr_node_state state; /* delivered, failed (with why), or never delivered */
    char why[ZR_KV_VAL_MAX];  /* FAILED: its error; MISSING: what was seen of it */
    char cpus[128];           /* CPUs it ran on ("0") */
    char boot_id[48];         /* the machine it ran on */
    char waited_for[256];     /* nodes it recorded after (they shared its CPUs) */
    char concurrent[256];     /* nodes of the same machine that ran at once on other CPUs */
    uint64_t start_ns;        /* its node report's start and end (CLOCK_REALTIME) */
    uint64_t end_ns;
    double seconds; /* its node report's wall time */
};

struct zr_alloc_page {
    const struct zepto_report_alloc *alloc;
    const char *dir;
    bool quick;
    uint64_t waited_ns; /* how long the assembler waited for the parts */
    unsigned n;
    struct zr_alloc_node *node;
};

/* Writes DIR/report.json and DIR/index.html from the nodes' parts and their traces
 * (DIR/nodes/HOST/data/noise.znt). */
int zr_alloc_page_write(const struct zr_alloc_page *p, struct zepto_err *err);

/* What the page shows, loaded from the nodes' traces (alloc_page.c) and written as HTML
 * (alloc_html.c). */
#define ZR_ALLOC_SCALE_POINTS 4 /* 10^3 .. 10^6 ranks */

struct zn_trace;
struct zn_summary;

struct zr_alloc_data {
    const struct zr_alloc_page *page;
    unsigned ntraces;           /* nodes with a trace */
    int *traced;                /* per node: its index among the traces, or -1 */
    struct zn_trace **trace;    /* ntraces */
    struct zn_summary **sum;    /* ntraces */
    char **file;                /* ntraces: the trace files */
    struct zn_cluster *cluster; /* NULL when no node has a trace */
    uint64_t ranks[ZR_ALLOC_SCALE_POINTS];
    double slowdown[ZR_ALLOC_SCALE_POINTS][2]; /* sync, random */
    unsigned iters;
    char scale_error[256];
    double predict_s;   /* what the prediction took */
    char sharing[1024]; /* how the nodes shared CPUs and machines, in words */
    char when[64];
};

struct zr_ctx;
/* Writes DIR/index.html. */
int zr_alloc_html(const struct zr_alloc_data *d, const struct zr_ctx *ctx, struct zepto_err *err);

#endif
