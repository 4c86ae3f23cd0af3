/*
 * `zepto bigmem`: the subcommands of the big-memory part.
 */
#include "cli/cli.h"

static const char help[] =
    "usage: zepto bigmem COMMAND [ARGS...]\n"
    "\n"
    "Run unmodified programs with their heap in one pre-reserved, pre-faulted, optionally pinned\n"
    "huge-page region (ZeptoOS's big memory).\n"
    "\n"
    "commands:\n"
    "  run     run a program in big memory     zepto bigmem run --pages 2M --pin -- ./app\n"
    "  info    huge-page pools, THP, limits     zepto bigmem info\n"
    "  bench   GUPS and pointer chase per page size   zepto bigmem bench --size 1G\n"
    "\n"
    "example:\n"
    "  echo 1024 > /proc/sys/vm/nr_hugepages && zepto bigmem run --strict -- ./stream\n"
    "\n"
    "Each command has --help.\n";

static const struct cli_cmd cmds[] = {
    {"run", "run a program in big memory", cli_bigmem_run},
    {"info", "pools and limits", cli_bigmem_info},
    {"bench", "page-size benchmark", cli_bigmem_bench},
    {0},
};

int cli_bigmem(int argc, char **argv)
{
    return cli_dispatch("bigmem", cmds, argc, argv, help);
}
