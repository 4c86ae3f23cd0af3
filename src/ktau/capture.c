/*
 * The kernel capture of `zepto ktau run` (see capture.h): opening the tracepoints per CPU for a
 * process with inherit, copying the ring buffers out while it runs, and at the end turning each
 * sample into a ktau_krec with libtraceevent reading the fields by the formats tracefs publishes.
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event-parse.h>

#include "ktau/capture.h"

#define BUF_PAGES 1024 /* per CPU: 4 MiB, less when the lock limit says so */

/* Which capture opens an event: the per-process one of `zepto ktau run` (P), the per-CPU one of
 * `zepto noise record --explain` (C), or both. */
enum { IN_PROC = 1, IN_CPU = 2, IN_BOTH = 3 };

static const struct {
    const char *sys, *name;
    unsigned char in;  /* IN_* */
    bool needed;       /* the capture fails without it */
    const char *field; /* the field read for the record's arg, or NULL */
} events[] = {
    {"sched", "sched_switch", IN_BOTH, true, "prev_state"},
    {"irq", "irq_handler_entry", IN_BOTH, false, "irq"},
    {"irq", "irq_handler_exit", IN_BOTH, false, "irq"},
    {"irq", "softirq_entry", IN_BOTH, false, "vec"},
    {"irq", "softirq_exit", IN_BOTH, false, "vec"},
    {"raw_syscalls", "sys_enter", IN_PROC, true, "id"},
    {"raw_syscalls", "sys_exit", IN_PROC, true, "id"},
    {"exceptions", "page_fault_user", IN_BOTH, false, NULL},
    {"exceptions", "page_fault_kernel", IN_CPU, false, NULL},
    /* The x86 system vectors, which irq:irq_handler_* does not see (the timer tick among them):
     * entry then exit of each, as KR_IRQ_ENTRY/EXIT with arg -1 and the vector's name. */
    {"irq_vectors", "local_timer_entry", IN_BOTH, false, NULL},
    {"irq_vectors", "local_timer_exit", IN_BOTH, false, NULL},
    {"irq_vectors", "reschedule_entry", IN_BOTH, false, NULL},
    {"irq_vectors", "reschedule_exit", IN_BOTH, false, NULL},
    {"irq_vectors", "call_function_entry", IN_BOTH, false, NULL},
    {"irq_vectors", "call_function_exit", IN_BOTH, false, NULL},
    {"irq_vectors", "call_function_single_entry", IN_BOTH, false, NULL},
    {"irq_vectors", "call_function_single_exit", IN_BOTH, false, NULL},
    {"irq_vectors", "irq_work_entry", IN_BOTH, false, NULL},
    {"irq_vectors", "irq_work_exit", IN_BOTH, false, NULL},
};
#define NEVENTS (int)(sizeof(events) / sizeof(events[0]))
enum {
    EV_SWITCH,
    EV_IRQ_IN,
    EV_IRQ_OUT,
    EV_SOFT_IN,
    EV_SOFT_OUT,
    EV_SYS_IN,
    EV_SYS_OUT,
    EV_PF,
    EV_PF_KERNEL,
    EV_VEC_FIRST /* the irq_vectors pairs from here */
};
_Static_assert(NEVENTS <= KTAU_NEVENTS, "raise KTAU_NEVENTS");

int ktau_tracefs(char *path, size_t len, struct zepto_err *err)
{
    static const char *const cands[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
    char probe[512];
    for (int i = 0; i < 2; i++) {
        snprintf(probe, sizeof(probe), "%s/events/sched/sched_switch/format", cands[i]);
        if (!access(probe, R_OK)) {
            snprintf(path, len, "%s", cands[i]);
            return 0;
        }
    }
    snprintf(probe, sizeof(probe), "%s/events", cands[0]);
    if (access(probe, R_OK | X_OK) && errno == EACCES)
        return zepto_fail(err, EACCES,
                          "tracefs (%s): permission denied: run as root, or give this user "
                          "access to it",
                          cands[0]);
    if (geteuid() == 0 && !mount("nodev", cands[0], "tracefs", 0, NULL)) {
        snprintf(path, len, "%s", cands[0]);
        return 0;
    }
    return zepto_fail(err, ENOENT,
                      "tracefs is not mounted at /sys/kernel/tracing (as root: mount -t tracefs "
                      "nodev /sys/kernel/tracing)");
}

static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (buf) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}

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

