/*
 * `zepto ktau show DIR`: the TAU profiles in DIR as a pprof-like table per thread: each routine
 * with its share of the thread's time, exclusive and inclusive time and calls, and under it the
 * kernel entries charged to it (the "routine => entry" call paths), then its atomic events. With
 * several ranks (TAU nodes), the summary across them (pprof -s) and the rank with the most kernel
 * time (include/zepto/ktau_ranks.h computes both).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/ktau_profile.h"
#include "zepto/ktau_ranks.h"

#define CMD "ktau show"

static const char usage[] =
    "usage: zepto ktau show DIR\n"
    "\n"
    "Prints the profiles `zepto ktau run` wrote into DIR (profile.N.C.T files, TAU's format):\n"
    "per thread, the routines by exclusive time (%time of the thread's time, exclusive,\n"
    "inclusive, calls) and, under each, the kernel entries charged to it: system calls,\n"
    "interrupts, softirqs, preempted and blocked time, page faults; then the thread's atomic\n"
    "events (count, max, min, mean, standard deviation: MPI message sizes and partners).\n"
    "With several ranks (an MPI run): the summary across ranks (per routine the mean, min and\n"
    "max over the ranks of its exclusive time, as pprof -s) and the rank with the most kernel\n"
    "time (system calls, interrupts, softirqs, exceptions), its host, against the median.\n"
    "\n"
    "      --json   refused: the TAU files in DIR are the machine-readable form\n"
    "\n"
    "example:\n"
    "  zepto ktau run -o prof -- ./app && zepto ktau show prof\n";

struct file {
    int node, context, thread;
    char name[256];
};

static int cmp_file(const void *a, const void *b)
{
    const struct file *x = a, *y = b;
    if (x->node != y->node)
        return x->node - y->node;
    if (x->context != y->context)
        return x->context - y->context;
    return x->thread - y->thread;
}

static const struct ktau_pthread *sort_ctx;

static int cmp_excl(const void *a, const void *b)
{
    double x = sort_ctx->f[*(const size_t *)a].excl_us, y = sort_ctx->f[*(const size_t *)b].excl_us;
    return (x < y) - (x > y);
}

static int cmp_incl(const void *a, const void *b)
{
    const struct ktau_pfunc *x = &sort_ctx->f[*(const size_t *)a];
    const struct ktau_pfunc *y = &sort_ctx->f[*(const size_t *)b];
    if (x->incl_us != y->incl_us)
        return (x->incl_us < y->incl_us) - (x->incl_us > y->incl_us);
    return (x->calls < y->calls) - (x->calls > y->calls);
}

static bool is_user(const struct ktau_pfunc *f)
{
    return !strncmp(f->group, "TAU_USER", 8) || !strncmp(f->group, "TAU_DEFAULT", 11);
}

static void show_thread(const struct ktau_pthread *t)
{
    size_t *idx = malloc((t->n + 1) * sizeof(*idx)), *sub = malloc((t->n + 1) * sizeof(*sub));
    if (!idx || !sub) {
        free(idx);
        free(sub);
        return;
    }
    double total = 0;
    size_t nu = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (strstr(t->f[i].group, "TAU_CALLPATH"))
            continue;
        total += t->f[i].excl_us;
        if (is_user(&t->f[i]))
            idx[nu++] = i;
    }
    sort_ctx = t;
    qsort(idx, nu, sizeof(*idx), cmp_excl);
    printf("profile.%d.%d.%d  pid %u tid %u  total %.3f ms\n", t->node, t->context, t->thread,
           t->pid, t->tid, total / 1e3);
    printf("  %%time     excl ms     incl ms       calls  routine / kernel entry\n");
    for (size_t k = 0; k < nu; k++) {
        const struct ktau_pfunc *f = &t->f[idx[k]];
        printf("%6.1f%% %11.3f %11.3f %11.0f  %s\n", total > 0 ? 100 * f->excl_us / total : 0,
               f->excl_us / 1e3, f->incl_us / 1e3, f->calls, f->name);
        size_t prefix = strlen(f->name), ns = 0;
        for (size_t i = 0; i < t->n; i++)
            if (strstr(t->f[i].group, "TAU_CALLPATH") && !strncmp(t->f[i].name, f->name, prefix) &&
                !strncmp(t->f[i].name + prefix, KTAU_CALLPATH_SEP, strlen(KTAU_CALLPATH_SEP)) &&
                !strstr(t->f[i].name + prefix + strlen(KTAU_CALLPATH_SEP), KTAU_CALLPATH_SEP))
                sub[ns++] = i;
        qsort(sub, ns, sizeof(*sub), cmp_incl);
        for (size_t j = 0; j < ns; j++) {
            const struct ktau_pfunc *g = &t->f[sub[j]];
            char group[64];
            snprintf(group, sizeof(group), "%.*s", (int)strcspn(g->group, " |"), g->group);
            printf("%8s %11s %11.3f %11.0f    %s [%s]\n", "", "", g->incl_us / 1e3, g->calls,
                   g->name + prefix + strlen(KTAU_CALLPATH_SEP), group);
        }
    }
    if (t->nue) {
        printf("  %11s %11s %11s %11s %11s  %s\n", "events", "max", "min", "mean", "std.dev",
               "atomic event");
        for (size_t i = 0; i < t->nue; i++) {
            const struct ktau_uevent *u = &t->ue[i];
            double var = u->n > 0 ? u->sumsqr / u->n - u->mean * u->mean : 0;
            printf("  %11.0f %11.6g %11.6g %11.6g %11.6g  %s\n", u->n, u->max, u->min, u->mean,
                   var > 0 ? sqrt(var) : 0, u->name);
        }
    }
    printf("\n");
    free(idx);
    free(sub);
}

static const char *host_of(const struct ktau_rank_info *r)
{
    return r->host[0] ? r->host : "?";
}

/* pprof -s across the ranks, and the rank with the most kernel time. */
static void show_ranks(const struct ktau_rank_summary *s)
{
    printf("summary across %zu ranks (each rank: all its profiles; exclusive ms per rank)\n",
           s->nranks);
    printf("  %11s %11s %11s %6s %11s %6s %11s  %s\n", "calls mean", "excl mean", "min", "rank",
           "max", "rank", "incl mean", "routine / kernel entry");
    for (size_t i = 0; i < s->nrows; i++) {
        const struct ktau_rank_row *w = &s->rows[i];
        printf("  %11.1f %11.3f %11.3f %6d %11.3f %6d %11.3f  %s\n", w->calls_mean,
               w->excl_mean / 1e3, w->excl_min / 1e3, w->rank_min, w->excl_max / 1e3, w->rank_max,
               w->incl_mean / 1e3, w->name);
    }
    printf("\nkernel time per rank (system calls, interrupts, softirqs, exceptions; not "
           "preempted or blocked time)\n");
    for (size_t i = 0; i < s->nranks; i++) {
        const struct ktau_rank_info *r = &s->ranks[i];
        printf("  rank %-5d %-16s %11.3f ms of %11.3f ms\n", r->rank, host_of(r),
               r->kernel_us / 1e3, r->total_us / 1e3);
    }
    const struct ktau_rank_info *f = &s->ranks[s->flagged];
    printf("most kernel time: rank %d on %s, %.3f ms", f->rank, host_of(f), f->kernel_us / 1e3);
    if (s->median_kernel_us > 0)
        printf(", %.1fx the median rank's %.3f ms\n", f->kernel_us / s->median_kernel_us,
               s->median_kernel_us / 1e3);
    else
        printf(" (the median rank has none)\n");
}

