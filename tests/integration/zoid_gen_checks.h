/*
 * The checks of the code `zepto zoid gen` writes from zoid_gen_all.h that hold whatever carries
 * the calls: run by zoid_gen_roundtrip.c over a fake transport and by zoid_gen_daemon.c through a
 * real daemon. Each failed check prints its place and counts in zg_failures.
 */
#ifndef ZOID_GEN_CHECKS_H
#define ZOID_GEN_CHECKS_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

extern int zg_failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            zg_failures++;                                                                         \
        }                                                                                          \
    } while (0)
#define EQ_I(a, b)                                                                                 \
    CHECK((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a), (long long)(b))
#define EQ_U(a, b)                                                                                 \
    CHECK((unsigned long long)(a) == (unsigned long long)(b), "%llu != %llu",                      \
          (unsigned long long)(a), (unsigned long long)(b))
#define EQ_D(a, b)  CHECK((double)(a) == (double)(b), "%.17g != %.17g", (double)(a), (double)(b))
#define EQ_ERRNO(e) CHECK(errno == (e), "errno %d (%s), expected %d", errno, strerror(errno), (e))

/* Calls the driver has sent so far, or -1 when it cannot tell (a real daemon). */
int zg_calls(void);
/* No call was sent since zg_calls() returned `before`. */
#define ZG_NOTHING_SENT(before)                                                                    \
    do {                                                                                           \
        if ((before) >= 0)                                                                         \
            EQ_I(zg_calls(), (before));                                                            \
    } while (0)

void zg_every_scalar_type(void);
void zg_strings(void);
void zg_arrays(void);
void zg_objects(void);
/* The split-phase stubs (FN_begin, FN_end): calls begun together, ended in any order. */
void zg_split_phase(void);
/* n threads (at most 16) making 200 calls each over the same connection, all answered right. */
void zg_threads(int n);

#endif
