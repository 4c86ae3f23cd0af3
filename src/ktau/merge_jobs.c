/*
 * The threads a merge works on ("jobs"): one per libktau file, one per thread that only the
 * kernel saw, and the root process when nothing at all was recorded of it; each with its MPI
 * rank and program name, in the order of the profiles, and numbered as TAU numbers its files
 * (profile.<node>.<context>.<thread>).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ktau/merge_parts.h"

/* Ranks from files beyond this are ignored (a damaged file; the nodes after the highest rank
 * must stay within an int). */
#define KTAU_MAX_RANK (1u << 24)

/* Ranked processes first, by rank; then the others. Within each: the root process first, then by
 * pid; within a process, the main thread first, then by tid. */
static int cmp_job(const void *a, const void *b, void *root)
{
    const struct kt_job *x = a, *y = b;
    uint32_t r = *(uint32_t *)root;
    if ((x->rank < 0) != (y->rank < 0))
        return x->rank < 0 ? 1 : -1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    int xr = x->pid != r, yr = y->pid != r;
    if (xr != yr)
        return xr - yr;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    int xm = x->tid != x->pid, ym = y->tid != y->pid;
    if (xm != ym)
        return xm - ym;
    return (x->tid > y->tid) - (x->tid < y->tid);
}

/* The MPI rank of each job: in->rank for all when set, else that of any libktau file of its
 * process that carries one; -1 for none. And the name of its program. Returns the highest rank,
 * or -1. O(jobs^2): jobs are threads, a few hundred at most. */
static int process_of_jobs(const struct ktau_merge_in *in, struct kt_job *jobs, size_t n)
{
    int max = -1;
    for (size_t i = 0; i < n; i++) {
        jobs[i].rank = -1;
        jobs[i].comm = jobs[i].user ? jobs[i].user->h.comm : in->comm;
        for (size_t j = 0; j < n && !jobs[i].user; j++)
            if (jobs[j].pid == jobs[i].pid && jobs[j].user) {
                jobs[i].comm = jobs[j].user->names[0]; /* the root routine's name */
                break;
            }
        if (in->one_rank) {
            jobs[i].rank = in->rank;
        } else {
            for (size_t j = 0; j < n && jobs[i].rank < 0; j++) {
                const struct ktau_raw_thread *u = jobs[j].user;
                if (jobs[j].pid == jobs[i].pid && u && (u->h.flags & KTAU_RAW_RANK) &&
                    u->h.rank < KTAU_MAX_RANK)
                    jobs[i].rank = (int)u->h.rank;
            }
        }
        if (jobs[i].rank > max)
            max = jobs[i].rank;
    }
    return max;
}

/* TAU's numbers: a ranked process is node <rank>, context 0 (the rank's further processes, its
 * children, contexts 1, 2...); the others take the nodes after the highest rank, one each,
 * context 0 (without ranks: node 0 is the root process, then the others by pid). */
static void number_jobs(struct kt_job *jobs, size_t n, int max_rank)
{
    int node = max_rank, context = 0, thread = 0;
    for (size_t i = 0; i < n; i++) {
        if (!i || jobs[i].pid != jobs[i - 1].pid) {
            thread = 0;
            if (jobs[i].rank >= 0 && i && jobs[i].rank == jobs[i - 1].rank) {
                context++;
            } else {
                node = jobs[i].rank >= 0 ? jobs[i].rank : node + 1;
                context = 0;
            }
        }
        jobs[i].node = node;
        jobs[i].context = context;
        jobs[i].thread = thread++;
    }
}

/* Room for one more job. */
static int grow(struct kt_job **jobs, size_t n, size_t *cap, size_t new_cap)
{
    if (n < *cap)
        return 0;
    struct kt_job *nj = realloc(*jobs, new_cap * sizeof(*nj));
    if (!nj)
        return -ENOMEM;
    *jobs = nj;
    *cap = new_cap;
    return 0;
}

int kt_jobs_make(const struct ktau_merge_in *in, struct kt_job **out, size_t *nout)
{
    const struct ktau_capture *k = in->kernel;
    size_t cap = in->nusers + 16, n = 0;
    struct kt_job *jobs = calloc(cap, sizeof(*jobs));
    if (!jobs)
        return -ENOMEM;
    for (size_t i = 0; i < in->nusers; i++) {
        struct ktau_raw_thread *u = &in->users[i];
        jobs[n++] = (struct kt_job){.pid = u->h.pid,
                                    .tid = u->h.tid,
                                    .user = u,
                                    .start = u->h.start_ns,
                                    .end = u->h.end_ns};
    }
    /* The kernel's records are sorted by thread: one run of records per thread. */
    for (size_t i = 0; k && i < k->nrecs;) {
        size_t j = i;
        while (j < k->nrecs && k->recs[j].tid == k->recs[i].tid)
            j++;
        struct kt_job *jb = NULL;
        for (size_t q = 0; q < n && !jb; q++)
            if (jobs[q].tid == k->recs[i].tid)
                jb = &jobs[q];
        if (!jb) {
            if (grow(&jobs, n, &cap, cap * 2)) {
                free(jobs);
                return -ENOMEM;
            }
            jb = &jobs[n++];
            *jb = (struct kt_job){.pid = k->recs[i].pid,
                                  .tid = k->recs[i].tid,
                                  .start = k->recs[i].t_ns,
                                  .end = k->recs[j - 1].t_ns};
        }
        jb->k0 = i;
        jb->k1 = j;
        if (k->recs[i].t_ns < jb->start)
            jb->start = k->recs[i].t_ns;
        if (k->recs[j - 1].t_ns > jb->end)
            jb->end = k->recs[j - 1].t_ns;
        i = j;
    }
    uint32_t root = in->root_pid;
    bool seen = false;
    for (size_t i = 0; i < n; i++)
        seen |= jobs[i].pid == root;
    if (!seen && in->root_end_ns > in->root_start_ns) {
        if (grow(&jobs, n, &cap, cap + 1)) {
            free(jobs);
            return -ENOMEM;
        }
        jobs[n++] = (struct kt_job){
            .pid = root, .tid = root, .start = in->root_start_ns, .end = in->root_end_ns};
    }
    int max_rank = process_of_jobs(in, jobs, n);
    qsort_r(jobs, n, sizeof(*jobs), cmp_job, &root);
    number_jobs(jobs, n, max_rank);
    *out = jobs;
    *nout = n;
    return 0;
}
