/*
 * ktau's merge and TAU files: kernel intervals charged to the innermost user routine at their
 * start (syscalls, blocking inside them, interrupts, preemption, page faults), their time taken
 * from the routine's exclusive time; threads without a libktau file as one routine; TAU profile
 * files written and read back (names with quotes and spaces); MPI ranks as TAU node numbers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ktau/capture.h"
#include "ktau/merge.h"
#include "ktau/profile.h"
#include "ktau/raw.h"

static const struct ktau_pfunc *func(const struct ktau_pthread *t, const char *name)
{
    long i = ktau_pthread_find(t, name);
    if (i < 0)
        fail_msg("'%s' not in the profile", name);
    return &t->f[i];
}

static void add(struct ktau_capture *c, uint64_t t, uint32_t tid, int kind, int arg, uint32_t name)
{
    struct ktau_krec r = {
        .t_ns = t, .pid = 100, .tid = tid, .kind = (uint16_t)kind, .arg = arg, .name = name};
    assert_int_equal(ktau_capture_add(c, &r), 0);
}

/* One thread: root from 0 to 10000 ns, A from 1000 to 5000; kernel work inside and outside A. */
static void kernel_intervals_go_to_the_innermost_routine(void **state)
{
    (void)state;
    struct ktau_raw_thread u = {0};
    u.h.pid = 100;
    u.h.tid = 100;
    u.h.nroutines = 2;
    u.h.nevents = 3;
    u.h.start_ns = 0;
    u.h.end_ns = 10000;
    struct ktau_raw_routine routines[2] = {
        {.calls = 1, .subrs = 1, .incl_ns = 10000, .excl_ns = 6000},
        {.calls = 1, .incl_ns = 4000, .excl_ns = 4000},
    };
    char root[] = "prog", a[] = "A";
    char *names[2] = {root, a};
    struct ktau_raw_event ev[3] = {{0, 0, 0}, {1000, 1u << 1, 0}, {5000, 1u << 1 | 1, 0}};
    u.routines = routines;
    u.names = names;
    u.events = ev;

    struct ktau_capture c = {0};
    c.names = calloc(1, sizeof(char *));
    c.names[0] = strdup("");
    c.nnames = 1;
    uint32_t virtio = ktau_capture_intern(&c, "virtio0");
    add(&c, 1200, 100, KR_SYS_ENTER, 110, 0); /* getppid, in A */
    add(&c, 1300, 100, KR_SWITCH_OUT, 0, 0);  /* blocked inside the syscall */
    add(&c, 1700, 100, KR_SWITCH_IN, 0, 0);
    add(&c, 1800, 100, KR_SYS_EXIT, 110, 0);
    add(&c, 2000, 100, KR_PAGE_FAULT, 0, 0);
    add(&c, 2100, 100, KR_PAGE_FAULT, 0, 0);
    add(&c, 3000, 100, KR_IRQ_ENTRY, 24, virtio);
    add(&c, 3050, 100, KR_IRQ_EXIT, 24, 0);
    add(&c, 6000, 100, KR_SWITCH_OUT, 1, 0); /* preempted, in the root */
    add(&c, 6500, 100, KR_SWITCH_IN, 0, 0);
    add(&c, 7000, 100, KR_SOFTIRQ_ENTRY, 1, 0);
    add(&c, 7010, 100, KR_SOFTIRQ_EXIT, 1, 0);
    add(&c, 7100, 100, KR_SYS_EXIT, 0, 0); /* an exit without its enter: ignored */
    /* Another thread of the process, without a libktau file. */
    add(&c, 2000, 101, KR_SYS_ENTER, 202, 0); /* futex */
    add(&c, 2500, 101, KR_SYS_EXIT, 202, 0);
    ktau_capture_sort(&c);

    struct ktau_merge_in in = {
        .users = &u, .nusers = 1, .kernel = &c, .comm = "prog", .root_pid = 100};
    struct ktau_merge_out out;
    struct zepto_err err = {0};
    assert_int_equal(ktau_merge(&in, &out, &err), 0);
    assert_int_equal(out.n, 2);
    const struct ktau_pthread *t = &out.threads[0];
    assert_int_equal(t->tid, 100);
    assert_int_equal(t->thread, 0);
    const struct ktau_pfunc *f = func(t, "A => sys_getppid");
    assert_true(f->calls == 1 && f->incl_us == 0.6 && f->excl_us == 0.2);
    assert_non_null(strstr(f->group, "KTAU_SYSCALL"));
    assert_non_null(strstr(f->group, "TAU_CALLPATH"));
    f = func(t, "A => blocked");
    assert_true(f->calls == 1 && f->incl_us == 0.4);
    f = func(t, "A => page_fault_user");
    assert_true(f->calls == 2 && f->incl_us == 0);
    f = func(t, "A => irq 24 virtio0");
    assert_true(f->calls == 1 && f->incl_us == 0.05);
    f = func(t, "prog => preempted");
    assert_true(f->calls == 1 && f->incl_us == 0.5);
    f = func(t, "prog => softirq TIMER");
    assert_true(f->calls == 1 && f->incl_us == 0.01);
    /* A's exclusive time loses its outermost kernel intervals: 4000 - 600 - 50 ns. */
    f = func(t, "A");
    assert_true(f->excl_us == 3.35 && f->incl_us == 4.0 && f->calls == 1);
    f = func(t, "prog");
    assert_true(f->excl_us == 6.0 - 0.5 - 0.01);
    assert_string_equal(func(t, "sys_getppid")->group, "KTAU_SYSCALL");
    assert_string_equal(func(t, "blocked")->group, "KTAU_SCHEDULE");
    assert_string_equal(func(t, "page_fault_user")->group, "KTAU_EXCEPTION");
    assert_string_equal(func(t, "softirq TIMER")->group, "KTAU_BH");
    assert_string_equal(func(t, "irq 24 virtio0")->group, "KTAU_IRQ");
    assert_int_equal(out.sums[0].syscalls, 1);
    assert_int_equal(out.sums[0].faults, 2);
    assert_int_equal(out.sums[0].blocked_ns, 400);
    assert_int_equal(out.sums[0].preempted_ns, 500);

    const struct ktau_pthread *t2 = &out.threads[1];
    assert_int_equal(t2->tid, 101);
    assert_int_equal(t2->thread, 1);
    f = func(t2, "prog => sys_futex");
    assert_true(f->calls == 1 && f->incl_us == 0.5);
    assert_false(out.sums[1].has_user);
    ktau_merge_free(&out);
    ktau_capture_free(&c);
}

