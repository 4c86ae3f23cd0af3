/*
 * ktau's table of environment variables: where `zepto ktau run` finds the libraries it preloads,
 * and what it (or the user) tells libktau in the program. Built into zepto and into libktau.so
 * (hidden there).
 */
#include "base/settings.h"
#include "zepto/ktau_run.h"

static const struct zepto_setting list[KTAU_SET_COUNT] = {
    [KTAU_SET_DIR] = {"KTAU_DIR", "DIR",
                      "where libktau writes its per-thread files (ktau run sets it; unset: "
                      "nothing is written)"},
    [KTAU_SET_EXCLUDE] = {"KTAU_EXCLUDE", "GLOB,GLOB",
                          "instrumented functions that libktau does not time"},
    [KTAU_SET_CLOCK] = {"KTAU_CLOCK", "tsc|monotonic",
                        "libktau's clock (default: the TSC when it is usable)"},
    [KTAU_SET_LOG_MAX] = {"KTAU_LOG_MAX", "SIZE",
                          "bytes of event log per thread in libktau (default 64M)"},
    [KTAU_SET_LIB] = {"ZEPTO_KTAU_LIB", "PATH",
                      "libktau.so that ktau run preloads (default: ../lib next to zepto)"},
    [KTAU_SET_MPI_LIB] = {"ZEPTO_KTAU_MPI_LIB", "PATH",
                          "libktau-mpi.so that ktau run --mpi preloads (default: next to "
                          "libktau.so)"},
};

static const struct zepto_settings table = {"ktau", list, KTAU_SET_COUNT};

const struct zepto_settings *ktau_settings(void)
{
    return &table;
}

const char *ktau_setting(enum ktau_setting s, const char *fallback)
{
    return zb_env(&table, (unsigned)s, fallback);
}
