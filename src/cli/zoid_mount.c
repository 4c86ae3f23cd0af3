/*
 * `zepto zoid mount`: the export of a `zepto zoid serve` daemon as a FUSE file system, for what the
 * interposer of `zepto zoid run` cannot see (static binaries, mmap, exec of forwarded files).
 * Options here; the mount itself in src/zoid/fuse.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/zoid.h"
#include "zepto/zoid_mount.h"

#define CMD "zoid mount"

static const char usage[] =
    "usage: zepto zoid mount --server ADDR [--consistency strict|relaxed] [--token-file F]\n"
    "                        [--foreground] [--threads N] [--max-opens-per-uid N] [--debug]\n"
    "                        [--passthrough]\n"
    "                        MOUNTPOINT\n"
    "\n"
    "Mounts the export of a `zepto zoid serve` daemon (its posix plugin) on MOUNTPOINT with\n"
    "FUSE, for every program: static binaries, mmap, exec of forwarded files. Detaches once\n"
    "mounted, like a mount helper; unmount with `fusermount3 -u MOUNTPOINT`, `umount`, or\n"
    "SIGTERM to the mount process. The daemon acts as the mount's uid; the kernel checks each\n"
    "user's permissions against the files' attributes (docs/zoid-mount.md).\n"
    "\n"
    "  --server ADDR        unix:PATH, shm:PATH or tcp:HOST:PORT of the daemon\n"
    "  --consistency MODE   strict: every write reaches the file before it returns, no\n"
    "                       attribute caching; relaxed: the kernel's writeback cache, written\n"
    "                       at fsync/close, attributes cached 1 s (default: the daemon's)\n"
    "  --token-file F       tcp: the shared token (mode 0600; default $ZOID_TOKEN_FILE)\n"
    "  --foreground         stay in the foreground (tests, systemd)\n"
    "  --threads N          most FUSE worker threads (default 16)\n"
    "  --max-opens-per-uid N  most files and directories one user other than root and the\n"
    "                       mount's uid holds open through the mount (default 1024, at most\n"
    "                       3520: the daemon's 4096 handles per session, less a reserve of 512\n"
    "                       for root); more opens fail with EMFILE\n"
    "  --debug              trace every FUSE request on stderr (implies --foreground)\n"
    "  --passthrough        strict mounts of a daemon on this node (shm:), as root, on Linux\n"
    "                       6.9 or later: the kernel reads and writes the daemon's open files\n"
    "                       itself, at local speed (docs/zoid-mount.md, \"Passthrough\")\n"
    "\n"
    "example:\n"
    "  zepto zoid mount --server unix:/run/zoid.sock /mnt/io\n"
    "  zepto zoid mount --server tcp:ionode:7000 --token-file ~/.zoid.token --consistency relaxed "
    "/scratch\n";

enum { OPT_FOREGROUND = CLI_OPT_LOCAL, OPT_THREADS, OPT_DEBUG, OPT_MAX_OPENS, OPT_PASSTHROUGH };

struct params {
    struct zoid_mount_opts o;
    bool help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {
        CLI_LONGOPT_SERVER,
        CLI_LONGOPT_CONSISTENCY,
        CLI_LONGOPT_TOKEN_FILE,
        {"foreground", no_argument, 0, OPT_FOREGROUND},
        {"threads", required_argument, 0, OPT_THREADS},
        {"debug", no_argument, 0, OPT_DEBUG},
        {"max-opens-per-uid", required_argument, 0, OPT_MAX_OPENS},
        {"passthrough", no_argument, 0, OPT_PASSTHROUGH},
        CLI_LONGOPT_HELP,
        {0},
    };
    struct zoid_mount_opts *o = &p->o;
    enum cli_consistency cons;
    uint64_t v;
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        int rc = 0;
        switch (c) {
        case CLI_OPT_SERVER: rc = cli_opt_server(optarg, &o->server, err); break;
        case CLI_OPT_CONSISTENCY:
            rc = cli_opt_consistency(optarg, &cons, err);
            o->consistency =
                cons == CLI_CONSISTENCY_RELAXED ? ZOID_MOUNT_RELAXED : ZOID_MOUNT_STRICT;
            break;
        case CLI_OPT_TOKEN_FILE: rc = cli_opt_token_file(optarg, &o->token_file, err); break;
        case OPT_FOREGROUND: o->foreground = true; break;
        case OPT_THREADS:
            rc = cli_opt_named("--threads", zb_parse_u64(optarg, 1, 1024, &v, err), err);
            o->threads = (unsigned)v;
            break;
        case OPT_DEBUG: o->debug = true; break;
        case OPT_MAX_OPENS:
            rc = cli_opt_named("--max-opens-per-uid", zb_parse_u64(optarg, 1, 3520, &v, err), err);
            o->max_opens_per_uid = (unsigned)v;
            break;
        case OPT_PASSTHROUGH: o->passthrough = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
        if (rc)
            return rc;
    }
    if (!o->server)
        return zepto_fail(err, EINVAL, "missing --server unix:PATH|shm:PATH|tcp:HOST:PORT");
    if (zoid_addr_check(o->server, err))
        return cli_opt_named("--server", -EINVAL, err);
    if (o->passthrough && strncmp(o->server, "shm:", 4))
        return zepto_fail(err, EINVAL,
                          "--passthrough needs the daemon on this node: --server shm:PATH");
    if (o->passthrough && o->consistency == ZOID_MOUNT_RELAXED)
        return zepto_fail(err, EINVAL,
                          "--passthrough needs --consistency strict (the kernel does not pass "
                          "through with its write-back cache)");
    if (cli_opts_one_operand(argc, argv, "MOUNTPOINT", err))
        return -EINVAL;
    o->mountpoint = argv[optind];
    return 0;
}

int cli_zoid_mount(int argc, char **argv)
{
    struct params p = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (zoid_mount(&p.o, &err))
        return cli_fail(CMD, &err);
    return 0;
}
