/*
 * Collective coalescing: its settings and lending's (environment variables read once at the
 * plugin's init), its
 * counters, and the two calls clients use to reach them: zp_coalesce_stat (the counters, for
 * `zepto zoid stat`) and zp_consistency (a session says it is relaxed, which allows its writes
 * to be gathered).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coalesce.h"
#include "zposix_server.h"

struct zpc_config zpc_cfg = {.reads = true,
                             .writes = true,
                             .window_us = 200,
                             .retain_ms = 1000,
                             .flush_ms = 20,
                             .lend = true,
                             .splice = true};
_Atomic uint64_t zpc_count[ZPC_NCOUNTERS];

uint64_t zpc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* An unsigned setting from lo to hi; a bad one is logged and the default kept. */
static unsigned setting(const struct zoid_host *host, const char *name, unsigned dflt, unsigned lo,
                        unsigned hi)
{
    const char *v = getenv(name);
    if (!v)
        return dflt;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || end == v || *end || *v == '-' || n < lo || n > hi) {
        zoid_host_log(host, ZOID_LOG_WARN, "%s '%s': a whole number from %u to %u; using %u", name,
                      v, lo, hi, dflt);
        return dflt;
    }
    return (unsigned)n;
}

void zpc_init(const struct zoid_host *host)
{
    for (int i = 0; i < ZPC_NCOUNTERS; i++)
        atomic_store(&zpc_count[i], 0);
    zpc_cfg.reads = setting(host, "ZOID_COALESCE", 1, 0, 1);
    zpc_cfg.writes = zpc_cfg.reads && setting(host, "ZOID_COALESCE_WRITES", 1, 0, 1);
    zpc_cfg.window_us = setting(host, "ZOID_COALESCE_WINDOW_US", 200, 0, 500);
    zpc_cfg.retain_ms = setting(host, "ZOID_COALESCE_RETAIN_MS", 1000, 0, 10000);
    zpc_cfg.flush_ms = setting(host, "ZOID_COALESCE_FLUSH_MS", 20, 1, 1000);
    zoid_host_log(host, ZOID_LOG_INFO,
                  "coalescing: reads %s (window %u us, retain %u ms), writes %s (flush %u ms)",
                  zpc_cfg.reads ? "on" : "off", zpc_cfg.window_us, zpc_cfg.retain_ms,
                  zpc_cfg.writes ? "on" : "off", zpc_cfg.flush_ms);
    zpc_cfg.lend = setting(host, "ZOID_POSIX_LEND", 1, 0, 1);
    zoid_host_log(host, ZOID_LOG_INFO, "descriptors lent to same-node (shm:) clients: %s",
                  zpc_cfg.lend ? "yes" : "no (ZOID_POSIX_LEND=0)");
    zpc_cfg.splice = setting(host, "ZOID_POSIX_SPLICE", 1, 0, 1);
    zoid_host_log(host, ZOID_LOG_INFO,
                  "reads and writes of 64 KiB and more of socket clients spliced "
                  "between the socket and the file: %s",
                  zpc_cfg.splice ? "yes" : "no (ZOID_POSIX_SPLICE=0)");
    zpc_write_start();
}

void zpc_fini(void)
{
    zpc_write_stop();
}

int zp_coalesce_stat(uint64_t *counters, uint32_t n)
{
    if (!zposix_zoid_current()) {
        errno = EPROTO;
        return -1;
    }
    for (uint32_t i = 0; i < n && i < ZPC_NCOUNTERS; i++)
        counters[i] = atomic_load_explicit(&zpc_count[i], memory_order_relaxed);
    return ZPC_NCOUNTERS;
}

int zp_consistency(int mode)
{
    if (mode != ZP_STRICT && mode != ZP_RELAXED && mode != -1) {
        errno = EINVAL;
        return -1;
    }
    struct zp_ctx x;
    if (zp__enter(&x))
        return -1;
    int old = atomic_load(&x.s->consistency);
    /* Writes buffered before a switch to strict go out as any buffered write does (a read,
     * stat, fsync or close of the file, a strict write to it, or the flush timeout). */
    if (mode != -1)
        atomic_store(&x.s->consistency, mode);
    return (int)zp__leave(&x, old);
}
