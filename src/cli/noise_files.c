/*
 * The trace files named on a noise command line: files as given, a directory as every *.znt in
 * it (sorted by name). Shared by the cluster view of `analyse` and by `simulate`. A directory a
 * cluster-wide recording wrote holds the list of its traces (.zepto-nodes): a missing node's
 * trace, or one from another recording, is named in a warning.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/noise_cluster.h"
#include "zepto/noise_rendezvous.h"

struct list {
    unsigned n, cap;
    char **v;
};

static int push(struct list *l, const char *s)
{
    if (l->n == l->cap) {
        unsigned cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s)))
        return -ENOMEM;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool listed(const struct list *l, unsigned from, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (unsigned i = from; i < l->n; i++)
        if (!strcmp(l->v[i], path))
            return true;
    return false;
}

/* Compares the directory's traces (l->v[first..]) with the recording's list, when there is one. */
static void check_manifest(const char *cmd, const struct list *l, unsigned first, const char *dir)
{
    enum { CAP = ZN_RV_MAX_TASKS * (ZN_RV_NAME + 1) + 256 };
    char path[4096];
    snprintf(path, sizeof path, "%s/" ZN_RV_MANIFEST, dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char *buf = malloc(CAP);
    size_t len = buf ? fread(buf, 1, CAP, f) : 0;
    fclose(f);
    struct zn_rv_manifest m;
    struct zepto_err err = {0};
    int rc =
        buf ? zn_rv_manifest_parse(buf, len, &m, &err) : zepto_fail(&err, ENOMEM, "out of memory");
    free(buf);
    if (rc) {
        fprintf(stderr, "zepto %s: warning: %s: %s; not used\n", cmd, path, err.msg);
        return;
    }
    for (unsigned i = 0; i < m.n; i++)
        if (!listed(l, first, dir, m.name[i]))
            fprintf(stderr,
                    "zepto %s: warning: %s/%s is missing: the recording (job %s) had %u tasks; "
                    "going on with the others\n",
                    cmd, dir, m.name[i], m.key, m.ntasks);
    for (unsigned i = first; i < l->n; i++) {
        const char *base = l->v[i] + strlen(dir) + 1;
        bool ours = false;
        for (unsigned k = 0; k < m.n && !ours; k++)
            ours = !strcmp(base, m.name[k]);
        if (!ours)
            fprintf(stderr,
                    "zepto %s: warning: %s is not of the last recording in %s (job %s); "
                    "kept\n",
                    cmd, l->v[i], dir, m.key);
    }
    zn_rv_manifest_free(&m);
}

static int add_dir(const char *cmd, struct list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "zepto %s: %s: %s\n", cmd, dir, strerror(errno));
        return EXIT_FAIL;
    }
    unsigned first = l->n;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".znt"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (push(l, path)) {
            closedir(d);
            fprintf(stderr, "zepto %s: out of memory\n", cmd);
            return EXIT_FAIL;
        }
    }
    closedir(d);
    if (l->n == first) {
        fprintf(stderr, "zepto %s: %s: no .znt trace in the directory\n", cmd, dir);
        return EXIT_FAIL;
    }
    qsort(l->v + first, l->n - first, sizeof *l->v, cmp_str);
    check_manifest(cmd, l, first, dir);
    return 0;
}

int cli_noise_files(const char *cmd, int nops, char **ops, char ***files, unsigned *n)
{
    struct list l = {0};
    int status = 0;
    for (int i = 0; i < nops && !status; i++) {
        struct stat st;
        if (!stat(ops[i], &st) && S_ISDIR(st.st_mode))
            status = add_dir(cmd, &l, ops[i]);
        else if (push(&l, ops[i])) {
            fprintf(stderr, "zepto %s: out of memory\n", cmd);
            status = EXIT_FAIL;
        }
    }
    if (status) {
        cli_noise_files_free(l.v, l.n);
        return status;
    }
    *files = l.v;
    *n = l.n;
    return 0;
}

void cli_noise_files_free(char **files, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(files[i]);
    free(files);
}
