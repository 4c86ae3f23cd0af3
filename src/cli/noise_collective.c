/* placeholder: being written */
#include "cli/cli.h"
int cli_noise_collective(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_usage_error("noise collective", "not yet");
}
