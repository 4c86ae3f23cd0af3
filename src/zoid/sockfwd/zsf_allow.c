/*
 * The sockfwd allow-list: `zepto zoid serve --allow-connect CIDR:PORTS` rules and the check of a
 * destination against them (default: no rule, nothing allowed). IPv4-mapped IPv6 destinations
 * (::ffff:a.b.c.d) are checked as the IPv4 address they are.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zepto/zoid_sockfwd.h"

/* A decimal number lo..hi ending at *end; -1 when not one. */
static long number(const char *s, const char **end, long hi)
{
    if (*s < '0' || *s > '9')
        return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > hi)
            return -1;
    }
    *end = s;
    return v;
}

/* "80", "8000-8100" or "*" at s, up to ',' or the end. */
static int port_range(const char *s, const char **end, uint16_t *lo, uint16_t *hi)
{
    if (*s == '*') {
        *lo = 1;
        *hi = 65535;
        *end = s + 1;
        return 0;
    }
    long a = number(s, &s, 65535), b = a;
    if (a < 1)
        return -EINVAL;
    if (*s == '-' && ((b = number(s + 1, &s, 65535)) < a))
        return -EINVAL;
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    *end = s;
    return 0;
}

int zsf_rule_parse(const char *spec, struct zsf_rule *out, size_t max)
{
    struct zsf_rule r = {0};
    char host[64];
    const char *p, *ports;
    if (!spec)
        return -EINVAL;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || (size_t)(close - spec - 1) >= sizeof(host))
            return -EINVAL;
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = 0;
        p = close + 1;
        r.family = 6;
    } else {
        size_t n = strcspn(spec, "/:");
        if (n >= sizeof(host))
            return -EINVAL;
        memcpy(host, spec, n);
        host[n] = 0;
        p = spec + n;
        r.family = 4;
    }
    if (inet_pton(r.family == 4 ? AF_INET : AF_INET6, host, r.addr) != 1)
        return -EINVAL;
    r.prefix = r.family == 4 ? 32 : 128;
    if (*p == '/') {
        long b = number(p + 1, &p, r.prefix);
        if (b < 0)
            return -EINVAL;
        r.prefix = (uint8_t)b;
    }
    if (*p != ':' || !p[1])
        return -EINVAL;
    ports = p + 1;
    size_t n = 0;
    for (const char *s = ports;;) {
        if (n == max || port_range(s, &s, &r.lo, &r.hi))
            return -EINVAL;
        out[n++] = r;
        if (!*s)
            break;
        if (*s++ != ',')
            return -EINVAL;
    }
    return (int)n;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full))
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff00 >> rest);
    return (a[full] & mask) == (b[full] & mask);
}

int zsf_allowed(const struct zsf_rule *rules, size_t n, const struct zsf_dest *d)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    struct zsf_dest v = *d;
    if (v.family == 6 && !memcmp(v.addr, mapped, 12)) {
        v.family = 4;
        memmove(v.addr, v.addr + 12, 4);
        memset(v.addr + 4, 0, 12);
    }
    for (size_t i = 0; i < n; i++)
        if (rules[i].family == v.family && v.port >= rules[i].lo && v.port <= rules[i].hi &&
            prefix_match(rules[i].addr, v.addr, rules[i].prefix))
            return 1;
    return 0;
}

void zsf_dest_str(const struct zsf_dest *d, char *out, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "?";
    inet_ntop(d->family == 4 ? AF_INET : AF_INET6, d->addr, a, sizeof(a));
    snprintf(out, len, d->family == 4 ? "%s:%u" : "[%s]:%u", a, (unsigned)d->port);
}
