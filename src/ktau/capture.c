/*
 * The kernel capture of `zepto ktau run` (see capture.h): opening the tracepoints per CPU for a
 * process with inherit (or every task of some CPUs), one perf ring buffer per CPU, copying the
 * buffers out while it runs, and the records kept in order. Which tracepoints, and how their
 * samples become ktau_krec records: tracepoints.c.
 * Everything stays in memory until the merge: ~60 bytes per record while the program runs, then
 * 32 per parsed record (10 million records: under 1 GB).
 *
 * Cost: one sample per event, ~100 bytes each (header, TID, TIME, CPU, RAW); the buffers are
 * 4 MiB per CPU (halved until the memory-lock limit of an unprivileged user allows them) and the
 * caller drains them when a quarter is full (wakeup_watermark): a page-fault storm (65,536
 * faults a second) fills 7 MB a second, and the drain may run late on a busy machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event-parse.h>

#include "ktau/capture.h"
#include "ktau/tracepoints.h"

#define BUF_PAGES 1024 /* per CPU: 4 MiB, less when the lock limit says so */

uint32_t ktau_capture_intern(struct ktau_capture *c, const char *s)
{
    for (size_t i = 0; i < c->nnames; i++)
        if (!strcmp(c->names[i], s))
            return (uint32_t)i;
    char **n = realloc(c->names, (c->nnames + 1) * sizeof(*n));
    if (!n)
        return 0;
    c->names = n;
    if (!(n[c->nnames] = strdup(s)))
        return 0;
    return (uint32_t)c->nnames++;
}

