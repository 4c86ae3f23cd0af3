/*
 * The common start of a cluster-wide recording: registrations in a shared directory, a bounded
 * wait for all of them, and the plan every task derives from the same files (one start time, and
 * time slots for tasks that would measure the same CPUs of one machine).
 *
 * No task leads: each computes the plan from the registrations alone, so all agree without a
 * second round. The only clock compared across tasks is CLOCK_REALTIME (NTP on a real cluster;
 * the same clock for the namespace nodes of one machine).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cpuset.h"
#include "zepto/noise_rendezvous.h"

#define MAGIC      "zepto-noise-sync 1 "
#define LINE_MAX_B 1536
#define MASK_CPUS  (16 * 64)

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- one registration ---- */

/* The value of `name=` at *p up to the next space or newline, copied into out (len bytes). */
static int field(const char **p, const char *end, const char *name, char *out, size_t len,
                 struct zepto_err *err)
{
    size_t nl = strlen(name);
    if ((size_t)(end - *p) <= nl || memcmp(*p, name, nl) || (*p)[nl] != '=')
        return zepto_fail(err, EINVAL, "expected %s=", name);
    const char *v = *p + nl + 1, *e = v;
    while (e < end && *e != ' ' && *e != '\n' && *e)
        e++;
    if (e == v || (size_t)(e - v) >= len)
        return zepto_fail(err, EINVAL, "%s: empty or too long", name);
    memcpy(out, v, (size_t)(e - v));
    out[e - v] = 0;
    *p = e < end && *e == ' ' ? e + 1 : e;
    return 0;
}

