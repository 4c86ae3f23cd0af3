/*
 * `zepto tune check`: noise on the application CPUs untuned and tuned, alternating in one run
 * (untuned, apply, tuned, restore, and again), with the detours attributed to their causes when
 * the kernel capture is allowed, so that what the tuning removed and what remains can be read
 * cause by cause.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpuset.h"
#include "base/json.h"
#include "base/sysinfo.h"
#include "tune/tune_int.h"
#include "zepto/noise.h"

static bool is_tick(const char *label)
{
    static const char *const tick[] = {"irq local_timer", "softirq TIMER", "softirq SCHED",
                                       "softirq RCU"};
    for (size_t i = 0; i < sizeof(tick) / sizeof(tick[0]); i++)
        if (!strcmp(label, tick[i]))
            return true;
    return false;
}

static int add_cause(struct zepto_tune_check *c, const char *label, bool guest, int phase,
                     unsigned long long ns, unsigned long long n)
{
    unsigned i;
    for (i = 0; i < c->ncause; i++)
        if (!strcmp(c->cause[i].label, label))
            break;
    if (i == c->ncause) {
        struct zepto_tune_check_cause *nc = realloc(c->cause, (c->ncause + 1) * sizeof(*nc));
        if (!nc)
            return -ENOMEM;
        c->cause = nc;
        memset(&nc[i], 0, sizeof(nc[i]));
        snprintf(nc[i].label, sizeof(nc[i].label), "%s", label);
        nc[i].guest = guest;
        nc[i].tick = is_tick(label);
        c->ncause++;
    }
    c->cause[i].ns[phase] += ns;
    c->cause[i].detours[phase] += n;
    return 0;
}

/* One recording on the application CPUs, added to phase `phase` of c. */
static int record_once(const struct zepto_tune_check_opts *o, const struct zb_cpuset *app,
                       struct zepto_tune_check *c, int phase, bool *explain, struct zepto_err *err)
{
    int cpus[ZB_CPU_MAX];
    unsigned ncpu = zb_cpuset_list(app, cpus, ZB_CPU_MAX);
    struct zn_record_opts ro = {.cpus = cpus, .ncpu = ncpu, .duration_ns = o->phase_ns};
    struct zn_recorder *rec = NULL;
    struct zn_explainer *ex = NULL;
    struct zn_trace *t = NULL;
    struct zn_summary *s = NULL;
    int rc = zn_recorder_new(&ro, &rec, err);
    if (rc)
        return rc;
    if (*explain) {
        struct zepto_err e2 = {0};
        if (zn_explainer_start(&ro, &ex, &e2)) {
            *explain = false;
            snprintf(c->explain_note, sizeof(c->explain_note), "%s", e2.msg);
        }
    }
    rc = zn_recorder_run(rec, NULL, NULL, err);
    if (!rc && !(t = zn_recorder_take_trace(rec)))
        rc = zepto_fail(err, EIO, "the recorder gave no trace");
    if (ex) {
        struct zepto_err e2 = {0};
        if (zn_explainer_finish(ex, rec, rc ? NULL : t, &e2) && !rc) {
            *explain = false;
            snprintf(c->explain_note, sizeof(c->explain_note), "%s", e2.msg);
        }
        zn_explainer_free(ex);
    }
    if (!rc)
        rc = zn_analyse(t, &s, err);
    if (!rc) {
        c->measured_ns[phase] += s->node.measured_ns;
        c->detours[phase] += s->node.detours;
        c->detour_ns[phase] += s->node.detour_ns;
        for (unsigned i = 0; i < s->node.ncause && !rc; i++) {
            const struct zn_cause_summary *cs = &s->node.cause[i];
            char label[80];
            if (cs->cause >= t->ncauses)
                continue;
            zn_cause_label(&t->causes[cs->cause], label, sizeof(label));
            rc = add_cause(c, label, t->causes[cs->cause].kind != ZN_CAUSE_UNKNOWN, phase,
                           cs->detour_ns, cs->detours);
        }
        if (rc)
            rc = zepto_fail(err, ENOMEM, "out of memory");
    }
    zn_summary_free(s);
    zn_trace_free(t);
    zn_recorder_free(rec);
    return rc;
}

static int by_untuned_time(const void *a, const void *b)
{
    const struct zepto_tune_check_cause *x = a, *y = b;
    return x->ns[0] < y->ns[0] ? 1 : x->ns[0] > y->ns[0] ? -1 : strcmp(x->label, y->label);
}

