/*
 * Pairing injections with recorded detours (see match.h).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpuset.h"
#include "base/spawn.h"
#include "match.h"

int driver_setup(int argc, char **argv, const char *needs)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ZEPTO WORKDIR\n", argv[0]);
        exit(2);
    }
    const char *why;
    if (!inj_fifo_allowed(&why)) {
        printf("SKIP: SCHED_FIFO refused (%s); %s needs it\n", why, needs);
        exit(77);
    }
    struct zb_cpuset allowed;
    int cpus[ZB_CPU_MAX];
    zb_cpuset_allowed(&allowed, NULL);
    return cpus[zb_cpuset_list(&allowed, cpus, ZB_CPU_MAX) - 1];
}

struct zn_trace *run_and_read(char *const argv[], const char *trace)
{
    struct zb_spawn_opts so = {.stdout_path = "/dev/null"};
    struct zepto_err err = {0};
    int status = -1;
    if (zb_run(argv, &so, &status, &err) || status) {
        fprintf(stderr, "%s %s %s failed (status %d) %s\n", argv[0], argv[1], argv[2], status,
                err.msg);
        exit(1);
    }
    struct zn_trace *t;
    if (zn_trace_read(trace, &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return t;
}

void match_spans(const struct zn_trace *t, const struct inj_span *spans, uint64_t n,
                 struct match *m)
{
    const struct zn_cpu_trace *c = &t->cpu[0];
    uint64_t t0 = t->start_mono_ns, t1 = t0 + c->measured_ns, k = 0;
    memset(m, 0, sizeof(*m));
    m->length = calloc(n + 1, sizeof(uint64_t));
    m->spin = calloc(n + 1, sizeof(uint64_t));
    for (uint64_t i = 0; i < n && m->length && m->spin; i++) {
        const struct inj_span *s = &spans[i];
        if (s->start_ns < t0 || s->end_ns > t1)
            continue;
        m->injected++;
        uint64_t rel = s->start_ns - t0;
        while (k < c->stored && c->d[k].start_ns + c->d[k].duration_ns < rel)
            k++;
        if (k < c->stored && c->d[k].start_ns <= rel) {
            m->length[m->matched] = c->d[k].duration_ns;
            m->spin[m->matched] = s->end_ns - s->start_ns;
            m->matched++;
            k++;
        }
    }
}

void match_free(struct match *m)
{
    free(m->length);
    free(m->spin);
    memset(m, 0, sizeof(*m));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void match_cost(const struct match *m, uint64_t *median, uint64_t *p99)
{
    *median = *p99 = 0;
    if (!m->matched)
        return;
    uint64_t *cost = malloc(m->matched * sizeof(uint64_t));
    if (!cost)
        return;
    for (uint64_t i = 0; i < m->matched; i++)
        cost[i] = m->length[i] > m->spin[i] ? m->length[i] - m->spin[i] : 0;
    qsort(cost, m->matched, sizeof(uint64_t), cmp_u64);
    *median = cost[m->matched / 2];
    *p99 = cost[(m->matched * 99) / 100];
    free(cost);
}

int match_check(const struct match *m, uint64_t length, double expected, uint64_t cost_p99)
{
    int failures = 0;
    uint64_t shortest = UINT64_MAX, longest = 0, over = 0;
    printf("expected %.1f injected detours; %" PRIu64 " injected in the window; %" PRIu64
           " recorded\n",
           expected, m->injected, m->matched);
    if (fabs((double)m->matched - expected) > 0.1 * expected) {
        printf("FAIL: %" PRIu64 " injected detours recorded, expected %.1f +- 10 %%\n", m->matched,
               expected);
        failures++;
    }
    for (uint64_t i = 0; i < m->matched; i++) {
        shortest = m->length[i] < shortest ? m->length[i] : shortest;
        longest = m->length[i] > longest ? m->length[i] : longest;
        /* The bound is the spin the injector really did: when the hypervisor takes the vCPU as
         * the spin should end, the injection itself runs long, and so does the detour. */
        if (m->length[i] > m->spin[i] + 2 * cost_p99) {
            over++;
            printf("  over the bound: detour %" PRIu64 " ns for a spin of %" PRIu64 " ns\n",
                   m->length[i], m->spin[i]);
        }
    }
    printf("recorded lengths: shortest %" PRIu64 " ns, longest %" PRIu64
           " ns; bound: the spin + %" PRIu64 " ns\n",
           shortest, longest, 2 * cost_p99);
    if (m->matched && shortest < length) {
        printf("FAIL: a detour of %" PRIu64 " ns is shorter than the %" PRIu64 " ns injected\n",
               shortest, length);
        failures++;
    }
    /* The hypervisor of a VM takes the vCPU for up to milliseconds, a few times a second and in
     * bursts; when that lands in the wake-up or the switches of an injected detour, the detour is
     * really that long (the guest cannot see it: /proc/stat shows no steal time here). Up to 3 %
     * of the detours may be over the bound for that reason; each is printed above. */
    if (over > m->matched * 3 / 100) {
        printf("FAIL: %" PRIu64 " of %" PRIu64
               " detours longer than their spin + 2 x p99 preemption cost (%" PRIu64 " ns)\n",
               over, m->matched, 2 * cost_p99);
        failures++;
    }
    return failures;
}

int read_play_log(const char *path, struct inj_span **spans, uint64_t *n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[256];
    uint64_t cap = 1024;
    *n = 0;
    *spans = malloc(cap * sizeof(**spans));
    if (!*spans || !fgets(line, sizeof(line), f)) { /* header */
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned cpu;
        uint64_t due, start, end, want;
        if (sscanf(line, "%u,%" SCNu64 ",%" SCNu64 ",%" SCNu64 ",%" SCNu64, &cpu, &due, &start,
                   &end, &want) != 5)
            break;
        if (*n == cap) {
            cap *= 2;
            struct inj_span *s = realloc(*spans, cap * sizeof(*s));
            if (!s)
                break;
            *spans = s;
        }
        (*spans)[(*n)++] = (struct inj_span){start, end, 0};
    }
    fclose(f);
    return 0;
}