struct params {
    const char *dir;
    bool help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {CLI_LONGOPT_JSON, CLI_LONGOPT_HELP, {0}};
    bool json = false;
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        switch (c) {
        case CLI_OPT_JSON: json = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
    }
    if (cli_opts_one_operand(argc, argv, "DIR", err))
        return -EINVAL;
    if (json)
        return zepto_fail(err, EINVAL, "--json is not supported (the TAU files are the data)");
    p->dir = argv[optind];
    return 0;
}

int cli_ktau_show(int argc, char **argv)
{
    struct params p = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    const char *dir = p.dir;
    DIR *d = opendir(dir);
    if (!d) {
        zepto_fail(&err, errno, "%s: %s", dir, strerror(errno));
        return cli_fail(CMD, &err);
    }
    struct file *files = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct file f;
        int used = 0;
        if (sscanf(e->d_name, "profile.%d.%d.%d%n", &f.node, &f.context, &f.thread, &used) != 3 ||
            e->d_name[used])
            continue;
        snprintf(f.name, sizeof(f.name), "%s", e->d_name);
        if (n == cap) {
            struct file *nf = realloc(files, (cap = cap ? cap * 2 : 16) * sizeof(*nf));
            if (!nf)
                break;
            files = nf;
        }
        files[n++] = f;
    }
    closedir(d);
    if (!n) {
        free(files);
        zepto_fail(&err, ENOENT, "%s: no profile.N.C.T files (run 'zepto ktau run -o %s' first)",
                   dir, dir);
        return cli_fail(CMD, &err);
    }
    qsort(files, n, sizeof(*files), cmp_file);
    int rc = 0;
    struct ktau_pthread *t = calloc(n, sizeof(*t));
    size_t nt = 0;
    if (!t) {
        zepto_fail(&err, ENOMEM, "out of memory");
        rc = cli_fail(CMD, &err);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        if (ktau_tau_read(path, &t[i], &err)) {
            rc = cli_fail(CMD, &err);
            break;
        }
        nt++;
        show_thread(&t[i]);
    }
    struct ktau_rank_summary rs;
    if (!rc && ktau_rank_summary(t, nt, &rs)) {
        zepto_fail(&err, ENOMEM, "out of memory");
        rc = cli_fail(CMD, &err);
    } else if (!rc) {
        if (rs.nranks > 1)
            show_ranks(&rs);
        ktau_rank_summary_free(&rs);
    }
    for (size_t i = 0; i < nt; i++)
        ktau_pthread_free(&t[i]);
    free(t);
    free(files);
    return rc;
}
