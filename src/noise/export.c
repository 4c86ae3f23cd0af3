/*
 * Exporting a trace's detours for other tools: CSV (`cpu,start_ns,duration_ns`, and
 * `cause,traced_ns` for explained traces) and the noise
 * trace that LogGOPSim's noise injection reads (`start<TAB>duration` in ns, one detour a line,
 * one CPU's trace).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/csv.h"
#include "zepto/noise.h"

static bool selected(const int *cpus, unsigned ncpu, uint32_t cpu)
{
    if (!ncpu)
        return true;
    for (unsigned i = 0; i < ncpu; i++)
        if ((uint32_t)cpus[i] == cpu)
            return true;
    return false;
}

int zn_export(const struct zn_trace *t, enum zn_export_format fmt, const int *cpus, unsigned ncpu,
              FILE *out, struct zepto_err *err)
{
    for (unsigned i = 0; i < ncpu; i++) {
        bool found = false;
        for (uint32_t k = 0; k < t->ncpu; k++)
            found |= t->cpu[k].cpu == (uint32_t)cpus[i];
        if (!found)
            return zepto_fail(err, ENOENT, "CPU %d is not in the trace", cpus[i]);
    }
    if (fmt == ZN_EXPORT_LOGGOPSIM && ncpu != 1)
        return zepto_fail(err, EINVAL, "the loggopsim format holds one CPU; choose it with -c");

    if (fmt == ZN_EXPORT_CSV) {
        struct zb_csv c;
        zb_csv_init(&c, out);
        zb_csv_str(&c, "cpu");
        zb_csv_str(&c, "start_ns");
        zb_csv_str(&c, "duration_ns");
        bool why = t->flags & ZN_TRACE_EXPLAINED;
        if (why) {
            zb_csv_str(&c, "cause");
            zb_csv_str(&c, "traced_ns");
        }
        zb_csv_end_row(&c);
        for (uint32_t k = 0; k < t->ncpu; k++) {
            const struct zn_cpu_trace *ct = &t->cpu[k];
            if (!selected(cpus, ncpu, ct->cpu))
                continue;
            for (uint64_t i = 0; i < ct->stored; i++) {
                zb_csv_u64(&c, ct->cpu);
                zb_csv_u64(&c, ct->d[i].start_ns);
                zb_csv_u64(&c, ct->d[i].duration_ns);
                if (why) {
                    char label[96];
                    zn_cause_label(&t->causes[ct->why[i].cause], label, sizeof(label));
                    zb_csv_str(&c, label);
                    zb_csv_u64(&c, ct->why[i].traced_ns);
                }
                zb_csv_end_row(&c);
            }
        }
        if (zb_csv_finish(&c))
            return zepto_fail(err, EIO, "write error: %s", strerror(errno));
        return 0;
    }

    for (uint32_t k = 0; k < t->ncpu; k++) {
        const struct zn_cpu_trace *ct = &t->cpu[k];
        if (!selected(cpus, ncpu, ct->cpu))
            continue;
        for (uint64_t i = 0; i < ct->stored; i++)
            fprintf(out, "%" PRIu64 "\t%" PRIu64 "\n", ct->d[i].start_ns, ct->d[i].duration_ns);
    }
    if (fflush(out) || ferror(out))
        return zepto_fail(err, EIO, "write error: %s", strerror(errno));
    return 0;
}
