/*
 * `zepto ktau`: the subcommands of the kernel-aware profiler.
 */
#include "cli/cli.h"

static const char help[] =
    "usage: zepto ktau COMMAND [ARGS...]\n"
    "\n"
    "Profile a program with, under each of its routines, what the kernel did there: system\n"
    "calls, interrupts, softirqs, preemption and blocking, page faults (TAU + KTAU).\n"
    "\n"
    "commands:\n"
    "  run     run a program under the profiler     zepto ktau run -o prof -- ./app\n"
    "  show    the profile as a table per thread     zepto ktau show prof\n"
    "\n"
    "example:\n"
    "  cc $(pkg-config --cflags zepto-ktau) app.c $(pkg-config --libs zepto-ktau) -o app\n"
    "  zepto ktau run -o prof -- ./app && zepto ktau show prof\n"
    "\n"
    "Each command has --help.\n";

static const struct cli_cmd cmds[] = {
    {"run", "run a program under the profiler", cli_ktau_run},
    {"show", "print a profile", cli_ktau_show},
    {0},
};

int cli_ktau(int argc, char **argv)
{
    return cli_dispatch("ktau", cmds, argc, argv, help);
}
