/* placeholder: being written */
#include "cli/cli.h"
int cli_noise_simulate(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_usage_error("noise simulate", "not yet");
}
