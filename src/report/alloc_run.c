/*
 * The allocation report's protocol (`srun -N 4 zepto report -o DIR`): how the tasks of a job step
 * cooperate through the shared directory, without MPI.
 *
 * Each node's first task claims its host (claim.HOST, created exclusively: a second task with the
 * same host name fails, saying so), says hello (its CPUs and the machine's boot id), waits for
 * its turn, runs the node's report into nodes/HOST, then leaves done.SLOT and its part
 * (part.SLOT). A node's turn comes when every earlier node of the same machine whose CPUs
 * overlap its own is done: nodes that share a CPU record in turns, so that one node's
 * measurements never show up as another's noise. The first node's task then waits, with a bound,
 * for every part and assembles the page; a node that never delivers is marked missing on it.
 * SLOT is the node index under Slurm ("n0"), the host under Open MPI (which gives no index).
 * Every wait is a poll of the directory every POLL_NS, bounded by the caller's wait.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cpuset.h"
#include "base/dir.h"
#include "report/alloc.h"

#define POLL_NS         100000000ull   /* 100 ms between looks at the shared directory */
#define DEFAULT_WAIT_NS 60000000000ull /* plus a node report per node: the default bound */

struct run {
    const struct zepto_report_opts *opts;
    const struct zepto_report_alloc *a;
    char parts[4096]; /* DIR/parts/JOB */
    char slot[80];    /* this node's slot */
    char cpus[128];   /* its CPU list */
    char boot_id[48]; /* its machine */
    uint64_t wait_ns; /* the bound of every wait */
    char waited_for[256];
    char not_waited[512]; /* predecessors given up on */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pause_poll(void)
{
    struct timespec ts = {0, (long)POLL_NS};
    nanosleep(&ts, NULL);
}

static bool exists(const struct run *r, const char *kind, const char *slot)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s.%s", r->parts, kind, slot);
    return access(path, F_OK) == 0;
}

static void read_boot_id(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (!f)
        return;
    if (fgets(buf, (int)len, f))
        buf[strcspn(buf, "\n")] = 0;
    fclose(f);
}

static void append(char *list, size_t len, const char *name)
{
    size_t used = strlen(list);
    if (used + strlen(name) + 2 < len)
        snprintf(list + used, len - used, "%s%s", used ? "," : "", name);
}

/* Claims the host: exclusively, so that a second task with the same name learns of the first. */
static int claim(struct run *r, struct zepto_err *err)
{
    char path[4300], text[128];
    snprintf(path, sizeof(path), "%s/claim.%s", r->parts, r->a->host);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
        int len = snprintf(text, sizeof(text), "rank %u\n", r->a->rank);
        ssize_t w = write(fd, text, (size_t)len);
        close(fd);
        return w == len ? 0 : zepto_fail(err, EIO, "%s: write error", path);
    }
    if (errno != EEXIST)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    struct zr_kv kv;
    struct zepto_err e2 = {0};
    const char *other = zr_kv_read(path, &kv, &e2) ? NULL : zr_kv_get(&kv, "rank");
    return zepto_fail(err, EEXIST,
                      "host %s is reported by two tasks of job %s (ranks %s and %u): two nodes "
                      "with one host name, or several tasks on a node without a local rank",
                      r->a->host, r->a->job, other ? other : "?", r->a->rank);
}

static int write_kv_file(const struct run *r, const char *kind, const char *slot, const char *text,
                         struct zepto_err *err)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s.%s", r->parts, kind, slot);
    return zr_write_atomic(path, text, err);
}

static int hello(struct run *r, struct zepto_err *err)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "host %s\nindex %d\nrank %u\ncpus %s\nboot_id %s\nstart_unix_ns %llu\n", r->a->host,
             r->a->node_index, r->a->rank, r->cpus, r->boot_id, (unsigned long long)unix_ns());
    return write_kv_file(r, "hello", r->slot, text, err);
}

