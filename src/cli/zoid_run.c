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
#include "cli/opts.h"
#include "zepto/zoid.h"
#include "zepto/zoid_run.h"

#define CMD "zoid run"

static const char usage[] =
    "usage: zepto zoid run --server ADDR --mount PREFIX [--consistency strict|relaxed]\n"
    "                      [--sockets] [--token-file F] -- CMD ARGS...\n"
    "       zepto zoid run --server ADDR --sockets [--token-file F] -- CMD ARGS...\n"
    "\n"
    "Runs CMD (unmodified, dynamically linked) with its file I/O under PREFIX forwarded to the\n"
    "posix plugin of a zoid daemon (`zepto zoid serve --export DIR`): PREFIX/a/b is DIR/a/b on\n"
    "the I/O node. Everything else stays local. See docs/zoid-run.md for what is forwarded.\n"
    "\n"
    "  --server ADDR       unix:PATH, shm:PATH or tcp:HOST:PORT of the daemon\n"
    "  --mount PREFIX      absolute path under which files are forwarded (need not exist)\n"
    "  --consistency C     strict: every write reaches the file before it returns;\n"
    "                      relaxed: small writes are buffered and sent behind, errors surface\n"
    "                      at the next write, fsync or close (default: the daemon's)\n"
    "  --sockets           forward CMD's TCP connections (but loopback) and name lookups\n"
    "                      through the daemon, which connects where its --allow-connect\n"
    "                      allows (docs/zoid-sockets.md); --mount is then optional\n"
    "  --token-file F      the shared token for a tcp daemon (mode 0600)\n"
    "\n"
    "example:\n"
    "  zepto zoid serve --listen unix:/run/zoid.sock --export /scratch &\n"
    "  zepto zoid run --server unix:/run/zoid.sock --mount /io -- cp -a results /io/run42\n"
    "  zepto zoid run --server tcp:io0:7000 --token-file ~/.zoid.token --mount /io \\\n"
    "      --consistency relaxed -- ./solver --out /io/out.dat\n";

enum { OPT_MOUNT = CLI_OPT_LOCAL, OPT_SOCKETS };

struct params {
    const char *server, *mount, *consistency, *token;
    char prefix[PATH_MAX], token_abs[PATH_MAX];
    bool help, sockets;
};

/* The options, then the values checked: prefix normalised, token made absolute. */
static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {
        CLI_LONGOPT_SERVER,
        {"mount", required_argument, 0, OPT_MOUNT},
        CLI_LONGOPT_CONSISTENCY,
        CLI_LONGOPT_TOKEN_FILE,
        {"sockets", no_argument, 0, OPT_SOCKETS},
        CLI_LONGOPT_HELP,
        {0},
    };
    enum cli_consistency cons;
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, true, err)) != -1) {
        int rc = 0;
        switch (c) {
        case CLI_OPT_SERVER: rc = cli_opt_server(optarg, &p->server, err); break;
        case OPT_MOUNT: p->mount = optarg; break;
        case OPT_SOCKETS: p->sockets = true; break;
        case CLI_OPT_CONSISTENCY:
            rc = cli_opt_consistency(optarg, &cons, err);
            p->consistency = optarg;
            break;
        case CLI_OPT_TOKEN_FILE: rc = cli_opt_token_file(optarg, &p->token, err); break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
        if (rc)
            return rc;
    }
    if (!p->server)
        return zepto_fail(err, EINVAL, "missing --server unix:PATH|shm:PATH|tcp:HOST:PORT");
    if (!p->mount && !p->sockets)
        return zepto_fail(err, EINVAL, "missing --mount PREFIX (or --sockets)");
    if (cli_opts_command(argc, argv, err))
        return -EINVAL;
    if (zoid_addr_check(p->server, err))
        return cli_opt_named("--server", -EINVAL, err);
    if (p->mount && p->mount[0] != '/')
        return zepto_fail(err, EINVAL, "--mount '%s': must be an absolute path", p->mount);
    if (p->mount && zoid_run_mount_normalise(p->mount, p->prefix, sizeof(p->prefix)))
        return zepto_fail(err, EINVAL,
                          "--mount '%s': must name a directory below / without . or ..", p->mount);
    if (p->token) {
        if (!realpath(p->token, p->token_abs))
            return zepto_fail(err, errno, "--token-file '%s': %s", p->token, strerror(errno));
        p->token = p->token_abs;
    }
    return 0;
}

int cli_zoid_run(int argc, char **argv)
{
    struct params p = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    struct zoid_run_opts o = {.server = p.server,
                              .mount = p.mount ? p.prefix : NULL,
                              .consistency = p.consistency,
                              .token_file = p.token,
                              .sockets = p.sockets};
    if (zoid_run_prepare(&o, &err))
        return cli_fail(CMD, &err);

    execvp(argv[optind], argv + optind);
    int e = errno;
    fprintf(stderr, "zepto %s: %s: %s\n", CMD, argv[optind], strerror(e));
    return e == ENOENT ? 127 : 126;
}
