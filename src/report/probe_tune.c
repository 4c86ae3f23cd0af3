/*
 * The report's tune section: what `zepto tune plan` would change on this node for an application
 * on every CPU but the housekeeping ones (changes per group, the kernel parameters that need a
 * reboot, what only an administrator can change), and with --tune-check as root the noise of
 * those CPUs untuned and tuned, cause by cause (zepto tune check: 2 rounds of 1 s with --quick,
 * 2 s otherwise; the node is restored before the section ends).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "report/probe.h"
#include "zepto/tune.h"

struct tune_state {
    struct zepto_tune_plan plan;
    bool checked;
    struct zepto_tune_check check;
    char check_note[ZEPTO_ERR_MSG_MAX]; /* why there is no check */
};

static uint64_t phase_ns(const struct zr_ctx *ctx)
{
    return ctx->quick ? 1000000000ull : 2000000000ull;
}

static uint64_t estimate(const struct zr_ctx *ctx)
{
    return ctx->tune_check && geteuid() == 0 ? 4 * phase_ns(ctx) + 1000000000ull : 100000000ull;
}

static int run(const struct zr_ctx *ctx, void **out, struct zepto_err *err)
{
    char app[256];
    if (!zepto_tune_default_app(app, sizeof(app))[0])
        return zepto_fail(err, EINVAL,
                          "one CPU online: no application CPUs to set apart from housekeeping");
    struct tune_state *s = calloc(1, sizeof(*s));
    if (!s)
        return zepto_fail(err, ENOMEM, "out of memory");
    struct zepto_tune_opts o = {.app_cpus = app};
    if (zepto_tune_plan_make(&o, &s->plan, err)) {
        free(s);
        return -EINVAL;
    }
    if (!ctx->tune_check)
        snprintf(s->check_note, sizeof(s->check_note),
                 "not measured: `zepto report --tune-check` (root) records the noise untuned and "
                 "tuned");
    else if (geteuid() != 0)
        snprintf(s->check_note, sizeof(s->check_note), "not measured: --tune-check needs root");
    else {
        ctx->progress(ctx, "noise untuned and tuned", estimate(ctx));
        struct zepto_tune_check_opts co = {.app_cpus = app,
                                           .state = zepto_tune_default_state(),
                                           .phase_ns = phase_ns(ctx),
                                           .rounds = 2,
                                           .explain = true};
        struct zepto_err e2 = {0};
        if (zepto_tune_check(&co, &s->check, &e2))
            snprintf(s->check_note, sizeof(s->check_note), "not measured: %s", e2.msg);
        else
            s->checked = true;
    }
    *out = s;
    return 0;
}

static unsigned group_count(const struct zepto_tune_plan *p, int g)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->count; i++)
        n += p->changes[i].group == (enum zepto_tune_group)g;
    return n;
}

static void json(const void *state, struct zb_json *j)
{
    const struct tune_state *s = state;
    zb_json_obj_begin(j);
    zb_json_kv_str(j, "app_cpus", s->plan.app_cpus);
    zb_json_kv_str(j, "housekeeping_cpus", s->plan.housekeeping);
    zb_json_key(j, "changes");
    zb_json_obj_begin(j);
    for (int g = 0; g < ZT_GROUP_COUNT; g++)
        zb_json_kv_u64(j, zepto_tune_group_name((enum zepto_tune_group)g),
                       group_count(&s->plan, g));
    zb_json_obj_end(j);
    zb_json_kv_str(j, "boot_advice", s->plan.boot_advice);
    zb_json_key(j, "notes");
    zb_json_arr_begin(j);
    for (unsigned i = 0; i < s->plan.nnotes; i++)
        zb_json_str(j, s->plan.notes[i]);
    zb_json_arr_end(j);
    if (s->checked) {
        unsigned long long g[2];
        zepto_tune_check_guest(&s->check, g);
        zb_json_key(j, "check");
        zb_json_obj_begin(j);
        for (int ph = 0; ph < 2; ph++) {
            zb_json_key(j, ph ? "tuned" : "untuned");
            zb_json_obj_begin(j);
            zb_json_kv_f64(j, "noise_fraction",
                           s->check.measured_ns[ph]
                               ? (double)s->check.detour_ns[ph] / (double)s->check.measured_ns[ph]
                               : 0.0);
            zb_json_kv_u64(j, "detours", s->check.detours[ph]);
            zb_json_kv_u64(j, "guest_non_tick_ns", g[ph]);
            zb_json_obj_end(j);
        }
        zb_json_kv_bool(j, "explained", s->check.explained);
        zb_json_obj_end(j);
    } else
        zb_json_kv_str(j, "check_note", s->check_note);
    zb_json_obj_end(j);
}

