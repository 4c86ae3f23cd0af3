/*
 * The tracepoints of ktau's kernel capture and their decoding: which events each capture opens,
 * their formats and ids read from tracefs (mounting it when root and it is not), and the perf
 * records drained from the ring buffers turned into ktau_krec entries with libtraceevent, which
 * reads each sample's fields by the formats tracefs publishes.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <event-parse.h>

#include "ktau/capture.h"
#include "ktau/tracepoints.h"

const struct kt_tracepoint kt_tracepoints[KT_NTRACEPOINTS] = {
    {"sched", "sched_switch", KT_IN_BOTH, true, "prev_state"},
    {"irq", "irq_handler_entry", KT_IN_BOTH, false, "irq"},
    {"irq", "irq_handler_exit", KT_IN_BOTH, false, "irq"},
    {"irq", "softirq_entry", KT_IN_BOTH, false, "vec"},
    {"irq", "softirq_exit", KT_IN_BOTH, false, "vec"},
    {"raw_syscalls", "sys_enter", KT_IN_PROC, true, "id"},
    {"raw_syscalls", "sys_exit", KT_IN_PROC, true, "id"},
    {"exceptions", "page_fault_user", KT_IN_BOTH, false, NULL},
    {"exceptions", "page_fault_kernel", KT_IN_CPU, false, NULL},
    /* The x86 system vectors, which irq:irq_handler_* does not see (the timer tick among them):
     * entry then exit of each, as KR_IRQ_ENTRY/EXIT with arg -1 and the vector's name. */
    {"irq_vectors", "local_timer_entry", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "local_timer_exit", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "reschedule_entry", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "reschedule_exit", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "call_function_entry", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "call_function_exit", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "call_function_single_entry", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "call_function_single_exit", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "irq_work_entry", KT_IN_BOTH, false, NULL},
    {"irq_vectors", "irq_work_exit", KT_IN_BOTH, false, NULL},
};
_Static_assert(KT_NTRACEPOINTS <= KTAU_NEVENTS, "raise KTAU_NEVENTS");
_Static_assert(sizeof(kt_tracepoints) / sizeof(kt_tracepoints[0]) == KT_NTRACEPOINTS,
               "KT_NTRACEPOINTS");

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

int kt_tracepoints_load(struct ktau_capture *c, unsigned mode, struct zepto_err *err)
{
    memset(c, 0, sizeof(*c));
    c->names = calloc(1, sizeof(*c->names));
    if (!c->names || !(c->names[0] = strdup("")))
        return zepto_fail(err, ENOMEM, "out of memory");
    c->nnames = 1;
    c->cpu_wide = mode == KT_IN_CPU;
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
    for (int e = 0; e < KT_NTRACEPOINTS; e++) {
        c->ids[e] = -1;
        if (!(kt_tracepoints[e].in & mode))
            continue;
        size_t len;
        snprintf(path, sizeof(path), "%s/events/%s/%s/format", tfs, kt_tracepoints[e].sys,
                 kt_tracepoints[e].name);
        char *fmt = read_file(path, &len);
        if (!fmt || tep_parse_event(tep, fmt, len, kt_tracepoints[e].sys)) {
            free(fmt);
            if (kt_tracepoints[e].needed)
                return zepto_fail(err, ENOENT, "%s: cannot read or parse the tracepoint format",
                                  path);
            continue;
        }
        free(fmt);
        snprintf(path, sizeof(path), "%s/events/%s/%s/id", tfs, kt_tracepoints[e].sys,
                 kt_tracepoints[e].name);
        char *id = read_file(path, &len);
        if (id)
            c->ids[e] = atoi(id);
        free(id);
        struct tep_event *ev = c->ids[e] >= 0 ? tep_find_event(tep, c->ids[e]) : NULL;
        c->events[e] = ev;
        if (ev && kt_tracepoints[e].field)
            c->fields[e] = tep_find_field(ev, kt_tracepoints[e].field);
        if (ev && e == KT_EV_SWITCH) {
            c->pid_field = tep_find_field(ev, "prev_pid");
            c->next_pid_field = tep_find_field(ev, "next_pid");
        }
        if (ev && e >= KT_EV_VEC_FIRST && (e - KT_EV_VEC_FIRST) % 2 == 0) {
            /* "local_timer_entry" -> "local_timer" */
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(strlen(kt_tracepoints[e].name) - 6),
                     kt_tracepoints[e].name);
            c->vec_names[e] = ktau_capture_intern(c, name);
        }
    }
    return 0;
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
    while (e < KT_NTRACEPOINTS && c->ids[e] != type)
        e++;
    struct tep_event *ev = e < KT_NTRACEPOINTS ? c->events[e] : NULL;
    if (!ev) {
        c->unknown++;
        return 0;
    }
    bool ok = true;
    switch (e) {
    case KT_EV_SWITCH: {
        unsigned long long state = field(c->fields[e], data, &ok);
        uint32_t prev = (uint32_t)field(c->pid_field, data, &ok);
        /* The tracepoint runs in prev's context, so the sample's tid is prev too, and perf gives
         * it as the reader's PID namespace sees it; the raw field holds the kernel's global
         * pid, which differs inside a container. System-wide, next_pid is raw anyway. */
        if (c->cpu_wide || !r.tid)
            r.tid = prev;
        r.kind = KR_SWITCH_OUT;
        /* TASK_RUNNING (0) or, since 4.14, TASK_REPORT_MAX (0x100) for a preemption. */
        r.arg = (state & 0xff) == 0;
        if (c->cpu_wide && ok)
            return on_switch_wide(c, &r, ev, &rec, data);
        break;
    }
    case KT_EV_IRQ_IN: {
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
    case KT_EV_IRQ_OUT:
        r.kind = KR_IRQ_EXIT;
        r.arg = (int32_t)field(c->fields[e], data, &ok);
        break;
    case KT_EV_SOFT_IN:
    case KT_EV_SOFT_OUT:
        r.kind = e == KT_EV_SOFT_IN ? KR_SOFTIRQ_ENTRY : KR_SOFTIRQ_EXIT;
        r.arg = (int32_t)field(c->fields[e], data, &ok);
        break;
    case KT_EV_SYS_IN:
    case KT_EV_SYS_OUT:
        r.kind = e == KT_EV_SYS_IN ? KR_SYS_ENTER : KR_SYS_EXIT;
        r.arg = (int32_t)field(c->fields[e], data, &ok);
        break;
    case KT_EV_PF:
    case KT_EV_PF_KERNEL: r.kind = KR_PAGE_FAULT; break;
    default:
        if (e < KT_EV_VEC_FIRST) {
            ok = false;
            break;
        }
        /* A system vector: its name was interned at open on the entry's index. */
        r.kind = (e - KT_EV_VEC_FIRST) % 2 ? KR_IRQ_EXIT : KR_IRQ_ENTRY;
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

int kt_tracepoints_parse(struct ktau_capture *c, struct zepto_err *err)
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
