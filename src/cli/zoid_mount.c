/*
 * `zepto zoid mount`: the export of a `zepto zoid serve` daemon as a FUSE file system, for what the
 * interposer of `zepto zoid run` cannot see (static binaries, mmap, exec of forwarded files).
 * Options here; the mount itself in src/zoid/fuse.
 */
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "zepto/zoid.h"
#include "zepto/zoid_mount.h"

#define CMD "zoid mount"

static const char usage[] =
    "usage: zepto zoid mount --server ADDR [--consistency strict|relaxed] [--token-file F]\n"
    "                        [--foreground] [--threads N] [--debug] MOUNTPOINT\n"
    "\n"
    "Mounts the export of a `zepto zoid serve` daemon (its posix plugin) on MOUNTPOINT with\n"
    "FUSE, for every program: static binaries, mmap, exec of forwarded files. Detaches once\n"
    "mounted, like a mount helper; unmount with `fusermount3 -u MOUNTPOINT`, `umount`, or\n"
    "SIGTERM to the mount process. The daemon acts as the mount's uid; the kernel checks each\n"
    "user's permissions against the files' attributes (docs/zoid-mount.md).\n"
    "\n"
    "  --server ADDR        unix:PATH or tcp:HOST:PORT of the daemon\n"
    "  --consistency MODE   strict: every write reaches the file before it returns, no\n"
    "                       attribute caching; relaxed: the kernel's writeback cache, written\n"
    "                       at fsync/close, attributes cached 1 s (default: the daemon's)\n"
    "  --token-file F       tcp: the shared token (mode 0600; default $ZOID_TOKEN_FILE)\n"
    "  --foreground         stay in the foreground (tests, systemd)\n"
    "  --threads N          most FUSE worker threads (default 16)\n"
    "  --debug              trace every FUSE request on stderr (implies --foreground)\n"
    "\n"
    "example:\n"
    "  zepto zoid mount --server unix:/run/zoid.sock /mnt/io\n"
    "  zepto zoid mount --server tcp:ionode:7000 --token-file ~/.zoid.token --consistency relaxed "
    "/scratch\n";

int cli_zoid_mount(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, 0, 's'},
        {"consistency", required_argument, 0, 'c'},
        {"token-file", required_argument, 0, 'k'},
        {"foreground", no_argument, 0, 'f'},
        {"threads", required_argument, 0, 't'},
        {"debug", no_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    struct zoid_mount_opts o = {0};
    struct zepto_err err = {0};
    uint64_t v;
    int c;
    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, ":h", longopts)) != -1) {
        switch (c) {
        case 's': o.server = optarg; break;
        case 'c':
            if (!strcmp(optarg, "strict"))
                o.consistency = ZOID_MOUNT_STRICT;
            else if (!strcmp(optarg, "relaxed"))
                o.consistency = ZOID_MOUNT_RELAXED;
            else
                return cli_usage_error(CMD, "--consistency '%s': strict or relaxed", optarg);
            break;
        case 'k': o.token_file = optarg; break;
        case 'f': o.foreground = true; break;
        case 't':
            if (zb_parse_u64(optarg, 1, 1024, &v, &err))
                return cli_usage_error(CMD, "--threads %s", err.msg);
            o.threads = (unsigned)v;
            break;
        case 'd': o.debug = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (!o.server)
        return cli_usage_error(CMD, "missing --server unix:PATH|tcp:HOST:PORT");
    if (zoid_addr_check(o.server, &err))
        return cli_usage_error(CMD, "--server %s", err.msg);
    if (optind >= argc)
        return cli_usage_error(CMD, "missing MOUNTPOINT");
    if (optind + 1 < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    o.mountpoint = argv[optind];
    if (zoid_mount(&o, &err))
        return cli_fail(CMD, &err);
    return 0;
}
