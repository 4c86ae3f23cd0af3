/*
 * A small, fast, seedable generator (splitmix64) for what must be reproducible from a seed:
 * random phases, jitter, simulated ranks. Not for anything secret.
 */
#ifndef ZEPTO_BASE_RAND_H
#define ZEPTO_BASE_RAND_H

#include <stdint.h>

static inline uint64_t zb_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) (n > 0); the bias of the modulo is below 2^-40 for n < 2^24. */
static inline uint64_t zb_rand_below(uint64_t *state, uint64_t n)
{
    return n ? zb_rand_next(state) % n : 0;
}

/* Uniform in [0, 1). */
static inline double zb_rand_unit(uint64_t *state)
{
    return (double)(zb_rand_next(state) >> 11) * 0x1.0p-53;
}

/* A seed from the time and the process, for when the user gave none. */
uint64_t zb_rand_seed(void);

#endif
