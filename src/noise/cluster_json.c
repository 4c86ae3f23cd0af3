/*
 * The cluster view as JSON (`noise analyse A B ... --json`): nodes, distribution, outliers,
 * signatures shared by all nodes or seen on some only.
 */
#include "base/json.h"
#include "zepto/noise_cluster.h"

static void sig_json(const struct zn_cluster *c, const struct zn_signature *s, struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_f64(j, "period_ns", s->period_ns);
    zb_json_kv_u64(j, "length_ns", s->length_ns);
    zb_json_kv_f64(j, "noise_share_fraction", s->noise_share);
    zb_json_kv_str(j, "cpus", s->cpus);
    zb_json_kv_u64(j, "nodes_with_it", zn_cluster_sig_nodes(c, s));
    zb_json_obj_end(j);
}

static void node_json(const struct zn_cluster *c, const struct zn_cluster_node *nd,
                      struct zb_json *j)
{
    const struct zn_cpu_summary *s = &nd->sum->node;
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "host", nd->trace->host);
    zb_json_kv_str(j, "name", nd->name);
    zb_json_kv_str(j, "file", nd->file);
    zb_json_kv_u64(j, "cpus", nd->trace->ncpu);
    zb_json_kv_u64(j, "duration_ns", nd->trace->duration_ns);
    zb_json_kv_u64(j, "start_unix_ns", nd->trace->start_unix_ns);
    zb_json_kv_f64(j, "noise_fraction", s->noise_fraction);
    zb_json_kv_f64(j, "rate_per_s", s->rate_per_s);
    zb_json_kv_u64(j, "p99_ns", s->p99_ns);
    zb_json_kv_u64(j, "max_ns", s->max_ns);
    zb_json_key(j, "signatures");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < s->nsig; i++)
        if (s->sig[i].noise_share >= ZN_CLUSTER_MIN_SHARE)
            sig_json(c, &s->sig[i], j);
    zb_json_arr_end(j);
    zb_json_kv_bool(j, "outlier", nd->outlier);
    zb_json_kv_str(j, "reason", nd->reason);
    zb_json_obj_end(j);
}

void zn_cluster_json(const struct zn_cluster *c, struct zb_json *j)
{
    zb_json_obj_begin(j);
    zb_json_kv_u64(j, "schema_version", 1); /* docs/schema/ */
    zb_json_kv_u64(j, "nodes_count", c->n);
    zb_json_key(j, "noise_fraction");
    zb_json_obj_begin(j);
    zb_json_kv_f64(j, "median", c->median);
    zb_json_kv_f64(j, "min", c->min);
    zb_json_kv_f64(j, "max", c->max);
    zb_json_kv_f64(j, "mad", c->mad);
    zb_json_kv_f64(j, "outlier_above", c->limit);
    zb_json_obj_end(j);
    zb_json_key(j, "nodes");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < c->n; i++)
        node_json(c, &c->node[i], j);
    zb_json_arr_end(j);
    zb_json_key(j, "outliers");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < c->n; i++)
        if (c->node[i].outlier) {
            zb_json_obj_begin(j);
            zb_json_kv_str(j, "name", c->node[i].name);
            zb_json_kv_str(j, "reason", c->node[i].reason);
            zb_json_obj_end(j);
        }
    zb_json_arr_end(j);
    /* Each distinct signature once, with the nodes that have it. */
    zb_json_key(j, "signatures");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < c->nsigs; i++) {
        const struct zn_cluster_sig *g = &c->sigs[i];
        zb_json_obj_begin(j);
        zb_json_kv_f64(j, "period_ns", g->sig->period_ns);
        zb_json_kv_u64(j, "length_ns", g->sig->length_ns);
        zb_json_kv_bool(j, "shared", g->nodes == c->n);
        zb_json_key(j, "nodes");
        zb_json_arr_begin(j);
        for (unsigned k = 0; k < c->n; k++)
            if (zn_cluster_node_has(c, k, g->sig))
                zb_json_str(j, c->node[k].name);
        zb_json_arr_end(j);
        zb_json_obj_end(j);
    }
    zb_json_arr_end(j);
    zb_json_obj_end(j);
}
