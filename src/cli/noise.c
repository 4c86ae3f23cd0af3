/*
 * `zepto noise`: the subcommands of the noise part.
 */
#include "cli/cli.h"

static const char help[] =
    "usage: zepto noise COMMAND [ARGS...]\n"
    "\n"
    "The Selfish detour benchmark: time taken from the application by the OS, per CPU.\n"
    "\n"
    "commands:\n"
    "  record    record detours on some CPUs        zepto noise record -d 10s -o node.znt\n"
    "  analyse   rates, histogram, periodic causes   zepto noise analyse node.znt\n"
    "  export    detours as CSV or LogGOPSim input   zepto noise export node.znt --format csv\n"
    "  play      inject recorded or synthetic detours into a program\n"
    "            zepto noise play --synthetic period=1ms,duration=50us -c 0 -- ./app\n"
    "  collective  time MPI collectives with and without injected noise (under mpirun)\n"
    "            mpirun -np 4 zepto noise collective --inject period=1ms,duration=50us\n"
    "  simulate  predict the slowdown of a collective at N ranks from a noise trace\n"
    "            zepto noise simulate node.znt --ranks 1000000 --phase random\n"
    "\n"
    "example:\n"
    "  zepto noise record -d 30s -o node.znt && zepto noise analyse node.znt\n"
    "\n"
    "Each command has --help.\n";

static const struct cli_cmd cmds[] = {
    {"record", "record detours", cli_noise_record},
    {"analyse", "analyse a trace", cli_noise_analyse},
    {"analyze", "analyse a trace", cli_noise_analyse},
    {"export", "export a trace", cli_noise_export},
    {"play", "inject detours", cli_noise_play},
    {"collective", "time MPI collectives under noise", cli_noise_collective},
    {"simulate", "simulate collectives under noise", cli_noise_simulate},
    {0},
};

int cli_noise(int argc, char **argv)
{
    return cli_dispatch("noise", cmds, argc, argv, help);
}
