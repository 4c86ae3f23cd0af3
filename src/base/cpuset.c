/*
 * CPU-list parsing, formatting and thread pinning.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "base/cpuset.h"

#define BITS_PER_WORD (8 * sizeof(unsigned long))

void zb_cpuset_clear(struct zb_cpuset *set)
{
    memset(set, 0, sizeof(*set));
}

void zb_cpuset_add(struct zb_cpuset *set, unsigned cpu)
{
    if (cpu < ZB_CPU_MAX)
        set->bits[cpu / BITS_PER_WORD] |= 1ul << (cpu % BITS_PER_WORD);
}

bool zb_cpuset_has(const struct zb_cpuset *set, unsigned cpu)
{
    return cpu < ZB_CPU_MAX && (set->bits[cpu / BITS_PER_WORD] >> (cpu % BITS_PER_WORD)) & 1;
}

unsigned zb_cpuset_count(const struct zb_cpuset *set)
{
    unsigned n = 0;
    for (size_t i = 0; i < sizeof(set->bits) / sizeof(set->bits[0]); i++)
        n += (unsigned)__builtin_popcountl(set->bits[i]);
    return n;
}

unsigned zb_cpuset_list(const struct zb_cpuset *set, int *cpus, unsigned max)
{
    unsigned n = 0;
    for (unsigned c = 0; c < ZB_CPU_MAX && n < max; c++)
        if (zb_cpuset_has(set, c))
            cpus[n++] = (int)c;
    return n;
}

/* Reads a CPU number at *p; advances *p. */
static int parse_cpu(const char **p, unsigned *cpu)
{
    const char *s = *p;
    unsigned long v = 0;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    for (; isdigit((unsigned char)*s); s++) {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v >= ZB_CPU_MAX)
            return -ERANGE;
    }
    *cpu = (unsigned)v;
    *p = s;
    return 0;
}

int zb_cpuset_parse(const char *s, struct zb_cpuset *set, struct zepto_err *err)
{
    zb_cpuset_clear(set);
    if (!s || !*s)
        return zepto_fail(err, EINVAL, "empty CPU list (expected e.g. 0-3,6 or all)");
    if (!strcmp(s, "all")) {
        for (unsigned c = 0; c < ZB_CPU_MAX; c++)
            zb_cpuset_add(set, c);
        return 0;
    }
    const char *p = s;
    for (;;) {
        unsigned lo, hi;
        int rc = parse_cpu(&p, &lo);
        if (rc == -ERANGE)
            return zepto_fail(err, ERANGE, "'%s': CPU numbers must be below %d", s, ZB_CPU_MAX);
        if (rc)
            return zepto_fail(err, EINVAL, "'%s': not a CPU list (expected e.g. 0-3,6 or all)", s);
        hi = lo;
        if (*p == '-') {
            p++;
            rc = parse_cpu(&p, &hi);
            if (rc == -ERANGE)
                return zepto_fail(err, ERANGE, "'%s': CPU numbers must be below %d", s, ZB_CPU_MAX);
            if (rc)
                return zepto_fail(err, EINVAL, "'%s': a range needs an end (e.g. 0-3)", s);
            if (hi < lo)
                return zepto_fail(err, EINVAL, "'%s': range %u-%u runs backwards", s, lo, hi);
        }
        for (unsigned c = lo; c <= hi; c++)
            zb_cpuset_add(set, c);
        if (!*p)
            return 0;
        if (*p != ',' || !p[1])
            return zepto_fail(err, EINVAL, "'%s': not a CPU list (expected e.g. 0-3,6 or all)", s);
        p++;
    }
}

int zb_cpuset_allowed(struct zb_cpuset *set, struct zepto_err *err)
{
    cpu_set_t mask;
    zb_cpuset_clear(set);
    if (sched_getaffinity(0, sizeof(mask), &mask))
        return zepto_fail(err, errno, "sched_getaffinity: %s", strerror(errno));
    for (unsigned c = 0; c < CPU_SETSIZE && c < ZB_CPU_MAX; c++)
        if (CPU_ISSET(c, &mask))
            zb_cpuset_add(set, c);
    return 0;
}

int zb_cpuset_parse_allowed(const char *s, const struct zb_cpuset *allowed, struct zb_cpuset *set,
                            struct zepto_err *err)
{
    int rc = zb_cpuset_parse(s, set, err);
    if (rc)
        return rc;
    if (!strcmp(s, "all")) {
        *set = *allowed;
        return 0;
    }
    for (unsigned c = 0; c < ZB_CPU_MAX; c++) {
        if (zb_cpuset_has(set, c) && !zb_cpuset_has(allowed, c)) {
            char have[256];
            return zepto_fail(err, ERANGE,
                              "'%s': CPU %u is not available (this process may use %s)", s, c,
                              zb_cpuset_format(allowed, have, sizeof(have)));
        }
    }
    return 0;
}

const char *zb_cpuset_format(const struct zb_cpuset *set, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (unsigned c = 0; c < ZB_CPU_MAX; c++) {
        if (!zb_cpuset_has(set, c))
            continue;
        unsigned end = c;
        while (end + 1 < ZB_CPU_MAX && zb_cpuset_has(set, end + 1))
            end++;
        int n = end == c ? snprintf(buf + used, len - used, "%s%u", used ? "," : "", c)
                         : snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", c, end);
        if (n < 0 || (size_t)n >= len - used)
            break; /* truncated: the buffer holds as much as fits */
        used += (size_t)n;
        c = end;
    }
    return buf;
}

int zb_pin_self(int cpu, struct zepto_err *err)
{
    cpu_set_t mask;
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return zepto_fail(err, EINVAL, "CPU %d out of range", cpu);
    CPU_ZERO(&mask);
    CPU_SET(cpu, &mask);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(mask), &mask);
    if (rc)
        return zepto_fail(err, rc, "pinning to CPU %d: %s", cpu, strerror(rc));
    return 0;
}
