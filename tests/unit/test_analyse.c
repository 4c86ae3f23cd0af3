/*
 * Proves the analysis of src/noise/analyse.c, hist.c and summary_json.c on hand-built traces:
 * exact per-CPU and node counts, times, rates and noise fractions; nearest-rank quantiles; the
 * histogram's bin edges (a bin holds [lo, next lo)); the earliest truncation on the node; and a
 * JSON summary that is well-formed JSON.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"
#include "zepto/noise.h"

/* A trace of ncpu CPUs, allocated as zn_trace_free expects. */
static struct zn_trace *new_trace(uint32_t ncpu)
{
    struct zn_trace *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->host, sizeof(t->host), "testhost");
    snprintf(t->kernel, sizeof(t->kernel), "6.1.0-test");
    snprintf(t->cpu_model, sizeof(t->cpu_model), "Test \"CPU\" model");
    snprintf(t->clock, sizeof(t->clock), "tsc");
    t->clock_hz = 2100000000u;
    t->threshold_ns = 300;
    t->ncpu = ncpu;
    t->cpu = calloc(ncpu ? ncpu : 1, sizeof(*t->cpu));
    assert_non_null(t->cpu);
    return t;
}

/* Fills CPU slot i with n detours; the counts match the stored list. */
static void set_cpu(struct zn_trace *t, uint32_t i, uint32_t cpu, uint64_t measured_ns,
                    const uint64_t *start, const uint64_t *len, uint64_t n)
{
    struct zn_cpu_trace *c = &t->cpu[i];
    c->cpu = cpu;
    c->measured_ns = measured_ns;
    c->loops = measured_ns / 20;
    c->d = malloc((n ? n : 1) * sizeof(*c->d));
    assert_non_null(c->d);
    c->detour_min_ns = n ? UINT64_MAX : 0;
    for (uint64_t k = 0; k < n; k++) {
        c->d[k].start_ns = start[k];
        c->d[k].duration_ns = len[k];
        c->detour_ns += len[k];
        if (len[k] < c->detour_min_ns)
            c->detour_min_ns = len[k];
        if (len[k] > c->detour_max_ns)
            c->detour_max_ns = len[k];
    }
    c->detours = c->stored = n;
}

#define assert_double_equal(a, b)                                                                  \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= 1e-12 * fabs(b_)))                                                  \
            fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                    \
    } while (0)

/* CPU 0: 100 detours of 1..100 us (in shuffled order) over 1 s; CPU 1: four detours over 2 s. */
static struct zn_trace *two_cpu_trace(void)
{
    struct zn_trace *t = new_trace(2);
    uint64_t start[100], len[100];
    for (uint64_t k = 0; k < 100; k++) {
        start[k] = 3000000 + k * 9000000;
        len[k] = ((k * 37) % 100 + 1) * 1000; /* a permutation of 1000 .. 100000 */
    }
    set_cpu(t, 0, 0, 1000000000u, start, len, 100);
    t->cpu[0].loop_min_ps = 12000;
    static const uint64_t s1[] = {100000, 700000000, 900000000, 1500000000};
    static const uint64_t l1[] = {2000, 3000, 4000, 500};
    set_cpu(t, 1, 1, 2000000000u, s1, l1, 4);
    t->cpu[1].loop_min_ps = 15000;
    return t;
}

static void per_cpu_figures_are_exact(void **state)
{
    (void)state;
    struct zn_trace *t = two_cpu_trace();
    struct zn_summary *s;
    struct zepto_err err = {0};
    assert_int_equal(zn_analyse(t, &s, &err), 0);
    assert_ptr_equal(s->trace, t);
    assert_int_equal(s->ncpu, 2);

    const struct zn_cpu_summary *c0 = &s->cpu[0];
    assert_int_equal(c0->cpu, 0);
    assert_int_equal(c0->measured_ns, 1000000000u);
    assert_int_equal(c0->detours, 100);
    assert_int_equal(c0->detour_ns, 5050u * 1000u);
    assert_double_equal(c0->rate_per_s, 100.0);
    assert_double_equal(c0->noise_fraction, 5050000.0 / 1e9);
    assert_int_equal(c0->min_ns, 1000);
    assert_int_equal(c0->median_ns, 50000); /* nearest rank: the 50th of 100 */
    assert_int_equal(c0->p99_ns, 99000);    /* the 99th of 100 */
    assert_int_equal(c0->max_ns, 100000);
    assert_int_equal(c0->loop_min_ps, 12000);
    assert_false(c0->truncated);
    assert_int_equal(c0->stored, 100);

    const struct zn_cpu_summary *c1 = &s->cpu[1];
    assert_int_equal(c1->cpu, 1);
    assert_int_equal(c1->detours, 4);
    assert_int_equal(c1->detour_ns, 9500);
    assert_double_equal(c1->rate_per_s, 2.0);
    assert_double_equal(c1->noise_fraction, 9500.0 / 2e9);
    assert_int_equal(c1->min_ns, 500);
    assert_int_equal(c1->median_ns, 2000); /* sorted 500 2000 3000 4000: the 2nd */
    assert_int_equal(c1->p99_ns, 4000);
    assert_int_equal(c1->max_ns, 4000);

    zn_summary_free(s);
    zn_trace_free(t);
}

