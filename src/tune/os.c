/*
 * The OS boundary of zepto tune: every read and write of /proc and /sys, thread affinities and
 * cpuset membership. Paths are taken under ZEPTO_SYSROOT; with a fake tree there, affinities
 * and cpusets are read from and written to the fake /proc files instead of the kernel.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/parse.h"
#include "base/settings.h"
#include "tune/tune_int.h"

const char *zt_sysroot(void)
{
    return zb_setting(ZB_SET_SYSROOT, "");
}

bool zt_fake(void)
{
    return zt_sysroot()[0] != '\0';
}

const char *zt_path(const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", zt_sysroot(), rel);
    return buf;
}

bool zt_exists(const char *rel)
{
    char path[512];
    return access(zt_path(rel, path, sizeof(path)), F_OK) == 0;
}

int zt_read(const char *rel, char *buf, size_t len)
{
    char path[512];
    int fd = open(zt_path(rel, path, sizeof(path)), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n + 1 < len) {
        ssize_t r = read(fd, buf + n, len - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return 0;
}

/* The fake tree's choice files ("always [madvise] never") behave as the kernel's: writing one of
 * the words moves the brackets. Returns 1 when rel was such a file and was rewritten. */
static int fake_choice_write(const char *rel, const char *value)
{
    char now[512], out[600];
    if (zt_read(rel, now, sizeof(now)) || !strchr(now, '['))
        return 0;
    size_t at = 0;
    bool found = false;
    char *save = NULL;
    for (char *w = strtok_r(now, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char word[128];
        snprintf(word, sizeof(word), "%.*s", (int)strcspn(w + (w[0] == '['), "]"),
                 w + (w[0] == '['));
        bool sel = !strcmp(word, value);
        found |= sel;
        at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%s%s%s", at ? " " : "",
                               sel ? "[" : "", word, sel ? "]" : "");
        if (at >= sizeof(out))
            return -EINVAL;
    }
    if (!found)
        return -EINVAL;
    char path[512];
    FILE *f = fopen(zt_path(rel, path, sizeof(path)), "we");
    if (!f)
        return -errno;
    fprintf(f, "%s\n", out);
    return fclose(f) ? -errno : 1;
}

/* The fake tree's cgroup.subtree_control behaves as the kernel's: "+name" adds a controller to
 * the list, "-name" removes it. Returns 1 when rel was such a file and was rewritten. */
static int fake_subtree_write(const char *rel, const char *value)
{
    size_t n = strlen(rel), k = strlen("cgroup.subtree_control");
    if (n < k || strcmp(rel + n - k, "cgroup.subtree_control") ||
        (value[0] != '+' && value[0] != '-'))
        return 0;
    char now[512], out[600] = "";
    if (zt_read(rel, now, sizeof(now)))
        return -ENOENT;
    size_t at = 0;
    bool present = false;
    char *save = NULL;
    for (char *w = strtok_r(now, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (!strcmp(w, value + 1)) {
            present = true;
            if (value[0] == '-')
                continue;
        }
        at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%s", at ? " " : "", w);
    }
    if (value[0] == '+' && !present)
        snprintf(out + at, sizeof(out) - at, "%s%s", at ? " " : "", value + 1);
    char path[512];
    FILE *f = fopen(zt_path(rel, path, sizeof(path)), "we");
    if (!f)
        return -errno;
    fprintf(f, "%s\n", out);
    return fclose(f) ? -errno : 1;
}

int zt_write(const char *rel, const char *value)
{
    char path[512];
    if (zt_fake()) {
        int rc = fake_subtree_write(rel, value);
        if (rc)
            return rc < 0 ? rc : 0;
        rc = fake_choice_write(rel, value);
        if (rc)
            return rc < 0 ? rc : 0;
    }
    /* O_TRUNC for the fake tree's plain files; the kernel's files ignore it. */
    int fd =
        open(zt_path(rel, path, sizeof(path)), O_WRONLY | O_CLOEXEC | (zt_fake() ? O_TRUNC : 0));
    if (fd < 0)
        return -errno;
    /* One write with a newline, as `echo` does: what the kernel's files expect. */
    char buf[4200];
    size_t len = (size_t)snprintf(buf, sizeof(buf), "%s\n", value);
    if (len >= sizeof(buf)) {
        close(fd);
        return -E2BIG;
    }
    ssize_t w = write(fd, buf, len);
    int e = w < 0 ? errno : (size_t)w != len ? EIO : 0;
    if (close(fd) && !e)
        e = errno;
    return -e;
}

int zt_mkdir(const char *rel)
{
    char path[512];
    if (mkdir(zt_path(rel, path, sizeof(path)), 0755))
        return -errno;
    if (zt_fake()) { /* the files a new cpuset has */
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems", "cgroup.procs"};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            char f[600];
            snprintf(f, sizeof(f), "%s/%s", path, files[i]);
            int fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0)
                close(fd);
        }
    }
    return 0;
}

int zt_rmdir(const char *rel)
{
    char path[512];
    zt_path(rel, path, sizeof(path));
    if (zt_fake()) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char f[800];
            snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
            unlink(f);
        }
        if (d)
            closedir(d);
    }
    return rmdir(path) ? -errno : 0;
}