int ktau_capture_add(struct ktau_capture *c, const struct ktau_krec *r)
{
    if (c->nrecs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 65536;
        struct ktau_krec *n = realloc(c->recs, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        c->recs = n;
        c->cap = cap;
    }
    c->recs[c->nrecs] = *r;
    c->recs[c->nrecs].seq = (uint32_t)c->nrecs;
    c->nrecs++;
    return 0;
}

static int perf_open(struct perf_event_attr *a, pid_t pid, int cpu)
{
    return (int)syscall(SYS_perf_event_open, a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* per_cpu: the system-wide capture, which perf allows at perf_event_paranoid 0 or less. */
static int refused(int e, bool per_cpu, struct zepto_err *err)
{
    int paranoid = -9;
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
    if (f) {
        if (fscanf(f, "%d", &paranoid) != 1)
            paranoid = -9;
        fclose(f);
    }
    return zepto_fail(err, e,
                      "perf_event_open refused %stracepoints (%s; perf_event_paranoid=%d): run as "
                      "root or set kernel.perf_event_paranoid to %d or less",
                      per_cpu ? "system-wide " : "", strerror(e), paranoid, per_cpu ? 0 : 1);
}

/* The tracepoints of the capture (mode: KT_IN_PROC or KT_IN_CPU), and room for their descriptors
 * and ring buffers. */
static int prepare(struct ktau_capture *c, unsigned mode, struct zepto_err *err)
{
    int rc = kt_tracepoints_load(c, mode, err);
    if (rc)
        return rc;
    c->ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
    if (c->ncpu < 1)
        c->ncpu = 1;
    c->fds = malloc((size_t)c->ncpu * KT_NTRACEPOINTS * sizeof(int));
    c->maps = calloc((size_t)c->ncpu, sizeof(void *));
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    c->map_len = (size_t)(BUF_PAGES + 1) * page;
    if (!c->fds || !c->maps)
        return zepto_fail(err, ENOMEM, "out of memory");
    for (int i = 0; i < c->ncpu * KT_NTRACEPOINTS; i++)
        c->fds[i] = -1;
    return 0;
}

/* Opens every loaded event on one CPU, for pid (-1: every task on the CPU), all writing into
 * one ring buffer. 1 when the CPU is offline. */
static int open_cpu(struct ktau_capture *c, pid_t pid, int cpu, struct zepto_err *err)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int leader = -1;
    for (int e = 0; e < KT_NTRACEPOINTS; e++) {
        if (c->ids[e] >= 0 && e >= KT_EV_VEC_FIRST && (e - KT_EV_VEC_FIRST) % 2 &&
            c->ids[e - 1] < 0)
            c->ids[e] = -1; /* an exit without its entry */
        if (c->ids[e] < 0)
            continue;
        struct perf_event_attr a = {0};
        a.size = sizeof(a);
        a.type = PERF_TYPE_TRACEPOINT;
        a.config = (uint64_t)c->ids[e];
        a.sample_period = 1;
        a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
        if (!c->cpu_wide) {
            a.disabled = 1;
            a.enable_on_exec = 1;
            a.inherit = 1;
            /* The tracepoint fires in the task that leaves; the switch-in comes from here. The
             * system-wide capture reads both from the tracepoint (prev and next). */
            a.context_switch = e == KT_EV_SWITCH;
        }
        a.use_clockid = 1;
        a.clockid = CLOCK_MONOTONIC;
        a.sample_id_all = 1;
        a.watermark = 1;
        a.wakeup_watermark = (uint32_t)(c->map_len / 4);
        int fd = perf_open(&a, pid, cpu);
        if (fd < 0) {
            int er = errno;
            if (er == ENODEV || er == EINVAL) /* an offline CPU */
                return 1;
            if ((er == EACCES || er == EPERM) && !kt_tracepoints[e].needed && leader >= 0) {
                /* Some events perf keeps for itself (irq_vectors:irq_work_exit, on which it
                 * delivers its own wakeups): do without it, and without its pair. */
                c->ids[e] = -1;
                if (e >= KT_EV_VEC_FIRST && (e - KT_EV_VEC_FIRST) % 2) {
                    c->ids[e - 1] = -1;
                    close(c->fds[cpu * KT_NTRACEPOINTS + e - 1]);
                    c->fds[cpu * KT_NTRACEPOINTS + e - 1] = -1;
                }
                continue;
            }
            if (er == EACCES || er == EPERM)
                return refused(er, c->cpu_wide, err);
            return zepto_fail(err, er, "perf_event_open %s:%s on CPU %d: %s", kt_tracepoints[e].sys,
                              kt_tracepoints[e].name, cpu, strerror(er));
        }
        c->fds[cpu * KT_NTRACEPOINTS + e] = fd;
        if (leader < 0) {
            leader = fd;
            void *m = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            /* Over the lock limit (EPERM): smaller buffers, down to 64 pages. (The watermark
             * set for the larger size only decides when poll wakes; the caller also drains
             * on a timeout.) */
            while (m == MAP_FAILED && errno == EPERM && c->map_len > 65 * page) {
                c->map_len = (c->map_len - page) / 2 + page;
                c->small_buffers = true;
                m = mmap(NULL, c->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            }
            if (m == MAP_FAILED)
                return zepto_fail(err, errno, "mmap of the perf buffer of CPU %d: %s", cpu,
                                  strerror(errno));
            c->maps[cpu] = m;
        } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, leader)) {
            return zepto_fail(err, errno, "PERF_EVENT_IOC_SET_OUTPUT on CPU %d: %s", cpu,
                              strerror(errno));
        }
    }
    return 0;
}

int ktau_capture_open(struct ktau_capture *c, pid_t pid, struct zepto_err *err)
{
    int rc = prepare(c, KT_IN_PROC, err);
    for (int cpu = 0; !rc && cpu < c->ncpu; cpu++) {
        rc = open_cpu(c, pid, cpu, err);
        if (rc > 0)
            rc = 0; /* offline: nothing runs there */
    }
    return rc;
}

int ktau_capture_open_cpus(struct ktau_capture *c, const int *cpus, unsigned ncpu,
                           struct zepto_err *err)
{
    int rc = prepare(c, KT_IN_CPU, err);
    for (unsigned i = 0; !rc && i < ncpu; i++) {
        if (cpus[i] < 0 || cpus[i] >= c->ncpu)
            return zepto_fail(err, EINVAL, "CPU %d: no such CPU", cpus[i]);
        rc = open_cpu(c, -1, cpus[i], err);
        if (rc > 0)
            rc = zepto_fail(err, ENODEV, "CPU %d is offline", cpus[i]);
    }
    return rc;
}

int ktau_capture_poll_fds(const struct ktau_capture *c, int *fds, int max)
{
    int n = 0;
    for (int cpu = 0; cpu < c->ncpu && n < max; cpu++)
        if (c->maps[cpu])
            for (int e = 0; e < KT_NTRACEPOINTS; e++)
                if (c->fds[cpu * KT_NTRACEPOINTS + e] >= 0) {
                    fds[n++] = c->fds[cpu * KT_NTRACEPOINTS + e];
                    break;
                }
    return n;
}

/* Copies what the ring buffers hold, as it is, to c->raw: parsing waits for the end of the run,
 * so that the drain costs the machine the profiled program runs on little more than a copy. */
int ktau_capture_drain(struct ktau_capture *c, struct zepto_err *err)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int cpu = 0; cpu < c->ncpu; cpu++) {
        struct perf_event_mmap_page *mp = c->maps[cpu];
        if (!mp)
            continue;
        unsigned char *data = (unsigned char *)mp + page;
        uint64_t size = c->map_len - page;
        uint64_t head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
        uint64_t tail = mp->data_tail;
        size_t len = (size_t)(head - tail);
        if (!len)
            continue;
        if (c->raw_len + len > c->raw_cap) {
            size_t cap = c->raw_cap ? c->raw_cap : (size_t)1 << 24;
            while (cap < c->raw_len + len)
                cap *= 2;
            unsigned char *n = realloc(c->raw, cap);
            if (!n)
                return zepto_fail(err, ENOMEM, "out of memory for %zu bytes of kernel records",
                                  c->raw_len + len);
            c->raw = n;
            c->raw_cap = cap;
        }
        size_t at = (size_t)(tail % size), first = len < size - at ? len : (size_t)size - at;
        memcpy(c->raw + c->raw_len, data + at, first);
        memcpy(c->raw + c->raw_len + first, data, len - first);
        c->raw_len += len;
        __atomic_store_n(&mp->data_tail, head, __ATOMIC_RELEASE);
    }
    return 0;
}

