/*
 * libktau: user-level timers whose profiles `zepto ktau run` merges with what the kernel did on the
 * same threads (system calls, interrupts, softirqs, scheduling, page faults).
 *
 *   ktau_start("solve");  ...  ktau_stop("solve");
 *   { KTAU_REGION("halo"); ... }          stops at the end of the block
 *
 * Each thread keeps its own stack of timers (no locks on the hot path): inclusive and exclusive
 * time, calls and child calls per routine, and a log of enter/exit events (CLOCK_MONOTONIC time
 * stamps) from which the merge finds the innermost routine active at any instant. A name must stay
 * valid and unchanged while the thread lives (a string literal is the usual case): routines are
 * found by the address of their name first. A stop that does not match the innermost running timer
 * is reported once per name on stderr and then repaired (timers above it are stopped with it), or
 * ignored when the name is not running.
 *
 * Code compiled with -finstrument-functions (see `pkg-config --cflags zepto-ktau`) is timed
 * automatically; names are resolved when the profile is written.
 *
 * Profiles are written at exit (and at each thread's exit) into $KTAU_DIR, one binary file per
 * thread (docs/FORMATS.md, "ktau"); nothing is written when KTAU_DIR is unset.
 */
#ifndef ZEPTO_KTAU_H
#define ZEPTO_KTAU_H

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the timer `name` on the calling thread. */
void ktau_start(const char *name);

/* Stops the timer `name` on the calling thread. */
void ktau_stop(const char *name);

/* Writes the calling process's profiles now into `dir` (NULL: $KTAU_DIR), for every thread that
 * has used a timer; the timers go on running. Returns 0 or a negative errno. */
int ktau_write(const char *dir);

/* Names this process's profiles with an MPI rank (`zepto ktau run` then numbers them
 * profile.<rank>.*). libktau-mpi calls it after MPI_Init with the rank in MPI_COMM_WORLD; before
 * that, libktau takes the rank from the launcher's environment (OMPI_COMM_WORLD_RANK, PMIX_RANK,
 * PMI_RANK, SLURM_PROCID) when there is one. A negative rank: no rank. */
void ktau_set_rank(int rank);

/* Records one value of the atomic event `name` (TAU's user events: the profile keeps per thread
 * the count, min, max, mean and sum of squares), e.g. ktau_event("Message size sent to node 1",
 * 4096). Like a timer's, the name is found by its address and must stay valid while the thread
 * lives. At most 1024 names per thread; values of further names are dropped. */
void ktau_event(const char *name, double value);

/* The scoped form: starts `name` here and stops it when the enclosing block ends. */
#define KTAU_REGION(name) KTAU_REGION_AT_(name, __LINE__)

/* Implementation of KTAU_REGION. */
__attribute__((no_instrument_function)) static inline void ktau_region_end_(const char *const *name)
{
    ktau_stop(*name);
}
#define KTAU_CAT_(a, b) a##b
#define KTAU_CAT(a, b)  KTAU_CAT_(a, b)
#define KTAU_REGION_AT_(name, n)                                                                   \
    const char *KTAU_CAT(ktau_region_, n) __attribute__((cleanup(ktau_region_end_))) = (name);     \
    ktau_start(KTAU_CAT(ktau_region_, n))

#ifdef __cplusplus
}
#endif
#endif
