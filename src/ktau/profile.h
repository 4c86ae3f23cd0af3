/*
 * One thread's merged profile as TAU sees it (the structures and the reader are public:
 * include/zepto/ktau_profile.h); here, what only ktau itself does with it: building and writing.
 */
#ifndef ZEPTO_KTAU_PROFILE_H
#define ZEPTO_KTAU_PROFILE_H

#include "zepto/ktau_profile.h"

/* Appends a function; 0 or -ENOMEM. */
int ktau_pthread_add(struct ktau_pthread *t, const char *name, const char *group, double calls,
                     double subrs, double excl_us, double incl_us);

/* Writes DIR/profile.<node>.<context>.<thread>; 0 or a negative errno (err names the file). */
int ktau_tau_write(const char *dir, const struct ktau_pthread *t, struct zepto_err *err);

#endif
