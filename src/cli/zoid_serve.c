/*
 * `zepto zoid serve`: the ZOID daemon.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "zepto/zoid_daemon.h"

#define CMD "zoid serve"

static const char usage[] =
    "usage: zepto zoid serve --listen unix:PATH|tcp:HOST:PORT --export DIR [--threads N]\n"
    "                        [--plugin-dir DIR] [--token-file F] [--insecure]\n"
    "                        [--max-clients N] [--max-payload SIZE] [--max-in-flight N]\n"
    "                        [--idle DUR] [--consistency strict|relaxed]\n"
    "\n"
    "Runs the functions that clients call: an epoll loop for the connections and a pool of\n"
    "worker threads for the calls. Plugins (*.so in --plugin-dir) bring the functions; the core\n"
    "plugin (null, echo, sink, source, whoami) and the posix plugin (file forwarding beneath\n"
    "--export, for `zepto zoid run` and `zepto zoid mount`; docs/zoid-posix.md) are always\n"
    "there. SIGTERM lets the calls in flight finish, then exits. One log line on stderr per\n"
    "connect, disconnect and error.\n"
    "\n"
    "  --listen ADDR        unix:PATH (clients identified by the kernel) or tcp:HOST:PORT\n"
    "  --export DIR         the tree file forwarding serves (the posix plugin's root)\n"
    "  --threads N          worker threads (default: the CPU count)\n"
    "  --plugin-dir DIR     load every *.so there\n"
    "  --token-file F       tcp: clients prove they hold this token (file mode 0600)\n"
    "  --insecure           tcp without a token: only on a loopback address\n"
    "  --max-clients N      clients at once (default 4096)\n"
    "  --max-payload SIZE   largest frame payload (default 64M)\n"
    "  --max-in-flight N    calls in flight per client (default 64)\n"
    "  --idle DUR           drop clients idle this long (default 600s)\n"
    "  --consistency MODE   file forwarding's default for clients that do not choose: strict\n"
    "                       (every write reaches the file before it returns; the default) or\n"
    "                       relaxed (clients write small writes behind, until fsync/close)\n"
    "\n"
    "example:\n"
    "  zepto zoid serve --listen unix:/tmp/zoid.sock --export /scratch --plugin-dir ./plugins\n"
    "  zepto zoid serve --listen unix:/tmp/zoid.sock --export /scratch --consistency relaxed\n";

/* The daemon's log: "zepto zoid serve: <local time> <line>" on stderr. */
static void log_line(void *arg, int level, const char *line)
{
    (void)arg;
    (void)level;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
    fprintf(stderr, "zepto zoid serve: %s %s\n", when, line);
}

int cli_zoid_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, 0, 'l'},
        {"export", required_argument, 0, 'e'},
        {"threads", required_argument, 0, 't'},
        {"plugin-dir", required_argument, 0, 'p'},
        {"token-file", required_argument, 0, 'k'},
        {"insecure", no_argument, 0, 'I'},
        {"max-clients", required_argument, 0, 'c'},
        {"max-payload", required_argument, 0, 'm'},
        {"max-in-flight", required_argument, 0, 'f'},
        {"idle", required_argument, 0, 'i'},
        {"consistency", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    struct zoid_daemon_opts o = {.log = log_line};
    struct zepto_err err = {0};
    uint64_t v;
    int c;
    optind = 1;
    while ((c = cli_getopt(CMD, argc, argv, ":h", longopts)) != -1) {
        switch (c) {
        case 'l': o.listen = optarg; break;
        case 'e': o.export_dir = optarg; break;
        case 't':
            if (zb_parse_u64(optarg, 1, 1024, &v, &err))
                return cli_usage_error(CMD, "--threads %s", err.msg);
            o.threads = (unsigned)v;
            break;
        case 'p': o.plugin_dir = optarg; break;
        case 'k': o.token_file = optarg; break;
        case 'I': o.insecure = true; break;
        case 'c':
            if (zb_parse_u64(optarg, 1, 1000000, &v, &err))
                return cli_usage_error(CMD, "--max-clients %s", err.msg);
            o.max_clients = (unsigned)v;
            break;
        case 'm':
            if (zb_parse_size(optarg, &v, &err))
                return cli_usage_error(CMD, "--max-payload %s", err.msg);
            if (v < 4096 || v > (1u << 30))
                return cli_usage_error(CMD, "--max-payload '%s': from 4K to 1G", optarg);
            o.max_payload = (uint32_t)v;
            break;
        case 'f':
            if (zb_parse_u64(optarg, 1, 65536, &v, &err))
                return cli_usage_error(CMD, "--max-in-flight %s", err.msg);
            o.max_in_flight = (uint32_t)v;
            break;
        case 'i':
            if (zb_parse_duration_ns(optarg, &v, &err) || v < 1000000000u)
                return cli_usage_error(CMD, "--idle '%s': a duration of at least 1s", optarg);
            o.idle_s = (unsigned)(v / 1000000000u);
            break;
        case 'C':
            if (!strcmp(optarg, "strict"))
                o.consistency = 0;
            else if (!strcmp(optarg, "relaxed"))
                o.consistency = 1;
            else
                return cli_usage_error(CMD, "--consistency '%s': strict or relaxed", optarg);
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o.listen)
        return cli_usage_error(CMD, "missing --listen unix:PATH|tcp:HOST:PORT");
    if (!o.export_dir)
        return cli_usage_error(CMD, "missing --export DIR");
    if (zoid_daemon_run(&o, &err))
        return cli_fail(CMD, &err);
    return 0;
}
