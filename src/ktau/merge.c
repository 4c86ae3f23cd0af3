/*
 * The merge of user logs and kernel records (see merge.h). Per thread, one pass in time order:
 * user events up to each kernel record's time are replayed onto a user stack, and the kernel
 * record opens or closes a frame of the thread's kernel stack. A closed kernel frame adds its
 * time to (user routine at its start, kernel entry); page faults add a call with no time.
 * Cost: O(records) per thread plus a hash look-up per closed frame.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ktau/merge_parts.h"
#include "ktau/syscalls.h"

/* Time and calls of one (user routine, kernel entry) pair. */
struct acc {
    uint64_t key; /* rid << 32 | kid, + 1 (0 = empty) */
    uint64_t calls, incl, excl;
};

struct kframe {
    int kind; /* KR_SYS_ENTER, KR_IRQ_ENTRY, KR_SOFTIRQ_ENTRY or KR_SWITCH_OUT */
    uint32_t kid, rid;
    uint64_t start, child;
};

struct state {
    struct kt_knames names;
    struct acc *acc;
    size_t nacc, capacc; /* capacc a power of two */
    struct kt_trace trace;
};

static struct acc *acc_get(struct state *s, uint32_t rid, uint32_t kid)
{
    if (s->nacc * 2 >= s->capacc) {
        size_t cap = s->capacc ? s->capacc * 2 : 1024;
        struct acc *n = calloc(cap, sizeof(*n));
        if (!n)
            return NULL;
        for (size_t i = 0; i < s->capacc; i++)
            if (s->acc[i].key) {
                size_t j = (s->acc[i].key * 0x9E3779B97F4A7C15ull) >> 20 & (cap - 1);
                while (n[j].key)
                    j = (j + 1) & (cap - 1);
                n[j] = s->acc[i];
            }
        free(s->acc);
        s->acc = n;
        s->capacc = cap;
    }
    uint64_t key = ((uint64_t)rid << 32 | kid) + 1;
    size_t j = (key * 0x9E3779B97F4A7C15ull) >> 20 & (s->capacc - 1);
    while (s->acc[j].key && s->acc[j].key != key)
        j = (j + 1) & (s->capacc - 1);
    if (!s->acc[j].key) {
        s->acc[j].key = key;
        s->nacc++;
    }
    return &s->acc[j];
}

struct thread_ctx {
    struct state *s;
    struct kt_job *job;
    struct ktau_tsum *sum;
    uint32_t *ustack;
    size_t udepth, ucap;
    uint64_t *ustart;
    uint64_t *ktime; /* per routine: outermost kernel time */
    uint32_t nroutines;
    const char *const *rnames;
    struct kframe kst[64];
    int kdepth;
};

static uint32_t cur_routine(const struct thread_ctx *c)
{
    return c->udepth ? c->ustack[c->udepth - 1] : 0;
}

static void kpop(struct thread_ctx *c, uint64_t t)
{
    struct kframe *f = &c->kst[--c->kdepth];
    uint64_t d = t > f->start ? t - f->start : 0;
    uint64_t ex = d > f->child ? d - f->child : 0;
    struct acc *a = acc_get(c->s, f->rid, f->kid);
    if (a) {
        a->calls++;
        a->incl += d;
        a->excl += ex;
    }
    if (c->kdepth)
        c->kst[c->kdepth - 1].child += d;
    else
        c->ktime[f->rid] += d;
    struct ktau_tsum *m = c->sum;
    const struct kt_kname *kn = &c->s->names.names[f->kid];
    switch (kn->group) {
    case KT_G_SYSCALL:
        m->syscalls++;
        m->syscall_ns += d;
        break;
    case KT_G_IRQ:
        m->irqs++;
        m->irq_ns += d;
        break;
    case KT_G_BH:
        m->softirqs++;
        m->softirq_ns += d;
        break;
    case KT_G_SCHED:
        if (f->kind == KR_SWITCH_OUT && !strcmp(kn->name, "preempted")) {
            m->preempts++;
            m->preempted_ns += d;
        } else {
            m->blocks++;
            m->blocked_ns += d;
        }
        break;
    case KT_G_EXC: break;
    }
    kt_trace_event(&c->s->trace, kn->name, kt_group_names[kn->group], f->start, d, c->job->pid,
                   c->job->tid);
}

