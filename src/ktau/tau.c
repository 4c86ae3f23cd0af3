/*
 * TAU's profile files, as pprof and ParaProf read them:
 *
 *   <N> templated_functions_MULTI_TIME
 *   # Name Calls Subrs Excl Incl ProfileCalls # <metadata>...</metadata>
 *   "<name>" <calls> <subrs> <excl us> <incl us> 0 GROUP="<group>"      (N lines)
 *   0 aggregates
 *   <M> userevents
 *   # eventname numevents max min mean sumsqr
 *   "<name>" <n> <max> <min> <mean> <sumsqr>                           (M lines, if M > 0)
 *
 * The metadata carries pid, tid and, when known, the Hostname.
 * A name may hold quotes and spaces: the reader takes the last quote after which the five numbers
 * and the GROUP follow.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktau/profile.h"

int ktau_pthread_add(struct ktau_pthread *t, const char *name, const char *group, double calls,
                     double subrs, double excl_us, double incl_us)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        struct ktau_pfunc *f = realloc(t->f, cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        t->f = f;
        t->cap = cap;
    }
    struct ktau_pfunc *f = &t->f[t->n];
    f->name = strdup(name);
    f->group = strdup(group);
    if (!f->name || !f->group) {
        free(f->name);
        free(f->group);
        return -ENOMEM;
    }
    f->calls = calls;
    f->subrs = subrs;
    f->excl_us = excl_us;
    f->incl_us = incl_us;
    t->n++;
    return 0;
}

int ktau_pthread_add_event(struct ktau_pthread *t, const char *name, double n, double max,
                           double min, double mean, double sumsqr)
{
    if (t->nue == t->capue) {
        size_t cap = t->capue ? t->capue * 2 : 16;
        struct ktau_uevent *u = realloc(t->ue, cap * sizeof(*u));
        if (!u)
            return -ENOMEM;
        t->ue = u;
        t->capue = cap;
    }
    struct ktau_uevent *u = &t->ue[t->nue];
    if (!(u->name = strdup(name)))
        return -ENOMEM;
    u->n = n;
    u->max = max;
    u->min = min;
    u->mean = mean;
    u->sumsqr = sumsqr;
    t->nue++;
    return 0;
}

long ktau_pthread_find_event(const struct ktau_pthread *t, const char *name)
{
    for (size_t i = 0; i < t->nue; i++)
        if (!strcmp(t->ue[i].name, name))
            return (long)i;
    return -1;
}

long ktau_pthread_find(const struct ktau_pthread *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->f[i].name, name))
            return (long)i;
    return -1;
}

void ktau_pthread_free(struct ktau_pthread *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->f[i].name);
        free(t->f[i].group);
    }
    free(t->f);
    for (size_t i = 0; i < t->nue; i++)
        free(t->ue[i].name);
    free(t->ue);
    memset(t, 0, sizeof(*t));
}

int ktau_tau_write(const char *dir, const struct ktau_pthread *t, struct zepto_err *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/profile.%d.%d.%d", dir, t->node, t->context, t->thread);
    FILE *f = fopen(path, "w");
    if (!f)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    fprintf(f, "%zu templated_functions_MULTI_TIME\n", t->n);
    fprintf(f,
            "# Name Calls Subrs Excl Incl ProfileCalls # <metadata><attribute><name>Metric "
            "Name</name><value>TIME</value></attribute><attribute><name>pid</name><value>%u"
            "</value></attribute><attribute><name>tid</name><value>%u</value></attribute>"
            "<attribute><name>Profiler</name><value>zepto ktau</value></attribute>",
            t->pid, t->tid);
    if (t->host[0])
        fprintf(f, "<attribute><name>Hostname</name><value>%s</value></attribute>", t->host);
    fprintf(f, "</metadata>\n");
    for (size_t i = 0; i < t->n; i++) {
        const struct ktau_pfunc *p = &t->f[i];
        fprintf(f, "\"%s\" %.0f %.0f %.17g %.17g 0 GROUP=\"%s\"\n", p->name, p->calls, p->subrs,
                p->excl_us, p->incl_us, p->group);
    }
    fprintf(f, "0 aggregates\n%zu userevents\n", t->nue);
    if (t->nue)
        fprintf(f, "# eventname numevents max min mean sumsqr\n");
    for (size_t i = 0; i < t->nue; i++) {
        const struct ktau_uevent *u = &t->ue[i];
        fprintf(f, "\"%s\" %.0f %.17g %.17g %.17g %.17g\n", u->name, u->n, u->max, u->min, u->mean,
                u->sumsqr);
    }
    if (ferror(f) | fclose(f))
        return zepto_fail(err, EIO, "%s: write failed", path);
    return 0;
}

/* Whether the first n_counts of v are counts (>= 0, finite) and every other value of v (up to
 * 5) is finite: NaN, infinities and negative counts are refused, not shown. */
static bool counts_ok(const double *v, int n_counts)
{
    int total = n_counts ? n_counts : 4;
    for (int k = 0; k < total; k++)
        if (!isfinite(v[k]) || (k < n_counts && v[k] < 0))
            return false;
    return true;
}

/* "profile.N.C.T": node, context and thread, each 0 to INT_MAX in decimal, nothing after. */
static bool parse_profile_name(const char *base, struct ktau_pthread *t)
{
    int *out[3] = {&t->node, &t->context, &t->thread};
    if (strncmp(base, "profile.", 8))
        return false;
    const char *p = base + 8;
    for (int k = 0; k < 3; k++) {
        if (*p < '0' || *p > '9')
            return false;
        errno = 0;
        char *end;
        long v = strtol(p, &end, 10);
        if (errno || v > INT_MAX || *end != (k < 2 ? '.' : '\0'))
            return false;
        *out[k] = (int)v;
        p = end + (k < 2);
    }
    return true;
}

