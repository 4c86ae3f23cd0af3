/*
 * `zepto noise collective`: execs zepto-noise-collective, the MPI program built next to zepto,
 * so that only that program loads MPI. Under mpirun every rank runs zepto, which becomes the MPI
 * program in the same process.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define CMD     "noise collective"
#define PROGRAM "zepto-noise-collective"

int cli_noise_collective(int argc, char **argv)
{
    char self[PATH_MAX], path[PATH_MAX + sizeof(PROGRAM)];
    if (cli_self_dir(self, sizeof(self)))
        return fprintf(stderr, "zepto %s: /proc/self/exe: %s\n", CMD, strerror(errno)), EXIT_FAIL;
    snprintf(path, sizeof(path), "%s%s", self, PROGRAM);
    argv[0] = path;
    (void)argc;
    execv(path, argv);
    fprintf(stderr,
            "zepto %s: %s: %s (zepto was built without MPI: install libopenmpi-dev, then "
            "rebuild)\n",
            CMD, path, strerror(errno));
    return EXIT_FAIL;
}
