/*
 * Seeds for zb_rand when the user gave none.
 */
#include <time.h>
#include <unistd.h>

#include "base/rand.h"

uint64_t zb_rand_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    s ^= (uint64_t)getpid() << 32;
    return zb_rand_next(&s);
}
