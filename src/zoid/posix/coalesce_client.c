/*
 * The client side of the coalescing counters (zepto/zoid_coalesce.h): the protocol call
 * zp_coalesce_stat through stubs generated for it alone (prefix zs_; the zp_* names are the
 * plugin's own in the zepto binary), with the names of coalesce_stat.h.
 */
#include <errno.h>
#include <stdio.h>

#include "coalesce_stat.h"
#include "zepto/zoid_coalesce.h"
#include "zposix_client.h"

static const char *const names[] = {
#define NAME(name, what) #name,
    ZPC_COUNTERS(NAME)
#undef NAME
};
static const char *const whats[] = {
#define WHAT(name, what) what,
    ZPC_COUNTERS(WHAT)
#undef WHAT
};

int zoid_coalesce_stat(struct zoid_client *c, struct zoid_coalesce_counter *out, int max)
{
    if (!c || !out || max < 0)
        return -EINVAL;
    uint64_t v[ZOID_COALESCE_MAX_COUNTERS] = {0};
    zs_zposix_zoid_use(c);
    int n = zs_zp_coalesce_stat(v, ZOID_COALESCE_MAX_COUNTERS);
    int e = errno;
    zs_zposix_zoid_use(NULL);
    if (n < 0)
        return -(e ? e : EIO);
    if (n > ZOID_COALESCE_MAX_COUNTERS)
        n = ZOID_COALESCE_MAX_COUNTERS;
    if (n > max)
        n = max;
    static char unknown[ZOID_COALESCE_MAX_COUNTERS][16];
    for (int i = 0; i < n; i++) {
        if (i < ZPC_NCOUNTERS) {
            out[i].name = names[i];
            out[i].what = whats[i];
        } else { /* a newer daemon's */
            snprintf(unknown[i], sizeof(unknown[i]), "counter_%d", i);
            out[i].name = unknown[i];
            out[i].what = "(a counter this zepto does not know)";
        }
        out[i].value = v[i];
    }
    return n;
}