static void node_sums_over_cpus(void **state)
{
    (void)state;
    struct zn_trace *t = two_cpu_trace();
    struct zn_summary *s;
    assert_int_equal(zn_analyse(t, &s, NULL), 0);
    const struct zn_cpu_summary *n = &s->node;
    assert_true(n->cpu == UINT32_MAX);
    assert_int_equal(n->measured_ns, 3000000000u);
    assert_int_equal(n->detours, 104);
    assert_int_equal(n->detour_ns, 5050000u + 9500u);
    assert_int_equal(n->stored, 104);
    assert_double_equal(n->rate_per_s, 102.0); /* rates add up: detours per second per node */
    /* Total detour time over total time measured, not the mean of the CPU fractions. */
    assert_double_equal(n->noise_fraction, 5059500.0 / 3e9);
    assert_int_equal(n->min_ns, 500);
    assert_int_equal(n->max_ns, 100000);
    /* All 104 lengths: 500, 1000, 2000 x2, 3000 x2, 4000 x2, then k*1000 at rank k+4. */
    assert_int_equal(n->median_ns, 48000);   /* rank 52 */
    assert_int_equal(n->p99_ns, 99000);      /* rank ceil(0.99 * 104) = 103 */
    assert_int_equal(n->loop_min_ps, 15000); /* the slowest CPU's */
    assert_false(n->truncated);
    assert_int_equal(n->truncated_at_ns, 0);

    uint64_t hist_n = 0, hist_ns = 0;
    for (unsigned b = 0; b < ZN_HIST_BINS; b++) {
        assert_int_equal(n->hist.count[b], s->cpu[0].hist.count[b] + s->cpu[1].hist.count[b]);
        hist_n += n->hist.count[b];
        hist_ns += n->hist.total_ns[b];
    }
    assert_int_equal(hist_n, 104);
    assert_int_equal(hist_ns, n->detour_ns);
    zn_summary_free(s);
    zn_trace_free(t);
}

static void truncation_reports_the_earliest(void **state)
{
    (void)state;
    struct zn_trace *t = two_cpu_trace();
    /* CPU 0 kept 100 of 250 detours until 900 ms, CPU 1 4 of 9 until 800 ms. */
    t->cpu[0].flags = ZN_CPU_TRUNCATED;
    t->cpu[0].detours = 250;
    t->cpu[0].detour_ns += 150 * 1000;
    t->cpu[0].truncated_at_ns = 900000000;
    t->cpu[1].flags = ZN_CPU_TRUNCATED;
    t->cpu[1].detours = 9;
    t->cpu[1].truncated_at_ns = 800000000;
    struct zn_summary *s;
    assert_int_equal(zn_analyse(t, &s, NULL), 0);
    assert_true(s->cpu[0].truncated);
    assert_int_equal(s->cpu[0].truncated_at_ns, 900000000);
    assert_int_equal(s->cpu[0].stored, 100);
    assert_int_equal(s->cpu[0].detours, 250); /* counts stay exact past a full buffer */
    assert_double_equal(s->cpu[0].rate_per_s, 250.0);
    assert_true(s->node.truncated);
    assert_int_equal(s->node.truncated_at_ns, 800000000);
    assert_int_equal(s->node.detours, 259);
    assert_int_equal(s->node.stored, 104);
    zn_summary_free(s);

    /* Only one CPU truncated: the node is truncated at that CPU's time. */
    t->cpu[1].flags = 0;
    t->cpu[1].truncated_at_ns = 0;
    t->cpu[1].detours = 4;
    assert_int_equal(zn_analyse(t, &s, NULL), 0);
    assert_true(s->node.truncated);
    assert_int_equal(s->node.truncated_at_ns, 900000000);
    assert_false(s->cpu[1].truncated);
    zn_summary_free(s);
    zn_trace_free(t);
}

