/*
 * What the posix plugin's splice drivers (zoid_splice.c, zoid_splice_write.c) share: failures
 * counted and printed with the driver's file, line and daemon address; a client connected (or
 * the driver ends); the daemon's coalescing counters; a path under the export. The driver sets
 * addr and export_dir from its arguments and defines ZD_FILE before including this.
 */
#ifndef ZOID_DRIVER_H
#define ZOID_DRIVER_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coalesce_stat.h"
#include "zepto/zoid.h"
#include "zposix.h"
#include "zposix_client.h"

static const char *addr, *export_dir;
static int failures;

static void fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: %s: ", ZD_FILE, line, addr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__LINE__, __VA_ARGS__);                                                           \
    } while (0)

static char *local(const char *rel)
{
    static char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", export_dir, rel);
    return p;
}

static struct zoid_client *connect_or_die(void)
{
    struct zoid_client *c;
    struct zepto_err err = {0};
    if (zoid_connect(addr, NULL, &c, &err)) {
        fprintf(stderr, "connect %s: %s\n", addr, err.msg);
        exit(1);
    }
    return c;
}

static uint64_t counter(enum zpc_counter which)
{
    uint64_t v[ZPC_NCOUNTERS] = {0};
    if (zp_coalesce_stat(v, ZPC_NCOUNTERS) < 0) {
        fprintf(stderr, "zp_coalesce_stat: %s\n", strerror(errno));
        exit(1);
    }
    return v[which];
}

#endif
