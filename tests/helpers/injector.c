/*
 * The test suite's injector and context-switch measurement (see injector.h).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "injector.h"

uint64_t inj_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *try_fifo(void *arg)
{
    struct sched_param sp = {.sched_priority = 1};
    *(int *)arg = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    return NULL;
}

bool inj_fifo_allowed(const char **why)
{
    pthread_t t;
    int rc = 0;
    if (pthread_create(&t, NULL, try_fifo, &rc)) {
        *why = "cannot create a thread";
        return false;
    }
    pthread_join(t, NULL);
    *why = rc ? strerror(rc) : "";
    return rc == 0;
}

static void *inject(void *arg)
{
    struct injector *inj = arg;
    struct sched_param sp = {.sched_priority = sched_get_priority_max(SCHED_FIFO) - 1};
    int rc = pin(inj->cpu);
    if (!rc)
        rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (rc) {
        inj->err = rc;
        atomic_store(&inj->ready, -1);
        return NULL;
    }
    atomic_store(&inj->ready, 1);
    uint64_t t0 = inj_now_ns(), end = t0 + inj->run_ns;
    for (uint64_t k = 1;; k++) {
        uint64_t at = t0 + k * inj->period_ns;
        if (at + inj->length_ns > end)
            break;
        sleep_until(at);
        uint64_t s = inj_now_ns(), e = s, gap = 0;
        while (e - s < inj->length_ns) {
            uint64_t now = inj_now_ns();
            gap = now - e > gap ? now - e : gap;
            e = now;
        }
        if (inj->n < inj->cap)
            inj->spans[inj->n++] = (struct inj_span){s, e, gap};
    }
    return NULL;
}

int inj_start(struct injector *inj, int cpu, uint64_t period_ns, uint64_t length_ns,
              uint64_t run_ns)
{
    memset(inj, 0, sizeof(*inj));
    inj->cpu = cpu;
    inj->period_ns = period_ns;
    inj->length_ns = length_ns;
    inj->run_ns = run_ns;
    inj->cap = run_ns / period_ns + 1;
    inj->spans = calloc(inj->cap, sizeof(*inj->spans));
    if (!inj->spans)
        return ENOMEM;
    int rc = pthread_create(&inj->thread, NULL, inject, inj);
    if (rc)
        return rc;
    while (atomic_load(&inj->ready) == 0)
        sched_yield();
    if (atomic_load(&inj->ready) < 0) {
        pthread_join(inj->thread, NULL);
        return inj->err;
    }
    return 0;
}

void inj_join(struct injector *inj)
{
    pthread_join(inj->thread, NULL);
}

void inj_free(struct injector *inj)
{
    free(inj->spans);
    inj->spans = NULL;
}

struct pingpong {
    int cpu;
    int in, out;
    unsigned rounds;
};

static void *pong(void *arg)
{
    struct pingpong *p = arg;
    char c;
    pin(p->cpu);
    for (unsigned i = 0; i < p->rounds; i++) {
        if (read(p->in, &c, 1) != 1 || write(p->out, &c, 1) != 1)
            break;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double inj_context_switch_ns(int cpu, unsigned rounds)
{
    int ab[2], ba[2];
    if (pipe(ab) || pipe(ba))
        return -1;
    struct pingpong p = {cpu, ab[0], ba[1], rounds};
    pthread_t t;
    double *rt = calloc(rounds, sizeof(double));
    double result = -1;
    if (!rt || pthread_create(&t, NULL, pong, &p))
        goto out;
    cpu_set_t old;
    pthread_getaffinity_np(pthread_self(), sizeof(old), &old);
    pin(cpu);
    char c = 'x';
    unsigned done = 0;
    for (; done < rounds; done++) {
        uint64_t s = inj_now_ns();
        if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
            break;
        rt[done] = (double)(inj_now_ns() - s);
    }
    pthread_join(t, NULL);
    pthread_setaffinity_np(pthread_self(), sizeof(old), &old);
    if (done == rounds) {
        qsort(rt, rounds, sizeof(double), cmp_double);
        result = rt[rounds / 2] / 2;
    }
out:
    free(rt);
    close(ab[0]);
    close(ab[1]);
    close(ba[0]);
    close(ba[1]);
    return result;
}
