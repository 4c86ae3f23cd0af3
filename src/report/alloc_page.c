/*
 * The allocation's page, from its nodes' parts: reads each delivered node's trace
 * (nodes/HOST/data/noise.znt), builds the cluster view (include/zepto/noise_cluster.h: the
 * node-level distribution, outliers with their reasons, shared and unique signatures), predicts
 * allreduce at 10^3..10^6 ranks from all nodes' traces together (rank r replays CPU r of the
 * allocation, cycling, as `noise simulate DIR` does), and writes report.json here and
 * index.html through alloc_html.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/dir.h"
#include "base/json.h"
#include "report/alloc.h"
#include "report/probe.h"
#include "zepto/noise.h"
#include "zepto/noise_cluster.h"

static const char *state_name(enum zr_node_state s)
{
    return s == ZR_NODE_OK ? "ok" : s == ZR_NODE_FAILED ? "failed" : "missing";
}

/* Reads the traces of the delivered nodes; a node whose trace cannot be read becomes failed. */
static int load(struct zr_alloc_data *d, struct zr_alloc_node *node, unsigned n)
{
    d->traced = malloc(n * sizeof(*d->traced));
    d->trace = calloc(n, sizeof(*d->trace));
    d->sum = calloc(n, sizeof(*d->sum));
    d->file = calloc(n, sizeof(*d->file));
    if (!d->traced || !d->trace || !d->sum || !d->file)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        d->traced[i] = -1;
        if (node[i].state != ZR_NODE_OK)
            continue;
        char path[4400];
        struct zepto_err e = {0};
        snprintf(path, sizeof(path), "%s/nodes/%s/data/noise.znt", d->page->dir, node[i].host);
        unsigned k = d->ntraces;
        if (zn_trace_read(path, &d->trace[k], &e) || zn_analyse(d->trace[k], &d->sum[k], &e)) {
            zn_trace_free(d->trace[k]);
            d->trace[k] = NULL;
            node[i].state = ZR_NODE_FAILED;
            snprintf(node[i].why, sizeof(node[i].why), "its noise trace: %s", e.msg);
            continue;
        }
        if (!(d->file[k] = strdup(path)))
            return -ENOMEM;
        d->traced[i] = (int)k;
        d->ntraces++;
    }
    return 0;
}

/* Allreduce (recursive doubling) with 1 ms compute a step, as the node's report predicts it,
 * but every rank replaying one CPU of the whole allocation. */
