/*
 * Proves the exports of src/noise/export.c: CSV with its header and one row per stored detour for
 * all CPUs or the CPUs chosen, LogGOPSim's `start<TAB>duration` for exactly one CPU, and clear
 * errors for a CPU that is not in the trace or a LogGOPSim export of several CPUs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zepto/noise.h"

/* CPU 2 with two detours, CPU 7 with one (of three counted: its buffer filled). */
static struct zn_trace *sample_trace(void)
{
    struct zn_trace *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->clock, sizeof(t->clock), "tsc");
    t->clock_hz = 1000000000u;
    t->threshold_ns = 100;
    t->ncpu = 2;
    t->cpu = calloc(2, sizeof(*t->cpu));
    assert_non_null(t->cpu);
    t->cpu[0].cpu = 2;
    t->cpu[0].measured_ns = 1000000000u;
    t->cpu[0].detours = t->cpu[0].stored = 2;
    t->cpu[0].d = malloc(2 * sizeof(struct zn_detour));
    assert_non_null(t->cpu[0].d);
    t->cpu[0].d[0] = (struct zn_detour){1500, 250};
    t->cpu[0].d[1] = (struct zn_detour){18446744073709551ull, 4000000};
    t->cpu[1].cpu = 7;
    t->cpu[1].flags = ZN_CPU_TRUNCATED;
    t->cpu[1].measured_ns = 1000000000u;
    t->cpu[1].detours = 3;
    t->cpu[1].stored = 1;
    t->cpu[1].d = malloc(sizeof(struct zn_detour));
    assert_non_null(t->cpu[1].d);
    t->cpu[1].d[0] = (struct zn_detour){0, 123};
    return t;
}

/* Runs zn_export into memory; returns its rc and the text in *text (caller frees). */
static int export_text(const struct zn_trace *t, enum zn_export_format fmt, const int *cpus,
                       unsigned ncpu, char **text, struct zepto_err *err)
{
    size_t len = 0;
    *text = NULL;
    FILE *f = open_memstream(text, &len);
    assert_non_null(f);
    int rc = zn_export(t, fmt, cpus, ncpu, f, err);
    assert_int_equal(fclose(f), 0);
    return rc;
}

static void csv_all_cpus(void **state)
{
    (void)state;
    struct zn_trace *t = sample_trace();
    char *text;
    struct zepto_err err = {0};
    assert_int_equal(export_text(t, ZN_EXPORT_CSV, NULL, 0, &text, &err), 0);
    assert_string_equal(text, "cpu,start_ns,duration_ns\n"
                              "2,1500,250\n"
                              "2,18446744073709551,4000000\n"
                              "7,0,123\n");
    free(text);
    zn_trace_free(t);
}

static void csv_cpu_filter(void **state)
{
    (void)state;
    struct zn_trace *t = sample_trace();
    char *text;
    struct zepto_err err = {0};
    const int seven[] = {7};
    assert_int_equal(export_text(t, ZN_EXPORT_CSV, seven, 1, &text, &err), 0);
    assert_string_equal(text, "cpu,start_ns,duration_ns\n7,0,123\n");
    free(text);

    /* The trace's order, whatever the order asked for. */
    const int both[] = {7, 2};
    assert_int_equal(export_text(t, ZN_EXPORT_CSV, both, 2, &text, &err), 0);
    assert_string_equal(text, "cpu,start_ns,duration_ns\n2,1500,250\n"
                              "2,18446744073709551,4000000\n7,0,123\n");
    free(text);
    zn_trace_free(t);
}

static void loggopsim_one_cpu(void **state)
{
    (void)state;
    struct zn_trace *t = sample_trace();
    char *text;
    struct zepto_err err = {0};
    const int two[] = {2};
    assert_int_equal(export_text(t, ZN_EXPORT_LOGGOPSIM, two, 1, &text, &err), 0);
    assert_string_equal(text, "1500\t250\n18446744073709551\t4000000\n");
    free(text);
    zn_trace_free(t);
}

static void loggopsim_needs_exactly_one_cpu(void **state)
{
    (void)state;
    struct zn_trace *t = sample_trace();
    char *text;
    struct zepto_err err = {0};
    const int both[] = {2, 7};
    assert_int_equal(export_text(t, ZN_EXPORT_LOGGOPSIM, both, 2, &text, &err), -EINVAL);
    assert_int_equal(err.code, EINVAL);
    assert_non_null(strstr(err.msg, "one CPU"));
    assert_true(!text || !*text); /* nothing written */
    free(text);

    memset(&err, 0, sizeof(err));
    assert_int_equal(export_text(t, ZN_EXPORT_LOGGOPSIM, NULL, 0, &text, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "one CPU"));
    free(text);
    zn_trace_free(t);
}

static void cpu_not_in_trace(void **state)
{
    (void)state;
    struct zn_trace *t = sample_trace();
    char *text;
    struct zepto_err err = {0};
    const int three[] = {3};
    assert_int_equal(export_text(t, ZN_EXPORT_CSV, three, 1, &text, &err), -ENOENT);
    assert_int_equal(err.code, ENOENT);
    if (!strstr(err.msg, "CPU 3"))
        fail_msg("message '%s' does not name CPU 3", err.msg);
    assert_true(!text || !*text);
    free(text);

    memset(&err, 0, sizeof(err));
    assert_int_equal(export_text(t, ZN_EXPORT_LOGGOPSIM, three, 1, &text, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "CPU 3"));
    free(text);

    const int mixed[] = {2, 9};
    assert_int_equal(export_text(t, ZN_EXPORT_CSV, mixed, 2, &text, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "CPU 9"));
    free(text);
    zn_trace_free(t);
}

static void write_error_is_reported(void **state)
{
    (void)state;
    struct zn_trace *t = sample_trace();
    struct zepto_err err = {0};
    FILE *f = fopen("/dev/null", "r"); /* every write to it fails */
    assert_non_null(f);
    assert_int_equal(zn_export(t, ZN_EXPORT_CSV, NULL, 0, f, &err), -EIO);
    const int two[] = {2};
    assert_int_equal(zn_export(t, ZN_EXPORT_LOGGOPSIM, two, 1, f, &err), -EIO);
    fclose(f);
    zn_trace_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_all_cpus),      cmocka_unit_test(csv_cpu_filter),
        cmocka_unit_test(loggopsim_one_cpu), cmocka_unit_test(loggopsim_needs_exactly_one_cpu),
        cmocka_unit_test(cpu_not_in_trace),  cmocka_unit_test(write_error_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