/* Parses `"name" calls subrs excl incl pcalls GROUP="group"`. */
static int parse_line(char *line, struct ktau_pthread *t)
{
    size_t len = strcspn(line, "\n");
    line[len] = 0;
    if (line[0] != '"')
        return -EPROTO;
    for (char *q = line + len; q > line; q--) {
        if (*q != '"' || q[1] != ' ')
            continue;
        double c, s, e, i, pc;
        int used = 0;
        if (sscanf(q + 1, " %lf %lf %lf %lf %lf GROUP=\"%n", &c, &s, &e, &i, &pc, &used) != 5 ||
            !used || !counts_ok((double[]){c, s, e, i, pc}, 5))
            continue;
        char *group = q + 1 + used;
        size_t glen = strlen(group);
        if (!glen || group[glen - 1] != '"')
            continue;
        group[glen - 1] = 0;
        *q = 0;
        return ktau_pthread_add(t, line + 1, group, c, s, e, i);
    }
    return -EPROTO;
}

/* Parses `"name" numevents max min mean sumsqr` (the name may hold quotes: the last one). */
static int parse_event(char *line, struct ktau_pthread *t)
{
    line[strcspn(line, "\n")] = 0;
    char *q = strrchr(line, '"');
    if (line[0] != '"' || q == line)
        return -EPROTO;
    double n, mx, mn, mean, ss;
    int used = 0;
    if (sscanf(q + 1, " %lf %lf %lf %lf %lf%n", &n, &mx, &mn, &mean, &ss, &used) != 5 ||
        q[1 + used] || !counts_ok(&n, 1) || !counts_ok((double[]){mx, mn, mean, ss}, 0))
        return -EPROTO;
    *q = 0;
    return ktau_pthread_add_event(t, line + 1, n, mx, mn, mean, ss);
}

int ktau_tau_read(const char *path, struct ktau_pthread *t, struct zepto_err *err)
{
    memset(t, 0, sizeof(*t));
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!parse_profile_name(base, t))
        return zepto_fail(err, EINVAL, "%s: not named profile.N.C.T (decimal, at most %d)", path,
                          INT_MAX);
    FILE *f = fopen(path, "r");
    if (!f)
        return zepto_fail(err, errno, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long n = -1;
    int rc = 0, lineno = 1;
    char metric[64];
    if (getline(&line, &cap, f) < 0 ||
        sscanf(line, "%ld templated_functions_MULTI_%63s", &n, metric) != 2 || n < 0) {
        rc = zepto_fail(err, EPROTO, "%s:1: not a TAU profile (no 'N templated_functions_MULTI_')",
                        path);
        goto out;
    }
    lineno++;
    if (getline(&line, &cap, f) < 0 || strncmp(line, "# Name Calls Subrs Excl Incl", 28)) {
        rc = zepto_fail(err, EPROTO, "%s:2: no '# Name Calls Subrs Excl Incl' header", path);
        goto out;
    }
    char *pid = strstr(line, "<name>pid</name><value>");
    char *tid = strstr(line, "<name>tid</name><value>");
    if (pid)
        t->pid = (uint32_t)strtoul(pid + 23, NULL, 10);
    if (tid)
        t->tid = (uint32_t)strtoul(tid + 23, NULL, 10);
    char *host = strstr(line, "<name>Hostname</name><value>");
    if (host) {
        host += 28;
        size_t hl = strcspn(host, "<\n");
        snprintf(t->host, sizeof(t->host), "%.*s", (int)(hl < sizeof(t->host) ? hl : 63), host);
    }
    for (long i = 0; i < n; i++) {
        lineno++;
        if (getline(&line, &cap, f) < 0) {
            rc = zepto_fail(err, EPROTO, "%s: %ld functions announced, %ld found", path, n, i);
            goto out;
        }
        if ((rc = parse_line(line, t))) {
            rc = zepto_fail(err, EPROTO, "%s:%d: not a function line", path, lineno);
            goto out;
        }
    }
    lineno++;
    if (getline(&line, &cap, f) < 0 || !strstr(line, " aggregates")) {
        rc = zepto_fail(err, EPROTO, "%s:%d: no aggregates line after the functions", path, lineno);
        goto out;
    }
    /* The user events; files without them (older writers, or cut after the aggregates) are
     * fine. */
    long m = 0;
    lineno++;
    if (getline(&line, &cap, f) < 0 || sscanf(line, "%ld userevents", &m) != 1 || m <= 0)
        goto out;
    lineno++;
    if (getline(&line, &cap, f) < 0 || line[0] != '#') {
        rc = zepto_fail(err, EPROTO, "%s:%d: no '# eventname' header for %ld userevents", path,
                        lineno, m);
        goto out;
    }
    for (long i = 0; i < m; i++) {
        lineno++;
        if (getline(&line, &cap, f) < 0) {
            rc = zepto_fail(err, EPROTO, "%s: %ld userevents announced, %ld found", path, m, i);
            goto out;
        }
        if ((rc = parse_event(line, t))) {
            rc = zepto_fail(err, EPROTO, "%s:%d: not a userevent line", path, lineno);
            goto out;
        }
    }
out:
    free(line);
    fclose(f);
    if (rc)
        ktau_pthread_free(t);
    return rc;
}
