/*
 * CPU lists as users write them (`0-3,6`, `all`), checked against the CPUs this process may run
 * on, and pinning of the calling thread to one CPU.
 */
#ifndef ZEPTO_BASE_CPUSET_H
#define ZEPTO_BASE_CPUSET_H

#include <stdbool.h>
#include <stddef.h>

#include "zepto/zepto.h"

#define ZB_CPU_MAX 4096 /* highest CPU number + 1 that a list may name */

struct zb_cpuset {
    unsigned long bits[ZB_CPU_MAX / (8 * sizeof(unsigned long))];
};

void zb_cpuset_clear(struct zb_cpuset *set);
void zb_cpuset_add(struct zb_cpuset *set, unsigned cpu);
bool zb_cpuset_has(const struct zb_cpuset *set, unsigned cpu);
unsigned zb_cpuset_count(const struct zb_cpuset *set);
/* The CPUs of the set in ascending order, at most max of them; returns how many were written. */
unsigned zb_cpuset_list(const struct zb_cpuset *set, int *cpus, unsigned max);

/* Parses "all" or a comma-separated list of CPUs and ranges ("0-3,6"); syntax only, no check of
 * which CPUs exist. */
int zb_cpuset_parse(const char *s, struct zb_cpuset *set, struct zepto_err *err);

/* The CPUs this process may run on (its affinity mask). */
int zb_cpuset_allowed(struct zb_cpuset *set, struct zepto_err *err);

/* Parses s and checks that every CPU it names is in `allowed`; "all" means all of `allowed`. */
int zb_cpuset_parse_allowed(const char *s, const struct zb_cpuset *allowed, struct zb_cpuset *set,
                            struct zepto_err *err);

/* Writes the set in list form ("0-3,6") into buf. */
const char *zb_cpuset_format(const struct zb_cpuset *set, char *buf, size_t len);

/* Pins the calling thread to one CPU. */
int zb_pin_self(int cpu, struct zepto_err *err);

#endif
