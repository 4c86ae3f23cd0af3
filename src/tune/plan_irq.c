/*
 * The plan's device-interrupt and workqueue changes: the default IRQ affinity and each IRQ's
 * affinity moved to the housekeeping CPUs (when it reaches an application CPU), and the
 * cpumask of unbound workqueues, global and per workqueue.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune/tune_int.h"

static bool touches(const struct zb_cpuset *s, const struct zb_cpuset *app)
{
    for (unsigned c = 0; c < ZB_CPU_MAX; c++)
        if (zb_cpuset_has(s, c) && zb_cpuset_has(app, c))
            return true;
    return false;
}

/* The name of IRQ n's device, from its directory in /proc/irq (a subdirectory per handler). */
static void irq_name(const char *dir, char *buf, size_t len)
{
    char path[512];
    buf[0] = '\0';
    DIR *d = opendir(zt_path(dir, path, sizeof(path)));
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && e->d_type == DT_DIR) {
            snprintf(buf, len, "%s", e->d_name);
            break;
        }
    if (d)
        closedir(d);
}

int zt_plan_irq(struct zepto_tune_plan *p, const struct zt_ctx *c)
{
    char mask[1200], why[160];
    zt_mask_format(&c->hk, mask, sizeof(mask));
    int rc = zt_plan_file(p, ZT_GROUP_IRQ, ZT_VALUE_CPUMASK, "/proc/irq/default_smp_affinity", mask,
                          "IRQs registered from now on go to the housekeeping CPUs");
    if (rc)
        return rc;
    char path[512];
    DIR *d = opendir(zt_path("/proc/irq", path, sizeof(path)));
    if (!d)
        return 0;
    unsigned irqs[1024], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof(irqs) / sizeof(irqs[0]))
        if (isdigit((unsigned char)e->d_name[0]))
            irqs[n++] = (unsigned)strtoul(e->d_name, NULL, 10);
    closedir(d);
    /* Ascending, so that plans read in IRQ order. */
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && irqs[j - 1] > irqs[j]; j--) {
            unsigned t = irqs[j];
            irqs[j] = irqs[j - 1];
            irqs[j - 1] = t;
        }
    for (unsigned i = 0; i < n; i++) {
        char rel[128], dir[64], now[512], name[64];
        struct zb_cpuset cur;
        snprintf(dir, sizeof(dir), "/proc/irq/%u", irqs[i]);
        snprintf(rel, sizeof(rel), "%s/smp_affinity_list", dir);
        if (zt_read(rel, now, sizeof(now)) || zb_cpuset_parse(now, &cur, NULL) ||
            !touches(&cur, &c->app))
            continue;
        irq_name(dir, name, sizeof(name));
        snprintf(why, sizeof(why), "IRQ %u (%s) off the application CPUs", irqs[i],
                 name[0] ? name : "no handler");
        if ((rc = zt_plan_file(p, ZT_GROUP_IRQ, ZT_VALUE_CPULIST, rel, c->hk_list, why)))
            return rc;
    }
    return 0;
}

int zt_plan_workqueue(struct zepto_tune_plan *p, const struct zt_ctx *c)
{
    char mask[1200], path[512];
    zt_mask_format(&c->hk, mask, sizeof(mask));
    int rc = zt_plan_file(p, ZT_GROUP_WORKQUEUE, ZT_VALUE_CPUMASK,
                          "/sys/devices/virtual/workqueue/cpumask", mask,
                          "unbound workqueues (writeback, flush, events_unbound) run on the "
                          "housekeeping CPUs");
    if (rc)
        return rc;
    /* Workqueues with their own sysfs directory (WQ_SYSFS) have their own cpumask. */
    DIR *d = opendir(zt_path("/sys/devices/virtual/workqueue", path, sizeof(path)));
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char rel[512], why[160];
        if (e->d_name[0] == '.')
            continue;
        snprintf(rel, sizeof(rel), "/sys/devices/virtual/workqueue/%s/cpumask", e->d_name);
        snprintf(why, sizeof(why), "workqueue %s on the housekeeping CPUs", e->d_name);
        if ((rc = zt_plan_file(p, ZT_GROUP_WORKQUEUE, ZT_VALUE_CPUMASK, rel, mask, why)))
            break;
    }
    if (d)
        closedir(d);
    return rc;
}
