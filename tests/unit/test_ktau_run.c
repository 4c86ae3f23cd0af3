/*
 * ktau_run() as a library (include/zepto/ktau_run.h), without the kernel capture: a program's
 * files in DIR and its status passed back, an earlier run refused unless forced, a program that
 * cannot be executed, a rank's own files, a rank hidden from the program; and ktau's settings
 * table.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "zepto/ktau_run.h"

static char dir[PATH_MAX];
static int warnings;

static void count_warning(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
    warnings++;
}

static bool exists(const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static struct ktau_run_opts opts(char *const *argv)
{
    return (struct ktau_run_opts){
        .dir = dir, .argv = argv, .kernel = false, .rank = -1, .warn = count_warning};
}

static void runs_and_writes_the_files(void **state)
{
    (void)state;
    char *argv[] = {"sh", "-c", "exit 3", NULL};
    struct ktau_run_opts o = opts(argv);
    struct ktau_run_result r;
    struct zepto_err err = {0};
    assert_int_equal(ktau_run(&o, &r, &err), 0);
    assert_int_equal(r.status, 3);
    assert_int_equal(r.exec_errno, 0);
    assert_int_equal(r.rank, -1);
    assert_false(r.kernel_on);
    assert_string_equal(r.kernel_note, "off (--no-kernel)");
    assert_true(r.threads >= 1);
    assert_true(exists("profile.0.0.0"));
    assert_true(exists("trace.json"));
    assert_true(exists("summary.txt"));
    assert_true(exists("ktau-raw"));

    /* Again: refused without force, done with it. */
    assert_int_equal(ktau_run(&o, &r, &err), -EEXIST);
    assert_non_null(strstr(err.msg, "--force"));
    o.force = true;
    assert_int_equal(ktau_run(&o, &r, &err), 0);
    assert_int_equal(r.status, 3);
}

static void a_program_that_cannot_run(void **state)
{
    (void)state;
    char *argv[] = {"/nonexistent/program", NULL};
    struct ktau_run_opts o = opts(argv);
    o.force = true;
    struct ktau_run_result r;
    struct zepto_err err = {0};
    assert_int_equal(ktau_run(&o, &r, &err), -ENOENT);
    assert_int_equal(r.exec_errno, ENOENT);
    assert_int_equal(r.status, 127);
    assert_non_null(strstr(err.msg, "/nonexistent/program"));
}

static void a_rank_owns_its_files(void **state)
{
    (void)state;
    char out[PATH_MAX + 16];
    snprintf(out, sizeof(out), "%s/out", dir);
    /* The program prints the rank variable it sees: empty when hidden. */
    char *argv[] = {"sh", "-c", "echo \"rank=$PMI_RANK\"", NULL};
    setenv("PMI_RANK", "5", 1);
    struct ktau_run_opts o = opts(argv);
    o.force = true;
    o.rank = KTAU_RUN_RANK_LAUNCHER;
    o.hide_rank = true;
    o.stdout_path = out;
    unlink(out);
    struct ktau_run_result r;
    struct zepto_err err = {0};
    assert_int_equal(ktau_run(&o, &r, &err), 0);
    unsetenv("PMI_RANK");
    assert_int_equal(r.rank, 5);
    assert_true(exists("profile.5.0.0"));
    assert_true(exists("trace.5.json"));
    assert_true(exists("summary.5.txt"));
    assert_true(exists("ktau-raw/rank.5"));
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_string_equal(line, "rank=\n");
}

static void the_settings_table(void **state)
{
    (void)state;
    const struct zepto_settings *t = ktau_settings();
    assert_string_equal(t->part, "ktau");
    assert_int_equal(t->count, KTAU_SET_COUNT);
    assert_string_equal(t->list[KTAU_SET_DIR].env, "KTAU_DIR");
    assert_string_equal(t->list[KTAU_SET_LIB].env, "ZEPTO_KTAU_LIB");
    assert_string_equal(t->list[KTAU_SET_MPI_LIB].env, "ZEPTO_KTAU_MPI_LIB");
    setenv("KTAU_LOG_MAX", "", 1);
    assert_string_equal(ktau_setting(KTAU_SET_LOG_MAX, "dflt"), "dflt");
    setenv("KTAU_LOG_MAX", "1M", 1);
    assert_string_equal(ktau_setting(KTAU_SET_LOG_MAX, "dflt"), "1M");
    unsetenv("KTAU_LOG_MAX");
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s/ktau-run-unit.%d", P_tmpdir, (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_and_writes_the_files),
        cmocka_unit_test(a_program_that_cannot_run),
        cmocka_unit_test(a_rank_owns_its_files),
        cmocka_unit_test(the_settings_table),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd))
        rc = rc ? rc : 1;
    return rc;
}
