/*
 * `zepto zoid run`: not written yet (issue 6).
 */
#include <stdio.h>

#include "cli/cli.h"

int cli_zoid_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "zepto zoid run: not implemented yet\n");
    return 1;
}