static void quiet_and_empty_traces(void **state)
{
    (void)state;
    struct zn_trace *t = new_trace(1);
    set_cpu(t, 0, 3, 500000000u, NULL, NULL, 0);
    struct zn_summary *s;
    assert_int_equal(zn_analyse(t, &s, NULL), 0);
    assert_int_equal(s->cpu[0].cpu, 3);
    assert_int_equal(s->cpu[0].detours, 0);
    assert_true(s->cpu[0].noise_fraction == 0);
    assert_true(s->cpu[0].rate_per_s == 0);
    assert_int_equal(s->cpu[0].min_ns, 0);
    assert_int_equal(s->cpu[0].median_ns, 0);
    assert_int_equal(s->node.min_ns, 0);
    assert_int_equal(s->node.nsig, 0);
    zn_summary_free(s);
    zn_trace_free(t);

    t = new_trace(0);
    assert_int_equal(zn_analyse(t, &s, NULL), 0);
    assert_int_equal(s->ncpu, 0);
    assert_int_equal(s->node.measured_ns, 0);
    assert_true(s->node.noise_fraction == 0);
    assert_int_equal(s->node.hist.lo_ns[0], 10); /* the bin edges are there even so */
    zn_summary_free(s);
    zn_trace_free(t);
}

/* The bin that holds len, by a linear scan of the edges: [lo[b], lo[b+1]), the first bin also
 * below and the last also above. */
static unsigned expected_bin(const struct zn_hist *h, uint64_t len)
{
    unsigned b = 0;
    while (b + 1 < ZN_HIST_BINS && h->lo_ns[b + 1] <= len)
        b++;
    return b;
}

static void histogram_edges(void **state)
{
    (void)state;
    static const uint64_t lens[] = {
        0,    5,    10,          19,          20,          49,           50,           999,
        1000, 1001, 4999999999u, 5000000000u, 9999999999u, 10000000000u, 20000000000u, UINT64_MAX};
    enum { N = sizeof(lens) / sizeof(lens[0]) };
    struct zn_detour d[N];
    for (unsigned k = 0; k < N; k++)
        d[k] = (struct zn_detour){.start_ns = k * 1000, .duration_ns = lens[k]};
    struct zn_hist h;
    memset(&h, 0xa5, sizeof(h));
    zn_hist_build(d, N, &h);

    /* Edges: 10 ns, then 1-2-5 steps to 10 s. */
    assert_int_equal(h.lo_ns[0], 10);
    assert_true(h.lo_ns[ZN_HIST_BINS - 1] == 10000000000u);
    for (unsigned b = 0; b + 1 < ZN_HIST_BINS; b++) {
        uint64_t lo = h.lo_ns[b], hi = h.lo_ns[b + 1];
        if (!(hi == 2 * lo || 2 * hi == 5 * lo))
            fail_msg("edges %llu and %llu are not a 1-2-5 step", (unsigned long long)lo,
                     (unsigned long long)hi);
    }
    unsigned b1000 = 0;
    while (h.lo_ns[b1000] != 1000)
        b1000++;

    uint64_t count[ZN_HIST_BINS] = {0};
    for (unsigned k = 0; k < N; k++)
        count[expected_bin(&h, lens[k])]++;
    for (unsigned b = 0; b < ZN_HIST_BINS; b++)
        if (h.count[b] != count[b])
            fail_msg("bin %u (from %llu ns): %llu detours, expected %llu", b,
                     (unsigned long long)h.lo_ns[b], (unsigned long long)h.count[b],
                     (unsigned long long)count[b]);

    /* The cases named in the histogram's contract. */
    assert_int_equal(expected_bin(&h, 1000), b1000);
    assert_int_equal(expected_bin(&h, 999), b1000 - 1);
    assert_int_equal(h.count[0], 4); /* 0, 5, 10, 19 */
    assert_int_equal(h.total_ns[0], 0 + 5 + 10 + 19);
    assert_int_equal(h.count[b1000], 2); /* 1000, 1001 */
    assert_int_equal(h.total_ns[b1000], 2001);
    assert_int_equal(h.count[ZN_HIST_BINS - 1], 3); /* 10 s, 20 s and UINT64_MAX */
    assert_int_equal(h.count[ZN_HIST_BINS - 2], 2); /* 5 s and 9.999999999 s */

    /* No detours: edges only. */
    zn_hist_build(NULL, 0, &h);
    for (unsigned b = 0; b < ZN_HIST_BINS; b++)
        assert_int_equal(h.count[b], 0);
    assert_int_equal(h.lo_ns[3], 100);
}

