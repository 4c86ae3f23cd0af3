/*
 * The detour classifier of src/ktau/detour_causes.c on synthetic kernel records: an interrupt, a
 * softirq, another thread (with an interrupt inside its run), a page fault and nothing (unknown:
 * the host) inside a detour; events just outside the window (beyond the slack) left out, events
 * of another CPU ignored, nesting charged exclusively (a softirq inside an interrupt's exit and an
 * interrupt inside a softirq), and the binary search over many records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ktau/capture.h"
#include "zepto/ktau_explain.h"

#define TID   100u /* the recorder thread */
#define THIEF 200u
#define START 10000u /* the detour: [START, END] */
#define END   20000u

struct ev {
    uint64_t t;
    int cpu;
    uint32_t tid;
    int kind, arg;
    const char *name;
};

/* An explainer holding the records, stopped (sorted), with the given slack. */
static struct ktau_explain *make(const struct ev *ev, size_t n, uint64_t slack)
{
    struct ktau_explain *x;
    assert_int_equal(ktau_explain_new(&x, NULL), 0);
    struct ktau_capture *c = ktau_explain_capture(x);
    /* Added in reverse: the sort, not the order of arrival across CPUs, must put them right. */
    for (size_t i = n; i-- > 0;) {
        struct ktau_krec r = {.t_ns = ev[i].t,
                              .pid = ev[i].tid,
                              .tid = ev[i].tid,
                              .kind = (uint16_t)ev[i].kind,
                              .arg = ev[i].arg,
                              .cpu = (uint16_t)ev[i].cpu,
                              .name = ev[i].name ? ktau_capture_intern(c, ev[i].name) : 0};
        assert_int_equal(ktau_capture_add(c, &r), 0);
    }
    /* Records of one CPU and time arrive in order: seq must say so despite the reversal. */
    for (size_t i = 0; i < n; i++)
        c->recs[i].seq = (uint32_t)(n - 1 - i);
    assert_int_equal(ktau_explain_stop(x, NULL), 0);
    ktau_explain_set_slack(x, slack);
    return x;
}

static struct ktau_why run(const struct ev *ev, size_t n, uint64_t slack, int cpu)
{
    struct ktau_explain *x = make(ev, n, slack);
    struct ktau_why w;
    ktau_explain_classify(x, cpu, TID, START, END, &w);
    ktau_explain_free(x);
    return w;
}

static void irq_inside(void **state)
{
    (void)state;
    const struct ev ev[] = {{11000, 0, TID, KR_IRQ_ENTRY, -1, "local_timer"},
                            {14000, 0, TID, KR_IRQ_EXIT, -1, "local_timer"}};
    struct ktau_why w = run(ev, 2, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_IRQ);
    assert_string_equal(w.name, "local_timer");
    assert_int_equal(w.cause_ns, 3000);
    assert_int_equal(w.traced_ns, 3000);
    assert_int_equal(w.events, 2);
}

static void softirq_inside(void **state)
{
    (void)state;
    const struct ev ev[] = {{12000, 0, TID, KR_SOFTIRQ_ENTRY, 1, NULL},
                            {17000, 0, TID, KR_SOFTIRQ_EXIT, 1, NULL}};
    struct ktau_why w = run(ev, 2, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_SOFTIRQ);
    assert_string_equal(w.name, "TIMER");
    assert_int_equal(w.cause_ns, 5000);
}

/* The recorder switched out for "thief", which ran until the switch back, an interrupt taking
 * 1 us of its run. */
static void other_thread(void **state)
{
    (void)state;
    const struct ev ev[] = {
        {10500, 0, TID, KR_SWITCH_OUT, 1, "thief"},
        {10500, 0, THIEF, KR_SWITCH_IN, 0, "thief"},
        {12000, 0, THIEF, KR_IRQ_ENTRY, 11, "virtio0"},
        {13000, 0, THIEF, KR_IRQ_EXIT, 11, NULL},
        {19000, 0, THIEF, KR_SWITCH_OUT, 0, "zn-record"},
        {19000, 0, TID, KR_SWITCH_IN, 0, "zn-record"},
    };
    struct ktau_why w = run(ev, 6, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_THREAD);
    assert_string_equal(w.name, "thief");
    assert_int_equal(w.cause_ns, 7500);
    assert_int_equal(w.traced_ns, 8500);
}

/* A fault of the recorder: counted, and charged until the detour's end; a fault of another
 * thread on the CPU is not the recorder's. */
static void page_fault(void **state)
{
    (void)state;
    const struct ev ev[] = {{12000, 0, THIEF, KR_PAGE_FAULT, 0, NULL},
                            {15000, 0, TID, KR_PAGE_FAULT, 0, NULL}};
    struct ktau_why w = run(ev, 2, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_FAULT);
    assert_int_equal(w.faults, 1);
    assert_int_equal(w.cause_ns, 5000);
    assert_string_equal(w.name, "");
}

static void nothing_is_unknown(void **state)
{
    (void)state;
    struct ktau_why w = run(NULL, 0, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_UNKNOWN);
    assert_int_equal(w.traced_ns, 0);
    assert_int_equal(w.events, 0);
    assert_string_equal(ktau_cause_kind_name(w.kind), "unknown (host)");
}