static void kpush(struct thread_ctx *c, int kind, uint32_t kid, uint64_t t)
{
    if (kid == UINT32_MAX)
        return;
    if (c->kdepth == (int)(sizeof(c->kst) / sizeof(c->kst[0])))
        kpop(c, t); /* never expected: nesting is a few levels deep */
    c->kst[c->kdepth++] =
        (struct kframe){.kind = kind, .kid = kid, .rid = cur_routine(c), .start = t};
}

/* Closes frames down to and including the innermost one of `kind`, if there is one. */
static void kclose(struct thread_ctx *c, int kind, uint64_t t)
{
    int at = c->kdepth;
    while (at-- > 0)
        if (c->kst[at].kind == kind)
            break;
    if (at < 0)
        return;
    while (c->kdepth > at)
        kpop(c, t);
}

static int upush(struct thread_ctx *c, uint32_t rid, uint64_t t)
{
    if (c->udepth == c->ucap) {
        size_t cap = c->ucap ? c->ucap * 2 : 64;
        uint32_t *n = realloc(c->ustack, cap * sizeof(*n));
        uint64_t *m = realloc(c->ustart, cap * sizeof(*m));
        if (n)
            c->ustack = n;
        if (m)
            c->ustart = m;
        if (!n || !m)
            return -ENOMEM;
        c->ucap = cap;
    }
    c->ustack[c->udepth] = rid;
    c->ustart[c->udepth++] = t;
    return 0;
}

static void upop(struct thread_ctx *c, uint64_t t)
{
    c->udepth--;
    uint32_t rid = c->ustack[c->udepth];
    kt_trace_event(&c->s->trace, c->rnames[rid], rid ? "user" : "thread", c->ustart[c->udepth],
                   t - c->ustart[c->udepth], c->job->pid, c->job->tid);
}

static int replay_user(struct thread_ctx *c, uint64_t *ui, uint64_t until)
{
    const struct ktau_raw_thread *u = c->job->user;
    if (!u)
        return 0;
    for (; *ui < u->h.nevents && u->events[*ui].t_ns <= until; (*ui)++) {
        const struct ktau_raw_event *e = &u->events[*ui];
        uint32_t rid = e->rid_dir >> 1;
        if (!(e->rid_dir & 1)) {
            if (upush(c, rid, e->t_ns))
                return -ENOMEM;
            continue;
        }
        size_t at = c->udepth;
        while (at-- > 0 && c->ustack[at] != rid)
            ;
        if (at == (size_t)-1)
            continue;
        while (c->udepth > at)
            upop(c, e->t_ns);
    }
    return 0;
}

static int kernel_record(struct thread_ctx *c, const struct ktau_capture *k,
                         const struct ktau_krec *r)
{
    struct state *s = c->s;
    char buf[128], nb[32];
    switch (r->kind) {
    case KR_SYS_ENTER:
        snprintf(buf, sizeof(buf), "sys_%s", ktau_syscall_name(r->arg, nb, sizeof(nb)));
        kpush(c, KR_SYS_ENTER, kt_kname_id(&s->names, buf, KT_G_SYSCALL), r->t_ns);
        break;
    case KR_SYS_EXIT: kclose(c, KR_SYS_ENTER, r->t_ns); break;
    case KR_IRQ_ENTRY:
        /* arg -1: an x86 system vector (capture.h), named but without an irq number. */
        if (r->arg < 0)
            snprintf(buf, sizeof(buf), "irq %s", r->name < k->nnames ? k->names[r->name] : "");
        else
            snprintf(buf, sizeof(buf), "irq %d %s", r->arg,
                     r->name < k->nnames ? k->names[r->name] : "");
        kpush(c, KR_IRQ_ENTRY, kt_kname_id(&s->names, buf, KT_G_IRQ), r->t_ns);
        break;
    case KR_IRQ_EXIT: kclose(c, KR_IRQ_ENTRY, r->t_ns); break;
    case KR_SOFTIRQ_ENTRY:
        snprintf(buf, sizeof(buf), "softirq %s", ktau_softirq_name(r->arg));
        kpush(c, KR_SOFTIRQ_ENTRY, kt_kname_id(&s->names, buf, KT_G_BH), r->t_ns);
        break;
    case KR_SOFTIRQ_EXIT: kclose(c, KR_SOFTIRQ_ENTRY, r->t_ns); break;
    case KR_SWITCH_OUT:
        kpush(c, KR_SWITCH_OUT,
              kt_kname_id(&s->names, r->arg ? "preempted" : "blocked", KT_G_SCHED), r->t_ns);
        break;
    case KR_SWITCH_IN: kclose(c, KR_SWITCH_OUT, r->t_ns); break;
    case KR_PAGE_FAULT: {
        uint32_t kid = kt_kname_id(&s->names, "page_fault_user", KT_G_EXC);
        struct acc *a = kid == UINT32_MAX ? NULL : acc_get(s, cur_routine(c), kid);
        if (!a)
            return -ENOMEM;
        a->calls++;
        c->sum->faults++;
        kt_trace_event(&s->trace, "page_fault_user", "KTAU_EXCEPTION", r->t_ns, UINT64_MAX, r->pid,
                       r->tid);
        break;
    }
    default: break;
    }
    return 0;
}

