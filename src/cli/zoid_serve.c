/*
 * `zepto zoid serve`: the ZOID daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/zoid.h"
#include "zepto/zoid_daemon.h"
#include "zepto/zoid_sockfwd.h"

#define CMD "zoid serve"

static const char usage[] =
    "usage: zepto zoid serve --listen unix:PATH|shm:PATH|tcp:HOST:PORT --export DIR\n"
    "                        [--threads N] [--plugin-dir DIR] [--token-file F] [--insecure]\n"
    "                        [--max-clients N] [--max-payload SIZE] [--max-in-flight N]\n"
    "                        [--idle DUR] [--consistency strict|relaxed]\n"
    "                        [--max-threads N] [--max-calls-per-uid N] [--max-conns-per-uid N]\n"
    "                        [--max-client-bytes SIZE] [--max-bytes SIZE]\n"
    "                        [--call-timeout DUR] [--send-timeout DUR] [--stall-timeout DUR]\n"
    "                        [--allow-connect CIDR:PORTS]...\n"
    "\n"
    "Runs the functions that clients call: an epoll loop for the connections and a pool of\n"
    "worker threads for the calls. Plugins (*.so in --plugin-dir) bring the functions; the core\n"
    "plugin (null, echo, sink, source, whoami) and the posix plugin (file forwarding beneath\n"
    "--export, for `zepto zoid run` and `zepto zoid mount`; docs/zoid-posix.md) are always\n"
    "there. SIGTERM lets the calls in flight finish, then exits. One log line on stderr per\n"
    "connect, disconnect and error.\n"
    "\n"
    "  --listen ADDR        unix:PATH (clients identified by the kernel), shm:PATH (the same,\n"
    "                       frames through shared memory: clients on this node) or\n"
    "                       tcp:HOST:PORT\n"
    "  --export DIR         the tree file forwarding serves (the posix plugin's root)\n"
    "  --threads N          worker threads at least (default: the CPU count)\n"
    "  --max-threads N      at most: the pool grows while calls wait (default 64)\n"
    "  --max-calls-per-uid N  calls of one uid running at once; the others wait while other\n"
    "                       uids' calls run (default: a quarter of --max-threads)\n"
    "  --max-conns-per-uid N  connections of one uid (default: half of --max-clients)\n"
    "  --max-client-bytes SIZE  payloads one client has in flight before it is no longer read\n"
    "                       until its calls complete (default 64M, plus one frame)\n"
    "  --max-bytes SIZE     payloads the daemon holds; a frame beyond waits (default 1G)\n"
    "  --call-timeout DUR   a call running longer is interrupted: ETIMEDOUT (default 30s)\n"
    "  --send-timeout DUR   drop a client that takes no reply bytes this long (default 2s)\n"
    "  --stall-timeout DUR  drop a client that begins a frame and sends nothing more of it\n"
    "                       this long (default 30s; a large payload left for its call: from\n"
    "                       when the call runs)\n"
    "  --plugin-dir DIR     load every *.so there\n"
    "  --allow-connect CIDR:PORTS  socket forwarding (`zoid run --sockets`) may connect there,\n"
    "                       e.g. 10.0.0.0/8:80,443 or [fd00::]/8:8000-8100 (repeatable;\n"
    "                       default none: every forwarded connect is refused, EACCES)\n"
    "  --token-file F       tcp: clients prove they hold this token (file mode 0600)\n"
    "  --insecure           tcp without a token: only on a loopback address\n"
    "  --max-clients N      clients at once (default 4096; 32 more for root and the daemon's\n"
    "                       uid)\n"
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

enum {
    OPT_LISTEN = CLI_OPT_LOCAL,
    OPT_EXPORT,
    OPT_THREADS,
    OPT_PLUGIN_DIR,
    OPT_INSECURE,
    OPT_MAX_CLIENTS,
    OPT_MAX_PAYLOAD,
    OPT_MAX_IN_FLIGHT,
    OPT_IDLE,
    OPT_MAX_THREADS,
    OPT_MAX_CALLS_PER_UID,
    OPT_MAX_CONNS_PER_UID,
    OPT_MAX_CLIENT_BYTES,
    OPT_MAX_BYTES,
    OPT_CALL_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_STALL_TIMEOUT,
    OPT_ALLOW_CONNECT,
};

/* A duration from 10 ms to 1 hour, in ms. */
static int parse_ms(const char *name, const char *arg, unsigned *ms, struct zepto_err *err)
{
    uint64_t v;
    if (zb_parse_duration_ns(arg, &v, err) || v < 10000000u || v > 3600000000000ull)
        return zepto_fail(err, EINVAL, "%s '%s': a duration from 10ms to 1h", name, arg);
    *ms = (unsigned)(v / 1000000u);
    return 0;
}

struct params {
    struct zoid_daemon_opts o;
    bool help;
};

