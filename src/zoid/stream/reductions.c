/*
 * The table of reductions that daemon plugins register for streams
 * (zoid_stream_reduction_register, zepto/zoid_plugin.h). Entries are added at plugin load and
 * never removed, so a stream may keep a pointer to its entry for its whole life.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "zs_int.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct zs_reduction reg[ZS_MAX_REDUCTIONS];
static unsigned nreg;

static bool good_name(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > ZOID_STREAM_REDUCTION_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int zoid_stream_reduction_register(const struct zoid_host *host,
                                   const struct zoid_stream_reduction *r)
{
    if (!r || !r->combine || !good_name(r->name))
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&reg_mu);
    for (unsigned i = 0; i < nreg; i++)
        if (!strcmp(reg[i].name, r->name))
            rc = -EEXIST;
    if (!rc && nreg >= ZS_MAX_REDUCTIONS)
        rc = -ENOSPC;
    if (!rc) {
        struct zs_reduction *e = &reg[nreg];
        strcpy(e->name, r->name);
        e->combine = r->combine;
        e->finish = r->finish;
        e->arg = r->arg;
        e->plugin = host && host->plugin_name ? host->plugin_name : "?";
        nreg++;
    }
    pthread_mutex_unlock(&reg_mu);
    if (host)
        zoid_host_log(host, rc ? ZOID_LOG_WARN : ZOID_LOG_INFO, "stream reduction %s: %s",
                      good_name(r->name) ? r->name : "(bad name)",
                      rc ? strerror(-rc) : "registered");
    return rc;
}

const struct zs_reduction *zs_reduction_find(const char *name)
{
    const struct zs_reduction *found = NULL;
    pthread_mutex_lock(&reg_mu);
    for (unsigned i = 0; i < nreg && !found; i++)
        if (!strcmp(reg[i].name, name))
            found = &reg[i];
    pthread_mutex_unlock(&reg_mu);
    return found;
}
