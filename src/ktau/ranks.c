/*
 * The cross-rank summary of `zepto ktau show` (include/zepto/ktau_ranks.h): profiles grouped by
 * TAU node (the MPI rank), routines by name (a linear search per name: O(routines x names),
 * fine for the few hundred names of a profile), then mean / min / max over the ranks and the
 * rank with the most kernel time against the median.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/ktau_ranks.h"

int ktau_is_kernel_work(const struct ktau_pfunc *f)
{
    static const char *const groups[] = {"KTAU_SYSCALL", "KTAU_IRQ", "KTAU_BH", "KTAU_EXCEPTION"};
    if (strstr(f->group, "TAU_CALLPATH"))
        return 0;
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (!strcmp(f->group, groups[i]))
            return 1;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_row(const void *a, const void *b)
{
    const struct ktau_rank_row *x = a, *y = b;
    if (x->excl_mean != y->excl_mean)
        return (x->excl_mean < y->excl_mean) - (x->excl_mean > y->excl_mean);
    return strcmp(x->name, y->name);
}

static int cmp_info(const void *a, const void *b)
{
    const struct ktau_rank_info *x = a, *y = b;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* The index of rank r in s->ranks (sorted), or -1. */
static long rank_index(const struct ktau_rank_summary *s, int r)
{
    size_t lo = 0, hi = s->nranks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ranks[mid].rank == r)
            return (long)mid;
        if (s->ranks[mid].rank < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The ranks and their kernel and total times. */
static int make_ranks(const struct ktau_pthread *t, size_t n, struct ktau_rank_summary *s)
{
    s->ranks = calloc(n ? n : 1, sizeof(*s->ranks));
    if (!s->ranks)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < s->nranks && s->ranks[k].rank != t[i].node)
            k++;
        struct ktau_rank_info *r = &s->ranks[k];
        if (k == s->nranks) {
            s->nranks++;
            r->rank = t[i].node;
            memcpy(r->host, t[i].host, sizeof(r->host));
        }
        r->threads++;
        for (size_t j = 0; j < t[i].n; j++) {
            const struct ktau_pfunc *f = &t[i].f[j];
            if (strstr(f->group, "TAU_CALLPATH"))
                continue;
            r->total_us += f->excl_us;
            if (ktau_is_kernel_work(f))
                r->kernel_us += f->excl_us;
        }
    }
    qsort(s->ranks, s->nranks, sizeof(*s->ranks), cmp_info);
    return 0;
}

/* Per name, the per-rank sums (excl, incl, calls) in one array of 3 x nranks. */
static int make_rows(const struct ktau_pthread *t, size_t n, struct ktau_rank_summary *s)
{
    size_t cap = 0, nr = s->nranks;
    double **sums = NULL;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        long ri = rank_index(s, t[i].node);
        for (size_t j = 0; j < t[i].n && !rc; j++) {
            const struct ktau_pfunc *f = &t[i].f[j];
            if (strstr(f->group, "TAU_CALLPATH"))
                continue;
            size_t k = 0;
            while (k < s->nrows && strcmp(s->rows[k].name, f->name))
                k++;
            if (k == s->nrows) {
                if (k == cap) {
                    cap = cap ? cap * 2 : 64;
                    struct ktau_rank_row *nrw = realloc(s->rows, cap * sizeof(*nrw));
                    double **ns = realloc(sums, cap * sizeof(*ns));
                    if (nrw)
                        s->rows = nrw;
                    if (ns)
                        sums = ns;
                    if (!nrw || !ns) {
                        rc = -ENOMEM;
                        break;
                    }
                }
                struct ktau_rank_row *w = &s->rows[k];
                memset(w, 0, sizeof(*w));
                w->name = strdup(f->name);
                w->group = strdup(f->group);
                sums[k] = calloc(3 * nr, sizeof(double));
                s->nrows++;
                if (!w->name || !w->group || !sums[k]) {
                    rc = -ENOMEM;
                    break;
                }
            }
            sums[k][ri] += f->excl_us;
            sums[k][nr + (size_t)ri] += f->incl_us;
            sums[k][2 * nr + (size_t)ri] += f->calls;
        }
    }
    for (size_t k = 0; k < s->nrows; k++) {
        struct ktau_rank_row *w = &s->rows[k];
        if (!rc && sums[k]) {
            for (size_t r = 0; r < nr; r++) {
                double e = sums[k][r];
                w->excl_mean += e / (double)nr;
                w->incl_mean += sums[k][nr + r] / (double)nr;
                w->calls_mean += sums[k][2 * nr + r] / (double)nr;
                if (!r || e < w->excl_min) {
                    w->excl_min = e;
                    w->rank_min = s->ranks[r].rank;
                }
                if (!r || e > w->excl_max) {
                    w->excl_max = e;
                    w->rank_max = s->ranks[r].rank;
                }
            }
        }
        free(sums[k]);
    }
    free(sums);
    if (!rc)
        qsort(s->rows, s->nrows, sizeof(*s->rows), cmp_row);
    return rc;
}

int ktau_rank_summary(const struct ktau_pthread *t, size_t n, struct ktau_rank_summary *out)
{
    memset(out, 0, sizeof(*out));
    int rc = make_ranks(t, n, out);
    if (!rc)
        rc = make_rows(t, n, out);
    double *k = rc ? NULL : malloc((out->nranks ? out->nranks : 1) * sizeof(*k));
    if (!rc && !k)
        rc = -ENOMEM;
    if (rc) {
        ktau_rank_summary_free(out);
        return rc;
    }
    for (size_t i = 0; i < out->nranks; i++) {
        k[i] = out->ranks[i].kernel_us;
        if (out->ranks[i].kernel_us > out->ranks[out->flagged].kernel_us)
            out->flagged = i;
    }
    qsort(k, out->nranks, sizeof(*k), cmp_double);
    size_t m = out->nranks;
    out->median_kernel_us = !m ? 0 : m % 2 ? k[m / 2] : (k[m / 2 - 1] + k[m / 2]) / 2;
    free(k);
    return 0;
}

void ktau_rank_summary_free(struct ktau_rank_summary *s)
{
    for (size_t i = 0; i < s->nrows; i++) {
        free(s->rows[i].name);
        free(s->rows[i].group);
    }
    free(s->rows);
    free(s->ranks);
    memset(s, 0, sizeof(*s));
}