/* Is the node of hello kv before this one in the order of turns? */
static bool before(const struct run *r, const struct zr_kv *kv)
{
    const char *idx = zr_kv_get(kv, "index"), *host = zr_kv_get(kv, "host");
    if (r->a->node_index >= 0 && idx)
        return atoi(idx) < r->a->node_index;
    return host && strcmp(host, r->a->host) < 0;
}

bool zr_cpus_overlap(const char *a, const char *b)
{
    struct zb_cpuset x, y;
    struct zepto_err e = {0};
    if (zb_cpuset_parse(a, &x, &e) || zb_cpuset_parse(b, &y, &e))
        return true; /* unknown: assume they share, and take turns */
    for (unsigned c = 0; c < ZB_CPU_MAX; c++)
        if (zb_cpuset_has(&x, c) && zb_cpuset_has(&y, c))
            return true;
    return false;
}

/* The hello files present, as slots (names after "hello."), up to max. */
static unsigned hellos(const struct run *r, char (*slots)[80], unsigned max)
{
    unsigned n = 0;
    DIR *d = opendir(r->parts);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (!strncmp(e->d_name, "hello.", 6) && !strstr(e->d_name, ".tmp."))
            snprintf(slots[n++], 80, "%s", e->d_name + 6);
    closedir(d);
    return n;
}

/* Waits for the hellos of the nodes that may come before this one (Slurm: the lower indexes;
 * Open MPI: all), then for done (or a part) of each earlier node on this machine whose CPUs
 * overlap. Gives up on a node after the bound, and says so on the page. */
static void wait_turn(struct run *r, zepto_report_progress_fn progress, void *arg)
{
    const struct zepto_report_alloc *a = r->a;
    uint64_t deadline = now_ns() + r->wait_ns;
    unsigned need = a->node_index >= 0 ? (unsigned)a->node_index : a->nodes - 1;
    char(*slots)[80] = malloc(ZR_HOSTLIST_MAX * sizeof(*slots));
    unsigned n = 0;
    if (!slots)
        return; /* no turns: the page will show the nodes' figures as they are */
    for (;;) {
        n = hellos(r, slots, ZR_HOSTLIST_MAX);
        unsigned seen = 0;
        if (a->node_index >= 0) {
            /* The earlier nodes: said hello, or already delivered (a failed claim says no
             * hello). */
            char slot[32];
            for (int k = 0; k < a->node_index; k++) {
                snprintf(slot, sizeof(slot), "n%d", k);
                seen += exists(r, "hello", slot) || exists(r, "part", slot);
            }
        } else {
            for (unsigned i = 0; i < n; i++)
                seen += strcmp(slots[i], r->slot) != 0;
        }
        if (seen >= need || now_ns() >= deadline)
            break;
        if (progress)
            progress(arg, "alloc", "waiting for the other nodes to start", deadline - now_ns());
        pause_poll();
    }
    for (unsigned i = 0; i < n; i++) {
        char path[4300];
        struct zr_kv kv;
        struct zepto_err e = {0};
        snprintf(path, sizeof(path), "%s/hello.%s", r->parts, slots[i]);
        if (!strcmp(slots[i], r->slot) || zr_kv_read(path, &kv, &e))
            continue;
        const char *boot = zr_kv_get(&kv, "boot_id"), *cpus = zr_kv_get(&kv, "cpus");
        const char *host = zr_kv_get(&kv, "host");
        if (!boot || !cpus || !host || strcmp(boot, r->boot_id))
            continue; /* another machine: nothing shared */
        if (!zr_cpus_overlap(cpus, r->cpus) || !before(r, &kv))
            continue;
        while (!exists(r, "done", slots[i]) && !exists(r, "part", slots[i]) &&
               now_ns() < deadline) {
            if (progress) {
                char what[160];
                snprintf(what, sizeof(what), "waiting for %s, which shares CPUs %s, to finish",
                         host, cpus);
                progress(arg, "alloc", what, deadline - now_ns());
            }
            pause_poll();
        }
        if (exists(r, "done", slots[i]) || exists(r, "part", slots[i]))
            append(r->waited_for, sizeof(r->waited_for), host);
        else
            append(r->not_waited, sizeof(r->not_waited), host);
    }
    free(slots);
}

