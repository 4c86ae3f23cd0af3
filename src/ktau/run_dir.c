/*
 * The output directory of a ktau run (run.h): what a run owns there, the earlier run's
 * files, and the making of DIR and ktau-raw/.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ktau/run.h"

void ktau_owned_init(struct ktau_owned *o, int rank)
{
    o->rank = rank;
    if (rank < 0) {
        snprintf(o->trace, sizeof(o->trace), "trace.json");
        snprintf(o->summary, sizeof(o->summary), "summary.txt");
        snprintf(o->raw, sizeof(o->raw), "ktau-raw");
    } else {
        snprintf(o->trace, sizeof(o->trace), "trace.%d.json", rank);
        snprintf(o->summary, sizeof(o->summary), "summary.%d.txt", rank);
        snprintf(o->raw, sizeof(o->raw), "ktau-raw/rank.%d", rank);
    }
}

/* Whether `name` matches PREFIX<digits>SUFFIX. */
static bool numbered(const char *name, const char *prefix, const char *suffix)
{
    size_t lp = strlen(prefix), ls = strlen(suffix), l = strlen(name);
    if (l <= lp + ls || strncmp(name, prefix, lp) || strcmp(name + l - ls, suffix))
        return false;
    for (size_t i = lp; i < l - ls; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    return true;
}

/* Whether DIR's entry `name` is an output of an earlier run that this one would write over. A
 * run that is not a rank owns them all, the ranks' included. */
static bool old_output(const struct ktau_owned *o, const char *name)
{
    if (o->rank >= 0) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "profile.%d.", o->rank);
        return !strncmp(name, prefix, strlen(prefix)) || !strcmp(name, o->trace) ||
               !strcmp(name, o->summary);
    }
    return !strncmp(name, "profile.", 8) || !strcmp(name, "trace.json") ||
           !strcmp(name, "summary.txt") || !strcmp(name, "ktau-raw") ||
           numbered(name, "trace.", ".json") || numbered(name, "summary.", ".txt");
}

/* Removes libktau's files from `path` (and, when `ranks`, its rank.N subdirectories). */
static void clear_raw(const char *path, bool ranks)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (!strncmp(e->d_name, "ktau.", 5)) {
            unlink(p);
        } else if (ranks && numbered(e->d_name, "rank.", "")) {
            clear_raw(p, false);
            rmdir(p);
        }
    }
    closedir(d);
}

/* Whether DIR/<o->raw> holds libktau files. */
static bool old_raw(const char *dir, const struct ktau_owned *o)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, o->raw);
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    bool old = false;
    while ((e = readdir(d)))
        old |= !strncmp(e->d_name, "ktau.", 5);
    closedir(d);
    return old;
}

/* Removes the files of an earlier run (only those we own). */
static int clear_dir(const char *dir, const struct ktau_owned *o, struct zepto_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, o->raw);
    clear_raw(path, o->rank < 0);
    DIR *d = opendir(dir);
    if (!d)
        return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)))
        if (old_output(o, e->d_name) && strcmp(e->d_name, "ktau-raw")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) && !rc)
                rc = zepto_fail(err, errno, "%s: %s", path, strerror(errno));
        }
    closedir(d);
    return rc;
}

/* Makes DIR (one level) and DIR/ktau-raw (and, for a rank, DIR/ktau-raw/rank.N); refuses a DIR
 * with earlier profiles of ours unless force. The ranks of one job make DIR at the same time. */
int ktau_prepare_dir(const char *dir, const struct ktau_owned *o, bool force, struct zepto_err *err)
{
    struct stat st;
    if (mkdir(dir, 0755) && errno != EEXIST)
        return zepto_fail(err, errno, "%s: cannot create the directory: %s", dir, strerror(errno));
    if (stat(dir, &st))
        return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return zepto_fail(err, ENOTDIR, "%s: not a directory", dir);
    DIR *d = opendir(dir);
    if (!d)
        return zepto_fail(err, errno, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    bool old = false;
    while ((e = readdir(d)))
        old |= old_output(o, e->d_name);
    closedir(d);
    old |= old_raw(dir, o);
    if (old && !force)
        return zepto_fail(err, EEXIST,
                          "%s: holds the profiles of an earlier run%s (use --force to replace "
                          "them)",
                          dir, o->rank >= 0 ? " for this rank" : "");
    int rc = old ? clear_dir(dir, o, err) : 0;
    if (rc)
        return rc;
    char raw[PATH_MAX];
    snprintf(raw, sizeof(raw), "%s/ktau-raw", dir);
    if (mkdir(raw, 0755) && errno != EEXIST)
        return zepto_fail(err, errno, "%s: not writable: %s", dir, strerror(errno));
    snprintf(raw, sizeof(raw), "%s/%s", dir, o->raw);
    if (mkdir(raw, 0755) && errno != EEXIST)
        return zepto_fail(err, errno, "%s: not writable: %s", dir, strerror(errno));
    if (access(raw, W_OK))
        return zepto_fail(err, errno, "%s: not writable: %s", dir, strerror(errno));
    return 0;
}
