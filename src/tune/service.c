/*
 * irqbalance under a tuning: left running, it moves device IRQs back onto the application
 * CPUs. Where systemd manages it, apply either bans the application CPUs (a runtime drop-in
 * setting IRQBALANCE_BANNED_CPULIST, then a restart: irqbalance keeps balancing the
 * housekeeping CPUs, as tuned's cpu-partitioning does) or stops it; restore removes the drop-in
 * and puts the service back as it was. The drop-in lives under /run, like the state file, so a
 * reboot forgets both. systemctl is the OS boundary: /usr/bin/systemctl under ZEPTO_SYSROOT
 * (tests put a fake there).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/spawn.h"
#include "tune/tune_int.h"

#define UNIT       "irqbalance.service"
#define DROPIN_DIR "/run/systemd/system/" UNIT ".d"
#define DROPIN     DROPIN_DIR "/zepto-tune.conf"
#define BANNED     "banned:"

/* Runs `systemctl ARGS...` (by its absolute path, under the sysroot: never found through
 * root's PATH); its first output line into out (when given). The exit status, or -errno when it
 * could not run. */
static int systemctl(const char *a1, const char *a2, char *out, size_t len)
{
    char prog[512], fdpath[64];
    int fd = memfd_create("zepto-systemctl", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* The child opens our memfd through its own /proc/self/fd: the fd is inherited across the
     * fork and closed at exec, after the redirection is in place. */
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    char *argv[] = {(char *)zt_path("/usr/bin/systemctl", prog, sizeof(prog)), (char *)a1,
                    (char *)a2, NULL};
    struct zb_spawn_opts opts = {.stdout_path = fdpath};
    struct zepto_err err = {0};
    int st;
    if (zb_run(argv, &opts, &st, &err)) {
        close(fd);
        return -ENOENT;
    }
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (out)
        snprintf(out, len, "%s", buf);
    return st == 127 ? -ENOENT : st;
}

/* "active", "inactive", ... as systemd says ("unknown" when systemctl cannot be run). */
static void unit_state(char *buf, size_t len)
{
    if (systemctl("is-active", UNIT, buf, len) < 0 || !buf[0])
        snprintf(buf, len, "unknown");
}

static bool irqbalance_pid(char *pid, size_t len)
{
    char path[512];
    DIR *d = opendir(zt_path("/proc", path, sizeof(path)));
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        char rel[300], comm[64];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(rel, sizeof(rel), "/proc/%s/comm", e->d_name);
        if (!zt_read(rel, comm, sizeof(comm)) && !strcmp(comm, "irqbalance")) {
            snprintf(pid, len, "%s", e->d_name);
            found = true;
        }
    }
    if (d)
        closedir(d);
    return found;
}

int zt_plan_irqbalance(struct zepto_tune_plan *p, enum zepto_tune_irqbalance mode)
{
    char pid[32], state[64], why[160], value[300];
    if (!irqbalance_pid(pid, sizeof(pid)))
        return 0;
    if (mode == ZT_IRQBALANCE_LEAVE) {
        zt_plan_note(p,
                     "irqbalance (pid %s) is running and left alone (--irqbalance leave): it "
                     "will move IRQs back onto the application CPUs",
                     pid);
        return 0;
    }
    /* sd_booted(): systemd runs the node when this directory exists. */
    if (!zt_exists("/run/systemd/system")) {
        zt_plan_note(p,
                     "irqbalance (pid %s) is running but not under systemd: stop it yourself, or "
                     "start it with IRQBALANCE_BANNED_CPULIST=%s, or it moves IRQs back onto the "
                     "application CPUs",
                     pid, p->app_cpus);
        return 0;
    }
    unit_state(state, sizeof(state));
    if (mode == ZT_IRQBALANCE_STOP) {
        snprintf(value, sizeof(value), "stopped");
        snprintf(why, sizeof(why), "irqbalance (pid %s) stopped: it would move IRQs back", pid);
    } else {
        snprintf(value, sizeof(value), BANNED "%s", p->app_cpus);
        snprintf(why, sizeof(why),
                 "irqbalance (pid %s) restarted with the application CPUs banned "
                 "(IRQBALANCE_BANNED_CPULIST, a drop-in under /run)",
                 pid);
    }
    return zt_plan_add(p, ZT_GROUP_IRQ, ZT_KIND_SERVICE, ZT_VALUE_TEXT, UNIT, state, value, why);
}

