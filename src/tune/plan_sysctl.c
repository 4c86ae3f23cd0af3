/*
 * The plan's knobs: sysctls that put periodic work on every CPU (vmstat, the soft-lockup
 * watchdog, NUMA balancing), RT throttling and timer migration, khugepaged's and THP's defrag,
 * free page reporting to the hypervisor, the frequency governor and deep idle states of the
 * application CPUs; then what needs a reboot (kernel parameters).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune/tune_int.h"

int zt_plan_sysctl(struct zepto_tune_plan *p, const struct zt_ctx *c)
{
    char buf[64];
    int rc = 0;
    if (!zt_read("/proc/sys/vm/stat_interval", buf, sizeof(buf)) && atoi(buf) < 10)
        rc = zt_plan_file(p, ZT_GROUP_SYSCTL, ZT_VALUE_TEXT, "/proc/sys/vm/stat_interval", "10",
                          "vmstat_update wakes every CPU once per interval: every 10 s");
    if (!rc)
        rc = zt_plan_file(p, ZT_GROUP_SYSCTL, ZT_VALUE_CPULIST, "/proc/sys/kernel/watchdog_cpumask",
                          c->hk_list, "the soft-lockup watchdog's timer on housekeeping CPUs only");
    if (!rc)
        rc = zt_plan_file(p, ZT_GROUP_SYSCTL, ZT_VALUE_TEXT, "/proc/sys/kernel/sched_rt_runtime_us",
                          "-1", "no RT throttling: a SCHED_FIFO application keeps its CPU");
    if (!rc)
        rc =
            zt_plan_file(p, ZT_GROUP_SYSCTL, ZT_VALUE_TEXT, "/proc/sys/kernel/timer_migration", "0",
                         "timers stay where they were queued: an idle housekeeping CPU does not "
                         "hand them to a busy application CPU");
    if (!rc)
        rc = zt_plan_file(p, ZT_GROUP_SYSCTL, ZT_VALUE_TEXT, "/proc/sys/kernel/nmi_watchdog", "0",
                          "no NMI watchdog (a perf event on every CPU)");
    if (!rc)
        rc = zt_plan_file(p, ZT_GROUP_SYSCTL, ZT_VALUE_TEXT, "/proc/sys/kernel/numa_balancing", "0",
                          "no NUMA-balancing scans (task_numa_work) in the application");
    return rc;
}

/* How many block orders the page allocator has: the counts per order of /proc/buddyinfo's first
 * zone (11 on x86-64); 0 when unknown. */
static unsigned buddy_orders(void)
{
    char line[512];
    if (zt_read("/proc/buddyinfo", line, sizeof(line)))
        return 0;
    char *nl = strchr(line, '\n'), *s = strstr(line, "zone");
    if (nl)
        *nl = 0;
    if (!s)
        return 0;
    s += 4;
    while (*s == ' ')
        s++;
    s += strcspn(s, " "); /* the zone's name */
    unsigned n = 0;
    for (char *tok = strtok(s, " "); tok; tok = strtok(NULL, " "))
        n++;
    return n;
}

/* Free page reporting (virtio-balloon): the guest hands free blocks of 2^order pages to the
 * hypervisor, which takes their memory back; the next use of such a page faults in the host,
 * inside whatever the application was doing. Measured on this project's VM (order 9, the
 * platform's setting): 1 MiB unix-socket sends of a pipelined upload 353-4,079 MiB/s, 7 of 12
 * runs under 1,000; with reporting off (an order above the largest) 2,582-4,307, never under
 * 2,500 (docs/BENCHMARKS.md). Off for the application's run: order = the number of orders. */
static int page_reporting(struct zepto_tune_plan *p)
{
    static const char rel[] = "/sys/module/page_reporting/parameters/page_reporting_order";
    char now[32], off[16];
    unsigned orders = buddy_orders();
    if (zt_read(rel, now, sizeof(now)) || !orders || (unsigned)atoi(now) >= orders)
        return 0;
    snprintf(off, sizeof(off), "%u", orders);
    return zt_plan_file(p, ZT_GROUP_THP, ZT_VALUE_TEXT, rel, off,
                        "no free-page reporting to the hypervisor: memory the application frees "
                        "and uses again is not taken back by the host and faulted in again");
}

