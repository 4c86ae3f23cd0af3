/* placeholder: being written */
#include "cli/cli.h"
int cli_zoid_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("zoid bench", "not yet");
}
