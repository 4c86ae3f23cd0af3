/*
 * Applying, restoring and checking a tuning: each change done one way or the other and read
 * back, the state file written before the first change and removed after the last restore.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tune/tune_int.h"

static void set_result(struct zepto_tune_change *c, enum zepto_tune_status s, const char *fmt,
                       const char *arg)
{
    c->status = s;
    snprintf(c->result, sizeof(c->result), fmt, arg);
}

static bool is_subtree_control(const struct zepto_tune_change *c)
{
    size_t n = strlen(c->target), k = strlen("cgroup.subtree_control");
    return n >= k && !strcmp(c->target + n - k, "cgroup.subtree_control");
}

/* Whether a file holds `want` (subtree_control: whether cpuset is enabled as asked). */
static bool file_holds(const struct zepto_tune_change *c, const char *now, const char *want)
{
    if (is_subtree_control(c))
        return (strstr(now, "cpuset") != NULL) == (want[0] == '+');
    return zt_value_equal(c->vtype, now, want);
}

/* The process of a change is still the one planned (same pid, same start time). */
static bool same_process(const struct zepto_tune_change *c)
{
    struct zt_proc pr;
    return !zt_proc_read(c->pid, &pr) && pr.starttime == c->starttime;
}

static void do_file(struct zepto_tune_change *c, const char *value, enum zepto_tune_status ok)
{
    char now[4096];
    if (!zt_read(c->target, now, sizeof(now)) && file_holds(c, now, value)) {
        set_result(c, ok, "%s", "");
        return;
    }
    int rc = zt_write(c->target, value);
    if (rc == -ENOENT) {
        set_result(c, ZT_GONE, "%s", "the file no longer exists");
        return;
    }
    if (rc) {
        set_result(c, ZT_REFUSED, "the kernel refused: %s", strerror(-rc));
        return;
    }
    if (zt_read(c->target, now, sizeof(now)))
        set_result(c, ZT_REFUSED, "%s", "written, but cannot be read back");
    else if (!file_holds(c, now, value))
        set_result(c, ZT_REFUSED, "the kernel kept '%s'", now);
    else
        set_result(c, ok, "%s", "");
}

static void do_affinity(struct zepto_tune_change *c, const char *value, enum zepto_tune_status ok)
{
    struct zb_cpuset want, now;
    if (!same_process(c)) {
        set_result(c, ZT_GONE, "%s", "the thread has exited");
        return;
    }
    if (zb_cpuset_parse(value, &want, NULL)) {
        set_result(c, ZT_REFUSED, "'%s': not a CPU list", value);
        return;
    }
    int rc = zt_affinity_set(c->pid, &want);
    if (rc == -ESRCH)
        set_result(c, ZT_GONE, "%s", "the thread has exited");
    else if (rc)
        set_result(c, ZT_REFUSED, "the kernel refused: %s", strerror(-rc));
    else if (zt_affinity_get(c->pid, &now) || memcmp(&now, &want, sizeof(now)))
        set_result(c, ZT_REFUSED, "%s", "the affinity did not take");
    else
        set_result(c, ok, "%s", "");
}

/* The hierarchy's root of a cpuset directory ("/sys/fs/cgroup/cpuset/x" -> ".../cpuset"). */
static void parent_of(const char *dir, char *buf, size_t len)
{
    snprintf(buf, len, "%s", dir);
    char *s = strrchr(buf, '/');
    if (s && s != buf)
        *s = '\0';
}

