/*
 * One thread's merged profile as TAU sees it: functions (user routines, kernel entries and the
 * "routine => kernel entry" call paths) with calls, child calls, exclusive and inclusive time in
 * microseconds and a TAU group string; written to and read from TAU's profile.N.C.T files.
 */
#ifndef ZEPTO_KTAU_PROFILE_H
#define ZEPTO_KTAU_PROFILE_H

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

struct ktau_pthread {
    int node, context, thread;
    uint32_t pid, tid;
    struct ktau_pfunc *f;
    size_t n, cap;
};

/* Appends a function; 0 or -ENOMEM. */
int ktau_pthread_add(struct ktau_pthread *t, const char *name, const char *group, double calls,
                     double subrs, double excl_us, double incl_us);
/* The index of the function called name, or -1. */
long ktau_pthread_find(const struct ktau_pthread *t, const char *name);
void ktau_pthread_free(struct ktau_pthread *t);

/* Writes DIR/profile.<node>.<context>.<thread>; 0 or a negative errno (err names the file). */
int ktau_tau_write(const char *dir, const struct ktau_pthread *t, struct zepto_err *err);

/* Reads one TAU profile file (node, context, thread from its name); 0 or a negative errno. */
int ktau_tau_read(const char *path, struct ktau_pthread *t, struct zepto_err *err);

#endif
