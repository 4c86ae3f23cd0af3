/*
 * The overhead of ktau's kernel capture on the program it watches: a syscall-heavy workload
 * (getppid in a loop) and a compute-bound one, each run bare, under `zepto ktau run` (kernel
 * capture on) and under `perf record` with the same tracepoints (ktau's list, irq_vectors
 * included; irq_work, which this kernel refuses in part, left out of both), on its default clock
 * and on CLOCK_MONOTONIC (-k mono, the clock ktau needs to meet the user timers; reading it costs
 * more per sample than perf's local clock on a kvm-clock VM), in one run. The workload times itself
 * (so the merge and write-out that follow the run are not counted); best of 3 runs.
 *
 *   bench_ktau_capture ZEPTO [SYSCALLS [COMPUTE_ITERATIONS]]
 *   bench_ktau_capture --work syscalls|compute N      (the workload itself)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EVENTS                                                                                     \
    "sched:sched_switch,irq:irq_handler_entry,irq:irq_handler_exit,irq:softirq_entry,"             \
    "irq:softirq_exit,raw_syscalls:sys_enter,raw_syscalls:sys_exit,exceptions:page_fault_user,"    \
    "irq_vectors:local_timer_entry,irq_vectors:local_timer_exit,irq_vectors:reschedule_entry,"     \
    "irq_vectors:reschedule_exit,irq_vectors:call_function_entry,irq_vectors:call_function_exit,"  \
    "irq_vectors:call_function_single_entry,irq_vectors:call_function_single_exit"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int work(const char *kind, long n)
{
    volatile double x = 1.0;
    uint64_t t0 = now_ns();
    if (!strcmp(kind, "syscalls"))
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
    else
        for (long i = 0; i < n; i++)
            x = x * 1.0000001 + 1e-9;
    printf("work_ns=%llu\n", (unsigned long long)(now_ns() - t0));
    return 0;
}

/* Runs a shell command line and returns the work_ns it printed (best of 3), or 0. */
static double run(const char *cmd)
{
    double best = 0;
    for (int r = 0; r < 3; r++) {
        FILE *p = popen(cmd, "r");
        if (!p)
            return 0;
        char line[256];
        unsigned long long ns = 0;
        while (fgets(line, sizeof(line), p))
            if (sscanf(line, "work_ns=%llu", &ns) == 1)
                break;
        while (fgets(line, sizeof(line), p))
            ;
        pclose(p);
        if (ns && (!best || ns < best))
            best = (double)ns;
    }
    return best / 1e6;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--work"))
        return work(argv[2], atol(argv[3]));
    if (argc < 2) {
        fprintf(stderr, "usage: bench_ktau_capture ZEPTO [SYSCALLS [COMPUTE_ITERATIONS]]\n");
        return 2;
    }
    const char *zepto = argv[1];
    long nsys = argc > 2 ? atol(argv[2]) : 1000000, ncomp = argc > 3 ? atol(argv[3]) : 200000000;
    char self[1024], dir[] = "/tmp/bench_ktau.XXXXXX";
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0 || !mkdtemp(dir))
        return 1;
    self[n] = 0;
    printf("%-10s %10s %14s %9s %14s %9s %16s %9s\n", "workload", "bare ms", "zepto ktau ms",
           "overhead", "perf record ms", "overhead", "perf -k mono ms", "overhead");
    for (int w = 0; w < 2; w++) {
        const char *kind = w ? "compute" : "syscalls";
        long count = w ? ncomp : nsys;
        char cmd[4096];
        snprintf(cmd, sizeof(cmd), "%s --work %s %ld", self, kind, count);
        double bare = run(cmd);
        snprintf(cmd, sizeof(cmd), "%s ktau run --force -o %s/k -- %s --work %s %ld 2>/dev/null",
                 zepto, dir, self, kind, count);
        double kt = run(cmd);
        snprintf(cmd, sizeof(cmd),
                 "perf record -q -o %s/perf.data -e %s -- %s --work %s %ld 2>/dev/null", dir,
                 EVENTS, self, kind, count);
        double pf = run(cmd);
        snprintf(cmd, sizeof(cmd),
                 "perf record -q -k mono -o %s/perf.data -e %s -- %s --work %s %ld 2>/dev/null",
                 dir, EVENTS, self, kind, count);
        double pm = run(cmd);
        printf("%-10s %10.2f %14.2f %8.1f%% %14.2f %8.1f%% %16.2f %8.1f%%\n", kind, bare, kt,
               bare > 0 ? 100 * (kt - bare) / bare : 0, pf,
               bare > 0 && pf > 0 ? 100 * (pf - bare) / bare : 0, pm,
               bare > 0 && pm > 0 ? 100 * (pm - bare) / bare : 0);
    }
    char rm[1100];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    return system(rm) ? 1 : 0;
}
