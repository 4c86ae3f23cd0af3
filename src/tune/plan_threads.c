/*
 * The plan's thread changes: unbound kernel threads moved to the housekeeping CPUs (per-CPU
 * threads, which the kernel does not let anyone move, are left), and user-space processes of
 * the root cpuset moved into a housekeeping cpuset, with cgroup v1 (a cpuset hierarchy) or v2
 * (a cgroup with the cpuset controller). Processes already in another cpuset (Slurm jobs,
 * containers), those already confined to the application CPUs (the application, pinned on
 * purpose), the caller's own session and its ancestors are left where they are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "tune/tune_int.h"

struct walk {
    struct zepto_tune_plan *p;
    const struct zt_ctx *c;
    const char *hier; /* DAEMONS: the cpuset hierarchy ("/sys/fs/cgroup/cpuset") */
    int self;
};

static bool touches(const struct zb_cpuset *s, const struct zb_cpuset *app)
{
    for (unsigned c = 0; c < ZB_CPU_MAX; c++)
        if (zb_cpuset_has(s, c) && zb_cpuset_has(app, c))
            return true;
    return false;
}

static bool within(const struct zb_cpuset *s, const struct zb_cpuset *app)
{
    for (unsigned c = 0; c < ZB_CPU_MAX; c++)
        if (zb_cpuset_has(s, c) && !zb_cpuset_has(app, c))
            return false;
    return true;
}

static int add_proc(struct walk *w, const struct zt_proc *pr, enum zepto_tune_group g,
                    enum zepto_tune_kind k, const char *target, const char *old_value,
                    const char *new_value, const char *why)
{
    int rc = zt_plan_add(w->p, g, k, ZT_VALUE_CPULIST, target, old_value, new_value, why);
    if (rc)
        return rc;
    struct zepto_tune_change *ch = &w->p->changes[w->p->count - 1];
    ch->pid = pr->pid;
    ch->starttime = pr->starttime;
    snprintf(ch->comm, sizeof(ch->comm), "%s", pr->comm);
    return 0;
}

static int kthread_one(const struct zt_proc *pr, void *arg)
{
    struct walk *w = arg;
    struct zb_cpuset cur, next;
    /* kthreadd (pid 2) too: the kernel threads it starts from now on inherit its affinity. */
    if (!(pr->flags & ZT_PF_KTHREAD) || (pr->flags & ZT_PF_NO_SETAFFINITY))
        return 0;
    if (zt_affinity_get(pr->pid, &cur) || !touches(&cur, &w->c->app))
        return 0;
    next = w->c->hk; /* the system's work goes where the system runs */
    char a[256], b[256], why[160];
    snprintf(why, sizeof(why), "kernel thread %s (pid %d) off the application CPUs", pr->comm,
             pr->pid);
    return add_proc(w, pr, ZT_GROUP_KTHREAD, ZT_KIND_AFFINITY, "",
                    zb_cpuset_format(&cur, a, sizeof(a)), zb_cpuset_format(&next, b, sizeof(b)),
                    why);
}

int zt_plan_kthreads(struct zepto_tune_plan *p, const struct zt_ctx *c)
{
    struct walk w = {.p = p, .c = c};
    return zt_proc_each(kthread_one, &w);
}

/* Whether a process is one the daemons group moves. */
static bool movable(const struct walk *w, const struct zt_proc *pr)
{
    if ((pr->flags & ZT_PF_KTHREAD) || pr->state == 'Z' || pr->pid == w->self || pr->pid == 2)
        return false;
    for (unsigned i = 0; i < w->c->nkeep; i++)
        if (pr->sid == w->c->keep_sid[i])
            return false; /* the caller's session, or one of its ancestors' (sudo's user shell) */
    for (unsigned i = 0; i < w->c->nkeep_pid; i++)
        if (pr->pid == w->c->keep_pid[i])
            return false; /* an ancestor of the caller (its shell), whatever its session */
    char cs[256];
    if (zt_cpuset_of(pr->pid, cs, sizeof(cs)) || strcmp(cs, "/"))
        return false; /* in a cpuset of its own (a job, a container): not ours to move */
    struct zb_cpuset cur;
    if (zt_affinity_get(pr->pid, &cur) || !touches(&cur, &w->c->app))
        return false;
    return !within(&cur, &w->c->app); /* pinned to the application CPUs: the application */
}

