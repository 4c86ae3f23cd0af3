/*
 * The remote handles this mount holds (zfuse_handles.h): a bitmap of the current connection's
 * handles (128 KiB of BSS for handles up to ZF_HANDLE_MAX), emptied when a reconnection starts a
 * new generation (the old session's handles died with it). One mutex; a claim or a drop is a few
 * instructions beside a round trip.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "zfuse_handles.h"

static struct {
    pthread_mutex_t mu;
    uint32_t gen;                      /* the generation the bits belong to */
    uint64_t bits[ZF_HANDLE_MAX / 64]; /* bit h: handle h is held */
} held = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Empties the set when gen is newer than its handles; false for an older gen (its handles are
 * gone with their connection). Under held.mu. */
static bool current(uint32_t gen)
{
    if (gen == held.gen)
        return true;
    if ((int32_t)(gen - held.gen) < 0)
        return false;
    held.gen = gen;
    memset(held.bits, 0, sizeof(held.bits));
    return true;
}

long zf_handle_claim(uint32_t gen, long h)
{
    if (h < 0 || h >= ZF_HANDLE_MAX)
        return -EIO;
    size_t w = (size_t)h / 64;
    uint64_t bit = UINT64_C(1) << (h % 64);
    long rc = h;
    pthread_mutex_lock(&held.mu);
    if (!current(gen))
        rc = -ESTALE;
    else if (held.bits[w] & bit)
        rc = -EIO; /* already held: the daemon lies, or lost track */
    else
        held.bits[w] |= bit;
    pthread_mutex_unlock(&held.mu);
    return rc;
}

void zf_handle_drop(uint32_t gen, int h)
{
    if (h < 0 || h >= ZF_HANDLE_MAX)
        return;
    pthread_mutex_lock(&held.mu);
    if (gen == held.gen)
        held.bits[h / 64] &= ~(UINT64_C(1) << (h % 64));
    pthread_mutex_unlock(&held.mu);
}