/* Moves every process still in the cpuset `dir` to its parent (children born there). */
static unsigned empty_cpuset(const char *dir)
{
    char rel[600], procs[65536], parent[512];
    snprintf(rel, sizeof(rel), "%s/cgroup.procs", dir);
    parent_of(dir, parent, sizeof(parent));
    unsigned moved = 0;
    for (int round = 0; round < 8; round++) { /* processes may fork while we move them */
        if (zt_read(rel, procs, sizeof(procs)) || !procs[0])
            break;
        char *save = NULL;
        for (char *t = strtok_r(procs, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
            if (!zt_cpuset_move(atoi(t), parent, "/"))
                moved++;
    }
    return moved;
}

/* Removes the housekeeping cpuset: moves out what is left in it (children that confined
 * processes forked meanwhile), then rmdir, again while the kernel says it is busy (tasks that
 * have just exited stay attached until they are reaped), for at most about two seconds. */
static int remove_cpuset(const char *dir)
{
    int rc = 0;
    for (int attempt = 0; attempt < 200; attempt++) {
        empty_cpuset(dir);
        rc = zt_rmdir(dir);
        if (rc != -EBUSY)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return rc == -ENOENT ? 0 : rc;
}

static void do_cgdir(struct zepto_tune_change *c, bool forward, enum zepto_tune_status ok)
{
    char rel[600], parent[512], mems[256];
    if (!forward) {
        /* The name is zepto tune's: one found at plan time was left by an earlier run. */
        int rc = remove_cpuset(c->target);
        if (rc)
            set_result(c, ZT_REFUSED, "cannot remove the cpuset: %s", strerror(-rc));
        else
            set_result(c, ok, "%s", "");
        return;
    }
    int rc = zt_mkdir(c->target);
    if (rc && rc != -EEXIST) {
        set_result(c, ZT_REFUSED, "cannot make the cpuset: %s", strerror(-rc));
        return;
    }
    /* cgroup v1 needs the memory nodes before anything can move in; v2 inherits them. */
    parent_of(c->target, parent, sizeof(parent));
    snprintf(rel, sizeof(rel), "%s/cpuset.mems", parent);
    if (!strcmp(parent, "/sys/fs/cgroup/cpuset") && !zt_read(rel, mems, sizeof(mems))) {
        snprintf(rel, sizeof(rel), "%s/cpuset.mems", c->target);
        zt_write(rel, mems);
    }
    snprintf(rel, sizeof(rel), "%s/cpuset.cpus", c->target);
    rc = zt_write(rel, c->new_value);
    if (rc)
        set_result(c, ZT_REFUSED, "the kernel refused the CPUs: %s", strerror(-rc));
    else
        set_result(c, ok, "%s", "");
}

/* After a move back: every thread of the process gets the affinity it had before the tuning. */
static void put_affinity_back(const struct zepto_tune_change *c)
{
    struct zb_cpuset want;
    if (!c->affinity[0] || zb_cpuset_parse(c->affinity, &want, NULL))
        return;
    if (zt_fake()) {
        zt_affinity_set(c->pid, &want);
        return;
    }
    char dir[64], path[512];
    snprintf(dir, sizeof(dir), "/proc/%d/task", c->pid);
    DIR *d = opendir(zt_path(dir, path, sizeof(path)));
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            zt_affinity_set(atoi(e->d_name), &want); /* a thread that exited: nothing to do */
    if (d)
        closedir(d);
}

static void do_cgmove(struct zepto_tune_change *c, bool forward, enum zepto_tune_status ok)
{
    const char *from = forward ? c->old_value : c->new_value;
    const char *to = forward ? c->new_value : c->old_value;
    char now[256];
    if (!same_process(c) || zt_cpuset_of(c->pid, now, sizeof(now))) {
        set_result(c, ZT_GONE, "%s", "the process has exited");
        return;
    }
    if (!strcmp(now, to)) {
        if (!forward)
            put_affinity_back(c);
        set_result(c, ok, "%s", "");
        return;
    }
    if (strcmp(now, from)) {
        set_result(c, ZT_REFUSED, "moved elsewhere by someone else (now in %s): left there", now);
        return;
    }
    int rc = zt_cpuset_move(c->pid, c->target, to);
    if (rc == -ESRCH)
        set_result(c, ZT_GONE, "%s", "the process has exited");
    else if (rc)
        set_result(c, ZT_REFUSED, "the kernel refused the move: %s", strerror(-rc));
    else {
        if (!forward)
            put_affinity_back(c);
        set_result(c, ok, "%s", "");
    }
}

void zt_change_do(struct zepto_tune_change *c, bool forward)
{
    enum zepto_tune_status ok = forward ? ZT_APPLIED : ZT_RESTORED;
    const char *value = forward ? c->new_value : c->old_value;
    switch (c->kind) {
    case ZT_KIND_FILE: do_file(c, value, ok); break;
    case ZT_KIND_AFFINITY: do_affinity(c, value, ok); break;
    case ZT_KIND_CGDIR: do_cgdir(c, forward, ok); break;
    case ZT_KIND_CGMOVE: do_cgmove(c, forward, ok); break;
    case ZT_KIND_SERVICE: zt_service_do(c, forward, ok); break;
    }
}

int zt_change_probe(const struct zepto_tune_change *c)
{
    char now[4096];
    struct zb_cpuset cur, want;
    switch (c->kind) {
    case ZT_KIND_FILE:
        if (zt_read(c->target, now, sizeof(now)))
            return -1;
        return file_holds(c, now, c->new_value) ? 1 : file_holds(c, now, c->old_value) ? 2 : 0;
    case ZT_KIND_AFFINITY:
        if (!same_process(c) || zt_affinity_get(c->pid, &cur))
            return -1;
        if (!zb_cpuset_parse(c->new_value, &want, NULL) && !memcmp(&cur, &want, sizeof(cur)))
            return 1;
        if (!zb_cpuset_parse(c->old_value, &want, NULL) && !memcmp(&cur, &want, sizeof(cur)))
            return 2;
        return 0;
    case ZT_KIND_CGDIR: return zt_exists(c->target) ? 1 : 2;
    case ZT_KIND_CGMOVE:
        if (!same_process(c) || zt_cpuset_of(c->pid, now, sizeof(now)))
            return -1;
        return !strcmp(now, c->new_value) ? 1 : !strcmp(now, c->old_value) ? 2 : 0;
    case ZT_KIND_SERVICE: return zt_service_probe(c);
    }
    return 0;
}

int zt_need_root(const char *what, struct zepto_err *err)
{
    if (geteuid() != 0 && !zt_fake())
        return zepto_fail(err, EPERM,
                          "%s needs root: it writes /proc/irq, /proc/sys, /sys and cpusets "
                          "(`zepto tune plan` shows the changes without root)",
                          what);
    return 0;
}

int zepto_tune_apply(struct zepto_tune_plan *p, const char *path, struct zepto_err *err)
{
    if (zt_need_root("zepto tune apply", err))
        return -EPERM;
    struct stat st;
    if (!lstat(path, &st))
        return zepto_fail(err, EEXIST,
                          "a tuning is already in effect (state file '%s'): `zepto tune restore` "
                          "first",
                          path);
    if (zt_state_write(p, path, "applying", err))
        return -EIO;
    for (unsigned i = 0; i < p->count; i++)
        zt_change_do(&p->changes[i], true);
    zt_follow_moved(p);
    return zt_state_write(p, path, "applied", err) ? -EIO : 0;
}

int zepto_tune_restore(const char *path, struct zepto_tune_plan *done, bool *nothing,
                       struct zepto_err *err)
{
    char phase[32];
    *nothing = false;
    memset(done, 0, sizeof(*done));
    if (zt_need_root("zepto tune restore", err))
        return -EPERM;
    int rc = zt_state_read(path, done, phase, sizeof(phase), err);
    if (rc == -ENOENT) {
        *nothing = true;
        return 0;
    }
    if (rc)
        return rc;
    unsigned failed = 0;
    for (unsigned i = done->count; i-- > 0;) {
        struct zepto_tune_change *c = &done->changes[i];
        if (c->status == ZT_GONE)
            continue;
        zt_change_do(c, false);
        failed += c->status == ZT_REFUSED;
    }
    if (failed)
        return zepto_fail(err, EIO,
                          "%u change(s) could not be put back (listed above); the state file '%s' "
                          "is kept: fix them and run `zepto tune restore` again",
                          failed, path);
    if (unlink(path) && errno != ENOENT)
        return zepto_fail(err, errno, "state file '%s': restored, but cannot remove it: %s", path,
                          strerror(errno));
    return 0;
}

int zepto_tune_status(const char *path, struct zepto_tune_plan *now, bool *nothing,
                      struct zepto_err *err)
{
    char phase[32];
    *nothing = false;
    int rc = zt_state_read(path, now, phase, sizeof(phase), err);
    if (rc == -ENOENT) {
        *nothing = true;
        return 0;
    }
    if (rc)
        return rc;
    for (unsigned i = 0; i < now->count; i++) {
        struct zepto_tune_change *c = &now->changes[i];
        if (c->status == ZT_REFUSED || c->status == ZT_GONE)
            continue; /* as apply left it */
        switch (zt_change_probe(c)) {
        case 1: set_result(c, ZT_APPLIED, "%s", ""); break;
        case 2:
            set_result(c, ZT_RESTORED, "%s", "back to the old value: the tuning drifted");
            break;
        case -1: set_result(c, ZT_GONE, "%s", "no longer exists"); break;
        default: set_result(c, ZT_REFUSED, "%s", "changed by someone else since: drift"); break;
        }
    }
    if (strcmp(phase, "applied"))
        zt_plan_note(now,
                     "the state file says '%s': the apply did not finish (killed?); "
                     "`zepto tune restore` puts everything back",
                     phase);
    return 0;
}