static int daemon_one(const struct zt_proc *pr, void *arg)
{
    struct walk *w = arg;
    if (!movable(w, pr))
        return 0;
    char why[160];
    struct zb_cpuset cur;
    snprintf(why, sizeof(why), "%s (pid %d) confined to the housekeeping CPUs", pr->comm, pr->pid);
    int rc =
        add_proc(w, pr, ZT_GROUP_DAEMONS, ZT_KIND_CGMOVE, w->hier, "/", "/" ZT_CPUSET_NAME, why);
    struct zepto_tune_change *ch = &w->p->changes[w->p->count - 1];
    if (!rc && !zt_affinity_get(pr->pid, &cur))
        zb_cpuset_format(&cur, ch->affinity, sizeof(ch->affinity));
    return rc;
}

int zt_plan_daemons(struct zepto_tune_plan *p, const struct zt_ctx *c)
{
    static const char v1[] = "/sys/fs/cgroup/cpuset";
    static const char v2[] = "/sys/fs/cgroup";
    char buf[512], rel[512];
    struct walk w = {.p = p, .c = c, .self = getpid()};
    if (zt_exists("/sys/fs/cgroup/cpuset/cpuset.cpus")) {
        w.hier = v1;
    } else if (!zt_read("/sys/fs/cgroup/cgroup.controllers", buf, sizeof(buf)) &&
               strstr(buf, "cpuset")) {
        w.hier = v2;
        /* v2: the cpuset controller must be enabled for the children of the root. */
        char sub[512];
        if (!zt_read("/sys/fs/cgroup/cgroup.subtree_control", sub, sizeof(sub)) &&
            !strstr(sub, "cpuset")) {
            int rc = zt_plan_add(p, ZT_GROUP_DAEMONS, ZT_KIND_FILE, ZT_VALUE_TEXT,
                                 "/sys/fs/cgroup/cgroup.subtree_control", "-cpuset", "+cpuset",
                                 "enable the cpuset controller for the root's children");
            if (rc)
                return rc;
        }
        /* systemd's slices hold the services: each gets the housekeeping CPUs. */
        static const char *const slices[] = {"system.slice", "init.scope"};
        for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
            char why[160];
            snprintf(rel, sizeof(rel), "/sys/fs/cgroup/%s/cpuset.cpus", slices[i]);
            snprintf(why, sizeof(why), "services of %s on the housekeeping CPUs", slices[i]);
            if (!zt_exists(rel))
                continue;
            int rc = zt_read(rel, buf, sizeof(buf));
            if (rc)
                continue;
            if (zt_value_equal(ZT_VALUE_CPULIST, buf, c->hk_list))
                continue;
            rc = zt_plan_add(p, ZT_GROUP_DAEMONS, ZT_KIND_FILE, ZT_VALUE_CPULIST, rel, buf,
                             c->hk_list, why);
            if (rc)
                return rc;
        }
    } else {
        zt_plan_note(p, "no cpuset controller (neither cgroup v1 cpuset nor v2 with cpuset): "
                        "user-space daemons are not confined");
        return 0;
    }
    size_t before = p->count;
    snprintf(rel, sizeof(rel), "%s/" ZT_CPUSET_NAME, w.hier);
    /* The cpuset first, so that it exists before anything moves in; filled in below. */
    int rc = zt_plan_add(p, ZT_GROUP_DAEMONS, ZT_KIND_CGDIR, ZT_VALUE_CPULIST, rel, "absent",
                         c->hk_list, "a housekeeping cpuset for the daemons");
    if (rc)
        return rc;
    struct zepto_tune_change *dir = &p->changes[p->count - 1];
    if (zt_exists(rel)) { /* left by an earlier run that was not restored: used, and removed */
        free(dir->old_value);
        if (!(dir->old_value = strdup("present")))
            return -ENOMEM;
        zt_plan_note(p,
                     "%s exists already (an earlier tuning was not restored?): it is reused, "
                     "and removed by restore",
                     rel);
    }
    if ((rc = zt_proc_each(daemon_one, &w)))
        return rc;
    if (p->count == before + 1) { /* nothing to move: no cpuset needed */
        p->count--;
        free(p->changes[p->count].old_value);
        free(p->changes[p->count].new_value);
    }
    return 0;
}