int zt_plan_thp(struct zepto_tune_plan *p, const struct zt_ctx *c)
{
    (void)c;
    char now[256], sel[64];
    int rc = zt_plan_file(p, ZT_GROUP_THP, ZT_VALUE_TEXT,
                          "/sys/kernel/mm/transparent_hugepage/khugepaged/defrag", "0",
                          "khugepaged does not compact memory to collapse huge pages");
    if (!rc)
        rc = page_reporting(p);
    if (rc || zt_read("/sys/kernel/mm/transparent_hugepage/defrag", now, sizeof(now)))
        return rc;
    if (!strcmp(zt_choice_selected(now, sel, sizeof(sel)), "always"))
        rc = zt_plan_file(p, ZT_GROUP_THP, ZT_VALUE_CHOICE,
                          "/sys/kernel/mm/transparent_hugepage/defrag", "madvise",
                          "direct compaction only for memory that asked for huge pages");
    return rc;
}

/* Deep idle states (exit latency of 10 us or more) of one CPU are disabled. */
static int idle_states(struct zepto_tune_plan *p, unsigned cpu)
{
    char dir[128], path[512];
    snprintf(dir, sizeof(dir), "/sys/devices/system/cpu/cpu%u/cpuidle", cpu);
    DIR *d = opendir(zt_path(dir, path, sizeof(path)));
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        char rel[256], lat[32], name[64], why[160];
        if (strncmp(e->d_name, "state", 5))
            continue;
        snprintf(rel, sizeof(rel), "%s/%s/latency", dir, e->d_name);
        if (zt_read(rel, lat, sizeof(lat)) || atoi(lat) < 10)
            continue;
        snprintf(rel, sizeof(rel), "%s/%s/name", dir, e->d_name);
        if (zt_read(rel, name, sizeof(name)))
            snprintf(name, sizeof(name), "%s", e->d_name);
        snprintf(why, sizeof(why), "CPU %u: no idle state %s (%s us to wake)", cpu, name, lat);
        snprintf(rel, sizeof(rel), "%s/%s/disable", dir, e->d_name);
        rc = zt_plan_file(p, ZT_GROUP_CPU, ZT_VALUE_TEXT, rel, "1", why);
    }
    closedir(d);
    return rc;
}

int zt_plan_cpu(struct zepto_tune_plan *p, const struct zt_ctx *c)
{
    for (unsigned cpu = 0; cpu < ZB_CPU_MAX; cpu++) {
        if (!zb_cpuset_has(&c->app, cpu))
            continue;
        char rel[128], avail[256], why[160];
        snprintf(rel, sizeof(rel),
                 "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_available_governors", cpu);
        if (!zt_read(rel, avail, sizeof(avail)) && strstr(avail, "performance")) {
            snprintf(rel, sizeof(rel), "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor",
                     cpu);
            snprintf(why, sizeof(why), "CPU %u at full frequency: no governor decisions", cpu);
            int rc = zt_plan_file(p, ZT_GROUP_CPU, ZT_VALUE_TEXT, rel, "performance", why);
            if (rc)
                return rc;
        }
        int rc = idle_states(p, cpu);
        if (rc)
            return rc;
    }
    return 0;
}

/* Whether the kernel command line has a parameter (key=... or the bare key). */
static bool cmdline_has(const char *cmdline, const char *key)
{
    size_t n = strlen(key);
    for (const char *s = cmdline; (s = strstr(s, key)); s += n)
        if ((s == cmdline || s[-1] == ' ') && (s[n] == '=' || s[n] == ' ' || !s[n]))
            return true;
    return false;
}

void zt_plan_boot_advice(struct zepto_tune_plan *p, const struct zt_ctx *c)
{
    char cmdline[4096] = "";
    zt_read("/proc/cmdline", cmdline, sizeof(cmdline));
    const char *const keys[] = {"nohz_full", "rcu_nocbs", "isolcpus", "irqaffinity"};
    char vals[4][300];
    snprintf(vals[0], sizeof(vals[0]), "%s", c->app_list);
    snprintf(vals[1], sizeof(vals[1]), "%s", c->app_list);
    snprintf(vals[2], sizeof(vals[2]), "managed_irq,domain,%s", c->app_list);
    snprintf(vals[3], sizeof(vals[3]), "%s", c->hk_list);
    size_t at = 0;
    for (size_t i = 0; i < 4; i++) {
        if (cmdline_has(cmdline, keys[i]))
            continue;
        at += (size_t)snprintf(p->boot_advice + at, sizeof(p->boot_advice) - at, "%s%s=%s",
                               at ? " " : "", keys[i], vals[i]);
        if (at >= sizeof(p->boot_advice))
            break;
    }
}