/* One option's value into p->o: 0, or a negative errno with err set. */
static int parse_one(int c, const char *arg, struct params *p, struct zepto_err *err)
{
    struct zoid_daemon_opts *o = &p->o;
    uint64_t v;
    enum cli_consistency cons;
    int rc = 0;
    switch (c) {
    case OPT_LISTEN: o->listen = arg; break;
    case OPT_EXPORT: o->export_dir = arg; break;
    case OPT_THREADS:
        rc = cli_opt_named("--threads", zb_parse_u64(arg, 1, 1024, &v, err), err);
        o->threads = (unsigned)v;
        break;
    case OPT_PLUGIN_DIR: o->plugin_dir = arg; break;
    case CLI_OPT_TOKEN_FILE: rc = cli_opt_token_file(arg, &o->token_file, err); break;
    case OPT_INSECURE: o->insecure = true; break;
    case OPT_MAX_CLIENTS:
        rc = cli_opt_named("--max-clients", zb_parse_u64(arg, 1, 1000000, &v, err), err);
        o->max_clients = (unsigned)v;
        break;
    case OPT_MAX_PAYLOAD:
        if ((rc = cli_opt_named("--max-payload", zb_parse_size(arg, &v, err), err)))
            break;
        if (v < 4096 || v > (1u << 30))
            return zepto_fail(err, ERANGE, "--max-payload '%s': from 4K to 1G", arg);
        o->max_payload = (uint32_t)v;
        break;
    case OPT_MAX_IN_FLIGHT:
        rc = cli_opt_named("--max-in-flight", zb_parse_u64(arg, 1, 65536, &v, err), err);
        o->max_in_flight = (uint32_t)v;
        break;
    case OPT_IDLE:
        if (zb_parse_duration_ns(arg, &v, err) || v < 1000000000u)
            return zepto_fail(err, EINVAL, "--idle '%s': a duration of at least 1s", arg);
        o->idle_s = (unsigned)(v / 1000000000u);
        break;
    case OPT_MAX_THREADS:
        rc = cli_opt_named("--max-threads", zb_parse_u64(arg, 1, 4096, &v, err), err);
        o->max_threads = (unsigned)v;
        break;
    case OPT_MAX_CALLS_PER_UID:
        rc = cli_opt_named("--max-calls-per-uid", zb_parse_u64(arg, 1, 4096, &v, err), err);
        o->max_calls_per_uid = (unsigned)v;
        break;
    case OPT_MAX_CONNS_PER_UID:
        rc = cli_opt_named("--max-conns-per-uid", zb_parse_u64(arg, 1, 1000000, &v, err), err);
        o->max_conns_per_uid = (unsigned)v;
        break;
    case OPT_MAX_CLIENT_BYTES:
    case OPT_MAX_BYTES: {
        const char *name = c == OPT_MAX_BYTES ? "--max-bytes" : "--max-client-bytes";
        if ((rc = cli_opt_named(name, zb_parse_size(arg, &v, err), err)))
            break;
        if (v < (1u << 20) || v > (1ull << 40))
            return zepto_fail(err, ERANGE, "%s '%s': from 1M to 1T", name, arg);
        *(c == OPT_MAX_BYTES ? &o->max_bytes : &o->max_client_bytes) = v;
        break;
    }
    case OPT_CALL_TIMEOUT: rc = parse_ms("--call-timeout", arg, &o->call_timeout_ms, err); break;
    case OPT_SEND_TIMEOUT: rc = parse_ms("--send-timeout", arg, &o->send_timeout_ms, err); break;
    case OPT_STALL_TIMEOUT: rc = parse_ms("--stall-timeout", arg, &o->stall_timeout_ms, err); break;
    case CLI_OPT_CONSISTENCY:
        rc = cli_opt_consistency(arg, &cons, err);
        o->consistency = cons == CLI_CONSISTENCY_RELAXED;
        break;
    case OPT_ALLOW_CONNECT: rc = zoid_sockfwd_allow(arg, err); break;
    case 'h': p->help = true; break;
    default: return -EINVAL;
    }
    return rc;
}

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {
        {"listen", required_argument, 0, OPT_LISTEN},
        {"export", required_argument, 0, OPT_EXPORT},
        {"threads", required_argument, 0, OPT_THREADS},
        {"plugin-dir", required_argument, 0, OPT_PLUGIN_DIR},
        CLI_LONGOPT_TOKEN_FILE,
        {"insecure", no_argument, 0, OPT_INSECURE},
        {"max-clients", required_argument, 0, OPT_MAX_CLIENTS},
        {"max-payload", required_argument, 0, OPT_MAX_PAYLOAD},
        {"max-in-flight", required_argument, 0, OPT_MAX_IN_FLIGHT},
        {"idle", required_argument, 0, OPT_IDLE},
        {"max-threads", required_argument, 0, OPT_MAX_THREADS},
        {"max-calls-per-uid", required_argument, 0, OPT_MAX_CALLS_PER_UID},
        {"max-conns-per-uid", required_argument, 0, OPT_MAX_CONNS_PER_UID},
        {"max-client-bytes", required_argument, 0, OPT_MAX_CLIENT_BYTES},
        {"max-bytes", required_argument, 0, OPT_MAX_BYTES},
        {"call-timeout", required_argument, 0, OPT_CALL_TIMEOUT},
        {"send-timeout", required_argument, 0, OPT_SEND_TIMEOUT},
        {"stall-timeout", required_argument, 0, OPT_STALL_TIMEOUT},
        {"allow-connect", required_argument, 0, OPT_ALLOW_CONNECT},
        CLI_LONGOPT_CONSISTENCY,
        CLI_LONGOPT_HELP,
        {0},
    };
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        int rc = parse_one(c, optarg, p, err);
        if (rc || p->help)
            return rc;
    }
    if (cli_opts_no_operand(argc, argv, err))
        return -EINVAL;
    if (!p->o.listen)
        return zepto_fail(err, EINVAL, "missing --listen unix:PATH|shm:PATH|tcp:HOST:PORT");
    if (zoid_addr_check(p->o.listen, err)) {
        zepto_err_prefix(err, "--listen");
        return -EINVAL;
    }
    if (!p->o.export_dir)
        return zepto_fail(err, EINVAL, "missing --export DIR");
    if (p->o.max_threads && p->o.threads > p->o.max_threads)
        return zepto_fail(err, EINVAL, "--threads %u is above --max-threads %u", p->o.threads,
                          p->o.max_threads);
    return 0;
}

int cli_zoid_serve(int argc, char **argv)
{
    struct params p = {.o = {.log = log_line}};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (zoid_daemon_run(&p.o, &err))
        return cli_fail(CMD, &err);
    return 0;
}
