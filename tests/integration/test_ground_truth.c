/*
 * Ground truth for `zepto noise record` and `analyse`: the test's own injector (a SCHED_FIFO
 * thread pinned to one CPU, tests/helpers/injector.c) takes that CPU for D every P while
 * `zepto noise record` watches it. Proves that the recording contains the injected detours (count
 * within 10 % of the expected, none shorter than D, each at most the injector's spin plus the
 * preemption cost measured in the same run; tests/helpers/match.c), and that analysis names a
 * signature with the injected period.
 *
 * The preemption cost is what one injected detour adds to its own length: the timer interrupt
 * that wakes the injector, the switch to it and the switch back. It is measured first, in the same
 * run, by injecting 20 us detours; the bound is twice its 99th percentile. The pipe ping-pong
 * context switch is printed for comparison.
 *
 * usage: test_ground_truth ZEPTO_BINARY WORKDIR          exit 77 (skip) when SCHED_FIFO is refused
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "injector.h"
#include "match.h"
#include "zepto/noise.h"

#define PERIOD_NS     7000000ull
#define LENGTH_NS     300000ull
#define RECORD_NS     3000000000ull
#define CAL_LENGTH_NS 20000ull
#define CAL_RECORD_NS 1000000000ull

/* Records CPU cpu with the CLI while injecting length every PERIOD_NS; reads the trace back. */
static struct zn_trace *record_with_injection(const char *zepto, const char *dir, int cpu,
                                              uint64_t length, uint64_t record_ns,
                                              struct injector *inj)
{
    char trace[4096], cpus[16], dur[32];
    snprintf(trace, sizeof(trace), "%s/gt-%llu.znt", dir, (unsigned long long)length);
    snprintf(cpus, sizeof(cpus), "%d", cpu);
    snprintf(dur, sizeof(dur), "%llums", (unsigned long long)(record_ns / 1000000));
    /* The injector runs longer than the recording: the CLI calibrates for ~0.3 s first. */
    int rc = inj_start(inj, cpu, PERIOD_NS, length, record_ns + 2000000000ull);
    if (rc) {
        fprintf(stderr, "injector: %s\n", strerror(rc));
        exit(1);
    }
    char *argv[] = {(char *)zepto, "noise", "record", "-q",  "-c", cpus,
                    "-d",          dur,     "-o",     trace, NULL};
    struct zn_trace *t = run_and_read(argv, trace);
    inj_join(inj);
    return t;
}

int main(int argc, char **argv)
{
    int cpu = driver_setup(argc, argv, "the ground-truth injector"), failures = 0;

    printf("pipe ping-pong context switch on CPU %d: %.0f ns\n", cpu,
           inj_context_switch_ns(cpu, 20000));

    /* 1. The preemption cost, from short injections. */
    struct injector inj;
    struct match m;
    struct zn_trace *t =
        record_with_injection(argv[1], argv[2], cpu, CAL_LENGTH_NS, CAL_RECORD_NS, &inj);
    match_spans(t, inj.spans, inj.n, &m);
    uint64_t cost_med, cost_p99;
    match_cost(&m, &cost_med, &cost_p99);
    printf("preemption cost (timer wake-up + switch in + switch out), %llu samples: median %llu "
           "ns, p99 %llu ns\n",
           (unsigned long long)m.matched, (unsigned long long)cost_med,
           (unsigned long long)cost_p99);
    if (m.matched < m.injected * 9 / 10) {
        printf("FAIL: calibration saw %llu of %llu injections\n", (unsigned long long)m.matched,
               (unsigned long long)m.injected);
        failures++;
    }
    match_free(&m);
    inj_free(&inj);
    zn_trace_free(t);

    /* 2. D = 300 us every 7 ms for 3 s. */
    t = record_with_injection(argv[1], argv[2], cpu, LENGTH_NS, RECORD_NS, &inj);
    match_spans(t, inj.spans, inj.n, &m);
    failures += match_check(&m, LENGTH_NS, (double)t->cpu[0].measured_ns / PERIOD_NS, cost_p99);

    struct zn_summary *sum;
    struct zepto_err err = {0};
    bool named = false;
    if (zn_analyse(t, &sum, &err) == 0) {
        for (unsigned i = 0; i < sum->node.nsig; i++) {
            printf("signature: period %.1f us, length %llu ns, %llu detours, share %.3f\n",
                   sum->node.sig[i].period_ns / 1e3, (unsigned long long)sum->node.sig[i].length_ns,
                   (unsigned long long)sum->node.sig[i].detours, sum->node.sig[i].noise_share);
            named |= fabs(sum->node.sig[i].period_ns - PERIOD_NS) <= 500000;
        }
        zn_summary_free(sum);
    }
    if (!named) {
        printf("FAIL: no signature with period 7 ms +- 0.5 ms\n");
        failures++;
    }
    match_free(&m);
    inj_free(&inj);
    zn_trace_free(t);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