/* Builds the TAU profile of one thread from the accumulators. */
static int emit_profile(struct thread_ctx *c, struct ktau_pthread *p)
{
    struct state *s = c->s;
    const struct ktau_raw_thread *u = c->job->user;
    int rc = 0;
    uint64_t wall = c->job->end - c->job->start;
    for (uint32_t i = 0; i < c->nroutines && !rc; i++) {
        double calls = 1, subrs = 0, incl = (double)wall, excl = (double)wall;
        if (u) {
            const struct ktau_raw_routine *r = &u->routines[i];
            if (!r->calls && i)
                continue;
            calls = (double)r->calls;
            subrs = (double)r->subrs;
            incl = (double)r->incl_ns;
            excl = (double)r->excl_ns;
            /* The root spans the thread as the kernel saw it too (from exec, to exit). */
            if (!i && (double)wall > incl) {
                excl += (double)wall - incl;
                incl = (double)wall;
            }
        }
        excl -= (double)c->ktime[i];
        if (excl < 0)
            excl = 0;
        rc = ktau_pthread_add(p, c->rnames[i], i ? "TAU_USER" : "TAU_DEFAULT", calls, subrs,
                              excl / 1e3, incl / 1e3);
    }
    /* Flat kernel entries, then the call paths. */
    for (size_t kid = 0; kid < s->names.n && !rc; kid++) {
        double calls = 0, incl = 0, excl = 0;
        for (size_t j = 0; j < s->capacc; j++) {
            const struct acc *a = &s->acc[j];
            if (a->key && ((a->key - 1) & 0xffffffffu) == kid) {
                calls += (double)a->calls;
                incl += (double)a->incl;
                excl += (double)a->excl;
            }
        }
        if (calls > 0)
            rc = ktau_pthread_add(p, s->names.names[kid].name,
                                  kt_group_names[s->names.names[kid].group], calls, 0, excl / 1e3,
                                  incl / 1e3);
    }
    for (size_t j = 0; j < s->capacc && !rc; j++) {
        const struct acc *a = &s->acc[j];
        if (!a->key)
            continue;
        uint32_t rid = (uint32_t)((a->key - 1) >> 32), kid = (uint32_t)((a->key - 1) & 0xffffffffu);
        char name[512], group[64];
        snprintf(name, sizeof(name), "%s%s%s", c->rnames[rid], KTAU_CALLPATH_SEP,
                 s->names.names[kid].name);
        snprintf(group, sizeof(group), "%s | TAU_CALLPATH",
                 kt_group_names[s->names.names[kid].group]);
        rc = ktau_pthread_add(p, name, group, (double)a->calls, 0, (double)a->excl / 1e3,
                              (double)a->incl / 1e3);
    }
    /* The atomic events (message sizes...), as TAU writes them: count, max, min, mean, sumsqr. */
    for (uint64_t i = 0; u && i < u->nuev && !rc; i++) {
        const struct ktau_raw_uevent *e = &u->uev[i];
        if (e->n)
            rc = ktau_pthread_add_event(p, u->uev_names[i], (double)e->n, e->max, e->min,
                                        e->sum / (double)e->n, e->sumsq);
    }
    return rc;
}