/* Events beyond the slack on either side, and on another CPU, are not the detour's. */
static void outside_is_ignored(void **state)
{
    (void)state;
    const struct ev ev[] = {
        {5000, 0, TID, KR_IRQ_ENTRY, -1, "local_timer"},
        {7000, 0, TID, KR_IRQ_EXIT, -1, NULL},
        {8500, 0, TID, KR_SOFTIRQ_ENTRY, 9, NULL}, /* inside a 2 us slack, outside 1 us */
        {8900, 0, TID, KR_SOFTIRQ_EXIT, 9, NULL},
        {12000, 1, TID, KR_IRQ_ENTRY, 5, "eth0"}, /* CPU 1 */
        {15000, 1, TID, KR_IRQ_EXIT, 5, NULL},
        {21500, 0, TID, KR_IRQ_ENTRY, -1, "reschedule"},
        {21600, 0, TID, KR_IRQ_EXIT, -1, NULL},
    };
    struct ktau_why w = run(ev, 8, 1000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_UNKNOWN);
    assert_int_equal(w.events, 0);
    /* With 2 us of slack the softirq and the late interrupt are in. */
    w = run(ev, 8, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_SOFTIRQ);
    assert_string_equal(w.name, "RCU");
    assert_int_equal(w.cause_ns, 400);
    assert_int_equal(w.events, 4);
    /* CPU 1 sees its own interrupt only. */
    w = run(ev, 8, 1000, 1);
    assert_int_equal(w.kind, KTAU_CAUSE_IRQ);
    assert_string_equal(w.name, "eth0");
    assert_int_equal(w.cause_ns, 3000);
    /* A CPU without records. */
    w = run(ev, 8, 1000, 7);
    assert_int_equal(w.kind, KTAU_CAUSE_UNKNOWN);
}

/* Exclusive time: a softirq run in an interrupt's exit, and an interrupt inside a softirq. */
static void nesting(void **state)
{
    (void)state;
    const struct ev a[] = {
        {11000, 0, TID, KR_IRQ_ENTRY, -1, "local_timer"},
        {12000, 0, TID, KR_SOFTIRQ_ENTRY, 1, NULL},
        {16000, 0, TID, KR_SOFTIRQ_EXIT, 1, NULL},
        {17000, 0, TID, KR_IRQ_EXIT, -1, NULL},
    };
    struct ktau_why w = run(a, 4, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_SOFTIRQ);
    assert_int_equal(w.cause_ns, 4000);
    assert_int_equal(w.traced_ns, 6000);

    const struct ev b[] = {
        {11000, 0, TID, KR_SOFTIRQ_ENTRY, 7, NULL},
        {12000, 0, TID, KR_IRQ_ENTRY, 11, "virtio0"},
        {16500, 0, TID, KR_IRQ_EXIT, 11, NULL},
        {18000, 0, TID, KR_SOFTIRQ_EXIT, 7, NULL},
    };
    w = run(b, 4, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_IRQ);
    assert_string_equal(w.name, "virtio0");
    assert_int_equal(w.cause_ns, 4500);
    assert_int_equal(w.traced_ns, 7000);
}

/* An exit whose entry came before the window closes nothing; an interrupt that is still open at
 * the end of the detour is charged until the end. */
static void unmatched(void **state)
{
    (void)state;
    const struct ev ev[] = {
        {12000, 0, TID, KR_IRQ_EXIT, -1, NULL},
        {13000, 0, TID, KR_SOFTIRQ_ENTRY, 1, NULL},
        {14000, 0, TID, KR_SOFTIRQ_EXIT, 1, NULL},
        {18000, 0, TID, KR_IRQ_ENTRY, -1, "local_timer"},
    };
    struct ktau_why w = run(ev, 4, 2000, 0);
    assert_int_equal(w.kind, KTAU_CAUSE_IRQ);
    assert_int_equal(w.cause_ns, 2000);
    assert_int_equal(w.traced_ns, 3000);
}

/* 200,000 records on two CPUs: the window finds its own. */
static void many_records(void **state)
{
    (void)state;
    struct ktau_explain *x;
    assert_int_equal(ktau_explain_new(&x, NULL), 0);
    struct ktau_capture *c = ktau_explain_capture(x);
    uint32_t name = ktau_capture_intern(c, "local_timer");
    for (uint64_t i = 0; i < 100000; i++)
        for (int cpu = 0; cpu < 2; cpu++) {
            /* Every 10 us: an interrupt of 1 us (CPU 0) or 2 us (CPU 1). */
            struct ktau_krec in = {.t_ns = i * 10000,
                                   .tid = TID,
                                   .kind = KR_IRQ_ENTRY,
                                   .arg = -1,
                                   .cpu = (uint16_t)cpu,
                                   .name = name};
            struct ktau_krec out = in;
            out.kind = KR_IRQ_EXIT;
            out.t_ns += 1000u * (unsigned)(cpu + 1);
            assert_int_equal(ktau_capture_add(c, &in), 0);
            assert_int_equal(ktau_capture_add(c, &out), 0);
        }
    assert_int_equal(ktau_explain_stop(x, NULL), 0);
    ktau_explain_set_slack(x, 0);
    struct ktau_why w;
    /* [499.9 us, 533 us]: the interrupts at 500, 510, 520 and 530 us. */
    ktau_explain_classify(x, 1, TID, 499900, 533000, &w);
    assert_int_equal(w.kind, KTAU_CAUSE_IRQ);
    assert_int_equal(w.cause_ns, 8000);
    assert_int_equal(w.events, 8);
    ktau_explain_classify(x, 0, TID, 499900, 533000, &w);
    assert_int_equal(w.cause_ns, 4000);
    struct ktau_explain_stats st;
    ktau_explain_stats(x, &st);
    assert_int_equal(st.records, 400000);
    ktau_explain_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(irq_inside),
        cmocka_unit_test(softirq_inside),
        cmocka_unit_test(other_thread),
        cmocka_unit_test(page_fault),
        cmocka_unit_test(nothing_is_unknown),
        cmocka_unit_test(outside_is_ignored),
        cmocka_unit_test(nesting),
        cmocka_unit_test(unmatched),
        cmocka_unit_test(many_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