static int write_part(const struct run *r, int rc, const struct zepto_err *why, uint64_t start,
                      uint64_t end, struct zepto_err *err)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "host %s\nindex %d\nrank %u\nstatus %s\nerror %.400s\ncpus %s\nboot_id %s\n"
             "waited_for %s\nnot_waited %s\nstart_unix_ns %llu\nend_unix_ns %llu\n",
             r->a->host, r->a->node_index, r->a->rank, rc ? "error" : "ok", rc ? why->msg : "",
             r->cpus, r->boot_id, r->waited_for, r->not_waited, (unsigned long long)start,
             (unsigned long long)end);
    return write_kv_file(r, "part", r->slot, text, err);
}

/* Fills the page's node from its part, or from its hello when it never delivered. */
static void node_from_files(const struct run *r, const char *slot, struct zr_alloc_node *nd)
{
    char path[4300];
    struct zr_kv kv;
    struct zepto_err e = {0};
    snprintf(path, sizeof(path), "%s/part.%s", r->parts, slot);
    if (zr_kv_read(path, &kv, &e) == 0) {
        const char *v;
        nd->state = strcmp(zr_kv_get(&kv, "status") ? zr_kv_get(&kv, "status") : "", "ok")
                        ? ZR_NODE_FAILED
                        : ZR_NODE_OK;
        if ((v = zr_kv_get(&kv, "host")) && *v)
            snprintf(nd->host, sizeof(nd->host), "%s", v);
        if (nd->state == ZR_NODE_FAILED)
            snprintf(nd->why, sizeof(nd->why), "%s",
                     zr_kv_get(&kv, "error") ? zr_kv_get(&kv, "error") : "failed");
        if ((v = zr_kv_get(&kv, "cpus")))
            snprintf(nd->cpus, sizeof(nd->cpus), "%s", v);
        if ((v = zr_kv_get(&kv, "boot_id")))
            snprintf(nd->boot_id, sizeof(nd->boot_id), "%s", v);
        if ((v = zr_kv_get(&kv, "waited_for")))
            snprintf(nd->waited_for, sizeof(nd->waited_for), "%s", v);
        if ((v = zr_kv_get(&kv, "start_unix_ns")))
            nd->start_ns = strtoull(v, NULL, 10);
        if ((v = zr_kv_get(&kv, "end_unix_ns")))
            nd->end_ns = strtoull(v, NULL, 10);
        if (nd->end_ns > nd->start_ns)
            nd->seconds = (nd->end_ns - nd->start_ns) / 1e9;
        if ((v = zr_kv_get(&kv, "not_waited")) && *v && nd->state == ZR_NODE_OK)
            snprintf(nd->why, sizeof(nd->why),
                     "recorded without waiting for %s (no sign of it within the bound): its "
                     "figures may include their measurements",
                     v);
        return;
    }
    nd->state = ZR_NODE_MISSING;
    snprintf(path, sizeof(path), "%s/hello.%s", r->parts, slot);
    if (zr_kv_read(path, &kv, &e) == 0) {
        const char *v = zr_kv_get(&kv, "cpus");
        if (v)
            snprintf(nd->cpus, sizeof(nd->cpus), "%s", v);
        if ((v = zr_kv_get(&kv, "host")) && *v)
            snprintf(nd->host, sizeof(nd->host), "%s", v);
        snprintf(nd->why, sizeof(nd->why),
                 "started (its task said hello) but delivered no report within %.0f s: killed, "
                 "or still running",
                 r->wait_ns / 1e9);
    } else {
        snprintf(nd->why, sizeof(nd->why),
                 "never started: no task of the step reached zepto report on it within %.0f s",
                 r->wait_ns / 1e9);
    }
}

static int by_name(const void *x, const void *y)
{
    return strcmp(x, y);
}

/* The slots of the step: Slurm's node indexes (names from the node list), or, under Open MPI,
 * the parts and hellos found (their hosts), padded with unnamed missing nodes. */
