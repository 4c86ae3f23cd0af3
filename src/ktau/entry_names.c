/*
 * The names of kernel entries in ktau's profiles: system calls by number, softirqs by vector,
 * the TAU groups of KTAU (KTAU_SYSCALL...), and the table of entries a merge has met.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktau/merge_parts.h"
#include "ktau/syscalls.h"

const char *const kt_group_names[] = {"KTAU_SYSCALL", "KTAU_IRQ", "KTAU_BH", "KTAU_SCHEDULE",
                                      "KTAU_EXCEPTION"};

const char *ktau_softirq_name(int vec)
{
    static const char *const names[] = {"HI",       "TIMER",   "NET_TX", "NET_RX",  "BLOCK",
                                        "IRQ_POLL", "TASKLET", "SCHED",  "HRTIMER", "RCU"};
    return vec >= 0 && vec < 10 ? names[vec] : "unknown";
}

const char *ktau_syscall_name(long nr, char *buf, unsigned long len)
{
    if (nr >= 0 && (unsigned long)nr < ktau_syscall_count && ktau_syscall_names[nr])
        return ktau_syscall_names[nr];
    snprintf(buf, len, "syscall_%ld", nr);
    return buf;
}

/* A linear search: a run meets a few dozen distinct entries. */
uint32_t kt_kname_id(struct kt_knames *k, const char *name, enum kt_kgroup g)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->names[i].group == g && !strcmp(k->names[i].name, name))
            return (uint32_t)i;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        struct kt_kname *n = realloc(k->names, cap * sizeof(*n));
        if (!n)
            return UINT32_MAX;
        k->names = n;
        k->cap = cap;
    }
    snprintf(k->names[k->n].name, sizeof(k->names[0].name), "%s", name);
    k->names[k->n].group = g;
    return (uint32_t)k->n++;
}

void kt_knames_free(struct kt_knames *k)
{
    free(k->names);
    memset(k, 0, sizeof(*k));
}