int zepto_tune_check(const struct zepto_tune_check_opts *o, struct zepto_tune_check *c,
                     struct zepto_err *err)
{
    memset(c, 0, sizeof(*c));
    int rc = zt_need_root("zepto tune check", err); /* it applies and restores */
    if (rc)
        return rc;
    struct zepto_tune_opts po = {.app_cpus = o->app_cpus, .housekeeping = o->housekeeping};
    struct zepto_tune_plan plan;
    rc = zepto_tune_plan_make(&po, &plan, err); /* checks the CPU lists before recording */
    if (rc)
        return rc;
    snprintf(c->app_cpus, sizeof(c->app_cpus), "%s", plan.app_cpus);
    snprintf(c->housekeeping, sizeof(c->housekeeping), "%s", plan.housekeeping);
    zepto_tune_plan_free(&plan);
    struct zb_cpuset app;
    zb_cpuset_parse(c->app_cpus, &app, NULL);
    char flags[4096] = "";
    zb_sysinfo_cpu_flags(flags, sizeof(flags));
    c->virtual_machine = strstr(flags, "hypervisor") != NULL;
    c->rounds = o->rounds ? o->rounds : 2;
    struct zepto_tune_check_opts oo = *o;
    if (!oo.phase_ns)
        oo.phase_ns = 5000000000ULL;
    bool explain = o->explain;
    for (unsigned r = 0; r < c->rounds && !rc; r++) {
        if ((rc = record_once(&oo, &app, c, 0, &explain, err)))
            break;
        if (o->stop && *o->stop) {
            rc = zepto_fail(err, EINTR, "interrupted: the node was not tuned");
            break;
        }
        if ((rc = zepto_tune_plan_make(&po, &plan, err)))
            break;
        if ((rc = zepto_tune_apply(&plan, o->state, err))) {
            zepto_tune_plan_free(&plan);
            break;
        }
        c->changes = plan.count;
        c->refused = 0;
        for (unsigned i = 0; i < plan.count; i++)
            c->refused += plan.changes[i].status == ZT_REFUSED;
        zepto_tune_plan_free(&plan);
        rc = record_once(&oo, &app, c, 1, &explain, err);
        if (!rc && o->stop && *o->stop)
            rc = zepto_fail(err, EINTR, "interrupted: the node is restored");
        struct zepto_tune_plan done;
        bool nothing;
        struct zepto_err e2 = {0};
        int rr = zepto_tune_restore(o->state, &done, &nothing, &e2);
        zepto_tune_plan_free(&done);
        if (rr) { /* whatever happened before, a node left tuned is what the caller must hear */
            *err = e2;
            rc = rr;
        }
    }
    c->explained = explain && !rc;
    if (!c->explained) { /* causes from only some rounds would mislead */
        free(c->cause);
        c->cause = NULL;
        c->ncause = 0;
    }
    if (c->ncause)
        qsort(c->cause, c->ncause, sizeof(*c->cause), by_untuned_time);
    if (rc)
        zepto_tune_check_free(c);
    return rc;
}

void zepto_tune_check_free(struct zepto_tune_check *c)
{
    free(c->cause);
    c->cause = NULL;
    c->ncause = 0;
}

void zepto_tune_check_guest(const struct zepto_tune_check *c, unsigned long long out[2])
{
    out[0] = out[1] = 0;
    for (unsigned i = 0; i < c->ncause; i++)
        if (c->cause[i].guest && !c->cause[i].tick) {
            out[0] += c->cause[i].ns[0];
            out[1] += c->cause[i].ns[1];
        }
}

static double frac(unsigned long long a, unsigned long long b)
{
    return b ? (double)a / (double)b : 0.0;
}

