/*
 * Where the raw baselines' forked server runs (bench/zoid_shm.sh, PLACE=): the child calls
 * raw_pin_server() first; with RAW_SERVER_CPU=N in the environment it pins itself to CPU N, so
 * that a baseline and zoid can be measured with their two sides placed the same way.
 */
#ifndef ZEPTO_BENCH_RAW_PIN_H
#define ZEPTO_BENCH_RAW_PIN_H

#include <sched.h> /* cpu_set_t: _GNU_SOURCE comes from CMakeLists.txt */
#include <stdio.h>
#include <stdlib.h>

static inline void raw_pin_server(void)
{
    const char *v = getenv("RAW_SERVER_CPU");
    if (!v || !*v)
        return;
    char *end;
    long cpu = strtol(v, &end, 10);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (*end || cpu < 0 || cpu >= CPU_SETSIZE) {
        fprintf(stderr, "RAW_SERVER_CPU=%s: not a CPU number\n", v);
        exit(2);
    }
    CPU_SET((int)cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set))
        perror("RAW_SERVER_CPU: sched_setaffinity");
}

#endif