static void tau_files_read_back(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ktau_tau.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct ktau_pthread t = {.node = 1, .context = 0, .thread = 2, .pid = 7, .tid = 9};
    assert_int_equal(ktau_pthread_add(&t, "main", "TAU_DEFAULT", 1, 2, 10.5, 100.25), 0);
    assert_int_equal(ktau_pthread_add(&t, "say \"hi\" there", "TAU_USER", 3, 0, 1e-3, 2e6), 0);
    assert_int_equal(
        ktau_pthread_add(&t, "main => sys_read", "KTAU_SYSCALL | TAU_CALLPATH", 4, 0, 0.125, 0.25),
        0);
    struct zepto_err err = {0};
    assert_int_equal(ktau_tau_write(dir, &t, &err), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/profile.1.0.2", dir);
    struct ktau_pthread r;
    if (ktau_tau_read(path, &r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.node, 1);
    assert_int_equal(r.thread, 2);
    assert_int_equal(r.pid, 7);
    assert_int_equal(r.tid, 9);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(r.f[i].name, t.f[i].name);
        assert_string_equal(r.f[i].group, t.f[i].group);
        assert_true(r.f[i].calls == t.f[i].calls && r.f[i].subrs == t.f[i].subrs);
        assert_true(r.f[i].excl_us == t.f[i].excl_us && r.f[i].incl_us == t.f[i].incl_us);
    }
    ktau_pthread_free(&r);
    /* Random damage: refused or read, never a crash (the sanitizer build checks). */
    char text[4096];
    FILE *in = fopen(path, "r");
    size_t len = fread(text, 1, sizeof(text), in);
    fclose(in);
    srand(11);
    for (int k = 0; k < 300; k++) {
        char mut[4096];
        memcpy(mut, text, len);
        for (int m = 0; m < 3; m++)
            mut[(size_t)rand() % len] = "\" \n0123456789.=GROUP|"[rand() % 20];
        FILE *out = fopen(path, "w");
        fwrite(mut, 1, k % 3 ? len : (size_t)rand() % len, out);
        fclose(out);
        if (!ktau_tau_read(path, &r, &err))
            ktau_pthread_free(&r);
    }
    /* A damaged file: the count says more functions than there are. */
    FILE *f = fopen(path, "w");
    fputs("5 templated_functions_MULTI_TIME\n# Name Calls Subrs Excl Incl ProfileCalls #\n"
          "\"main\" 1 0 1 1 0 GROUP=\"TAU_DEFAULT\"\n0 aggregates\n",
          f);
    fclose(f);
    assert_int_equal(ktau_tau_read(path, &r, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "profile.1.0.2"));
    f = fopen(path, "w");
    fputs("not a profile\n", f);
    fclose(f);
    assert_int_equal(ktau_tau_read(path, &r, &err), -EPROTO);
    unlink(path);
    rmdir(dir);
    ktau_pthread_free(&t);
}

/* A one-routine libktau file of thread tid in process pid, with an MPI rank when rank >= 0. */
static void user_file(struct ktau_raw_thread *u, uint32_t pid, uint32_t tid, int rank,
                      struct ktau_raw_routine *r, char **name, struct ktau_raw_event *ev)
{
    memset(u, 0, sizeof(*u));
    u->h.pid = pid;
    u->h.tid = tid;
    u->h.flags = (pid == tid ? KTAU_RAW_MAIN : 0) | (rank >= 0 ? KTAU_RAW_RANK : 0);
    u->h.rank = rank >= 0 ? (uint32_t)rank : 0;
    u->h.nroutines = 1;
    u->h.nevents = 1;
    u->h.end_ns = 1000;
    *r = (struct ktau_raw_routine){.calls = 1, .incl_ns = 1000, .excl_ns = 1000};
    *ev = (struct ktau_raw_event){0, 0, 0};
    u->routines = r;
    u->names = name;
    u->events = ev;
}

/* MPI numbering: a process whose files carry a rank is node <rank> (the rank's further processes
 * contexts 1, 2...), the others come after the highest rank; a kernel-only thread goes with its
 * process; with in.one_rank every process is that rank's, the root first. */
static void mpi_ranks_name_the_nodes(void **state)
{
    (void)state;
    /* pid 5: mpirun (the root, no rank); 10: rank 1; 11: rank 0; 12: rank 0's child; 20: none. */
    static const struct {
        uint32_t pid;
        int rank;
    } procs[] = {{5, -1}, {10, 1}, {11, 0}, {12, 0}, {20, -1}};
    struct ktau_raw_thread u[5];
    struct ktau_raw_routine r[5];
    struct ktau_raw_event ev[5];
    char prog[] = "prog";
    char *name[1] = {prog};
    for (int i = 0; i < 5; i++)
        user_file(&u[i], procs[i].pid, procs[i].pid, procs[i].rank, &r[i], name, &ev[i]);
    struct ktau_capture c = {0};
    c.names = calloc(1, sizeof(char *));
    c.names[0] = strdup("");
    c.nnames = 1;
    struct ktau_krec k = {.t_ns = 500, .pid = 10, .tid = 13, .kind = KR_PAGE_FAULT};
    assert_int_equal(ktau_capture_add(&c, &k), 0); /* a thread of rank 1 with no file */
    ktau_capture_sort(&c);

    struct ktau_merge_in in = {.users = u, .nusers = 5, .kernel = &c, .comm = "x", .root_pid = 5};
    struct ktau_merge_out out;
    struct zepto_err err = {0};
    assert_int_equal(ktau_merge(&in, &out, &err), 0);
    static const struct {
        uint32_t tid;
        int node, context, thread;
    } want[] = {{11, 0, 0, 0}, {12, 0, 1, 0}, {10, 1, 0, 0},
                {13, 1, 0, 1}, {5, 2, 0, 0},  {20, 3, 0, 0}};
    assert_int_equal(out.n, 6);
    for (size_t i = 0; i < 6; i++) {
        const struct ktau_pthread *t = &out.threads[i];
        if (t->tid != want[i].tid || t->node != want[i].node || t->context != want[i].context ||
            t->thread != want[i].thread)
            fail_msg("profile %zu: tid %u as %d.%d.%d, expected tid %u as %d.%d.%d", i, t->tid,
                     t->node, t->context, t->thread, want[i].tid, want[i].node, want[i].context,
                     want[i].thread);
    }
    assert_string_equal(out.sums[3].comm, "prog"); /* the kernel-only thread's process name */
    ktau_merge_free(&out);

    /* zepto ktau run as rank 7: all its processes are node 7, its program (the root) context 0. */
    in.one_rank = true;
    in.rank = 7;
    in.root_pid = 12;
    assert_int_equal(ktau_merge(&in, &out, &err), 0);
    static const uint32_t order[] = {12, 5, 10, 13, 11, 20};
    static const int ctx[] = {0, 1, 2, 2, 3, 4};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(out.threads[i].tid, order[i]);
        assert_int_equal(out.threads[i].node, 7);
        assert_int_equal(out.threads[i].context, ctx[i]);
    }
    ktau_merge_free(&out);

    /* Without ranks: today's numbering, the root node 0, then by pid. */
    for (int i = 0; i < 5; i++)
        u[i].h.flags &= ~KTAU_RAW_RANK;
    in.one_rank = false;
    in.root_pid = 20;
    assert_int_equal(ktau_merge(&in, &out, &err), 0);
    static const uint32_t plain[] = {20, 5, 10, 13, 11, 12};
    static const int pnode[] = {0, 1, 2, 2, 3, 4};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(out.threads[i].tid, plain[i]);
        assert_int_equal(out.threads[i].node, pnode[i]);
        assert_int_equal(out.threads[i].context, 0);
    }
    ktau_merge_free(&out);
    ktau_capture_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kernel_intervals_go_to_the_innermost_routine),
        cmocka_unit_test(tau_files_read_back),
        cmocka_unit_test(mpi_ranks_name_the_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