/* ---- after the moves: the children forked meanwhile ---- */

#define FOLLOW_NS     30000000000ull /* the longest the rounds below go on (a fork bomb) */
#define FOLLOW_ROUNDS 1000

struct follow {
    struct walk w; /* the same rules as the plan's: kept sessions, ancestors, pinned apps */
    unsigned added;
};

static bool confined(int pid)
{
    char cs[256];
    return pid > 0 && !zt_cpuset_of(pid, cs, sizeof(cs)) && !strcmp(cs, "/" ZT_CPUSET_NAME);
}

static int follow_one(const struct zt_proc *pr, void *arg)
{
    struct follow *f = arg;
    char why[160], a[256];
    struct zb_cpuset cur;
    if (!movable(&f->w, pr))
        return 0;
    /* Its parent was confined, or (orphaned, reparented to init) its session's leader was. */
    if (!confined(pr->ppid) && !(pr->sid > 1 && pr->sid != pr->pid && confined(pr->sid)))
        return 0;
    if (zt_affinity_get(pr->pid, &cur))
        return 0;
    snprintf(why, sizeof(why), "%s (pid %d) forked by a confined process: follows it", pr->comm,
             pr->pid);
    int rc = zt_plan_add(f->w.p, ZT_GROUP_DAEMONS, ZT_KIND_CGMOVE, ZT_VALUE_CPULIST, f->w.hier, "/",
                         "/" ZT_CPUSET_NAME, why);
    if (rc)
        return rc;
    struct zepto_tune_change *ch = &f->w.p->changes[f->w.p->count - 1];
    ch->pid = pr->pid;
    ch->starttime = pr->starttime;
    snprintf(ch->comm, sizeof(ch->comm), "%s", pr->comm);
    snprintf(ch->affinity, sizeof(ch->affinity), "%s", zb_cpuset_format(&cur, a, sizeof(a)));
    zt_change_do(ch, true);
    f->added++;
    return 0;
}

void zt_follow_moved(struct zepto_tune_plan *p)
{
    struct zt_ctx c;
    char hier[256] = "";
    memset(&c, 0, sizeof(c));
    for (unsigned i = 0; i < p->count && !hier[0]; i++)
        if (p->changes[i].kind == ZT_KIND_CGMOVE && p->changes[i].status == ZT_APPLIED)
            snprintf(hier, sizeof(hier), "%s", p->changes[i].target);
    if (!hier[0] || zb_cpuset_parse(p->app_cpus, &c.app, NULL))
        return;
    zt_keep_sessions(&c);
    struct follow f = {.w = {.p = p, .c = &c, .hier = hier, .self = getpid()}};
    /* Each round catches one generation forked before its parent moved; a process that forks
     * fast (a shell loop) can take many. Until a round finds none, for at most FOLLOW_NS. */
    uint64_t end = zb_mono_read() + FOLLOW_NS;
    for (unsigned round = 0; round < FOLLOW_ROUNDS && zb_mono_read() < end; round++) {
        f.added = 0;
        if (zt_proc_each(follow_one, &f) || !f.added)
            break;
    }
}