/* Reads the format and id of every event the capture uses (mode: IN_PROC or IN_CPU). */
static int load_events(struct ktau_capture *c, unsigned mode, struct zepto_err *err)
{
    memset(c, 0, sizeof(*c));
    c->names = calloc(1, sizeof(*c->names));
    if (!c->names || !(c->names[0] = strdup("")))
        return zepto_fail(err, ENOMEM, "out of memory");
    c->nnames = 1;
    c->cpu_wide = mode == IN_CPU;
    char tfs[256], path[512];
    int rc = ktau_tracefs(tfs, sizeof(tfs), err);
    if (rc)
        return rc;
    struct tep_handle *tep = tep_alloc();
    if (!tep)
        return zepto_fail(err, ENOMEM, "tep_alloc failed");
    c->tep = tep;
    tep_set_long_size(tep, sizeof(long));
    tep_set_file_bigendian(tep, tep_is_local_bigendian(tep) ? TEP_BIG_ENDIAN : TEP_LITTLE_ENDIAN);
    for (int e = 0; e < NEVENTS; e++) {
        c->ids[e] = -1;
        if (!(events[e].in & mode))
            continue;
        size_t len;
        snprintf(path, sizeof(path), "%s/events/%s/%s/format", tfs, events[e].sys, events[e].name);
        char *fmt = read_file(path, &len);
        if (!fmt || tep_parse_event(tep, fmt, len, events[e].sys)) {
            free(fmt);
            if (events[e].needed)
                return zepto_fail(err, ENOENT, "%s: cannot read or parse the tracepoint format",
                                  path);
            continue;
        }
        free(fmt);
        snprintf(path, sizeof(path), "%s/events/%s/%s/id", tfs, events[e].sys, events[e].name);
        char *id = read_file(path, &len);
        if (id)
            c->ids[e] = atoi(id);
        free(id);
        struct tep_event *ev = c->ids[e] >= 0 ? tep_find_event(tep, c->ids[e]) : NULL;
        c->events[e] = ev;
        if (ev && events[e].field)
            c->fields[e] = tep_find_field(ev, events[e].field);
        if (ev && e == EV_SWITCH) {
            c->pid_field = tep_find_field(ev, "prev_pid");
            c->next_pid_field = tep_find_field(ev, "next_pid");
        }
        if (ev && e >= EV_VEC_FIRST && (e - EV_VEC_FIRST) % 2 == 0) {
            /* "local_timer_entry" -> "local_timer" */
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(strlen(events[e].name) - 6), events[e].name);
            c->vec_names[e] = ktau_capture_intern(c, name);
        }
    }
    c->ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
    if (c->ncpu < 1)
        c->ncpu = 1;
    c->fds = malloc((size_t)c->ncpu * NEVENTS * sizeof(int));
    c->maps = calloc((size_t)c->ncpu, sizeof(void *));
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    c->map_len = (size_t)(BUF_PAGES + 1) * page;
    if (!c->fds || !c->maps)
        return zepto_fail(err, ENOMEM, "out of memory");
    for (int i = 0; i < c->ncpu * NEVENTS; i++)
        c->fds[i] = -1;
    return 0;
}

/* Opens every loaded event on one CPU, for pid (-1: every task on the CPU), all writing into
 * one ring buffer. 1 when the CPU is offline. */
