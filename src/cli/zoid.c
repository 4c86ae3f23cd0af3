/*
 * `zepto zoid`: the subcommands of the ZOID function-forwarding part.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "zepto/zoid_settings.h"

static const char help[] =
    "usage: zepto zoid COMMAND [ARGS...]\n"
    "\n"
    "ZOID function-call forwarding: a daemon on the I/O node runs the functions that programs on\n"
    "compute nodes call, as if they were local.\n"
    "\n"
    "commands:\n"
    "  serve   the daemon               zepto zoid serve --listen unix:/run/zoid.sock --export "
    "/io\n"
    "  gen     stubs from a C header    zepto zoid gen kv.h -o build/kv\n"
    "  bench   latency and bandwidth    zepto zoid bench --server unix:/run/zoid.sock\n"
    "  run     forward a program's I/O  zepto zoid run --server unix:/run/zoid.sock --mount /io -- "
    "cp a /io/b\n"
    "  mount   FUSE mount of an export  zepto zoid mount --server unix:/run/zoid.sock /mnt/io\n"
    "  stat    coalescing counters      zepto zoid stat --server unix:/run/zoid.sock --json\n"
    "\n"
    "example:\n"
    "  zepto zoid serve --listen tcp:0.0.0.0:7000 --token-file /etc/zoid.token --export /scratch\n"
    "\n"
    "Each command has --help.\n";

static const struct cli_cmd cmds[] = {
    {"serve", "run the daemon", cli_zoid_serve},
    {"gen", "generate stubs", cli_zoid_gen},
    {"bench", "measure a daemon", cli_zoid_bench},
    {"run", "run a program with forwarded I/O", cli_zoid_run},
    {"mount", "mount an export with FUSE", cli_zoid_mount},
    {"stat", "coalescing counters of a daemon", cli_zoid_stat},
    {"stream", "push to and read named streams", cli_zoid_stream},
    {0},
};

/* ZOID_TCP_TIMEOUT, read by the transport of every command (src/zoid/core/transport.c, which
 * falls back to its default on a bad value): a bad value is refused here, with its name. */
static bool tcp_timeout_ok(void)
{
    const char *v = zoid_setting(ZOID_SET_TCP_TIMEOUT, NULL);
    if (!v)
        return true;
    char *end;
    long s = strtol(v, &end, 10);
    if (end != v && !*end && s >= 1 && s <= 3600)
        return true;
    fprintf(stderr, "zepto zoid: %s '%s': whole seconds from 1 to 3600\n",
            zoid_setting_name(ZOID_SET_TCP_TIMEOUT), v);
    return false;
}

int cli_zoid(int argc, char **argv)
{
    if (!tcp_timeout_ok())
        return 2;
    return cli_dispatch("zoid", cmds, argc, argv, help);
}