int zt_proc_read(int pid, struct zt_proc *pr)
{
    char rel[64], buf[1024];
    snprintf(rel, sizeof(rel), "/proc/%d/stat", pid);
    int rc = zt_read(rel, buf, sizeof(buf));
    if (rc)
        return rc;
    /* pid (comm) state ppid pgrp session tty tpgid flags ... starttime (field 22) */
    char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren || close_paren < open_paren)
        return -EINVAL;
    memset(pr, 0, sizeof(*pr));
    pr->pid = pid;
    size_t n = (size_t)(close_paren - open_paren - 1);
    if (n >= sizeof(pr->comm))
        n = sizeof(pr->comm) - 1;
    memcpy(pr->comm, open_paren + 1, n);
    zb_printable(pr->comm); /* any user names their processes: nothing to print raw */
    char *f = close_paren + 1;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(f, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        switch (field) {
        case 3: pr->state = tok[0]; break;
        case 4: pr->ppid = atoi(tok); break;
        case 6: pr->sid = atoi(tok); break;
        case 9: pr->flags = strtoul(tok, NULL, 10); break;
        case 22: pr->starttime = strtoull(tok, NULL, 10); return 0;
        default: break;
        }
    }
    return -EINVAL;
}

static int pid_cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int zt_proc_each(int (*fn)(const struct zt_proc *pr, void *arg), void *arg)
{
    char path[512];
    DIR *d = opendir(zt_path("/proc", path, sizeof(path)));
    if (!d)
        return -errno;
    int *pids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 256;
            int *np = realloc(pids, ncap * sizeof(*np));
            if (!np) {
                free(pids);
                closedir(d);
                return -ENOMEM;
            }
            pids = np;
            cap = ncap;
        }
        pids[n++] = atoi(e->d_name);
    }
    closedir(d);
    qsort(pids, n, sizeof(*pids), pid_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct zt_proc pr;
        if (zt_proc_read(pids[i], &pr) == 0) /* a process that exited meanwhile is skipped */
            rc = fn(&pr, arg);
    }
    free(pids);
    return rc;
}

int zt_affinity_get(int pid, struct zb_cpuset *set)
{
    char rel[64], buf[512];
    snprintf(rel, sizeof(rel), "/proc/%d/status", pid);
    char path[512];
    FILE *f = fopen(zt_path(rel, path, sizeof(path)), "re");
    if (!f)
        return -errno;
    int rc = -ENOENT;
    while (fgets(buf, sizeof(buf), f)) {
        if (strncmp(buf, "Cpus_allowed_list:", 18))
            continue;
        char *v = buf + 18;
        v += strspn(v, " \t");
        v[strcspn(v, "\n")] = '\0';
        rc = zb_cpuset_parse(v, set, NULL) ? -EINVAL : 0;
        break;
    }
    fclose(f);
    return rc;
}

/* The fake tree: rewrites the Cpus_allowed_list line of the fake status file. */
static int fake_affinity_set(int pid, const struct zb_cpuset *set)
{
    char rel[64], path[512], tmp[520], line[512], list[256];
    snprintf(rel, sizeof(rel), "/proc/%d/status", pid);
    zt_path(rel, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *in = fopen(path, "re");
    if (!in)
        return -errno;
    FILE *out = fopen(tmp, "we");
    if (!out) {
        int e = errno;
        fclose(in);
        return -e;
    }
    while (fgets(line, sizeof(line), in)) {
        if (!strncmp(line, "Cpus_allowed_list:", 18))
            fprintf(out, "Cpus_allowed_list:\t%s\n", zb_cpuset_format(set, list, sizeof(list)));
        else
            fputs(line, out);
    }
    fclose(in);
    if (fclose(out) || rename(tmp, path))
        return -errno;
    return 0;
}

int zt_affinity_set(int pid, const struct zb_cpuset *set)
{
    if (zt_fake())
        return fake_affinity_set(pid, set);
    cpu_set_t *cs = CPU_ALLOC(ZB_CPU_MAX);
    if (!cs)
        return -ENOMEM;
    size_t sz = CPU_ALLOC_SIZE(ZB_CPU_MAX);
    CPU_ZERO_S(sz, cs);
    for (unsigned c = 0; c < ZB_CPU_MAX; c++)
        if (zb_cpuset_has(set, c))
            CPU_SET_S(c, sz, cs);
    int rc = sched_setaffinity(pid, sz, cs) ? -errno : 0;
    CPU_FREE(cs);
    return rc;
}

int zt_cpuset_of(int pid, char *buf, size_t len)
{
    char rel[64];
    snprintf(rel, sizeof(rel), "/proc/%d/cpuset", pid);
    return zt_read(rel, buf, len);
}

int zt_cpuset_move(int pid, const char *root, const char *cg)
{
    char rel[512], v[32];
    if (zt_fake()) { /* the fake tree keeps membership in /proc/PID/cpuset only */
        snprintf(rel, sizeof(rel), "/proc/%d/cpuset", pid);
        return zt_write(rel, cg);
    }
    snprintf(rel, sizeof(rel), "%s%s%scgroup.procs", root, cg,
             cg[strlen(cg) - 1] == '/' ? "" : "/");
    snprintf(v, sizeof(v), "%d", pid);
    return zt_write(rel, v);
}
