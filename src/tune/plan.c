/*
 * The plan of zepto tune: checks the CPU lists (the application CPUs and the housekeeping CPUs
 * that are never emptied), then asks each group's builder for its changes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tune/tune_int.h"

static const char *const group_names[ZT_GROUP_COUNT] = {
    [ZT_GROUP_IRQ] = "irq",         [ZT_GROUP_WORKQUEUE] = "workqueue",
    [ZT_GROUP_KTHREAD] = "kthread", [ZT_GROUP_DAEMONS] = "daemons",
    [ZT_GROUP_SYSCTL] = "sysctl",   [ZT_GROUP_THP] = "thp",
    [ZT_GROUP_CPU] = "cpu",
};

const char *zepto_tune_group_name(enum zepto_tune_group g)
{
    return (unsigned)g < ZT_GROUP_COUNT ? group_names[g] : "?";
}

const char *zepto_tune_status_name(enum zepto_tune_status s)
{
    switch (s) {
    case ZT_PENDING: return "planned";
    case ZT_APPLIED: return "applied";
    case ZT_REFUSED: return "refused";
    case ZT_GONE: return "gone";
    case ZT_RESTORED: return "restored";
    }
    return "?";
}

const char *zepto_tune_default_state(void)
{
    const char *e = getenv("ZEPTO_TUNE_STATE");
    return e && *e ? e : "/run/zepto/tune.state";
}

int zt_plan_add(struct zepto_tune_plan *p, enum zepto_tune_group g, enum zepto_tune_kind k,
                enum zepto_tune_value t, const char *target, const char *old_value,
                const char *new_value, const char *why)
{
    if (p->count == p->cap) {
        unsigned ncap = p->cap ? 2 * p->cap : 64;
        struct zepto_tune_change *n = realloc(p->changes, ncap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        p->changes = n;
        p->cap = ncap;
    }
    struct zepto_tune_change *c = &p->changes[p->count];
    memset(c, 0, sizeof(*c));
    c->group = g;
    c->kind = k;
    c->vtype = t;
    snprintf(c->target, sizeof(c->target), "%s", target);
    c->old_value = strdup(old_value);
    c->new_value = strdup(new_value);
    snprintf(c->why, sizeof(c->why), "%s", why);
    if (!c->old_value || !c->new_value) {
        free(c->old_value);
        free(c->new_value);
        return -ENOMEM;
    }
    p->count++;
    return 0;
}

int zt_plan_file(struct zepto_tune_plan *p, enum zepto_tune_group g, enum zepto_tune_value t,
                 const char *rel, const char *new_value, const char *why)
{
    char now[4096], sel[128];
    if (zt_read(rel, now, sizeof(now)))
        return 0; /* absent here: nothing to change */
    if (zt_value_equal(t, now, new_value))
        return 0;
    const char *old = t == ZT_VALUE_CHOICE ? zt_choice_selected(now, sel, sizeof(sel)) : now;
    return zt_plan_add(p, g, ZT_KIND_FILE, t, rel, old, new_value, why);
}

void zt_plan_note(struct zepto_tune_plan *p, const char *fmt, ...)
{
    if (p->nnotes >= sizeof(p->notes) / sizeof(p->notes[0]))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->notes[p->nnotes++], sizeof(p->notes[0]), fmt, ap);
    va_end(ap);
}

void zepto_tune_plan_free(struct zepto_tune_plan *p)
{
    for (unsigned i = 0; i < p->count; i++) {
        free(p->changes[i].old_value);
        free(p->changes[i].new_value);
    }
    free(p->changes);
    memset(p, 0, sizeof(*p));
}

/* The online CPUs (/sys/devices/system/cpu/online). */
static int online_cpus(struct zb_cpuset *set, struct zepto_err *err)
{
    char buf[512];
    int rc = zt_read("/sys/devices/system/cpu/online", buf, sizeof(buf));
    if (rc)
        return zepto_fail(err, -rc, "/sys/devices/system/cpu/online: %s", strerror(-rc));
    if (zb_cpuset_parse(buf, set, NULL))
        return zepto_fail(err, EINVAL, "/sys/devices/system/cpu/online '%s': not a CPU list", buf);
    return 0;
}

/* CPU 0 and its SMT siblings, when no housekeeping list is given. */
static void default_housekeeping(struct zb_cpuset *hk, const struct zb_cpuset *online)
{
    char buf[256];
    zb_cpuset_clear(hk);
    int first = -1;
    for (unsigned c = 0; c < ZB_CPU_MAX && first < 0; c++)
        if (zb_cpuset_has(online, c))
            first = (int)c;
    if (first < 0)
        return;
    char rel[128];
    snprintf(rel, sizeof(rel), "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
             first);
    if (zt_read(rel, buf, sizeof(buf)) || zb_cpuset_parse(buf, hk, NULL))
        zb_cpuset_add(hk, (unsigned)first);
}

const char *zepto_tune_default_app(char *buf, size_t len)
{
    struct zb_cpuset online, hk, app;
    buf[0] = '\0';
    if (online_cpus(&online, NULL))
        return buf;
    default_housekeeping(&hk, &online);
    zb_cpuset_clear(&app);
    for (unsigned c = 0; c < ZB_CPU_MAX; c++)
        if (zb_cpuset_has(&online, c) && !zb_cpuset_has(&hk, c))
            zb_cpuset_add(&app, c);
    if (zb_cpuset_count(&app))
        zb_cpuset_format(&app, buf, len);
    return buf;
}