static int open_cpu(struct ktau_capture *c, pid_t pid, int cpu, struct zepto_err *err)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int leader = -1;
    for (int e = 0; e < NEVENTS; e++) {
        if (c->ids[e] >= 0 && e >= EV_VEC_FIRST && (e - EV_VEC_FIRST) % 2 && c->ids[e - 1] < 0)
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
            a.context_switch = e == EV_SWITCH;
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
            if ((er == EACCES || er == EPERM) && !events[e].needed && leader >= 0) {
                /* Some events perf keeps for itself (irq_vectors:irq_work_exit, on which it
                 * delivers its own wakeups): do without it, and without its pair. */
                c->ids[e] = -1;
                if (e >= EV_VEC_FIRST && (e - EV_VEC_FIRST) % 2) {
                    c->ids[e - 1] = -1;
                    close(c->fds[cpu * NEVENTS + e - 1]);
                    c->fds[cpu * NEVENTS + e - 1] = -1;
                }
                continue;
            }
            if (er == EACCES || er == EPERM)
                return refused(er, c->cpu_wide, err);
            return zepto_fail(err, er, "perf_event_open %s:%s on CPU %d: %s", events[e].sys,
                              events[e].name, cpu, strerror(er));
        }
        c->fds[cpu * NEVENTS + e] = fd;
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
    int rc = load_events(c, IN_PROC, err);
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
    int rc = load_events(c, IN_CPU, err);
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
            for (int e = 0; e < NEVENTS; e++)
                if (c->fds[cpu * NEVENTS + e] >= 0) {
                    fds[n++] = c->fds[cpu * NEVENTS + e];
                    break;
                }
    return n;
}

static unsigned long long field(void *f, void *data, bool *ok)
{
    unsigned long long v = 0;
    if (!f || tep_read_number_field(f, data, &v))
        *ok = false;
    return v;
}

/* A sched_switch seen system-wide: the switch-out of prev (named after the task that takes the
 * CPU) and the switch-in of next, at the same time and in that order. */
static int on_switch_wide(struct ktau_capture *c, struct ktau_krec *r, struct tep_event *ev,
                          struct tep_record *rec, void *data)
{
    bool ok = true;
    uint32_t next = (uint32_t)field(c->next_pid_field, data, &ok);
    int nlen = 0;
    const char *comm = tep_get_field_raw(NULL, ev, "next_comm", rec, &nlen, 0);
    if (!ok || !comm || nlen <= 0) {
        c->unknown++;
        return 0;
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "%.*s", nlen, comm);
    r->name = ktau_capture_intern(c, buf);
    int rc = ktau_capture_add(c, r);
    if (rc)
        return rc;
    r->kind = KR_SWITCH_IN;
    r->tid = next;
    r->arg = 0;
    return ktau_capture_add(c, r);
}

