/*
 * `zepto noise analyse A.znt B.znt ...` or `... DIR`: loads the traces of several nodes, checks
 * they can be compared, and prints the cluster view (table or JSON).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/noise_cluster.h"
#include "zepto/noise_cluster.h"

#define CMD "noise analyse"

struct loaded {
    unsigned n;
    char **file;
    struct zn_trace **t;
    struct zn_summary **s;
};

static void loaded_free(struct loaded *l)
{
    for (unsigned i = 0; i < l->n; i++) {
        zn_summary_free(l->s[i]);
        zn_trace_free(l->t[i]);
    }
    cli_noise_files_free(l->file, l->n);
    free(l->t);
    free(l->s);
}

/* Reads and analyses each file; a bad one is left out, and named on stderr (one warning line
 * each) when some trace is left to analyse, else in the one line that says none is (first). */
static unsigned load(struct loaded *l, char *first, size_t first_len, unsigned *bad)
{
    unsigned k = 0;
    char **why = calloc(l->n ? l->n : 1, sizeof *why);
    *bad = 0;
    for (unsigned i = 0; i < l->n; i++) {
        struct zepto_err err = {0};
        struct zn_trace *t = NULL;
        struct zn_summary *s = NULL;
        if (zn_trace_read(l->file[i], &t, &err) || zn_analyse(t, &s, &err)) {
            char line[sizeof(err.msg) + 512];
            if (strstr(err.msg, l->file[i]))
                snprintf(line, sizeof line, "%s", err.msg);
            else
                snprintf(line, sizeof line, "%s: %s", l->file[i], err.msg);
            if (!*bad)
                snprintf(first, first_len, "%s", line);
            if (why)
                why[*bad] = strdup(line);
            (*bad)++;
            zn_trace_free(t);
            free(l->file[i]);
            continue;
        }
        l->file[k] = l->file[i];
        l->t[k] = t;
        l->s[k] = s;
        k++;
    }
    l->n = k;
    for (unsigned i = 0; why && i < *bad; i++) {
        if (k && why[i])
            fprintf(stderr, "zepto %s: warning: left out: %s\n", CMD, why[i]);
        free(why[i]);
    }
    free(why);
    return k;
}

/* Traces compared must share a clock kind; a host seen twice is warned about. */
static int check(const struct loaded *l)
{
    for (unsigned i = 1; i < l->n; i++)
        if (strcmp(l->t[i]->clock, l->t[0]->clock)) {
            fprintf(stderr, "zepto %s: %s uses clock %s but %s uses %s: not comparable\n", CMD,
                    l->file[i], l->t[i]->clock, l->file[0], l->t[0]->clock);
            return EXIT_FAIL;
        }
    for (unsigned i = 0; i < l->n; i++)
        for (unsigned k = i + 1; k < l->n; k++)
            if (!strcmp(l->t[i]->host, l->t[k]->host))
                fprintf(stderr, "zepto %s: warning: %s and %s are both from host %s\n", CMD,
                        l->file[i], l->file[k], l->t[i]->host);
    return 0;
}

/* Where a cluster signature is seen: "shared by all N nodes", "zn2 only (CPU 1)", or the
 * nodes that have it, "zn2, zn3 (2 of 6 nodes)". */
static void sig_where(const struct zn_cluster *c, const struct zn_cluster_sig *g, char *buf,
                      size_t len)
{
    if (g->nodes == c->n) {
        snprintf(buf, len, "shared by all %u nodes", c->n);
        return;
    }
    if (g->nodes == 1) {
        snprintf(buf, len, "%s only (CPU %s)", c->node[g->first].name, g->sig->cpus);
        return;
    }
    size_t used = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < c->n && used < len; i++)
        if (zn_cluster_node_has(c, i, g->sig)) {
            int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", c->node[i].name);
            used += w > 0 ? (size_t)w : 0;
        }
    if (used < len)
        snprintf(buf + used, len - used, " (%u of %u nodes)", g->nodes, c->n);
}

