/*
 * `zepto zoid run`: runs an unmodified program with libzoid-preload.so preloaded, so that its
 * file calls under --mount go to a zoid daemon's posix plugin. Parses and checks the options;
 * zoid_run_prepare() (src/zoid/preload/launch.c) reaches the daemon once and sets the
 * environment, then the program is exec'd. Its exit status is passed through (127: not found,
 * 126: not executable).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "zepto/zoid.h"
#include "zepto/zoid_run.h"

#define CMD "zoid run"

static const char usage[] =
    "usage: zepto zoid run --server ADDR --mount PREFIX [--consistency strict|relaxed]\n"
    "                      [--token-file F] -- CMD ARGS...\n"
    "\n"
    "Runs CMD (unmodified, dynamically linked) with its file I/O under PREFIX forwarded to the\n"
    "posix plugin of a zoid daemon (`zepto zoid serve --export DIR`): PREFIX/a/b is DIR/a/b on\n"
    "the I/O node. Everything else stays local. See docs/zoid-run.md for what is forwarded.\n"
    "\n"
    "  --server ADDR       unix:PATH or tcp:HOST:PORT of the daemon\n"
    "  --mount PREFIX      absolute path under which files are forwarded (need not exist)\n"
    "  --consistency C     strict: every write reaches the file before it returns;\n"
    "                      relaxed: small writes are buffered and sent behind, errors surface\n"
    "                      at the next write, fsync or close (default: the daemon's)\n"
    "  --token-file F      the shared token for a tcp daemon (mode 0600)\n"
    "\n"
    "example:\n"
    "  zepto zoid serve --listen unix:/run/zoid.sock --export /scratch &\n"
    "  zepto zoid run --server unix:/run/zoid.sock --mount /io -- cp -a results /io/run42\n"
    "  zepto zoid run --server tcp:io0:7000 --token-file ~/.zoid.token --mount /io \\\n"
    "      --consistency relaxed -- ./solver --out /io/out.dat\n";

int cli_zoid_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, 0, 's'},
        {"mount", required_argument, 0, 'm'},
        {"consistency", required_argument, 0, 'c'},
        {"token-file", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    const char *server = NULL, *mount = NULL, *consistency = NULL, *token = NULL;
    int c;

    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, "+:h", longopts)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 'm': mount = optarg; break;
        case 'c': consistency = optarg; break;
        case 't': token = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (!server)
        return cli_usage_error(CMD, "missing --server unix:PATH|tcp:HOST:PORT");
    if (!mount)
        return cli_usage_error(CMD, "missing --mount PREFIX");
    if (cli_command_operand(CMD, argc, argv))
        return EXIT_USAGE;

    struct zepto_err err = {0};
    if (zoid_addr_check(server, &err))
        return cli_usage_error(CMD, "--server %s", err.msg);
    char prefix[PATH_MAX];
    if (mount[0] != '/')
        return cli_usage_error(CMD, "--mount '%s': must be an absolute path", mount);
    if (zoid_run_mount_normalise(mount, prefix, sizeof(prefix)))
        return cli_usage_error(CMD, "--mount '%s': must name a directory below / without . or ..",
                               mount);
    if (consistency && strcmp(consistency, "strict") && strcmp(consistency, "relaxed"))
        return cli_usage_error(CMD, "--consistency '%s': expected strict or relaxed", consistency);
    char token_abs[PATH_MAX];
    if (token) {
        if (!realpath(token, token_abs))
            return cli_usage_error(CMD, "--token-file '%s': %s", token, strerror(errno));
        token = token_abs;
    }

    struct zoid_run_opts o = {
        .server = server, .mount = prefix, .consistency = consistency, .token_file = token};
    if (zoid_run_prepare(&o, &err))
        return cli_fail(CMD, &err);

    execvp(argv[optind], argv + optind);
    int e = errno;
    fprintf(stderr, "zepto %s: %s: %s\n", CMD, argv[optind], strerror(e));
    return e == ENOENT ? 127 : 126;
}