/* ---- a small JSON checker: accepts exactly RFC 8259 documents ---- */

static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*p++;
        if (c == '"')
            return p;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            c = (unsigned char)*p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++)
                    if (!isxdigit((unsigned char)*p++))
                        return NULL;
            } else if (!strchr("\"\\/bfnrt", c) || !c) {
                return NULL;
            }
        }
    }
}

static const char *json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (isdigit((unsigned char)*p))
        while (isdigit((unsigned char)*p))
            p++;
    else
        return NULL;
    if (*p == '.') {
        if (!isdigit((unsigned char)*++p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p;
}

static const char *json_container(const char *p, char close, bool object)
{
    p = json_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (object) {
            if (!(p = json_string(p)))
                return NULL;
            p = json_ws(p);
            if (*p++ != ':')
                return NULL;
        }
        if (!(p = json_value(p)))
            return NULL;
        p = json_ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
        p = json_ws(p);
    }
}

static const char *json_value(const char *p)
{
    p = json_ws(p);
    if (*p == '{')
        return json_container(p, '}', true);
    if (*p == '[')
        return json_container(p, ']', false);
    if (*p == '"')
        return json_string(p);
    if (!strncmp(p, "true", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    if (!strncmp(p, "null", 4))
        return p + 4;
    return json_number(p);
}

static bool json_valid(const char *doc)
{
    const char *end = json_value(doc);
    return end && !*json_ws(end);
}

static void json_checker_rejects_broken_documents(void **state)
{
    (void)state;
    assert_true(json_valid("{\"a\":[1,-2.5e3,true,null,\"x\\u00e9\"],\"b\":{}}\n"));
    assert_false(json_valid("{\"a\":1,}"));
    assert_false(json_valid("{\"a\" 1}"));
    assert_false(json_valid("[1 2]"));
    assert_false(json_valid("{\"a\":1}}"));
    assert_false(json_valid("{\"a\":nan}"));
}

static char *summary_text(const struct zn_summary *s, bool pretty)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct zb_json j;
    zb_json_init(&j, f, pretty);
    zn_summary_json(s, &j);
    assert_int_equal(zb_json_finish(&j), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void summary_json_is_well_formed(void **state)
{
    (void)state;
    struct zn_trace *t = two_cpu_trace();
    t->flags = ZN_TRACE_AUTO_THRESHOLD;
    struct zn_summary *s;
    assert_int_equal(zn_analyse(t, &s, NULL), 0);
    for (int pretty = 0; pretty <= 1; pretty++) {
        char *doc = summary_text(s, pretty);
        if (!json_valid(doc))
            fail_msg("not valid JSON:\n%s", doc);
        assert_non_null(strstr(doc, "\"noise_fraction\""));
        assert_non_null(strstr(doc, "\"histogram\""));
        assert_non_null(strstr(doc, "\"signatures\""));
        assert_non_null(strstr(doc, "Test \\\"CPU\\\" model")); /* the quotes escaped */
        assert_null(strstr(doc, "\"truncated_at_ns\""));        /* only when truncated */
        free(doc);
    }
    zn_summary_free(s);

    t->cpu[1].flags = ZN_CPU_TRUNCATED;
    t->cpu[1].detours = 9;
    t->cpu[1].truncated_at_ns = 800000000;
    assert_int_equal(zn_analyse(t, &s, NULL), 0);
    char *doc = summary_text(s, false);
    if (!json_valid(doc))
        fail_msg("not valid JSON:\n%s", doc);
    assert_non_null(strstr(doc, "\"truncated_at_ns\":800000000"));
    assert_non_null(strstr(doc, "\"threshold_auto\":true"));
    assert_non_null(strstr(doc, "\"interrupted\":false"));
    assert_non_null(strstr(doc, "\"detours\":109"));
    free(doc);
    zn_summary_free(s);
    zn_trace_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_cpu_figures_are_exact),
        cmocka_unit_test(node_sums_over_cpus),
        cmocka_unit_test(truncation_reports_the_earliest),
        cmocka_unit_test(quiet_and_empty_traces),
        cmocka_unit_test(histogram_edges),
        cmocka_unit_test(json_checker_rejects_broken_documents),
        cmocka_unit_test(summary_json_is_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
