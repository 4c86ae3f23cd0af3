/*
 * The loops of the big-memory benchmark: HPCC RandomAccess and its verification, and a dependent
 * pointer chase, on a table of 2^n 64-bit words, whatever memory holds it.
 *
 * RandomAccess follows HPCC's single-CPU core (core_single_cpu.c): the table is 2^n 64-bit words
 * set to t[i] = i, 4 x 2^n updates t[r & (2^n - 1)] ^= r along the sequence r' = r << 1 ^ (r < 0 ?
 * POLY : 0), run as 128 independent streams started with HPCC_starts so that the CPU has that
 * many misses in flight; the verification replays the sequence serially (xor undoes xor) and
 * counts the words not back to i. HPCC allows 1 % of them to be wrong (a concession to racy
 * parallel versions; single-threaded, any error is a fault of the memory).
 *
 * The chase measures what GUPS hides behind its parallel misses: one load at a time, each address
 * known only when the previous load returns, so every TLB miss costs its full page walk.
 */
#include <sys/resource.h>

#include "base/clock.h"
#include "zepto/bigmem.h"

/* The loops index the table under a mask (never out of bounds) and are what is measured: an
 * AddressSanitizer build leaves them alone. Its check of every access doubled the pages each
 * random update touches (the table's and its shadow's), and on a VM with shadow paging that
 * crossed a cliff: a 32 MiB table took over 100 s instead of ~1 s (16 MiB: 2.9 s). */
#define MEASURED __attribute__((no_sanitize_address))

#define POLY            0x7ull
#define PERIOD          1317624576693539401ll
#define LINE_WORDS      8 /* 64-byte cache line */
#define CHASE_MAX_STEPS (1ull << 22)

uint64_t zbm_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

/* ---- RandomAccess ---- */

static inline uint64_t step(uint64_t r)
{
    return (r << 1) ^ ((int64_t)r < 0 ? POLY : 0);
}

uint64_t zbm_hpcc_starts(int64_t n)
{
    uint64_t m2[64], temp = 1, ran;
    int i;
    while (n < 0)
        n += PERIOD;
    while (n > PERIOD)
        n -= PERIOD;
    if (n == 0)
        return 1;
    for (i = 0; i < 64; i++) {
        m2[i] = temp;
        temp = step(step(temp));
    }
    for (i = 62; i >= 0; i--)
        if ((n >> i) & 1)
            break;
    ran = 2;
    while (i > 0) {
        temp = 0;
        for (int j = 0; j < 64; j++)
            if ((ran >> j) & 1)
                temp ^= m2[j];
        ran = temp;
        i -= 1;
        if ((n >> i) & 1)
            ran = step(ran);
    }
    return ran;
}

MEASURED void zbm_gups_fill(uint64_t *t, uint64_t words)
{
    for (uint64_t i = 0; i < words; i++)
        t[i] = i;
}

MEASURED void zbm_gups_update(uint64_t *t, uint64_t words, uint64_t updates)
{
    uint64_t ran[ZBM_GUPS_STREAMS], mask = words - 1, per = updates / ZBM_GUPS_STREAMS;
    for (int j = 0; j < ZBM_GUPS_STREAMS; j++)
        ran[j] = zbm_hpcc_starts((int64_t)(per * (uint64_t)j));
    for (uint64_t i = 0; i < per; i++)
        for (int j = 0; j < ZBM_GUPS_STREAMS; j++) {
            ran[j] = step(ran[j]);
            t[ran[j] & mask] ^= ran[j];
        }
}

MEASURED uint64_t zbm_gups_verify(uint64_t *t, uint64_t words, uint64_t updates)
{
    uint64_t r = 1, mask = words - 1, errors = 0;
    /* Stream j above covered steps per*j+1 .. per*(j+1) of the sequence: together, 1..updates. */
    updates = updates / ZBM_GUPS_STREAMS * ZBM_GUPS_STREAMS;
    for (uint64_t i = 0; i < updates; i++) {
        r = step(r);
        t[r & mask] ^= r;
    }
    for (uint64_t i = 0; i < words; i++)
        errors += t[i] != i;
    return errors;
}