bool zt_service_valid(const char *target, const char *new_value)
{
    if (strcmp(target, UNIT))
        return false;
    if (!strcmp(new_value, "stopped"))
        return true;
    if (strncmp(new_value, BANNED, strlen(BANNED)))
        return false;
    const char *l = new_value + strlen(BANNED);
    return *l && strspn(l, "0123456789,-") == strlen(l);
}

static void result(struct zepto_tune_change *c, enum zepto_tune_status s, const char *msg)
{
    c->status = s;
    snprintf(c->result, sizeof(c->result), "%s", msg);
}

static int write_dropin(const char *cpus)
{
    char text[400];
    snprintf(text, sizeof(text),
             "# zepto tune: the application CPUs, removed by `zepto tune restore`\n"
             "[Service]\nEnvironment=IRQBALANCE_BANNED_CPULIST=%s",
             cpus);
    int rc = zt_mkdir("/run/systemd/system/" UNIT ".d");
    if (rc && rc != -EEXIST)
        return rc;
    char path[512];
    FILE *f = fopen(zt_path(DROPIN, path, sizeof(path)), "we");
    if (!f)
        return -errno;
    fprintf(f, "%s\n", text);
    return fclose(f) ? -errno : 0;
}

static void remove_dropin(void)
{
    char path[512];
    unlink(zt_path(DROPIN, path, sizeof(path)));
    zt_rmdir(DROPIN_DIR); /* only when empty: someone else's drop-ins stay */
}

void zt_service_do(struct zepto_tune_change *c, bool forward, enum zepto_tune_status ok)
{
    bool ban = !strncmp(c->new_value, BANNED, strlen(BANNED));
    bool was_active = !strcmp(c->old_value, "active");
    char state[64];
    int rc;
    if (forward && ban) {
        if ((rc = write_dropin(c->new_value + strlen(BANNED)))) {
            char msg[160];
            snprintf(msg, sizeof(msg), "cannot write " DROPIN ": %s", strerror(-rc));
            result(c, ZT_REFUSED, msg);
            return;
        }
        systemctl("daemon-reload", NULL, NULL, 0);
        rc = systemctl(was_active ? "restart" : "try-restart", UNIT, NULL, 0);
    } else if (forward) {
        rc = systemctl("stop", UNIT, NULL, 0);
    } else {
        if (ban) {
            remove_dropin();
            systemctl("daemon-reload", NULL, NULL, 0);
        }
        rc = systemctl(was_active ? (ban ? "restart" : "start") : "stop", UNIT, NULL, 0);
    }
    unit_state(state, sizeof(state));
    bool want_active = forward ? ban && was_active : was_active;
    if (rc < 0)
        result(c, ZT_REFUSED, "systemctl cannot be run");
    else if (rc)
        result(c, ZT_REFUSED, "systemctl failed");
    else if (want_active != !strcmp(state, "active")) {
        char msg[160];
        snprintf(msg, sizeof(msg), "irqbalance is '%s' afterwards", state);
        result(c, ZT_REFUSED, msg);
    } else
        result(c, ok, "");
}

int zt_service_probe(const struct zepto_tune_change *c)
{
    char state[64];
    bool ban = !strncmp(c->new_value, BANNED, strlen(BANNED));
    unit_state(state, sizeof(state));
    if (ban)
        return zt_exists(DROPIN) ? 1 : 2;
    if (!strcmp(state, "active"))
        return !strcmp(c->old_value, "active") ? 2 : 0;
    return 1;
}
