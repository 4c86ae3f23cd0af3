/*
 * The trace files named on a noise command line: files as given, a directory as every *.znt in
 * it (sorted by name). Shared by the cluster view of `analyse` and by `simulate`.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/noise_cluster.h"

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