/* ---- Pointer chase ----
 * The cycle visits the lines in the order p(0), p(1), ..., p(n-1) for a pseudo-random bijection
 * p of [0, n): line p(k) links to p(k+1). p is built from steps that can be undone (xor with a
 * key, multiplication by an odd number mod 2^k, xor-shift), so each line's successor is computed
 * from its own index: the links are written in one sequential pass, with no index array and
 * without the random writes a shuffle would take. */

struct perm {
    uint64_t mask, key, m1, m2, m1inv, m2inv;
    unsigned shift;
};

static uint64_t inverse_odd(uint64_t a)
{
    uint64_t x = a; /* correct to 3 bits for odd a; Newton doubles them each time */
    for (int i = 0; i < 5; i++)
        x *= 2 - a * x;
    return x;
}

static void perm_init(struct perm *p, uint64_t n)
{
    unsigned bits = 0;
    while ((1ull << bits) < n)
        bits++;
    p->mask = n - 1;
    p->shift = bits / 2 ? bits / 2 : 1;
    p->key = 0x5851f42d4c957f2dull & p->mask;
    p->m1 = 0x9e3779b97f4a7c15ull;
    p->m2 = 0xbf58476d1ce4e5b9ull;
    p->m1inv = inverse_odd(p->m1);
    p->m2inv = inverse_odd(p->m2);
}

static inline uint64_t unshift(uint64_t y, unsigned s)
{
    uint64_t x = y;
    for (unsigned b = s; b < 64; b += s)
        x = y ^ (x >> s);
    return x;
}

static inline uint64_t perm_at(const struct perm *p, uint64_t x)
{
    x = ((x ^ p->key) * p->m1) & p->mask;
    x ^= x >> p->shift;
    x = (x * p->m2) & p->mask;
    return x ^ (x >> p->shift);
}

static inline uint64_t perm_index(const struct perm *p, uint64_t y)
{
    y = (unshift(y, p->shift) * p->m2inv) & p->mask;
    y = (unshift(y, p->shift) * p->m1inv) & p->mask;
    return y ^ p->key;
}

MEASURED void zbm_chase_fill(uint64_t *t, uint64_t words)
{
    uint64_t lines = words / LINE_WORDS;
    struct perm p;
    perm_init(&p, lines);
    for (uint64_t s = 0; s < lines; s++)
        t[s * LINE_WORDS] = perm_at(&p, (perm_index(&p, s) + 1) & p.mask) * LINE_WORDS;
}

MEASURED uint64_t zbm_chase_walk(const uint64_t *t, uint64_t steps)
{
    uint64_t i = 0;
    while (steps--)
        i = t[i];
    return i;
}

uint64_t zbm_default_updates(uint64_t words)
{
    return 4 * words / ZBM_GUPS_STREAMS * ZBM_GUPS_STREAMS;
}

uint64_t zbm_default_chase_steps(uint64_t words)
{
    uint64_t lines = words / LINE_WORDS;
    return lines < CHASE_MAX_STEPS ? lines : CHASE_MAX_STEPS;
}

void zbm_loops_run(uint64_t *t, uint64_t words, struct zbm_loops *l)
{
    l->updates = l->updates / ZBM_GUPS_STREAMS * ZBM_GUPS_STREAMS;
    uint64_t f0 = zbm_faults(), t0 = zb_mono_read();
    zbm_gups_update(t, words, l->updates);
    uint64_t t1 = zb_mono_read(), f1 = zbm_faults();
    l->gups = t1 > t0 ? (double)l->updates / (double)(t1 - t0) : 0; /* per ns = giga per s */
    l->errors = zbm_gups_verify(t, words, l->updates);

    zbm_chase_fill(t, words);
    uint64_t f2 = zbm_faults(), t2 = zb_mono_read();
    volatile uint64_t end = zbm_chase_walk(t, l->chase_steps);
    uint64_t t3 = zb_mono_read();
    (void)end;
    l->chase_ns = l->chase_steps ? (double)(t3 - t2) / (double)l->chase_steps : 0;
    l->loop_faults = f1 - f0 + zbm_faults() - f2;
}