static struct zr_alloc_node *collect(const struct run *r, char (*slots)[80], unsigned *n)
{
    const struct zepto_report_alloc *a = r->a;
    struct zr_alloc_node *node = calloc(a->nodes, sizeof(*node));
    if (!node)
        return NULL;
    char(*names)[ZR_HOST_MAX] = NULL;
    unsigned nn = 0;
    struct zepto_err e = {0};
    if (a->node_index >= 0 && a->nodelist[0] &&
        zr_hostlist_expand(a->nodelist, ZR_HOSTLIST_MAX, &names, &nn, &e))
        nn = 0;
    for (unsigned i = 0; i < a->nodes; i++) {
        node[i].index = a->node_index >= 0 ? (int)i : -1;
        if (a->node_index >= 0) {
            snprintf(slots[i], 80, "n%u", i);
            if (i < nn)
                snprintf(node[i].host, sizeof(node[i].host), "%s", names[i]);
            else
                snprintf(node[i].host, sizeof(node[i].host), "node %u", i);
        }
    }
    free(names);
    if (a->node_index < 0) {
        unsigned k = 0;
        DIR *d = opendir(r->parts);
        struct dirent *de;
        while (d && (de = readdir(d)) && k < a->nodes)
            if (!strncmp(de->d_name, "part.", 5) && !strstr(de->d_name, ".tmp."))
                snprintf(slots[k++], 80, "%s", de->d_name + 5);
        if (d)
            closedir(d);
        qsort(slots, k, sizeof(*slots), by_name);
        for (unsigned i = k; i < a->nodes; i++) {
            snprintf(slots[i], 80, "missing-%u", i - k + 1);
            snprintf(node[i].host, sizeof(node[i].host), "(unknown node %u)", i - k + 1);
        }
    }
    for (unsigned i = 0; i < a->nodes; i++)
        node_from_files(r, slots[i], &node[i]);
    /* Which nodes ran at the same time on other CPUs of one machine (from the parts: a task
     * knows only the nodes that said hello before it). */
    for (unsigned i = 0; i < a->nodes; i++) {
        node[i].concurrent[0] = 0;
        for (unsigned k = 0; k < a->nodes; k++)
            if (k != i && node[i].boot_id[0] && !strcmp(node[i].boot_id, node[k].boot_id) &&
                node[k].state != ZR_NODE_MISSING && node[i].state != ZR_NODE_MISSING &&
                node[i].start_ns < node[k].end_ns && node[k].start_ns < node[i].end_ns &&
                !zr_cpus_overlap(node[i].cpus, node[k].cpus))
                append(node[i].concurrent, sizeof(node[i].concurrent), node[k].host);
    }
    *n = a->nodes;
    return node;
}

static unsigned count_parts(const struct run *r, char (*slots)[80])
{
    unsigned k = 0;
    if (r->a->node_index >= 0) {
        for (unsigned i = 0; i < r->a->nodes; i++)
            k += exists(r, "part", slots[i]);
        return k;
    }
    DIR *d = opendir(r->parts);
    struct dirent *e;
    while (d && (e = readdir(d)))
        k += !strncmp(e->d_name, "part.", 5) && !strstr(e->d_name, ".tmp.");
    if (d)
        closedir(d);
    return k;
}

static int assemble(struct run *r, zepto_report_progress_fn progress, void *arg,
                    struct zepto_report_alloc_result *res, struct zepto_err *err)
{
    const struct zepto_report_alloc *a = r->a;
    char(*slots)[80] = calloc(a->nodes, 80);
    if (!slots)
        return zepto_fail(err, ENOMEM, "out of memory");
    for (unsigned i = 0; a->node_index >= 0 && i < a->nodes; i++)
        snprintf(slots[i], 80, "n%u", i);
    uint64_t t0 = now_ns(), deadline = t0 + r->wait_ns;
    unsigned got;
    while ((got = count_parts(r, slots)) < a->nodes && now_ns() < deadline) {
        if (progress) {
            char what[128];
            snprintf(what, sizeof(what), "waiting for the other nodes' reports (%u of %u in)", got,
                     a->nodes);
            progress(arg, "alloc", what, deadline - now_ns());
        }
        pause_poll();
    }
    unsigned n = 0;
    struct zr_alloc_node *node = collect(r, slots, &n);
    free(slots);
    if (!node)
        return zepto_fail(err, ENOMEM, "out of memory");
    if (progress)
        progress(arg, "alloc", "assembling the allocation's page", 0);
    struct zr_alloc_page p = {.alloc = a,
                              .dir = r->opts->dir,
                              .quick = r->opts->quick,
                              .waited_ns = now_ns() - t0,
                              .n = n,
                              .node = node};
    int rc = zr_alloc_page_write(&p, err);
    res->assembled = rc == 0;
    res->expected = n;
    res->wait_ns = r->wait_ns;
    for (unsigned i = 0; i < n; i++) {
        if (node[i].state == ZR_NODE_OK)
            res->delivered++;
        else
            append(res->missing, sizeof(res->missing), node[i].host);
    }
    free(node);
    return rc;
}

