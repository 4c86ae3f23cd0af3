/*
 * `zepto zoid bench`: its options, and the result of the benchmark (src/zoid/core/bench.c,
 * zepto/zoid_bench.h) as text or JSON.
 */
#include <errno.h>
#include <stdio.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "zepto/zoid_bench.h"

#define CMD "zoid bench"

static const char usage[] =
    "usage: zepto zoid bench --server ADDR [--token-file F] [--json] [--quick] [--wait DUR]\n"
    "\n"
    "Measures a running daemon (zepto zoid serve) through its core plugin:\n"
    "  latency     round trip of a null call (nothing in, nothing out): median and p99 of\n"
    "              20,000 calls after 2,000 of warm-up\n"
    "  calls/s     1, 4, 16 and 64 clients, each its own connection and thread, making null\n"
    "              calls back to back for 1 s\n"
    "  bandwidth   4 KiB, 64 KiB, 1 MiB and 16 MiB payloads, one call at a time and 4 in\n"
    "              flight (threads sharing the connection), 0.25 s each: upload (sink: the\n"
    "              payload in, nothing back) and download (source: that many bytes back), in\n"
    "              MiB/s counted from the first call to the last reply\n"
    "About 8 s in all. Run it beside a raw-socket baseline: bench/zoid.sh does.\n"
    "\n"
    "  --server ADDR     unix:PATH, shm:PATH (same node, shared memory) or tcp:HOST:PORT\n"
    "  --token-file F    the daemon's token (tcp; file mode 0600; default $ZOID_TOKEN_FILE)\n"
    "  --json            one JSON object on stdout\n"
    "  --quick           about a tenth of the calls and of the time (a smoke test, ~1 s)\n"
    "  --wait DUR        retry connecting for this long while nobody listens (default 0s)\n"
    "\n"
    "example:\n"
    "  zepto zoid serve --listen unix:/tmp/zoid.sock --export /tmp &\n"
    "  zepto zoid bench --server unix:/tmp/zoid.sock --wait 5s\n"
    "  zepto zoid bench --server tcp:io0:7000 --token-file ~/.zoid.token --json | jq .clients\n";

static void print_text(const struct zoid_bench_result *r)
{
    char a[32], b[32], c[32], d[32];
    printf("zoid bench: %s, daemon payload limit %s\n\n", r->server,
           zb_fmt_size(r->max_payload, a, sizeof(a)));
    printf("null call round trip (%u calls after %u of warm-up):\n", r->latency_calls,
           r->warmup_calls);
    printf("  median %s, p99 %s, min %s, max %s\n\n", zb_fmt_duration(r->median_ns, a, sizeof(a)),
           zb_fmt_duration(r->p99_ns, b, sizeof(b)), zb_fmt_duration(r->min_ns, c, sizeof(c)),
           zb_fmt_duration(r->max_ns, d, sizeof(d)));
    printf("null calls per second (each client its own connection and thread, %s each):\n",
           zb_fmt_duration(r->clients_ns, a, sizeof(a)));
    printf("  %7s %12s\n", "clients", "calls/s");
    for (unsigned i = 0; i < ZOID_BENCH_NCOUNTS; i++)
        printf("  %7u %12.0f\n", r->rate[i].clients,
               zoid_bench_per_s(r->rate[i].calls, r->rate[i].ns));
    printf("\nbandwidth, MiB/s (one call at a time | %d calls in flight on one connection):\n",
           ZOID_BENCH_PIPELINE);
    printf("  %8s %14s %18s | %14s %18s\n", "payload", "upload (sink)", "download (source)",
           "upload (sink)", "download (source)");
    for (unsigned s = 0; s < ZOID_BENCH_NSIZES; s++) {
        printf("  %8s", zb_fmt_size(r->bw[2 * s].bytes, a, sizeof(a)));
        for (int k = 0; k < 4; k++) {
            const struct zoid_bench_bandwidth *bw = &(k < 2 ? r->bw : r->piped)[2 * s + (k & 1)];
            int width = k & 1 ? 18 : 14;
            if (k == 2)
                printf(" |");
            if (bw->skipped)
                printf(" %*s", width, "(above limit)");
            else
                printf(" %*.1f", width,
                       zoid_bench_per_s(bw->calls * bw->bytes, bw->ns) / (1 << 20));
        }
        printf("\n");
    }
}

/* ---- the command ---- */

enum { OPT_QUICK = CLI_OPT_LOCAL, OPT_WAIT };

struct params {
    struct zoid_bench_opts o;
    bool json, help;
};

static int parse(int argc, char **argv, struct params *p, struct zepto_err *err)
{
    static const struct option longopts[] = {
        CLI_LONGOPT_SERVER,
        CLI_LONGOPT_TOKEN_FILE,
        CLI_LONGOPT_JSON,
        {"quick", no_argument, 0, OPT_QUICK},
        {"wait", required_argument, 0, OPT_WAIT},
        CLI_LONGOPT_HELP,
        {0},
    };
    int c;
    cli_opts_begin();
    while ((c = cli_opts_next(argc, argv, longopts, false, err)) != -1) {
        int rc = 0;
        switch (c) {
        case CLI_OPT_SERVER: rc = cli_opt_server(optarg, &p->o.server, err); break;
        case CLI_OPT_TOKEN_FILE:
            rc = cli_opt_token_file(optarg, &p->o.copts.token_file, err);
            break;
        case CLI_OPT_JSON: p->json = true; break;
        case OPT_QUICK: p->o.quick = true; break;
        case OPT_WAIT:
            rc = cli_opt_named("--wait", zb_parse_duration_ns(optarg, &p->o.wait_ns, err), err);
            break;
        case 'h': p->help = true; return 0;
        default: return -EINVAL;
        }
        if (rc)
            return rc;
    }
    if (cli_opts_no_operand(argc, argv, err))
        return -EINVAL;
    if (!p->o.server)
        return zepto_fail(err, EINVAL, "missing --server unix:PATH|shm:PATH|tcp:HOST:PORT");
    if (zoid_bench_check(&p->o, err))
        return cli_opt_named("--server", -EINVAL, err);
    return 0;
}

int cli_zoid_bench(int argc, char **argv)
{
    struct params p = {0};
    struct zepto_err err = {0};
    if (parse(argc, argv, &p, &err))
        return cli_usage_err(CMD, &err);
    if (p.help) {
        fputs(usage, stdout);
        return 0;
    }
    struct zoid_bench_opts o = p.o;
    bool json = p.json;
    struct zoid_bench_result r;
    if (zoid_bench_run(&o, &r, &err))
        return cli_fail(CMD, &err);
    if (json)
        return zoid_bench_write_json(stdout, &r) ? EXIT_FAIL : 0;
    print_text(&r);
    return 0;
}