static void check_html(const struct tune_state *s, FILE *f)
{
    const struct zepto_tune_check *c = &s->check;
    fprintf(f, "<table><tr><th></th><th>noise</th><th>detours/s</th></tr>\n");
    for (int ph = 0; ph < 2; ph++)
        fprintf(f, "<tr><td>%s</td><td>%.4f %%</td><td>%.1f</td></tr>\n", ph ? "tuned" : "untuned",
                c->measured_ns[ph] ? 100.0 * (double)c->detour_ns[ph] / (double)c->measured_ns[ph]
                                   : 0.0,
                c->measured_ns[ph] ? (double)c->detours[ph] * 1e9 / (double)c->measured_ns[ph] : 0);
    fprintf(f, "</table>\n");
    if (!c->explained) {
        fprintf(f, "<p>No causes: ");
        zr_html_escape(f, c->explain_note);
        fprintf(f, "</p>\n");
        return;
    }
    fprintf(f, "<table><tr><th>cause</th><th>untuned</th><th>tuned</th></tr>\n");
    for (unsigned i = 0; i < c->ncause && i < 15; i++) {
        fprintf(f, "<tr><td>");
        zr_html_escape(f, c->cause[i].label);
        fprintf(f, "%s</td><td>%.3f ms</td><td>%.3f ms</td></tr>\n",
                c->cause[i].tick     ? " (tick)"
                : !c->cause[i].guest ? " (host)"
                                     : "",
                (double)c->cause[i].ns[0] / 1e6, (double)c->cause[i].ns[1] / 1e6);
    }
    fprintf(f, "</table>\n");
    if (c->virtual_machine)
        fprintf(f, "<p>This is a virtual machine: detours the guest kernel did not trace "
                   "(<em>unknown (host)</em>) are the hypervisor's, out of reach of any tuning "
                   "inside the guest.</p>\n");
}

static void html(const void *state, const struct zr_ctx *ctx, FILE *f)
{
    (void)ctx;
    const struct tune_state *s = state;
    fprintf(f,
            "<p>For an application on CPUs %s (housekeeping: %s), <code>zepto tune apply "
            "--cpus %s</code> (root) would make these changes, each saved first and undone by "
            "<code>zepto tune restore</code>:</p>\n",
            s->plan.app_cpus, s->plan.housekeeping, s->plan.app_cpus);
    fprintf(f, "<table><tr><th>group</th><th>changes</th><th>for example</th></tr>\n");
    for (int g = 0; g < ZT_GROUP_COUNT; g++) {
        unsigned n = group_count(&s->plan, g);
        if (!n)
            continue;
        fprintf(f, "<tr><td>%s</td><td>%u</td><td>",
                zepto_tune_group_name((enum zepto_tune_group)g), n);
        for (unsigned i = 0; i < s->plan.count; i++)
            if (s->plan.changes[i].group == (enum zepto_tune_group)g) {
                zr_html_escape(f, s->plan.changes[i].why);
                break;
            }
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    if (s->plan.boot_advice[0]) {
        fprintf(f, "<p>Needs a reboot: add <code>");
        zr_html_escape(f, s->plan.boot_advice);
        fprintf(f, "</code> to the kernel command line.</p>\n");
    }
    for (unsigned i = 0; i < s->plan.nnotes; i++) {
        fprintf(f, "<p>Note: ");
        zr_html_escape(f, s->plan.notes[i]);
        fprintf(f, "</p>\n");
    }
    fprintf(f, "<h3>Noise untuned and tuned</h3>\n");
    if (s->checked)
        check_html(s, f);
    else {
        fprintf(f, "<p>");
        zr_html_escape(f, s->check_note);
        fprintf(f, "</p>\n");
    }
}

static void summary(const void *state, char *buf, size_t len)
{
    const struct tune_state *s = state;
    if (!s->checked) {
        snprintf(buf, len, "zepto tune would make %u changes to quiet CPUs %s%s", s->plan.count,
                 s->plan.app_cpus,
                 s->plan.boot_advice[0] ? " (and advises kernel parameters)" : "");
        return;
    }
    const struct zepto_tune_check *c = &s->check;
    snprintf(buf, len, "zepto tune: noise on CPUs %s %.4f%% untuned, %.4f%% tuned", c->app_cpus,
             c->measured_ns[0] ? 100.0 * (double)c->detour_ns[0] / (double)c->measured_ns[0] : 0,
             c->measured_ns[1] ? 100.0 * (double)c->detour_ns[1] / (double)c->measured_ns[1] : 0);
}

static void free_state(void *state)
{
    struct tune_state *s = state;
    if (!s)
        return;
    zepto_tune_plan_free(&s->plan);
    zepto_tune_check_free(&s->check);
    free(s);
}

const struct zr_probe zr_probe_tune = {
    .id = "tune",
    .title = "Quieting the node (zepto tune)",
    .estimate_ns = estimate,
    .run = run,
    .json = json,
    .html = html,
    .summary = summary,
    .free = free_state,
};