/* Each distinct signature once: those of all nodes first, then the others. */
static void print_sigs(const struct zn_cluster *c)
{
    printf("\nsignatures:\n%12s %12s  %s\n", "period", "length", "where");
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < c->nsigs; i++) {
            const struct zn_cluster_sig *g = &c->sigs[i];
            if ((g->nodes == c->n) != !pass)
                continue;
            char where[1024];
            sig_where(c, g, where, sizeof where);
            printf("%9.2f ms %9.1f us  %s\n", g->sig->period_ns / 1e6, g->sig->length_ns / 1e3,
                   where);
        }
    if (!c->nsigs)
        printf("  none\n");
}

static void print_text(const struct zn_cluster *c)
{
    printf("%-24s %5s %10s %10s %10s %10s %10s  %s\n", "node", "cpus", "duration", "noise",
           "rate/s", "p99", "max", "strongest signature");
    for (unsigned i = 0; i < c->n; i++) {
        const struct zn_cluster_node *nd = &c->node[i];
        const struct zn_cpu_summary *s = &nd->sum->node;
        const struct zn_signature *sig = zn_cluster_strongest(nd->sum);
        char sb[96] = "-";
        if (sig)
            snprintf(sb, sizeof sb, "%.1f us every %.2f ms on CPU %s", sig->length_ns / 1e3,
                     sig->period_ns / 1e6, sig->cpus);
        printf("%-24s %5u %9.1fs %9.4f%% %10.1f %8.1fus %8.1fus  %s\n", nd->name, nd->trace->ncpu,
               nd->trace->duration_ns / 1e9, s->noise_fraction * 100, s->rate_per_s,
               s->p99_ns / 1e3, s->max_ns / 1e3, sb);
    }
    printf("\nnoise fraction over %u nodes: median %.4f%%, min %.4f%%, max %.4f%%, MAD %.4f%%\n",
           c->n, c->median * 100, c->min * 100, c->max * 100, c->mad * 100);
    if (c->n >= 3)
        printf("outlier rule: fraction above %.4f%% (median + %.0f x max(%.4f x MAD, %.2f x "
               "median)), or a periodic signature explaining >= %.0f%% of a node's noise on "
               "fewer than half the nodes\n",
               c->limit * 100, ZN_CLUSTER_K, ZN_CLUSTER_MAD_SCALE, ZN_CLUSTER_REL_FLOOR,
               ZN_CLUSTER_FLAG_SHARE * 100);
    else
        printf("outlier rule: a periodic signature explaining >= %.0f%% of a node's noise that "
               "the other node lacks (no robust statistic of the fraction with %u nodes)\n",
               ZN_CLUSTER_FLAG_SHARE * 100, c->n);
    unsigned nout = 0;
    for (unsigned i = 0; i < c->n; i++)
        if (c->node[i].outlier)
            printf("%s %s: %s\n", nout++ ? "        " : "outliers:", c->node[i].name,
                   c->node[i].reason);
    if (!nout)
        printf("outliers: none\n");
    print_sigs(c);
}

int cli_noise_cluster(int nops, char **ops, bool json)
{
    struct loaded l = {0};
    int status = cli_noise_files(CMD, nops, ops, &l.file, &l.n);
    if (!status) {
        l.t = calloc(l.n, sizeof *l.t);
        l.s = calloc(l.n, sizeof *l.s);
        if (!l.t || !l.s) {
            fprintf(stderr, "zepto %s: out of memory\n", CMD);
            status = EXIT_FAIL;
        }
    }
    char first[1024] = "";
    unsigned bad = 0;
    if (!status && !load(&l, first, sizeof first, &bad)) {
        fprintf(stderr, "zepto %s: no valid trace to analyse (%u left out; first: %s)\n", CMD, bad,
                first);
        status = EXIT_FAIL;
    }
    if (!status)
        status = check(&l);
    struct zn_cluster c = {0};
    struct zepto_err err = {0};
    if (!status &&
        zn_cluster_build(&c, l.n, (const char *const *)l.file, (const struct zn_trace *const *)l.t,
                         (const struct zn_summary *const *)l.s, &err))
        status = cli_fail(CMD, &err);
    if (!status && json) {
        struct zb_json j;
        zb_json_init(&j, stdout, true);
        zn_cluster_json(&c, &j);
        status = zb_json_finish(&j) ? EXIT_FAIL : 0;
    } else if (!status) {
        print_text(&c);
    }
    zn_cluster_free(&c);
    loaded_free(&l);
    return status;
}