static int number(const char *s, uint64_t max, uint64_t *out, const char *name,
                  struct zepto_err *err)
{
    uint64_t v = 0;
    if (!*s)
        return zepto_fail(err, EINVAL, "%s: not a number", name);
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
            return zepto_fail(err, EINVAL, "%s: not a number up to %" PRIu64, name, max);
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

int zn_rv_parse(const char *buf, size_t len, struct zn_rv_task *out, struct zepto_err *err)
{
    const char *p = buf, *end = buf + len;
    const char *nl = memchr(buf, '\n', len);
    if (!nl)
        return zepto_fail(err, EINVAL, "registration: no complete line");
    end = nl;
    if ((size_t)(end - p) < strlen(MAGIC) || memcmp(p, MAGIC, strlen(MAGIC)))
        return zepto_fail(err, EINVAL, "registration: not a zepto-noise-sync 1 line");
    p += strlen(MAGIC);
    memset(out, 0, sizeof *out);
    char v[LINE_MAX_B];
    uint64_t n;
    if (field(&p, end, "rank", v, sizeof v, err) || number(v, ZN_RV_MAX_TASKS - 1, &n, "rank", err))
        goto bad;
    out->rank = (unsigned)n;
    if (field(&p, end, "host", out->host, sizeof out->host, err) ||
        field(&p, end, "boot", out->boot, sizeof out->boot, err) ||
        field(&p, end, "cpus", v, sizeof v, err))
        goto bad;
    struct zb_cpuset set;
    if (!strcmp(v, "all")) {
        zepto_fail(err, EINVAL, "cpus: a list of CPUs, not all");
        goto bad;
    }
    if (zb_cpuset_parse(v, &set, err))
        goto bad;
    for (unsigned c = 0; c < ZB_CPU_MAX; c++) {
        if (!zb_cpuset_has(&set, c))
            continue;
        if (c >= MASK_CPUS) {
            zepto_fail(err, EINVAL, "cpus: CPU %u is beyond %u", c, MASK_CPUS - 1);
            goto bad;
        }
        out->cpus[c / 64] |= 1ull << (c % 64);
    }
    if (field(&p, end, "t", v, sizeof v, err) || number(v, UINT64_MAX, &out->t_ns, "t", err))
        goto bad;
    if (p != end) {
        zepto_fail(err, EINVAL, "trailing text");
        goto bad;
    }
    return 0;
bad:
    zepto_err_prefix(err, "registration");
    return -EINVAL;
}

int zn_rv_format(const struct zn_rv_task *t, char *buf, size_t len)
{
    struct zb_cpuset set;
    zb_cpuset_clear(&set);
    for (unsigned c = 0; c < MASK_CPUS; c++)
        if (t->cpus[c / 64] >> (c % 64) & 1)
            zb_cpuset_add(&set, c);
    char list[1024];
    zb_cpuset_format(&set, list, sizeof list);
    int n = snprintf(buf, len, MAGIC "rank=%u host=%s boot=%s cpus=%s t=%" PRIu64 "\n", t->rank,
                     t->host, t->boot, list, t->t_ns);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- the plan ---- */

static bool overlap(const struct zn_rv_task *a, const struct zn_rv_task *b)
{
    if (strcmp(a->boot, b->boot))
        return false; /* different machines: CPU numbers name different CPUs */
    for (unsigned w = 0; w < 16; w++)
        if (a->cpus[w] & b->cpus[w])
            return true;
    return false;
}

/* HOST.znt, or HOST.rRANK.znt when another task has the same host name. */
static void trace_name(const struct zn_rv_task *tasks, unsigned n, unsigned i,
                       char name[ZN_RV_NAME])
{
    bool dup = false;
    for (unsigned k = 0; k < n && !dup; k++)
        dup = k != i && !strcmp(tasks[k].host, tasks[i].host);
    if (dup)
        snprintf(name, ZN_RV_NAME, "%s.r%u.znt", tasks[i].host, tasks[i].rank);
    else
        snprintf(name, ZN_RV_NAME, "%s.znt", tasks[i].host);
}

void zn_rv_plan(const struct zn_rv_task *tasks, unsigned n, unsigned me, uint64_t duration_ns,
                struct zn_rv_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->ntasks = n;
    unsigned *slot = calloc(n ? n : 1, sizeof *slot);
    uint64_t last = 0;
    for (unsigned i = 0; i < n; i++) {
        last = tasks[i].t_ns > last ? tasks[i].t_ns : last;
        /* The first slot no lower rank sharing a CPU holds (greedy colouring by rank). O(n^2)
         * per task, fine for the few thousand tasks a registration directory can take. */
        unsigned s = 0;
        for (bool clash = true; clash && slot; s += clash) {
            clash = false;
            for (unsigned k = 0; k < i && !clash; k++)
                clash = slot[k] == s && overlap(&tasks[i], &tasks[k]);
        }
        if (slot)
            slot[i] = s;
        if (s + 1 > plan->nslots)
            plan->nslots = s + 1;
        if (i != me && !strcmp(tasks[i].host, tasks[me].host))
            plan->dup_host = true;
    }
    plan->slot = slot && me < n ? slot[me] : 0;
    if (me < n)
        trace_name(tasks, n, me, plan->name);
    free(slot);
    uint64_t len = ZN_RV_CALIB_NS + duration_ns + ZN_RV_GAP_NS;
    uint64_t t0 = last + ZN_RV_LEAD_NS;
    plan->begin_unix_ns = t0 + plan->slot * len;
    plan->start_unix_ns = plan->begin_unix_ns + ZN_RV_CALIB_NS;
    plan->end_all_unix_ns = t0 + plan->nslots * len - ZN_RV_GAP_NS; /* no gap after the last */
}

/* ---- the directory ---- */

static int sync_dir(const char *dir, const char *key, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/.zepto-sync-%s", dir, key);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int write_self(const char *sd, const struct zn_rv_task *t, struct zepto_err *err)
{
    char line[LINE_MAX_B], path[4096 + 32], tmp[4096 + 48];
    if (zn_rv_format(t, line, sizeof line))
        return zepto_fail(err, ENAMETOOLONG, "registration of rank %u: too long", t->rank);
    snprintf(path, sizeof path, "%s/%u", sd, t->rank);
    snprintf(tmp, sizeof tmp, "%s/.%u.tmp", sd, t->rank);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return zepto_fail(err, errno, "%s: %s", tmp, strerror(errno));
    int bad = fputs(line, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) { /* the rename makes the line appear whole */
        int e = errno ? errno : EIO;
        unlink(tmp);
        return zepto_fail(err, e, "%s: %s", path, strerror(e));
    }
    return 0;
}

/* Reads the registration of rank r if it is there: 1 read, 0 not there yet, <0 a bad file. */
static int read_one(const char *sd, unsigned r, struct zn_rv_task *t, struct zepto_err *err)
{
    char path[4096 + 32], buf[LINE_MAX_B];
    snprintf(path, sizeof path, "%s/%u", sd, r);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (zn_rv_parse(buf, n, t, err) || t->rank != r) {
        if (!err->code)
            zepto_fail(err, EINVAL, "registration: rank %u in the file of rank %u", t->rank, r);
        zepto_err_prefix(err, "%s", path);
        return -EINVAL;
    }
    return 1;
}

static int write_manifest(const struct zn_rv_opts *o, const struct zn_rv_task *tasks,
                          struct zepto_err *err)
{
    char path[4096 + 32], tmp[4096 + 48], name[ZN_RV_NAME];
    snprintf(path, sizeof path, "%s/" ZN_RV_MANIFEST, o->dir);
    snprintf(tmp, sizeof tmp, "%s/" ZN_RV_MANIFEST ".tmp", o->dir);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return zepto_fail(err, errno, "%s: %s", tmp, strerror(errno));
    int bad = fprintf(f, "zepto-noise-nodes 1 job=%s tasks=%u\n", o->key, o->size) < 0;
    for (unsigned i = 0; i < o->size; i++) {
        trace_name(tasks, o->size, i, name);
        bad |= fprintf(f, "%s\n", name) < 0;
    }
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        int e = errno ? errno : EIO;
        unlink(tmp);
        return zepto_fail(err, e, "%s: %s", path, strerror(e));
    }
    return 0;
}

/* A trace name as the recorder makes them: [A-Za-z0-9._-], ending in .znt, not hidden. */
static bool good_name(const char *s, size_t len)
{
    if (len < 5 || len >= ZN_RV_NAME || s[0] == '.' || memcmp(s + len - 4, ".znt", 4))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

int zn_rv_manifest_parse(const char *buf, size_t len, struct zn_rv_manifest *m,
                         struct zepto_err *err)
{
    static const char head[] = "zepto-noise-nodes 1 ";
    memset(m, 0, sizeof *m);
    const char *end = buf + len, *nl = memchr(buf, '\n', len);
    if (!nl || (size_t)(nl - buf) < strlen(head) || memcmp(buf, head, strlen(head)))
        return zepto_fail(err, EINVAL, "not a zepto-noise-nodes 1 file");
    const char *p = buf + strlen(head);
    char v[64];
    uint64_t ntasks;
    if (field(&p, nl, "job", m->key, sizeof m->key, err) ||
        field(&p, nl, "tasks", v, sizeof v, err) ||
        number(v, ZN_RV_MAX_TASKS, &ntasks, "tasks", err) || p != nl || !ntasks) {
        if (!err->code)
            zepto_fail(err, EINVAL, "a bad header line");
        return -EINVAL;
    }
    m->ntasks = (unsigned)ntasks;
    if (!(m->name = calloc(ntasks, sizeof *m->name)))
        return zepto_fail(err, ENOMEM, "out of memory");
    for (p = nl + 1; p < end; p = nl + 1) {
        if (!(nl = memchr(p, '\n', (size_t)(end - p))) || m->n == m->ntasks ||
            !good_name(p, (size_t)(nl - p))) {
            zepto_fail(err, EINVAL, "line %u: %s", m->n + 2,
                       !nl                 ? "no newline"
                       : m->n == m->ntasks ? "more names than tasks"
                                           : "not a trace name");
            zn_rv_manifest_free(m);
            return -EINVAL;
        }
        memcpy(m->name[m->n], p, (size_t)(nl - p));
        m->name[m->n++][nl - p] = 0;
    }
    if (m->n != m->ntasks) {
        zepto_fail(err, EINVAL, "%u names for %u tasks", m->n, m->ntasks);
        zn_rv_manifest_free(m);
        return -EINVAL;
    }
    return 0;
}

void zn_rv_manifest_free(struct zn_rv_manifest *m)
{
    free(m->name);
    m->name = NULL;
    m->n = 0;
}

int zn_rendezvous(const struct zn_rv_opts *o, struct zn_rv_plan *plan, struct zepto_err *err)
{
    char sd[4096];
    if (!o->size || o->size > ZN_RV_MAX_TASKS || o->rank >= o->size)
        return zepto_fail(err, EINVAL, "rank %u of %u tasks: out of range (at most %u tasks)",
                          o->rank, o->size, ZN_RV_MAX_TASKS);
    if (sync_dir(o->dir, o->key, sd, sizeof sd))
        return zepto_fail(err, ENAMETOOLONG, "%s: path too long", o->dir);
    if (mkdir(sd, 0777) && errno != EEXIST)
        return zepto_fail(err, errno, "%s: %s", sd, strerror(errno));
    struct zn_rv_task *tasks = calloc(o->size, sizeof *tasks);
    bool *seen = calloc(o->size, sizeof *seen);
    int rc = 0;
    if (!tasks || !seen) {
        rc = zepto_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    struct zn_rv_task self = *o->self;
    self.rank = o->rank;
    self.t_ns = realtime_ns();
    if ((rc = write_self(sd, &self, err)))
        goto out;
    uint64_t deadline = self.t_ns + o->timeout_ns;
    unsigned have = 0;
    for (;;) {
        for (unsigned r = 0; r < o->size; r++) {
            if (seen[r])
                continue;
            int got = read_one(sd, r, &tasks[r], err);
            if (got < 0) {
                rc = got;
                goto out_unregister;
            }
            if (got) {
                seen[r] = true;
                have++;
            }
        }
        if (have == o->size)
            break;
        if (realtime_ns() >= deadline) {
            unsigned miss = 0;
            while (miss < o->size && seen[miss])
                miss++;
            rc = zepto_fail(err, ETIMEDOUT,
                            "%s: %u of %u tasks registered within %.1f s (rank %u never came)", sd,
                            have, o->size, (double)o->timeout_ns / 1e9, miss);
            goto out_unregister;
        }
        struct timespec ts = {0, (long)ZN_RV_POLL_NS};
        nanosleep(&ts, NULL);
    }
    zn_rv_plan(tasks, o->size, o->rank, o->duration_ns, plan);
    if (!o->rank)
        rc = write_manifest(o, tasks, err);
    goto out;
out_unregister : {
    char path[4096 + 32];
    snprintf(path, sizeof path, "%s/%u", sd, o->rank);
    unlink(path);
    rmdir(sd); /* only when it is empty: the last one out */
}
out:
    free(tasks);
    free(seen);
    return rc;
}

void zn_rendezvous_cleanup(const char *dir, const char *key)
{
    char sd[4096];
    if (sync_dir(dir, key, sd, sizeof sd))
        return;
    DIR *d = opendir(sd);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[4096 + 300];
        snprintf(path, sizeof path, "%s/%s", sd, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(sd);
}
