/*
 * `zepto zoid mount`: not written yet (issue 6).
 */
#include <stdio.h>

#include "cli/cli.h"

int cli_zoid_mount(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "zepto zoid mount: not implemented yet\n");
    return 1;
}