static void predict(struct zr_alloc_data *d)
{
    struct zepto_err err = {0};
    unsigned np = 0, cap = 0;
    for (unsigned k = 0; k < d->ntraces; k++)
        cap += d->trace[k]->ncpu;
    struct zn_pattern *pat = calloc(cap ? cap : 1, sizeof(*pat));
    if (!pat) {
        snprintf(d->scale_error, sizeof(d->scale_error), "out of memory");
        return;
    }
    for (unsigned k = 0; k < d->ntraces; k++)
        for (unsigned c = 0; c < d->trace[k]->ncpu; c++, np++)
            if (zn_pattern_from_trace(d->trace[k], c, 1.0, &pat[np], &err)) {
                snprintf(d->scale_error, sizeof(d->scale_error), "%s: %s", d->file[k], err.msg);
                goto out;
            }
    if (!np) {
        snprintf(d->scale_error, sizeof(d->scale_error), "no node delivered a trace");
        goto out;
    }
    d->iters = d->page->quick ? 10 : 30;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t ranks = 1000;
    for (unsigned i = 0; i < ZR_ALLOC_SCALE_POINTS; i++, ranks *= 10) {
        d->ranks[i] = ranks;
        for (int ph = 0; ph < 2; ph++) {
            struct zn_sim_opts o = {
                .ranks = ranks,
                .algo = ZN_ALGO_RECURSIVE_DOUBLING,
                .iters = d->iters,
                .latency_ns = 1000,
                .overhead_ns = 200,
                .compute_ns = 1000000.0,
                .phase = ph ? ZN_PHASE_RANDOM : ZN_PHASE_SYNC,
                .seed = 1,
                .patterns = pat,
                .npatterns = np,
            };
            struct zn_sim_result r;
            if (zn_simulate(&o, &r, &err)) {
                snprintf(d->scale_error, sizeof(d->scale_error), "%s", err.msg);
                goto out;
            }
            d->slowdown[i][ph] = r.slowdown;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    d->predict_s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
out:
    for (unsigned i = 0; i < np; i++)
        zn_pattern_free(&pat[i]);
    free(pat);
}

/* Says how the nodes shared this machine's CPUs: nodes that recorded in turns, and nodes that
 * ran at once on other CPUs of one machine. */
static void sharing(struct zr_alloc_data *d)
{
    const struct zr_alloc_page *p = d->page;
    size_t used = 0;
    unsigned turns = 0, together = 0;
    for (unsigned i = 0; i < p->n; i++) {
        turns += p->node[i].waited_for[0] != 0;
        together += p->node[i].concurrent[0] != 0;
    }
    if (!turns && !together) {
        snprintf(d->sharing, sizeof(d->sharing),
                 "Every node ran on its own machine or its own CPUs: nothing was shared.");
        return;
    }
    used += (size_t)snprintf(d->sharing, sizeof(d->sharing), "%s",
                             "Some nodes of this allocation are on one machine. ");
    for (unsigned i = 0; i < p->n && used < sizeof(d->sharing); i++)
        if (p->node[i].waited_for[0])
            used += (size_t)snprintf(d->sharing + used, sizeof(d->sharing) - used,
                                     "%s shares CPU %s with %s and recorded after it. ",
                                     p->node[i].host, p->node[i].cpus, p->node[i].waited_for);
    if (turns && used < sizeof(d->sharing))
        used += (size_t)snprintf(d->sharing + used, sizeof(d->sharing) - used,
                                 "Nodes sharing a CPU recorded in turns, so no node's noise "
                                 "includes another node's measurements. ");
    if (together && used < sizeof(d->sharing))
        snprintf(d->sharing + used, sizeof(d->sharing) - used,
                 "Nodes on other CPUs of the same machine ran at the same time: their noise "
                 "includes what a neighbour on the same machine causes (caches, memory, the "
                 "hypervisor), as on any shared node.");
}

static void node_json(const struct zr_alloc_data *d, unsigned i, struct zb_json *j)
{
    const struct zr_alloc_node *nd = &d->page->node[i];
    char path[200];
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "host", nd->host);
    if (nd->index >= 0)
        zb_json_kv_i64(j, "index", nd->index);
    zb_json_kv_str(j, "state", state_name(nd->state));
    if (nd->why[0])
        zb_json_kv_str(j, nd->state == ZR_NODE_OK ? "note" : "error", nd->why);
    zb_json_kv_str(j, "cpus", nd->cpus);
    zb_json_key(j, "recorded_after");
    zb_json_str(j, nd->waited_for);
    zb_json_kv_str(j, "concurrent_with", nd->concurrent);
    if (nd->state == ZR_NODE_OK) {
        snprintf(path, sizeof(path), "nodes/%s/index.html", nd->host);
        zb_json_kv_str(j, "report", path);
        zb_json_kv_f64(j, "report_seconds", nd->seconds);
    }
    int k = d->traced[i];
    if (k >= 0 && d->cluster) {
        const struct zn_cluster_node *c = &d->cluster->node[k];
        const struct zn_cpu_summary *s = &c->sum->node;
        snprintf(path, sizeof(path), "nodes/%s/data/noise.znt", nd->host);
        zb_json_kv_str(j, "trace", path);
        zb_json_kv_u64(j, "trace_cpus", c->trace->ncpu);
        zb_json_kv_f64(j, "noise_fraction", s->noise_fraction);
        zb_json_kv_f64(j, "rate_per_s", s->rate_per_s);
        zb_json_kv_u64(j, "median_ns", s->median_ns);
        zb_json_kv_u64(j, "p99_ns", s->p99_ns);
        zb_json_kv_u64(j, "max_ns", s->max_ns);
        const struct zn_signature *g = zn_cluster_strongest(c->sum);
        zb_json_key(j, "strongest_signature");
        if (g) {
            zb_json_obj_begin(j);
            zb_json_kv_f64(j, "period_ns", g->period_ns);
            zb_json_kv_u64(j, "length_ns", g->length_ns);
            zb_json_kv_f64(j, "noise_share", g->noise_share);
            zb_json_kv_str(j, "cpus", g->cpus);
            zb_json_kv_u64(j, "nodes_with_it", zn_cluster_sig_nodes(d->cluster, g));
            zb_json_obj_end(j);
        } else {
            zb_json_null(j);
        }
        zb_json_kv_bool(j, "outlier", c->outlier);
        if (c->outlier)
            zb_json_kv_str(j, "outlier_reason", c->reason);
    }
    zb_json_obj_end(j);
}

static int write_json(const struct zr_alloc_data *d, const struct zr_ctx *ctx,
                      struct zepto_err *err)
{
    const struct zr_alloc_page *p = d->page;
    FILE *f = zr_open(ctx, "report.json.tmp", err);
    if (!f)
        return -err->code;
    struct zb_json j;
    unsigned ok = 0;
    for (unsigned i = 0; i < p->n; i++)
        ok += p->node[i].state == ZR_NODE_OK;
    zb_json_init(&j, f, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_str(&j, "zepto_version", zepto_version);
    zb_json_kv_str(&j, "zepto_commit", zepto_commit);
    zb_json_kv_str(&j, "date", d->when);
    zb_json_kv_bool(&j, "quick", p->quick);
    zb_json_key(&j, "allocation");
    zb_json_obj_begin(&j);
    zb_json_kv_str(&j, "launcher", p->alloc->launcher);
    zb_json_kv_str(&j, "job", p->alloc->job);
    zb_json_kv_str(&j, "nodelist", p->alloc->nodelist);
    zb_json_kv_u64(&j, "nodes_expected", p->n);
    zb_json_kv_u64(&j, "nodes_delivered", ok);
    zb_json_kv_f64(&j, "waited_s", p->waited_ns / 1e9);
    zb_json_kv_str(&j, "cpu_sharing", d->sharing);
    zb_json_obj_end(&j);
    zb_json_key(&j, "nodes");
    zb_json_arr_begin(&j);
    for (unsigned i = 0; i < p->n; i++)
        node_json(d, i, &j);
    zb_json_arr_end(&j);
    zb_json_key(&j, "cluster");
    if (d->cluster)
        zn_cluster_json(d->cluster, &j);
    else
        zb_json_null(&j);
    zb_json_key(&j, "predicted_allreduce");
    zb_json_obj_begin(&j);
    zb_json_kv_str(&j, "model",
                   "zepto noise simulate over all nodes' traces (rank r replays CPU r mod n of "
                   "the allocation): recursive doubling, L 1us, o 200ns, 1 ms compute per step");
    zb_json_kv_u64(&j, "iterations", d->iters);
    zb_json_kv_u64(&j, "patterns_nodes", d->ntraces);
    zb_json_kv_f64(&j, "seconds", d->predict_s);
    if (d->scale_error[0])
        zb_json_kv_str(&j, "error", d->scale_error);
    zb_json_key(&j, "points");
    zb_json_arr_begin(&j);
    for (unsigned i = 0; !d->scale_error[0] && i < ZR_ALLOC_SCALE_POINTS; i++) {
        zb_json_obj_begin(&j);
        zb_json_kv_u64(&j, "ranks", d->ranks[i]);
        zb_json_kv_f64(&j, "slowdown_sync", d->slowdown[i][0]);
        zb_json_kv_f64(&j, "slowdown_random", d->slowdown[i][1]);
        zb_json_obj_end(&j);
    }
    zb_json_arr_end(&j);
    zb_json_obj_end(&j);
    zb_json_obj_end(&j);
    int rc = zb_json_finish(&j);
    if (fclose(f) || rc)
        return zepto_fail(err, EIO, "%s/report.json: write error", p->dir);
    char from[4200], to[4200];
    snprintf(from, sizeof(from), "%s/report.json.tmp", p->dir);
    snprintf(to, sizeof(to), "%s/report.json", p->dir);
    if (rename(from, to))
        return zepto_fail(err, errno, "%s: %s", to, strerror(errno));
    return 0;
}

int zr_alloc_page_write(const struct zr_alloc_page *p, struct zepto_err *err)
{
    struct zr_alloc_data d = {.page = p};
    struct zepto_report_opts o = {.dir = p->dir, .quick = p->quick};
    struct zr_ctx ctx;
    zr_ctx_init(&ctx, &o);
    time_t now = time(NULL);
    strftime(d.when, sizeof(d.when), "%Y-%m-%d %H:%M:%S %z", localtime(&now));
    int rc = load(&d, p->node, p->n);
    struct zn_cluster cluster = {0};
    if (!rc && d.ntraces) {
        if ((rc = zn_cluster_build(&cluster, d.ntraces, (const char *const *)d.file,
                                   (const struct zn_trace *const *)d.trace,
                                   (const struct zn_summary *const *)d.sum, err)) == 0)
            d.cluster = &cluster;
    } else if (rc) {
        zepto_fail(err, -rc, "out of memory");
    }
    if (!rc) {
        predict(&d);
        sharing(&d);
        if ((rc = zb_make_dir(err, "%s/plots", p->dir)) == 0)
            rc = zb_make_dir(err, "%s/data", p->dir);
    }
    if (!rc)
        rc = write_json(&d, &ctx, err);
    if (!rc)
        rc = zr_alloc_html(&d, &ctx, err);
    if (d.cluster)
        zn_cluster_free(&cluster);
    for (unsigned k = 0; k < d.ntraces; k++) {
        zn_summary_free(d.sum[k]);
        zn_trace_free(d.trace[k]);
        free(d.file[k]);
    }
    free(d.traced);
    free(d.trace);
    free(d.sum);
    free(d.file);
    return rc;
}
