/*
 * Cluster-wide noise: node-level distribution of the noise fraction and the outlier rule
 * (median + K * MAD, and periodic signatures seen on a minority of nodes).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/noise_cluster.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool counts(const struct zn_signature *s)
{
    return s->noise_share >= ZN_CLUSTER_MIN_SHARE;
}

const struct zn_signature *zn_cluster_strongest(const struct zn_summary *s)
{
    for (unsigned i = 0; i < s->node.nsig; i++)
        if (counts(&s->node.sig[i]))
            return &s->node.sig[i];
    return NULL;
}

static bool has_sig(const struct zn_summary *s, const struct zn_signature *sig)
{
    for (unsigned i = 0; i < s->node.nsig; i++) {
        const struct zn_signature *o = &s->node.sig[i];
        if (counts(o) &&
            fabs(o->period_ns - sig->period_ns) <= ZN_CLUSTER_PERIOD_TOL * sig->period_ns)
            return true;
    }
    return false;
}

bool zn_cluster_node_has(const struct zn_cluster *c, unsigned i, const struct zn_signature *sig)
{
    return i < c->n && has_sig(c->node[i].sum, sig);
}

unsigned zn_cluster_few(const struct zn_cluster *c)
{
    return c->n >= 3 ? (c->n - 1) / 2 : c->n == 2;
}

unsigned zn_cluster_sig_nodes(const struct zn_cluster *c, const struct zn_signature *sig)
{
    unsigned k = 0;
    for (unsigned i = 0; i < c->n; i++)
        k += has_sig(c->node[i].sum, sig);
    return k;
}

static void name_nodes(struct zn_cluster *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        bool dup = false;
        for (unsigned k = 0; k < c->n; k++)
            if (k != i && !strcmp(c->node[k].trace->host, c->node[i].trace->host))
                dup = true;
        if (dup)
            snprintf(c->node[i].name, sizeof c->node[i].name, "%s (%s)", c->node[i].trace->host,
                     c->node[i].file);
        else
            snprintf(c->node[i].name, sizeof c->node[i].name, "%s", c->node[i].trace->host);
    }
}

static void add_reason(struct zn_cluster_node *nd, const char *text)
{
    size_t len = strlen(nd->reason);
    snprintf(nd->reason + len, sizeof nd->reason - len, "%s%s", len ? "; " : "", text);
    nd->outlier = true;
}

static void flag(struct zn_cluster *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        struct zn_cluster_node *nd = &c->node[i];
        char buf[256];
        double f = nd->sum->node.noise_fraction;
        if (c->n >= 3 && f > c->limit) {
            if (c->median > 0)
                snprintf(buf, sizeof buf, "%.1fx the median noise fraction", f / c->median);
            else
                snprintf(buf, sizeof buf, "noise fraction %.3g%% where the median is 0", f * 100);
            add_reason(nd, buf);
        }
        /* With two nodes a signature on one only is the best evidence there is: no median of
         * two tells which node is the odd one, but a period the other lacks does. */
        for (unsigned s = 0; s < nd->sum->node.nsig; s++) {
            const struct zn_signature *sig = &nd->sum->node.sig[s];
            /* Every machine has small per-CPU periodic work (a kworker every 100 ms): only a
             * signature that explains a real share of the node's noise makes it an outlier. */
            if (sig->noise_share < ZN_CLUSTER_FLAG_SHARE ||
                zn_cluster_sig_nodes(c, sig) > zn_cluster_few(c))
                continue;
            snprintf(buf, sizeof buf, "%.1f us every %.2f ms on CPU %s not seen on %s",
                     sig->length_ns / 1e3, sig->period_ns / 1e6, sig->cpus,
                     c->n == 2 ? "the other node" : "most nodes");
            add_reason(nd, buf);
        }
    }
}

/* The distinct signatures: each counted signature of each node, unless an earlier one (of an
 * earlier node, or earlier in this node's list) matches it. O(signatures^2 x nodes), small. */
static int group_sigs(struct zn_cluster *c, struct zepto_err *err)
{
    unsigned cap = 0;
    for (unsigned i = 0; i < c->n; i++)
        cap += c->node[i].sum->node.nsig;
    c->sigs = calloc(cap ? cap : 1, sizeof *c->sigs);
    if (!c->sigs) {
        zn_cluster_free(c);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < c->n; i++) {
        const struct zn_cpu_summary *s = &c->node[i].sum->node;
        for (unsigned k = 0; k < s->nsig; k++) {
            const struct zn_signature *sig = &s->sig[k];
            bool seen = !counts(sig);
            for (unsigned g = 0; g < c->nsigs && !seen; g++)
                seen = fabs(c->sigs[g].sig->period_ns - sig->period_ns) <=
                       ZN_CLUSTER_PERIOD_TOL * sig->period_ns;
            if (!seen)
                c->sigs[c->nsigs++] = (struct zn_cluster_sig){sig, i, zn_cluster_sig_nodes(c, sig)};
        }
    }
    return 0;
}

int zn_cluster_build(struct zn_cluster *c, unsigned n, const char *const *files,
                     const struct zn_trace *const *t, const struct zn_summary *const *s,
                     struct zepto_err *err)
{
    memset(c, 0, sizeof *c);
    c->node = calloc(n, sizeof *c->node);
    double *v = malloc(n * sizeof *v);
    if (!c->node || !v) {
        free(v);
        zn_cluster_free(c);
        return zepto_fail(err, ENOMEM, "out of memory");
    }
    c->n = n;
    for (unsigned i = 0; i < n; i++) {
        c->node[i] = (struct zn_cluster_node){.file = files[i], .trace = t[i], .sum = s[i]};
        v[i] = s[i]->node.noise_fraction;
    }
    c->median = median_of(v, n);
    c->min = v[0];
    c->max = v[n - 1];
    for (unsigned i = 0; i < n; i++)
        v[i] = fabs(v[i] - c->median);
    c->mad = median_of(v, n);
    free(v);
    double scale = fmax(ZN_CLUSTER_MAD_SCALE * c->mad, ZN_CLUSTER_REL_FLOOR * c->median);
    c->limit = c->median + ZN_CLUSTER_K * scale;
    name_nodes(c);
    flag(c);
    return group_sigs(c, err);
}

void zn_cluster_free(struct zn_cluster *c)
{
    free(c->node);
    free(c->sigs);
    c->node = NULL;
    c->sigs = NULL;
    c->n = c->nsigs = 0;
}