static int parse_cpus(const char *what, const char *s, const struct zb_cpuset *online,
                      struct zb_cpuset *set, struct zepto_err *err)
{
    if (zb_cpuset_parse(s, set, err)) {
        zepto_err_prefix(err, "%s", what);
        return -EINVAL;
    }
    if (!strcmp(s, "all"))
        *set = *online;
    for (unsigned c = 0; c < ZB_CPU_MAX; c++)
        if (zb_cpuset_has(set, c) && !zb_cpuset_has(online, c)) {
            char buf[256];
            return zepto_fail(err, EINVAL, "%s '%s': CPU %u is not online (online: %s)", what, s, c,
                              zb_cpuset_format(online, buf, sizeof(buf)));
        }
    if (!zb_cpuset_count(set))
        return zepto_fail(err, EINVAL, "%s '%s': no CPU", what, s);
    return 0;
}

/* The sessions of the caller and of its ancestors (not init's): `sudo zepto tune apply` runs in
 * a session of its own, and the user's shell, which then starts the application with taskset,
 * must not be confined. The ancestors themselves are kept too: in a container or a CI job that
 * never called setsid, everything shares init's session (getsid() is 1, or 0 for a leader
 * outside the PID namespace), and the shell that runs apply must still be free afterwards.
 * Read from the real /proc: these are real processes in every mode. */
void zt_keep_sessions(struct zt_ctx *c)
{
    c->nkeep = 0;
    c->nkeep_pid = 0;
    pid_t pid = getpid();
    for (int depth = 0; pid > 1 && depth < 64 && c->nkeep < 32; depth++) {
        if (pid != getpid())
            c->keep_pid[c->nkeep_pid++] = pid;
        pid_t sid = getsid(pid);
        bool seen = sid <= 1;
        for (unsigned i = 0; i < c->nkeep && !seen; i++)
            seen = c->keep_sid[i] == sid;
        if (!seen)
            c->keep_sid[c->nkeep++] = sid;
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
            break;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *close_paren = strrchr(buf, ')');
        int ppid;
        if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
            break;
        pid = ppid;
    }
}

static int check_cpus(const struct zepto_tune_opts *o, struct zt_ctx *c, struct zepto_err *err)
{
    if (!o->app_cpus || !*o->app_cpus)
        return zepto_fail(err, EINVAL, "--cpus is required: the application CPUs");
    if (online_cpus(&c->online, err))
        return -EINVAL;
    if (parse_cpus("--cpus", o->app_cpus, &c->online, &c->app, err))
        return -EINVAL;
    if (o->housekeeping) {
        if (parse_cpus("--housekeeping", o->housekeeping, &c->online, &c->hk, err))
            return -EINVAL;
    } else {
        struct zb_cpuset dflt;
        default_housekeeping(&dflt, &c->online);
        /* The default gives way to the application where they overlap, unless that empties it. */
        zb_cpuset_clear(&c->hk);
        for (unsigned i = 0; i < ZB_CPU_MAX; i++)
            if (zb_cpuset_has(&dflt, i) && !zb_cpuset_has(&c->app, i))
                zb_cpuset_add(&c->hk, i);
        if (!zb_cpuset_count(&c->hk))
            c->hk = dflt;
    }
    char a[256], h[256];
    zb_cpuset_format(&c->app, a, sizeof(a));
    zb_cpuset_format(&c->hk, h, sizeof(h));
    for (unsigned i = 0; i < ZB_CPU_MAX; i++)
        if (zb_cpuset_has(&c->app, i) && zb_cpuset_has(&c->hk, i))
            return zepto_fail(err, EINVAL,
                              "--cpus '%s': CPU %u is a housekeeping CPU (%s), which is never "
                              "emptied: leave it to the system or give --housekeeping",
                              o->app_cpus, i, h);
    snprintf(c->app_list, sizeof(c->app_list), "%s", a);
    snprintf(c->hk_list, sizeof(c->hk_list), "%s", h);
    zt_keep_sessions(c);
    return 0;
}

int zepto_tune_plan_make(const struct zepto_tune_opts *o, struct zepto_tune_plan *p,
                         struct zepto_err *err)
{
    memset(p, 0, sizeof(*p));
    struct zt_ctx c;
    memset(&c, 0, sizeof(c));
    if (check_cpus(o, &c, err))
        return -EINVAL;
    snprintf(p->app_cpus, sizeof(p->app_cpus), "%s", c.app_list);
    snprintf(p->housekeeping, sizeof(p->housekeeping), "%s", c.hk_list);
    /* irqbalance first: restarted with the CPUs banned, it moves IRQs off them itself, and it
     * must not undo the IRQ changes that follow. */
    int rc = zt_plan_irqbalance(p, o->irqbalance);
    if (rc) {
        zepto_tune_plan_free(p);
        return zepto_fail(err, -rc, "planning: %s", strerror(-rc));
    }
    int (*const builders[])(struct zepto_tune_plan *, const struct zt_ctx *) = {
        zt_plan_irq,    zt_plan_workqueue, zt_plan_kthreads, zt_plan_daemons,
        zt_plan_sysctl, zt_plan_thp,       zt_plan_cpu,
    };
    for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++) {
        rc = builders[i](p, &c);
        if (rc) {
            zepto_tune_plan_free(p);
            return zepto_fail(err, -rc, "planning: %s", strerror(-rc));
        }
    }
    zt_plan_boot_advice(p, &c);
    return 0;
}
