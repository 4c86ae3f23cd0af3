/*
 * `zepto zoid stat`: the collective-coalescing counters of a running daemon's posix plugin
 * (calls received vs backend operations, bytes asked vs bytes read and written), as text or JSON
 * (zepto/zoid_coalesce.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/zoid.h"
#include "zepto/zoid_coalesce.h"

#define CMD "zoid stat"

static const char usage[] =
    "usage: zepto zoid stat --server ADDR [--token-file F] [--json]\n"
    "\n"
    "Prints the collective-coalescing counters of a daemon's posix plugin since it started:\n"
    "calls received and the backend operations the daemon made for them, bytes asked and bytes\n"
    "read or written (docs/zoid-posix.md, \"Collective coalescing\").\n"
    "\n"
    "  --server ADDR     unix:PATH, shm:PATH or tcp:HOST:PORT\n"
    "  --token-file F    the daemon's token (tcp; file mode 0600; default $ZOID_TOKEN_FILE)\n"
    "  --json            one JSON object on stdout\n"
    "\n"
    "example:\n"
    "  zepto zoid stat --server unix:/run/zoid.sock --json | jq .read_backend_bytes\n";

struct params {
    const char *server;
    const char *token_file;
    bool json, help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {
        CLI_LONGOPT_SERVER, CLI_LONGOPT_TOKEN_FILE, CLI_LONGOPT_JSON, CLI_LONGOPT_HELP, {0},
    };
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        int rc = 0;
        switch (c) {
        case CLI_OPT_SERVER: rc = cli_opt_server(optarg, &p->server, err); break;
        case CLI_OPT_TOKEN_FILE: rc = cli_opt_token_file(optarg, &p->token_file, err); break;
        case CLI_OPT_JSON: p->json = true; break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
        if (rc)
            return rc;
    }
    if (cli_opts_no_operand(argc, argv, err))
        return -EINVAL;
    if (!p->server)
        return zepto_fail(err, EINVAL, "missing --server unix:PATH|shm:PATH|tcp:HOST:PORT");
    if (zoid_addr_check(p->server, err))
        return cli_opt_named("--server", -EINVAL, err);
    return 0;
}

int cli_zoid_stat(int argc, char **argv)
{
    struct params p = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    struct zoid_client_opts co = {.token_file = p.token_file};
    struct zoid_client *c;
    if (zoid_connect(p.server, &co, &c, &err))
        return cli_fail(CMD, &err);
    struct zoid_coalesce_counter v[ZOID_COALESCE_MAX_COUNTERS];
    int n = zoid_coalesce_stat(c, v, ZOID_COALESCE_MAX_COUNTERS);
    zoid_close(c);
    if (n < 0) {
        fprintf(stderr, "zepto %s: %s: %s%s\n", CMD, p.server, strerror(-n),
                n == -ENOSYS || n == -ENOENT ? " (a daemon without coalescing counters)" : "");
        return EXIT_FAIL;
    }
    int shown = n;
    if (p.json) {
        printf("{\"schema_version\":1,\"server\":\"");
        for (const char *s = p.server; *s; s++)
            printf(*s == '"' || *s == '\\' ? "\\%c" : (unsigned char)*s < 0x20 ? "?" : "%c", *s);
        printf("\"");
        for (int i = 0; i < shown; i++)
            printf(",\"%s\":%" PRIu64, v[i].name, v[i].value);
        printf("}\n");
        return 0;
    }
    printf("zoid stat: %s (posix plugin, collective coalescing)\n", p.server);
    for (int i = 0; i < shown; i++)
        printf("  %-20s %14" PRIu64 "  %s\n", v[i].name, v[i].value, v[i].what);
    return 0;
}
