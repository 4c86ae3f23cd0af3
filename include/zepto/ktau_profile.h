/*
 * Reading the profiles `zepto ktau run` writes (TAU's profile.<node>.<context>.<thread> files):
 * one thread's functions (user routines, kernel entries in KTAU's groups, and the
 * "routine => kernel entry" call paths) with calls, child calls, exclusive and inclusive time in
 * microseconds and a TAU group string. Used by `zepto ktau show` and by `zepto report`.
 */
#ifndef ZEPTO_KTAU_PROFILE_H_PUBLIC
#define ZEPTO_KTAU_PROFILE_H_PUBLIC

#include <stddef.h>
#include <stdint.h>

#include "zepto/zepto.h"

#define KTAU_CALLPATH_SEP " => "

struct ktau_pfunc {
    char *name;
    char *group; /* e.g. "TAU_USER", "KTAU_SYSCALL", "KTAU_SYSCALL | TAU_CALLPATH" */
    double calls, subrs;
    double excl_us, incl_us;
};

/* An atomic event (TAU's "userevents" section): a value recorded n times. */
struct ktau_uevent {
    char *name; /* e.g. "Message size sent to node 1" */
    double n, max, min, mean, sumsqr;
};

struct ktau_pthread {
    int node, context, thread;
    uint32_t pid, tid;
    char host[64]; /* the host the thread ran on (metadata "Hostname"), or "" */
    struct ktau_pfunc *f;
    size_t n, cap;
    struct ktau_uevent *ue;
    size_t nue, capue;
};

/* Reads one TAU profile file (node, context, thread from its name); 0 or a negative errno. */
int ktau_tau_read(const char *path, struct ktau_pthread *t, struct zepto_err *err);

/* Appends an atomic event; 0 or -ENOMEM. */
int ktau_pthread_add_event(struct ktau_pthread *t, const char *name, double n, double max,
                           double min, double mean, double sumsqr);

/* The index of the atomic event called name, or -1. */
long ktau_pthread_find_event(const struct ktau_pthread *t, const char *name);

/* The index of the function called name, or -1. */
long ktau_pthread_find(const struct ktau_pthread *t, const char *name);

void ktau_pthread_free(struct ktau_pthread *t);

#endif
