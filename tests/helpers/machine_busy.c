/*
 * Judges whether the machine is quiet enough for a timing test: for ~200 ms it spins one thread
 * pinned on each CPU it may use and measures the share of CPU each thread really got (achieved
 * CPU), the share of time the hypervisor stole (/proc/stat) and the run queue before the spin.
 * Prints one line saying what it measured and exits 0 (quiet) or 1 (busy).
 *
 * usage: machine_busy [MIN_SHARE]   busy when a CPU gives less than MIN_SHARE (default 0.90) or
 *                                   steal exceeds 5 %; ZEPTO_BUSY_MIN_SHARE also sets it
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPIN_NS   200000000ll
#define MAX_CPUS  256
#define STEAL_MAX 0.05

struct spinner {
    pthread_t thread;
    int cpu;
    double share; /* CPU time the thread got / wall time it spun */
};

static long long now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void *spin(void *arg)
{
    struct spinner *s = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(s->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    long long w0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w;
    while ((w = now_ns(CLOCK_MONOTONIC)) - w0 < SPIN_NS)
        ;
    s->share = (double)(now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)(w - w0);
    return NULL;
}

/* The aggregate "cpu" line of /proc/stat: total and steal jiffies; procs_running. */
static int read_stat(unsigned long long *total, unsigned long long *steal, long *running)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[512];
    unsigned long long v[10] = {0};
    *total = *steal = 0;
    *running = -1;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "cpu ", 4)) {
            sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
            for (int i = 0; i < 8; i++) /* guest time is already counted in user */
                *total += v[i];
            *steal = v[7];
        } else if (!strncmp(line, "procs_running ", 14)) {
            *running = strtol(line + 14, NULL, 10);
        }
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    const char *env = getenv("ZEPTO_BUSY_MIN_SHARE");
    double min_share = argc > 1 ? atof(argv[1]) : env ? atof(env) : 0.90;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed)) {
        perror("machine_busy: sched_getaffinity");
        return 1;
    }
    static struct spinner s[MAX_CPUS];
    int n = 0;
    for (int c = 0; c < MAX_CPUS && c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            s[n++].cpu = c;

    unsigned long long t0, st0, t1, st1;
    long running;
    if (read_stat(&t0, &st0, &running))
        running = -1;
    for (int i = 0; i < n; i++)
        if (pthread_create(&s[i].thread, NULL, spin, &s[i])) {
            n = i;
            break;
        }
    for (int i = 0; i < n; i++)
        pthread_join(s[i].thread, NULL);
    if (read_stat(&t1, &st1, &(long){0}))
        t1 = t0, st1 = st0;

    int worst = 0;
    for (int i = 1; i < n; i++)
        if (s[i].share < s[worst].share)
            worst = i;
    double steal = t1 > t0 ? (double)(st1 - st0) / (double)(t1 - t0) : 0;
    bool busy = n == 0 || s[worst].share < min_share || steal > STEAL_MAX;
    printf("%s: %d CPU%s, worst CPU %d gave a spinning thread %.0f %% (need %.0f %%), steal "
           "%.1f %%, %ld other task%s runnable\n",
           busy ? "busy" : "quiet", n, n == 1 ? "" : "s", n ? s[worst].cpu : -1,
           n ? 100 * s[worst].share : 0.0, 100 * min_share, 100 * steal,
           running > 0 ? running - 1 : 0, running == 2 ? "" : "s");
    return busy ? 1 : 0;
}