void zepto_tune_check_text(const struct zepto_tune_check *c, FILE *f)
{
    fprintf(f, "application CPUs %s, housekeeping %s, %u rounds untuned/tuned\n\n", c->app_cpus,
            c->housekeeping, c->rounds);
    fprintf(f, "%-10s %14s %12s %12s\n", "", "noise", "detours/s", "detour time");
    static const char *const names[2] = {"untuned", "tuned"};
    for (int ph = 0; ph < 2; ph++)
        fprintf(f, "%-10s %13.4f%% %12.1f %9.2f ms\n", names[ph],
                100.0 * frac(c->detour_ns[ph], c->measured_ns[ph]),
                c->measured_ns[ph] ? (double)c->detours[ph] * 1e9 / (double)c->measured_ns[ph] : 0,
                (double)c->detour_ns[ph] / 1e6);
    if (!c->explained) {
        fprintf(f, "\nno causes: %s\n", c->explain_note[0] ? c->explain_note : "--no-explain");
        return;
    }
    fprintf(f, "\n%-36s %12s %12s %8s\n", "cause", "untuned", "tuned", "removed");
    for (unsigned i = 0; i < c->ncause; i++) {
        const struct zepto_tune_check_cause *k = &c->cause[i];
        fprintf(f, "%-36s %9.3f ms %9.3f ms %7.0f%%%s\n", k->label, (double)k->ns[0] / 1e6,
                (double)k->ns[1] / 1e6, k->ns[0] ? 100.0 * (1.0 - frac(k->ns[1], k->ns[0])) : 0.0,
                k->tick     ? "  (tick)"
                : !k->guest ? "  (not the guest's)"
                            : "");
    }
    unsigned long long g[2];
    zepto_tune_check_guest(c, g);
    fprintf(f,
            "\nguest-attributable detour time other than the tick: %.3f ms -> %.3f ms (%.0f%% "
            "removed)\n",
            (double)g[0] / 1e6, (double)g[1] / 1e6, g[0] ? 100.0 * (1.0 - frac(g[1], g[0])) : 0.0);
    /* What remains tuned, and who causes it: the tick, the guest's largest cause, the host. */
    unsigned long long tick = 0, host = 0;
    const struct zepto_tune_check_cause *top = NULL;
    for (unsigned i = 0; i < c->ncause; i++) {
        const struct zepto_tune_check_cause *k = &c->cause[i];
        if (k->tick)
            tick += k->ns[1];
        else if (!k->guest)
            host += k->ns[1];
        else if (!top || k->ns[1] > top->ns[1])
            top = k;
    }
    fprintf(f, "what remains tuned: the timer tick %.3f ms, the guest %.3f ms", (double)tick / 1e6,
            (double)g[1] / 1e6);
    if (top && top->ns[1])
        fprintf(f, " (most: %s, %.3f ms)", top->label, (double)top->ns[1] / 1e6);
    fprintf(f, ", %s %.3f ms\n", c->virtual_machine ? "the host" : "unattributed",
            (double)host / 1e6);
    if (c->virtual_machine)
        fprintf(f, "this is a virtual machine: what remains as 'unknown (host)' is the host's "
                   "(the hypervisor's), which no guest tuning reaches\n");
}

int zepto_tune_check_json(const struct zepto_tune_check *c, FILE *f)
{
    struct zb_json j;
    zb_json_init(&j, f, true);
    zb_json_obj_begin(&j);
    zb_json_kv_u64(&j, "schema_version", 1);
    zb_json_kv_str(&j, "app_cpus", c->app_cpus);
    zb_json_kv_str(&j, "housekeeping_cpus", c->housekeeping);
    zb_json_kv_u64(&j, "rounds", c->rounds);
    zb_json_kv_bool(&j, "virtual_machine", c->virtual_machine);
    static const char *const names[2] = {"untuned", "tuned"};
    for (int ph = 0; ph < 2; ph++) {
        zb_json_key(&j, names[ph]);
        zb_json_obj_begin(&j);
        zb_json_kv_u64(&j, "measured_ns", c->measured_ns[ph]);
        zb_json_kv_u64(&j, "detours", c->detours[ph]);
        zb_json_kv_u64(&j, "detour_ns", c->detour_ns[ph]);
        zb_json_kv_f64(&j, "noise_fraction", frac(c->detour_ns[ph], c->measured_ns[ph]));
        zb_json_obj_end(&j);
    }
    zb_json_kv_bool(&j, "explained", c->explained);
    if (!c->explained)
        zb_json_kv_str(&j, "explain_note", c->explain_note);
    zb_json_key(&j, "causes");
    zb_json_arr_begin(&j);
    for (unsigned i = 0; i < c->ncause; i++) {
        zb_json_obj_begin(&j);
        zb_json_kv_str(&j, "cause", c->cause[i].label);
        zb_json_kv_bool(&j, "guest", c->cause[i].guest);
        zb_json_kv_bool(&j, "tick", c->cause[i].tick);
        zb_json_kv_u64(&j, "untuned_ns", c->cause[i].ns[0]);
        zb_json_kv_u64(&j, "tuned_ns", c->cause[i].ns[1]);
        zb_json_kv_u64(&j, "untuned_detours", c->cause[i].detours[0]);
        zb_json_kv_u64(&j, "tuned_detours", c->cause[i].detours[1]);
        zb_json_obj_end(&j);
    }
    zb_json_arr_end(&j);
    unsigned long long g[2];
    zepto_tune_check_guest(c, g);
    zb_json_kv_u64(&j, "guest_untuned_ns", g[0]);
    zb_json_kv_u64(&j, "guest_tuned_ns", g[1]);
    zb_json_kv_u64(&j, "changes", c->changes);
    zb_json_kv_u64(&j, "refused", c->refused);
    zb_json_obj_end(&j);
    return zb_json_finish(&j);
}
