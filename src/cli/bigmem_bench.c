/* placeholder: being written */
#include "cli/cli.h"
int cli_bigmem_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("bigmem bench", "not yet");
}