int ktau_capture_stop(struct ktau_capture *c, struct zepto_err *err)
{
    int rc = c->maps ? ktau_capture_drain(c, err) : 0;
    if (!rc && c->raw_len)
        rc = kt_tracepoints_parse(c, err);
    for (int i = 0; c->fds && i < c->ncpu * KT_NTRACEPOINTS; i++)
        if (c->fds[i] >= 0) {
            close(c->fds[i]);
            c->fds[i] = -1;
        }
    for (int cpu = 0; c->maps && cpu < c->ncpu; cpu++)
        if (c->maps[cpu]) {
            munmap(c->maps[cpu], c->map_len);
            c->maps[cpu] = NULL;
        }
    return rc;
}

static int cmp_rec(const void *a, const void *b)
{
    const struct ktau_krec *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    if (x->t_ns != y->t_ns)
        return x->t_ns < y->t_ns ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

void ktau_capture_sort(struct ktau_capture *c)
{
    if (c->nrecs)
        qsort(c->recs, c->nrecs, sizeof(*c->recs), cmp_rec);
}

void ktau_capture_free(struct ktau_capture *c)
{
    ktau_capture_stop(c, NULL);
    if (c->tep)
        tep_free(c->tep);
    for (size_t i = 0; i < c->nnames; i++)
        free(c->names[i]);
    free(c->names);
    free(c->recs);
    free(c->fds);
    free(c->maps);
    free(c->raw);
    memset(c, 0, sizeof(*c));
}
