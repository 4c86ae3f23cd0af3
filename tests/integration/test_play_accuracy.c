/*
 * Injection accuracy of `zepto noise play`: it plays period=5ms,duration=250us on one CPU while
 * `zepto noise record` (the command it runs) watches that CPU. Proves, from play's own log of
 * every injection matched against the recording: the recording sees the injected detours (count
 * within 10 % of the expected), none shorter than 250 us, each at most its spin plus twice the
 * 99th percentile of the preemption cost, measured first in the same run with 20 us detours.
 *
 * usage: test_play_accuracy ZEPTO WORKDIR                exit 77 (skip) when SCHED_FIFO is refused
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "injector.h"
#include "match.h"
#include "zepto/noise.h"

#define PERIOD_NS 5000000ull
#define LENGTH_NS 250000ull

/* zepto noise play --synthetic ... --log LOG -- zepto noise record ... -o TRACE */
static struct zn_trace *play_and_record(const char *zepto, const char *dir, int cpu,
                                        uint64_t length, const char *dur, struct inj_span **spans,
                                        uint64_t *n)
{
    char spec[128], cpus[16], trace[4096], log[4096];
    snprintf(spec, sizeof(spec), "period=%lluns,duration=%lluns", (unsigned long long)PERIOD_NS,
             (unsigned long long)length);
    snprintf(cpus, sizeof(cpus), "%d", cpu);
    snprintf(trace, sizeof(trace), "%s/play-%llu.znt", dir, (unsigned long long)length);
    snprintf(log, sizeof(log), "%s/play-%llu.csv", dir, (unsigned long long)length);
    char *argv[] = {(char *)zepto, "noise",  "play",  "--synthetic", spec, "-c",
                    cpus,          "-q",     "--log", log,           "--", (char *)zepto,
                    "noise",       "record", "-q",    "-c",          cpus, "-d",
                    (char *)dur,   "-o",     trace,   NULL};
    struct zn_trace *t = run_and_read(argv, trace);
    if (read_play_log(log, spans, n)) {
        fprintf(stderr, "%s: cannot read the play log\n", log);
        exit(1);
    }
    return t;
}

int main(int argc, char **argv)
{
    int cpu = driver_setup(argc, argv, "play's accuracy");

    struct inj_span *spans;
    uint64_t n, cost_med, cost_p99;
    struct match m;
    struct zn_trace *t = play_and_record(argv[1], argv[2], cpu, 20000, "1s", &spans, &n);
    match_spans(t, spans, n, &m);
    match_cost(&m, &cost_med, &cost_p99);
    printf("preemption cost, %llu samples: median %llu ns, p99 %llu ns\n",
           (unsigned long long)m.matched, (unsigned long long)cost_med,
           (unsigned long long)cost_p99);
    int failures = m.matched < m.injected * 9 / 10;
    match_free(&m);
    free(spans);
    zn_trace_free(t);

    t = play_and_record(argv[1], argv[2], cpu, LENGTH_NS, "2s", &spans, &n);
    match_spans(t, spans, n, &m);
    failures += match_check(&m, LENGTH_NS, (double)t->cpu[0].measured_ns / PERIOD_NS, cost_p99);
    match_free(&m);
    free(spans);
    zn_trace_free(t);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
