/*
 * Checking a daemon address without connecting (include/zepto/zoid.h): the transports' parser,
 * for the commands that must reject a mistyped --server before anything runs.
 */
#include "zepto/zoid.h"
#include "zoid/core/transport.h"

int zoid_addr_check(const char *addr, struct zepto_err *err)
{
    struct zoid_addr a;
    const struct zoid_transport *t;
    return zoid_addr_parse(addr, &a, &t, err);
}
