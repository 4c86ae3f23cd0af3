/*
 * The end of a ktau run (run.h): libktau's per-thread files read back from DIR/ktau-raw, merged
 * with the kernel's records (merge.h), and DIR's files written: the TAU profiles, the Chrome trace
 * and summary.txt (per thread: wall time and the kernel's share).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktau/merge.h"
#include "ktau/profile.h"
#include "ktau/raw.h"
#include "ktau/run.h"

void kt_run_warn(const struct ktau_run_opts *opts, const char *fmt, ...)
{
    if (!opts->warn)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    opts->warn(opts->warn_ctx, line);
}

/* Reads every DIR/<raw>/ktau.*.bin; files that cannot be read are said and skipped. */
static int read_users(const struct ktau_run_opts *opts, const char *raw,
                      struct ktau_raw_thread **out, size_t *n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", opts->dir, raw);
    *out = NULL;
    *n = 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "ktau.", 5) || l < 4 || strcmp(e->d_name + l - 4, ".bin"))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct ktau_raw_thread *nt = realloc(*out, cap * sizeof(*nt));
            if (!nt)
                break;
            *out = nt;
        }
        char p[PATH_MAX];
        struct zepto_err err = {0};
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (ktau_raw_read(p, &(*out)[*n], &err))
            kt_run_warn(opts, "skipped %s", err.msg);
        else
            (*n)++;
    }
    closedir(d);
    return 0;
}

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
    if (ns >= 1000000000u)
        snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    else if (ns >= 1000000u)
        snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3f us", (double)ns / 1e3);
}

static int write_summary(const char *dir, const char *name, char *const *argv,
                         const struct ktau_merge_out *m, const char *kernel_note, bool kernel,
                         int status)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "zepto ktau run:");
    for (char *const *a = argv; *a; a++)
        fprintf(f, " %s", *a);
    fprintf(f, "\nexit status: %d\nkernel capture: %s\nthreads: %zu\n\n", status, kernel_note,
            m->n);
    for (size_t i = 0; i < m->n; i++) {
        const struct ktau_tsum *s = &m->sums[i];
        char w[32], sy[32], ir[32], so[32], pr[32], bl[32];
        fmt_ns(w, sizeof(w), s->end_ns - s->start_ns);
        fmt_ns(sy, sizeof(sy), s->syscall_ns);
        fmt_ns(ir, sizeof(ir), s->irq_ns);
        fmt_ns(so, sizeof(so), s->softirq_ns);
        fmt_ns(pr, sizeof(pr), s->preempted_ns);
        fmt_ns(bl, sizeof(bl), s->blocked_ns);
        fprintf(f, "profile.%d.%d.%d  %s pid %u tid %u: wall %s, %llu user routines%s%s\n", s->node,
                s->context, s->thread, s->comm, s->pid, s->tid, w,
                (unsigned long long)s->user_routines,
                s->has_user ? "" : " (no libktau file: the whole thread is one routine)",
                s->truncated ? " (event log cut at KTAU_LOG_MAX)" : "");
        if (kernel)
            fprintf(f,
                    "  syscalls %llu (%s)  irqs %llu (%s)  softirqs %llu (%s)\n"
                    "  preempted %llu times (%s)  blocked %llu times (%s)  page faults %llu\n",
                    (unsigned long long)s->syscalls, sy, (unsigned long long)s->irqs, ir,
                    (unsigned long long)s->softirqs, so, (unsigned long long)s->preempts, pr,
                    (unsigned long long)s->blocks, bl, (unsigned long long)s->faults);
    }
    return ferror(f) | fclose(f) ? -EIO : 0;
}

int kt_run_write_outputs(const struct ktau_run_opts *opts, const struct ktau_owned *o,
                         const struct kt_run_record *rec, size_t *threads, struct zepto_err *err)
{
    const char *dir = opts->dir;
    char *const *argv = opts->argv;
    struct ktau_raw_thread *users;
    size_t nusers;
    *threads = 0;
    read_users(opts, o->raw, &users, &nusers);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, o->trace);
    FILE *trace = fopen(path, "w");
    if (!trace) {
        int rc = zepto_fail(err, errno, "%s: %s", path, strerror(errno));
        for (size_t i = 0; i < nusers; i++)
            ktau_raw_free(&users[i]);
        free(users);
        return rc;
    }
    const char *comm = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    struct ktau_merge_in in = {.users = users,
                               .nusers = nusers,
                               .kernel = rec->kernel,
                               .comm = comm,
                               .root_pid = (uint32_t)rec->root,
                               .root_start_ns = rec->span[0],
                               .root_end_ns = rec->span[1],
                               .trace = trace,
                               .one_rank = o->rank >= 0,
                               .rank = o->rank};
    struct ktau_merge_out m;
    int rc = ktau_merge(&in, &m, err);
    if (fclose(trace) && !rc)
        rc = zepto_fail(err, EIO, "%s: write failed", path);
    for (size_t i = 0; !rc && i < m.n; i++)
        rc = ktau_tau_write(dir, &m.threads[i], err);
    if (!rc && write_summary(dir, o->summary, argv, &m, rec->kernel_note, rec->kernel != NULL,
                             rec->status))
        rc = zepto_fail(err, EIO, "%s/%s: write failed", dir, o->summary);
    if (!rc)
        *threads = m.n;
    if (!rc || m.threads)
        ktau_merge_free(&m);
    for (size_t i = 0; i < nusers; i++)
        ktau_raw_free(&users[i]);
    free(users);
    return rc;
}
