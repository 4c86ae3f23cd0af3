/*
 * Reading host facts from uname(2), /proc and /sys.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/sysinfo.h"

int zb_sysinfo_read_key(const char *path, const char *key, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[8192];
    size_t klen = strlen(key);
    int rc = -ENOENT;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, klen) ||
            (line[klen] != ' ' && line[klen] != '\t' && line[klen] != ':'))
            continue;
        char *v = strchr(line + klen, ':');
        if (!v)
            continue;
        for (v++; *v == ' ' || *v == '\t'; v++)
            ;
        v[strcspn(v, "\n")] = 0;
        snprintf(buf, len, "%s", v);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

int zb_sysinfo_read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int rc = fgets(buf, (int)len, f) ? 0 : -EIO;
    if (!rc)
        buf[strcspn(buf, "\n")] = 0;
    fclose(f);
    return rc;
}

int zb_sysinfo_cpu_flags(char *buf, size_t len)
{
    return zb_sysinfo_read_key("/proc/cpuinfo", "flags", buf, len);
}

void zb_sysinfo_get(struct zb_sysinfo *si)
{
    struct utsname u;
    memset(si, 0, sizeof(*si));
    if (uname(&u) == 0) {
        snprintf(si->host, sizeof(si->host), "%s", u.nodename);
        snprintf(si->kernel, sizeof(si->kernel), "%s", u.release);
    } else {
        snprintf(si->host, sizeof(si->host), "unknown");
        snprintf(si->kernel, sizeof(si->kernel), "unknown");
    }
    if (zb_sysinfo_read_key("/proc/cpuinfo", "model name", si->cpu_model, sizeof(si->cpu_model)))
        snprintf(si->cpu_model, sizeof(si->cpu_model), "unknown");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    si->cpus_online = n > 0 ? (unsigned)n : 1;
}

static const char *const launcher_vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                            "SLURM_PROCID", NULL};

const char *const *zb_launcher_vars(void)
{
    return launcher_vars;
}

int zb_launcher_rank(void)
{
    for (const char *const *var = launcher_vars; *var; var++) {
        const char *v = getenv(*var);
        if (!v || !*v)
            continue;
        char *end;
        long r = strtol(v, &end, 10);
        return *end || r < 0 || r > INT_MAX ? -1 : (int)r;
    }
    return -1;
}
