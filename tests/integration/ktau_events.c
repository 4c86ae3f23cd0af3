/*
 * The program of tests/integration/ktau_events.sh: atomic events (ktau_event) with known values,
 * on two threads, so that the test can check TAU's userevents columns exactly.
 *
 * Main thread: "value" 1, 2, ..., 100 (n 100, min 1, max 100, mean 50.5, sumsqr 338350) and
 * "half" 0.5 twice. Second thread: "value" 7 three times (its own statistics: n 3, sumsqr 147).
 */
#include <pthread.h>

#include "zepto/ktau.h"

static void *second(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        ktau_event("value", 7);
    return NULL;
}

int main(void)
{
    for (int i = 1; i <= 100; i++)
        ktau_event("value", i);
    ktau_event("half", 0.5);
    ktau_event("half", 0.5);
    pthread_t t;
    if (pthread_create(&t, NULL, second, NULL))
        return 1;
    pthread_join(t, NULL);
    return 0;
}
