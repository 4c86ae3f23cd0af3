/*
 * libktau's atomic events (TAU's "user events"): ktau_event("Message size sent to node 1", 4096)
 * records one value; the profile keeps, per thread and name, the count, min, max, sum and sum of
 * squares, which the merge writes as TAU's userevents (numevents, max, min, mean, sumsqr).
 * libktau-mpi records the message sizes and partners of MPI calls with it.
 *
 * Per thread and lock-free like the timers: the name's address is the key (an open-addressing
 * table of KT_UE_HASH slots), so a name must stay valid while the thread lives. No allocation:
 * the table lives in the thread's state mapping.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "ktau/rt.h"
#include "zepto/ktau.h"

#define EXPORT __attribute__((visibility("default")))
#define NOINST __attribute__((no_instrument_function))

static NOINST struct kt_uevent *find(struct kt_thread *t, const char *name)
{
    uint32_t h = (uint32_t)(((uintptr_t)name >> 3) * 2654435761u) & (KT_UE_HASH - 1);
    for (;;) {
        uint32_t i1 = t->uev_hash[h];
        if (!i1)
            break;
        if (t->uev[i1 - 1].name == name)
            return &t->uev[i1 - 1];
        h = (h + 1) & (KT_UE_HASH - 1);
    }
    if (t->nuev == KT_MAX_UEVENTS)
        return NULL;
    struct kt_uevent *e = &t->uev[t->nuev++];
    e->name = name;
    t->uev_hash[h] = (uint16_t)t->nuev;
    return e;
}

EXPORT NOINST void ktau_event(const char *name, double value)
{
    struct kt_thread *t = kt_self;
    if (KT_UNLIKELY(!t) && !(t = kt__thread_new()))
        return;
    if (!name)
        return;
    struct kt_uevent *e = find(t, name);
    if (!e) {
        t->uev_dropped++;
        return;
    }
    if (!e->n || value < e->min)
        e->min = value;
    if (!e->n || value > e->max)
        e->max = value;
    e->n++;
    e->sum += value;
    e->sumsq += value * value;
}