static int merge_thread(struct state *s, const struct ktau_merge_in *in, struct kt_job *job,
                        struct ktau_pthread *p, struct ktau_tsum *sum)
{
    const struct ktau_capture *k = in->kernel;
    const char *root = job->comm;
    struct thread_ctx c = {.s = s, .job = job, .sum = sum};
    const char *root_only[1] = {root};
    if (job->user) {
        c.nroutines = job->user->h.nroutines;
        c.rnames = (const char *const *)job->user->names;
    } else {
        c.nroutines = 1;
        c.rnames = root_only;
    }
    c.ktime = calloc(c.nroutines, sizeof(*c.ktime));
    if (!c.ktime)
        return -ENOMEM;
    s->nacc = 0;
    memset(s->acc, 0, s->capacc * sizeof(*s->acc));
    int rc = 0;
    uint64_t ui = 0;
    if (!job->user)
        rc = upush(&c, 0, job->start);
    for (size_t i = job->k0; i < job->k1 && !rc; i++) {
        const struct ktau_krec *r = &k->recs[i];
        rc = replay_user(&c, &ui, r->t_ns);
        if (!rc)
            rc = kernel_record(&c, k, r);
    }
    if (!rc)
        rc = replay_user(&c, &ui, UINT64_MAX);
    while (c.kdepth)
        kpop(&c, job->end);
    while (c.udepth)
        upop(&c, job->end);
    if (!rc)
        rc = emit_profile(&c, p);
    sum->user_routines = 0;
    for (uint32_t i = 1; job->user && i < job->user->h.nroutines; i++)
        sum->user_routines += job->user->routines[i].calls > 0;
    free(c.ktime);
    free(c.ustack);
    free(c.ustart);
    return rc;
}

int ktau_merge(const struct ktau_merge_in *in, struct ktau_merge_out *out, struct zepto_err *err)
{
    memset(out, 0, sizeof(*out));
    struct kt_job *jobs;
    size_t n;
    if (kt_jobs_make(in, &jobs, &n))
        return zepto_fail(err, ENOMEM, "out of memory");

    struct state s = {0};
    uint64_t t0 = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (jobs[i].start < t0)
            t0 = jobs[i].start;
    kt_trace_begin(&s.trace, in->trace, t0);
    out->threads = calloc(n ? n : 1, sizeof(*out->threads));
    out->sums = calloc(n ? n : 1, sizeof(*out->sums));
    int rc = out->threads && out->sums ? 0 : -ENOMEM;
    s.capacc = 1024;
    s.acc = calloc(s.capacc, sizeof(*s.acc));
    if (!s.acc)
        rc = -ENOMEM;
    char host[64] = "";
    if (gethostname(host, sizeof(host) - 1))
        host[0] = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct ktau_pthread *p = &out->threads[i];
        snprintf(p->host, sizeof(p->host), "%s", host);
        struct ktau_tsum *m = &out->sums[i];
        p->node = m->node = jobs[i].node;
        p->context = m->context = jobs[i].context;
        p->thread = m->thread = jobs[i].thread;
        p->pid = m->pid = jobs[i].pid;
        p->tid = m->tid = jobs[i].tid;
        m->start_ns = jobs[i].start;
        m->end_ns = jobs[i].end;
        m->has_user = jobs[i].user != NULL;
        m->truncated = jobs[i].user && (jobs[i].user->h.flags & KTAU_RAW_TRUNCATED);
        snprintf(m->comm, sizeof(m->comm), "%s", jobs[i].comm);
        out->n = i + 1;
        char tn[96];
        snprintf(tn, sizeof(tn), "%s %u (thread %d)", m->comm, jobs[i].tid, p->thread);
        kt_trace_thread_name(&s.trace, jobs[i].pid, jobs[i].tid, tn);
        rc = merge_thread(&s, in, &jobs[i], p, m);
    }
    int jr = kt_trace_end(&s.trace);
    if (!rc)
        rc = jr;
    kt_knames_free(&s.names);
    free(s.acc);
    free(jobs);
    if (rc) {
        ktau_merge_free(out);
        return zepto_fail(err, -rc, "merge: %s", strerror(-rc));
    }
    return 0;
}

void ktau_merge_free(struct ktau_merge_out *out)
{
    for (size_t i = 0; out->threads && i < out->n; i++)
        ktau_pthread_free(&out->threads[i]);
    free(out->threads);
    free(out->sums);
    memset(out, 0, sizeof(*out));
}
