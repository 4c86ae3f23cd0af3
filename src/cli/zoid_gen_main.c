/*
 * zepto-zoid-gen: `zepto zoid gen` as a build tool of its own, so that the build can generate
 * the stubs of code that goes into zepto itself (the posix plugin) before zepto exists.
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_zoid_gen(argc, argv);
}
