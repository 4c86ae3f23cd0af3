/*
 * Detection of injected detours: for each length D in 2, 5, 20 and 300 us, the test suite's
 * injector (SCHED_FIFO, tests/helpers/injector.c) takes one CPU for D every 7 ms while the
 * recorder watches it for 3 s. Recall is the share of injections inside the recording that a
 * recorded detour covers; the length error is the recorded length minus the injector's own spin,
 * i.e. what the preemption (timer wake-up, switch in, switch out) adds.
 *
 * usage: bench_detect [CPU]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "injector.h"
#include "zepto/noise.h"

#define PERIOD_NS 7000000ull
#define RECORD_NS 3000000000ull

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int cpu = argc > 1 ? atoi(argv[1]) : 1;
    const char *why;
    if (!inj_fifo_allowed(&why)) {
        printf("SCHED_FIFO refused (%s): cannot inject\n", why);
        return 77;
    }
    printf("context switch on CPU %d (pipe ping-pong between two threads, half a round trip, "
           "median of 20000): %.0f ns\n\n",
           cpu, inj_context_switch_ns(cpu, 20000));
    const uint64_t lengths[] = {2000, 5000, 20000, 300000};
    printf("%8s %9s %9s %8s %14s %14s %14s %10s\n", "D", "injected", "detected", "recall",
           "error median", "error p99", "error max", "threshold");
    for (unsigned l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
        struct injector inj;
        if (inj_start(&inj, cpu, PERIOD_NS, lengths[l], RECORD_NS + 1000000000ull)) {
            fprintf(stderr, "injector failed\n");
            return 1;
        }
        struct zn_record_opts o = {.cpus = &cpu, .ncpu = 1, .duration_ns = RECORD_NS};
        struct zn_recorder *rec;
        struct zepto_err err = {0};
        if (zn_recorder_new(&o, &rec, &err) || zn_recorder_run(rec, NULL, NULL, &err)) {
            fprintf(stderr, "recorder: %s\n", err.msg);
            return 1;
        }
        struct zn_trace *t = zn_recorder_take_trace(rec);
        zn_recorder_free(rec);
        inj_join(&inj);

        const struct zn_cpu_trace *c = &t->cpu[0];
        uint64_t t0 = t->start_mono_ns, t1 = t0 + c->measured_ns, k = 0, in = 0, hit = 0;
        int64_t *errs = calloc(inj.n + 1, sizeof(int64_t));
        for (uint64_t i = 0; i < inj.n; i++) {
            const struct inj_span *s = &inj.spans[i];
            if (s->start_ns < t0 || s->end_ns > t1)
                continue;
            in++;
            uint64_t rel = s->start_ns - t0;
            while (k < c->stored && c->d[k].start_ns + c->d[k].duration_ns < rel)
                k++;
            if (k < c->stored && c->d[k].start_ns <= rel) {
                errs[hit++] = (int64_t)c->d[k].duration_ns - (int64_t)(s->end_ns - s->start_ns);
                k++;
            }
        }
        qsort(errs, hit, sizeof(int64_t), cmp_i64);
        printf("%6.0fus %9llu %9llu %7.1f%% %11.1f us %11.1f us %11.1f us %7llu ns\n",
               lengths[l] / 1e3, (unsigned long long)in, (unsigned long long)hit,
               in ? 100.0 * hit / in : 0, hit ? errs[hit / 2] / 1e3 : 0,
               hit ? errs[hit * 99 / 100] / 1e3 : 0, hit ? errs[hit - 1] / 1e3 : 0,
               (unsigned long long)t->threshold_ns);
        free(errs);
        inj_free(&inj);
        zn_trace_free(t);
    }
    return 0;
}
