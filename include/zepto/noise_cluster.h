/*
 * Cluster-wide noise: the traces of several nodes analysed together (`noise analyse A B ...`),
 * with the node-level distribution and the outlier nodes.
 */
#ifndef ZEPTO_NOISE_CLUSTER_H
#define ZEPTO_NOISE_CLUSTER_H

#include <stdbool.h>

#include "zepto/noise.h"

#define ZN_CLUSTER_K          3.0    /* outlier: fraction > median + K * scale */
#define ZN_CLUSTER_MAD_SCALE  1.4826 /* MAD to standard deviation for normal data */
#define ZN_CLUSTER_REL_FLOOR  0.25   /* scale is at least this share of the median */
#define ZN_CLUSTER_PERIOD_TOL 0.05   /* two signatures match when periods differ by <= 5% */
#define ZN_CLUSTER_MIN_SHARE  0.01   /* signatures explaining less of a node's noise are ignored */
#define ZN_CLUSTER_FLAG_SHARE 0.10   /* a signature makes an outlier when it explains this much */

struct zn_cluster_node {
    const char *file;             /* trace file (not owned) */
    char name[96];                /* host, or "host (file)" when two traces share a host */
    const struct zn_trace *trace; /* not owned */
    const struct zn_summary *sum; /* not owned */
    bool outlier;
    char reason[512]; /* why it is an outlier, in words; empty otherwise */
};

/* A periodic signature as the cluster sees it: the first node's, and on how many nodes. */
struct zn_cluster_sig {
    const struct zn_signature *sig; /* of the first node that has it (not owned) */
    unsigned first;                 /* that node's index */
    unsigned nodes;                 /* how many nodes have it */
};

struct zn_cluster {
    unsigned n;
    struct zn_cluster_node *node;
    unsigned nsigs; /* distinct signatures over all nodes, in node order */
    struct zn_cluster_sig *sigs;
    double median, min, max, mad; /* of the per-node noise fraction */
    double limit;                 /* fraction above which a node is an outlier */
};

/* Fills c from n analysed traces; names, the distribution and outliers. */
int zn_cluster_build(struct zn_cluster *c, unsigned n, const char *const *files,
                     const struct zn_trace *const *t, const struct zn_summary *const *s,
                     struct zepto_err *err);
void zn_cluster_free(struct zn_cluster *c);

/* How many nodes carry a signature matching sig (period within ZN_CLUSTER_PERIOD_TOL). */
unsigned zn_cluster_sig_nodes(const struct zn_cluster *c, const struct zn_signature *sig);
/* Whether node i carries a signature matching sig. */
bool zn_cluster_node_has(const struct zn_cluster *c, unsigned i, const struct zn_signature *sig);
/* A signature on at most this many nodes is unusual: fewer than half of 3 or more nodes, or one
 * of two. */
unsigned zn_cluster_few(const struct zn_cluster *c);

/* The strongest signature of a node that counts, or NULL. */
const struct zn_signature *zn_cluster_strongest(const struct zn_summary *s);

void zn_cluster_json(const struct zn_cluster *c, struct zb_json *j);

#endif