/* One PERF_RECORD_SAMPLE: pid/tid, time, cpu, raw. */
static int on_sample(struct ktau_capture *c, const unsigned char *p, size_t len)
{
    struct ktau_krec r = {0};
    if (len < 8 + 8 + 8 + 4)
        return 0;
    memcpy(&r.pid, p, 4);
    memcpy(&r.tid, p + 4, 4);
    memcpy(&r.t_ns, p + 8, 8);
    uint32_t cpu, size;
    memcpy(&cpu, p + 16, 4);
    memcpy(&size, p + 24, 4);
    r.cpu = (uint16_t)cpu;
    if (size > len - 28)
        return 0;
    void *data = (void *)(p + 28);
    struct tep_handle *tep = c->tep;
    struct tep_record rec = {.ts = r.t_ns, .cpu = (int)cpu, .size = (int)size, .data = data};
    int type = tep_data_type(tep, &rec);
    int e = 0;
    while (e < NEVENTS && c->ids[e] != type)
        e++;
    struct tep_event *ev = e < NEVENTS ? c->events[e] : NULL;
    if (!ev) {
        c->unknown++;
        return 0;
    }
    bool ok = true;
    switch (e) {
    case EV_SWITCH: {
        unsigned long long state = field(c->fields[e], data, &ok);
        r.tid = (uint32_t)field(c->pid_field, data, &ok);
        r.kind = KR_SWITCH_OUT;
        /* TASK_RUNNING (0) or, since 4.14, TASK_REPORT_MAX (0x100) for a preemption. */
        r.arg = (state & 0xff) == 0;
        if (c->cpu_wide && ok)
            return on_switch_wide(c, &r, ev, &rec, data);
        break;
    }
    case EV_IRQ_IN: {
        r.kind = KR_IRQ_ENTRY;
        r.arg = (int32_t)field(c->fields[e], data, &ok);
        int nlen = 0;
        const char *name = tep_get_field_raw(NULL, ev, "name", &rec, &nlen, 0);
        char buf[64];
        if (name && nlen > 0) {
            snprintf(buf, sizeof(buf), "%.*s", nlen, name);
            r.name = ktau_capture_intern(c, buf);
        }
        break;
    }
    case EV_IRQ_OUT:
        r.kind = KR_IRQ_EXIT;
        r.arg = (int32_t)field(c->fields[e], data, &ok);
        break;
    case EV_SOFT_IN:
    case EV_SOFT_OUT:
        r.kind = e == EV_SOFT_IN ? KR_SOFTIRQ_ENTRY : KR_SOFTIRQ_EXIT;
        r.arg = (int32_t)field(c->fields[e], data, &ok);
        break;
    case EV_SYS_IN:
    case EV_SYS_OUT:
        r.kind = e == EV_SYS_IN ? KR_SYS_ENTER : KR_SYS_EXIT;
        r.arg = (int32_t)field(c->fields[e], data, &ok);
        break;
    case EV_PF:
    case EV_PF_KERNEL: r.kind = KR_PAGE_FAULT; break;
    default:
        if (e < EV_VEC_FIRST) {
            ok = false;
            break;
        }
        /* A system vector: its name was interned at open on the entry's index. */
        r.kind = (e - EV_VEC_FIRST) % 2 ? KR_IRQ_EXIT : KR_IRQ_ENTRY;
        r.arg = -1;
        r.name = r.kind == KR_IRQ_ENTRY ? c->vec_names[e] : c->vec_names[e - 1];
    }
    if (!ok) {
        c->unknown++;
        return 0;
    }
    return ktau_capture_add(c, &r);
}

/* A PERF_RECORD_SWITCH with sample_id_all: pid/tid, time, cpu after the header. */
static int on_switch(struct ktau_capture *c, uint16_t misc, const unsigned char *p, size_t len)
{
    if (misc & PERF_RECORD_MISC_SWITCH_OUT)
        return 0; /* the tracepoint says more (why it left) */
    if (len < 24)
        return 0;
    struct ktau_krec r = {.kind = KR_SWITCH_IN};
    uint32_t cpu;
    memcpy(&r.pid, p, 4);
    memcpy(&r.tid, p + 4, 4);
    memcpy(&r.t_ns, p + 8, 8);
    memcpy(&cpu, p + 16, 4);
    r.cpu = (uint16_t)cpu;
    return ktau_capture_add(c, &r);
}

/* Parses the records drained so far (c->raw) into c->recs. */
static int parse_raw(struct ktau_capture *c, struct zepto_err *err)
{
    size_t off = 0;
    while (off + sizeof(struct perf_event_header) <= c->raw_len) {
        struct perf_event_header hdr;
        memcpy(&hdr, c->raw + off, sizeof(hdr));
        if (hdr.size < sizeof(hdr) || hdr.size > c->raw_len - off)
            break;
        const unsigned char *body = c->raw + off + sizeof(hdr);
        size_t blen = hdr.size - sizeof(hdr);
        int rc = 0;
        if (hdr.type == PERF_RECORD_SAMPLE) {
            rc = on_sample(c, body, blen);
        } else if (hdr.type == PERF_RECORD_SWITCH) {
            rc = on_switch(c, hdr.misc, body, blen);
        } else if (hdr.type == PERF_RECORD_LOST && blen >= 16) {
            uint64_t lost;
            memcpy(&lost, body + 8, 8);
            c->lost += lost;
        }
        if (rc)
            return zepto_fail(err, -rc, "out of memory for %zu kernel records", c->nrecs);
        off += hdr.size;
    }
    c->raw_len = 0;
    return 0;
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
        rc = parse_raw(c, err);
    for (int i = 0; c->fds && i < c->ncpu * NEVENTS; i++)
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