int zepto_report_alloc_run(const struct zepto_report_opts *opts, const struct zepto_report_alloc *a,
                           uint64_t wait_ns, zepto_report_progress_fn progress, void *arg,
                           struct zepto_report_alloc_result *res, struct zepto_err *err)
{
    memset(res, 0, sizeof(*res));
    if (!a->node_leader)
        return 0;
    struct run *r = calloc(1, sizeof(*r));
    if (!r)
        return zepto_fail(err, ENOMEM, "out of memory");
    r->opts = opts;
    r->a = a;
    /* The default bound: a minute plus a node report for each node (all of them in turns),
     * counted again from the node's own report's real length once it is known (a busy machine
     * makes it several times the estimate). */
    uint64_t est = zepto_report_estimate_ns(opts);
    r->wait_ns = wait_ns ? wait_ns : DEFAULT_WAIT_NS + est * a->nodes;
    int rc;
    snprintf(r->parts, sizeof(r->parts), "%s/parts/%s", opts->dir, a->job);
    if ((rc = zb_make_dir(err, "%s", opts->dir)) ||
        (rc = zb_make_dir(err, "%s/nodes", opts->dir)) ||
        (rc = zb_make_dir(err, "%s/parts", opts->dir)) || (rc = zb_make_dir(err, "%s", r->parts)))
        goto out;
    if (a->node_index >= 0)
        snprintf(r->slot, sizeof(r->slot), "n%d", a->node_index);
    else
        snprintf(r->slot, sizeof(r->slot), "%s", a->host);
    struct zb_cpuset set;
    if (zb_cpuset_allowed(&set, err) == 0)
        zb_cpuset_format(&set, r->cpus, sizeof(r->cpus));
    else
        snprintf(r->cpus, sizeof(r->cpus), "unknown");
    read_boot_id(r->boot_id, sizeof(r->boot_id));

    struct zepto_err why = {0};
    uint64_t start = 0, end = 0;
    int node_rc = claim(r, &why);
    if (node_rc == -EEXIST && a->node_index < 0)
        snprintf(r->slot, sizeof(r->slot), "dup-%u", a->rank); /* the host's slot is taken */
    if (!node_rc && !(node_rc = hello(r, &why))) {
        wait_turn(r, progress, arg);
        struct zepto_report_opts o = *opts;
        char path[4200];
        snprintf(path, sizeof(path), "%s/nodes/%s", opts->dir, a->host);
        o.dir = path;
        start = unix_ns();
        node_rc = zepto_report_run(&o, progress, arg, &why);
        end = unix_ns();
        if (!wait_ns && end - start > est)
            r->wait_ns = DEFAULT_WAIT_NS + (end - start) * a->nodes;
        struct zepto_err e2 = {0};
        write_kv_file(r, "done", r->slot, "done 1\n", &e2);
    }
    if ((rc = write_part(r, node_rc, &why, start, end, err)))
        goto out;
    bool assembler = a->node_index >= 0 ? a->node_index == 0 : a->rank == 0;
    if (assembler && node_rc != -EEXIST)
        rc = assemble(r, progress, arg, res, err);
    if (!rc && node_rc) {
        *err = why;
        rc = node_rc;
    }
out:
    free(r);
    return rc;
}
