/*
 * A plan (or the result of apply, restore, status) as text for people and as JSON for scripts.
 */
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "tune/tune_int.h"

static const char *kind_name(enum zepto_tune_kind k)
{
    switch (k) {
    case ZT_KIND_FILE: return "file";
    case ZT_KIND_AFFINITY: return "affinity";
    case ZT_KIND_CGDIR: return "cpuset";
    case ZT_KIND_CGMOVE: return "move";
    case ZT_KIND_SERVICE: return "service";
    }
    return "?";
}

/* What the change touches, as a person reads it. */
static const char *what(const struct zepto_tune_change *c, char *buf, size_t len)
{
    if (c->kind == ZT_KIND_AFFINITY || c->kind == ZT_KIND_CGMOVE)
        snprintf(buf, len, "pid %d (%s)", c->pid, c->comm);
    else
        snprintf(buf, len, "%s", c->target);
    return buf;
}

void zepto_tune_plan_text(const struct zepto_tune_plan *p, bool show_status, FILE *f)
{
    fprintf(f, "application CPUs: %s   housekeeping CPUs: %s\n", p->app_cpus, p->housekeeping);
    for (int g = 0; g < ZT_GROUP_COUNT; g++) {
        unsigned n = 0;
        for (unsigned i = 0; i < p->count; i++)
            n += p->changes[i].group == (enum zepto_tune_group)g;
        if (!n)
            continue;
        fprintf(f, "\n%s (%u change%s)\n", zepto_tune_group_name((enum zepto_tune_group)g), n,
                n == 1 ? "" : "s");
        for (unsigned i = 0; i < p->count; i++) {
            const struct zepto_tune_change *c = &p->changes[i];
            char w[300];
            if (c->group != (enum zepto_tune_group)g)
                continue;
            fprintf(f, "  %-44s %s -> %s", what(c, w, sizeof(w)), c->old_value, c->new_value);
            if (show_status)
                fprintf(f, "  [%s%s%s]", zepto_tune_status_name(c->status),
                        c->result[0] ? ": " : "", c->result);
            fprintf(f, "\n      %s\n", c->why);
        }
    }
    if (!p->count)
        fprintf(f, "\nnothing to change at run time\n");
    if (p->boot_advice[0])
        fprintf(f, "\nneeds a reboot: add to the kernel command line:\n  %s\n", p->boot_advice);
    for (unsigned i = 0; i < p->nnotes; i++)
        fprintf(f, "\nnote: %s\n", p->notes[i]);
}

int zepto_tune_plan_json(const struct zepto_tune_plan *p, FILE *f)
{
    struct zb_json j;
    zb_json_init(&j, f, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "schema_version", 1);
    zb_json_kv_str(&j, "app_cpus", p->app_cpus);
    zb_json_kv_str(&j, "housekeeping_cpus", p->housekeeping);
    zb_json_key(&j, "changes");
    zb_json_arr_begin(&j);
    for (unsigned i = 0; i < p->count; i++) {
        const struct zepto_tune_change *c = &p->changes[i];
        zb_json_obj_begin(&j);
        zb_json_kv_str(&j, "group", zepto_tune_group_name(c->group));
        zb_json_kv_str(&j, "kind", kind_name(c->kind));
        if (c->kind == ZT_KIND_AFFINITY || c->kind == ZT_KIND_CGMOVE) {
            zb_json_kv_i64(&j, "pid", c->pid);
            zb_json_kv_str(&j, "comm", c->comm);
        }
        if (c->target[0])
            zb_json_kv_str(&j, "target", c->target);
        zb_json_kv_str(&j, "old", c->old_value);
        zb_json_kv_str(&j, "new", c->new_value);
        zb_json_kv_str(&j, "why", c->why);
        zb_json_kv_str(&j, "status", zepto_tune_status_name(c->status));
        if (c->result[0])
            zb_json_kv_str(&j, "result", c->result);
        zb_json_obj_end(&j);
    }
    zb_json_arr_end(&j);
    zb_json_kv_str(&j, "boot_advice", p->boot_advice);
    zb_json_key(&j, "notes");
    zb_json_arr_begin(&j);
    for (unsigned i = 0; i < p->nnotes; i++)
        zb_json_str(&j, p->notes[i]);
    zb_json_arr_end(&j);
    zb_json_obj_end(&j);
    return zb_json_finish(&j);
}
