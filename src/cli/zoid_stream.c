/*
 * `zepto zoid stream`: the common uses of zoid streams from a shell (docs/zoid-stream.md):
 * push stdin into a stream as records, cat a stream to stdout, stat and rm.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/parse.h"
#include "cli/cli.h"
#include "zepto/zoid.h"

#define CMD "zoid stream"

static const char usage[] =
    "usage: zepto zoid stream push|cat|stat|rm [OPTIONS] NAME\n"
    "\n"
    "Named streams of the daemon's stream plugin (docs/zoid-stream.md):\n"
    "  push NAME < FILE   stdin as records of --record bytes, then end of stream\n"
    "  cat NAME > FILE    the records' bytes until the end of the stream (gaps and\n"
    "                     departed producers on stderr; exit 3 when some departed)\n"
    "  stat NAME          its counters     rm NAME   delete it (its owner or root)\n"
    "\n"
    "  --server ADDR      unix:PATH, shm:PATH or tcp:HOST:PORT (default $ZOID_SERVER)\n"
    "  --token-file F     the daemon's token (tcp)\n"
    "  --create           create the stream if it does not exist (push, cat)\n"
    "  --shared           at creation: other users may push and read it\n"
    "  --producers N      producers that end it (and contribute to each reduced step)\n"
    "  --reduce OP        none, concat, sum-f64, sum-i64 (with --producers), or\n"
    "                     plugin:NAME, a reduction a daemon plugin registered\n"
    "  --policy P         block (default), error or drop, when the stream is full\n"
    "  --limit BYTES      memory the daemon holds for it (default 64M)\n"
    "  --record BYTES     push: record size (default 65536)\n"
    "  --rank R           push: this producer's index (default 0)\n"
    "  --take             cat: take records as one of many consumers (fan-out)\n"
    "  --count N          cat: stop after N records (0: just open or create it)\n"
    "  --timeout MS       give up after this long waiting (default: none)\n"
    "\n"
    "example:\n"
    "  zepto zoid stream cat --server tcp:io0:7000 --token-file ~/.zoid.token --create obs "
    "> obs.dat &\n"
    "  zepto zoid stream push --server unix:/run/zoid.sock obs < frame.dat\n";

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    else if (*end == 'G' || *end == 'g')
        v <<= 30, end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int do_push(struct zoid_stream *s, uint64_t record, uint32_t rank, int timeout)
{
    unsigned char *buf = malloc(record);
    if (!buf)
        return -ENOMEM;
    uint64_t step = 0;
    int rc = 0;
    for (;;) {
        size_t n = 0;
        while (n < record) {
            ssize_t r = read(0, buf + n, record - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                if (r < 0)
                    rc = -errno;
                break;
            }
            n += (size_t)r;
        }
        if (rc || !n)
            break;
        rc = zoid_stream_push(s, step++, rank, buf, n, timeout);
        if (rc || n < record)
            break;
    }
    free(buf);
    return rc ? rc : zoid_stream_end(s, timeout);
}

/* A departure the daemon reported since the last: one line on stderr. */
static void report_departed(const char *name, uint32_t *seen, uint32_t now)
{
    if (now > *seen)
        fprintf(stderr,
                "zepto " CMD ": stream %s: %u producer%s departed without ending (connection "
                "gone); counted as ended\n",
                name, now - *seen, now - *seen == 1 ? "" : "s");
    *seen = now;
}

/* Standard output failed (disk full, closed pipe): says so; 2 for do_cat's caller. */
static int out_failed(const char *name)
{
    fprintf(stderr, "zepto " CMD ": stream %s: writing the records to standard output: %s\n", name,
            strerror(errno));
    return 2;
}

/* 0, 1 when the stream ended but some producer departed (exit status 3), 2 when standard output
 * failed (said), or -errno. */
static int do_cat(struct zoid_stream *s, const char *name, uint64_t count, int timeout)
{
    struct zoid_stream_record r;
    uint64_t got = 0;
    uint32_t departed = 0;
    int rc = 0;
    for (;;) {
        /* the next read may acknowledge what stdio still holds: into the file with it first */
        if (!zoid_stream_buffered(s) && fflush(stdout))
            return out_failed(name);
        if (got >= count || (rc = zoid_stream_read(s, &r, timeout)) != 1)
            break;
        report_departed(name, &departed, zoid_stream_departed(s));
        if (r.lost)
            fprintf(stderr, "zepto " CMD ": %llu records lost before seq %llu\n",
                    (unsigned long long)r.lost, (unsigned long long)r.seq);
        if (r.len && fwrite(r.data, 1, r.len, stdout) != r.len)
            return out_failed(name);
        got++;
    }
    report_departed(name, &departed, zoid_stream_departed(s));
    bool ended = rc == 0 && got < count;
    if (got == count)
        rc = 0;
    if (fflush(stdout))
        return out_failed(name);
    if (rc < 0)
        return rc;
    if (ended && departed) {
        fprintf(stderr, "zepto " CMD ": stream %s: ended incomplete: %u producer%s departed\n",
                name, departed, departed == 1 ? "" : "s");
        return 1;
    }
    return 0;
}

static void print_stat(const char *name, const struct zoid_stream_stat *t)
{
    printf("stream %s\n  owner uid %u%s%s\n  records %u (%llu bytes of %llu; daemon: %llu)\n"
           "  seq %llu..%llu  pushed %llu  delivered %llu  dropped %llu\n"
           "  producers %u (%u done)  blocked %u  consumers waiting %u  steps pending %u\n"
           "  last read %llu ms ago\n",
           name, t->owner, t->flags & 1 ? ", shared" : "", t->flags & 2 ? ", ended" : "",
           t->records, (unsigned long long)t->bytes, (unsigned long long)t->limit,
           (unsigned long long)t->daemon_bytes, (unsigned long long)t->oldest_seq,
           (unsigned long long)t->next_seq, (unsigned long long)t->pushed,
           (unsigned long long)t->delivered, (unsigned long long)t->dropped, t->producers,
           t->producers_done, t->producers_blocked, t->consumers_waiting, t->steps_pending,
           (unsigned long long)t->last_read_ms);
}

int cli_zoid_stream(int argc, char **argv)
{
    static const struct option lo[] = {
        {"server", 1, 0, 's'},  {"token-file", 1, 0, 't'}, {"create", 0, 0, 'c'},
        {"shared", 0, 0, 'S'},  {"producers", 1, 0, 'p'},  {"reduce", 1, 0, 'r'},
        {"policy", 1, 0, 'P'},  {"limit", 1, 0, 'l'},      {"record", 1, 0, 'R'},
        {"rank", 1, 0, 'k'},    {"take", 0, 0, 'T'},       {"count", 1, 0, 'n'},
        {"timeout", 1, 0, 'w'}, {"help", 0, 0, 'h'},       {0, 0, 0, 0}};
    const char *server = NULL, *token = NULL;
    struct zoid_stream_opts o = {0};
    uint64_t record = 65536, rank = 0, count = UINT64_MAX, v;
    long timeout = -1;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "push") && strcmp(verb, "cat") && strcmp(verb, "stat") && strcmp(verb, "rm"))
        return cli_usage_error(CMD, "'%s': not push, cat, stat or rm", verb);
    argc--, argv++;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 't': token = optarg; break;
        case 'c': o.flags |= ZOID_STREAM_CREATE; break;
        case 'S': o.flags |= ZOID_STREAM_SHARED; break;
        case 'T': o.flags |= ZOID_STREAM_TAKE; break;
        case 'p':
            if (parse_size(optarg, &v) || v > 4096)
                return cli_usage_error(CMD, "--producers '%s': a number from 0 to 4096", optarg);
            o.producers = (uint32_t)v;
            break;
        case 'r':
            if (!strcmp(optarg, "none"))
                o.reduce = ZOID_STREAM_NONE;
            else if (!strcmp(optarg, "concat"))
                o.reduce = ZOID_STREAM_CONCAT;
            else if (!strcmp(optarg, "sum-f64"))
                o.reduce = ZOID_STREAM_SUM_F64;
            else if (!strcmp(optarg, "sum-i64"))
                o.reduce = ZOID_STREAM_SUM_I64;
            else if (!strncmp(optarg, "plugin:", 7) && optarg[7]) {
                o.reduce = ZOID_STREAM_NAMED;
                o.reduce_name = optarg + 7;
            } else
                return cli_usage_error(
                    CMD, "--reduce '%s': none, concat, sum-f64, sum-i64 or plugin:NAME", optarg);
            break;
        case 'P':
            if (!strcmp(optarg, "block"))
                o.policy = ZOID_STREAM_BLOCK;
            else if (!strcmp(optarg, "error"))
                o.policy = ZOID_STREAM_ERROR;
            else if (!strcmp(optarg, "drop"))
                o.policy = ZOID_STREAM_DROP;
            else
                return cli_usage_error(CMD, "--policy '%s': block, error or drop", optarg);
            break;
        case 'l':
            if (parse_size(optarg, &o.limit) || o.limit < (64u << 10) || o.limit > (1u << 30))
                return cli_usage_error(CMD, "--limit '%s': from 64K to 1G", optarg);
            break;
        case 'R':
            if (parse_size(optarg, &record) || !record || record > (64u << 20))
                return cli_usage_error(CMD, "--record '%s': from 1 to 64M", optarg);
            break;
        case 'k':
            if (parse_size(optarg, &rank) || rank > UINT32_MAX)
                return cli_usage_error(CMD, "--rank '%s': not a whole number", optarg);
            break;
        case 'n':
            if (parse_size(optarg, &count))
                return cli_usage_error(CMD, "--count '%s': not a whole number", optarg);
            break;
        case 'w':
            if (parse_size(optarg, &v) || v > 86400000)
                return cli_usage_error(CMD, "--timeout '%s': milliseconds", optarg);
            timeout = (long)v;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_usage_error(CMD, "'%s': unknown option (see --help)", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(CMD, "%s: one stream NAME expected", verb);
    const char *name = argv[optind];
    /* The daemon's rules, checked here first: a bad name is the user's mistake (exit 2). */
    size_t nl = strlen(name);
    char shown[68];
    snprintf(shown, sizeof(shown), "%.64s%s", name, nl > 64 ? "..." : "");
    if (!nl || nl > ZOID_STREAM_NAME_MAX || strchr(name, '/') || strcmp(zb_printable(shown), name))
        return cli_usage_error(CMD,
                               "stream name '%s': 1 to %d bytes, no '/' and no control characters",
                               shown, ZOID_STREAM_NAME_MAX);
    struct zepto_err err = {0};
    struct zoid_client_opts co = {.token_file = token, .timeout_ms = -1};
    struct zoid_client *cl;
    if (zoid_connect(server, &co, &cl, &err))
        return cli_fail(CMD, &err);
    int rc = 0;
    if (!strcmp(verb, "stat")) {
        struct zoid_stream_stat t;
        rc = zoid_stream_stat(cl, name, &t, &err);
        uint32_t dp, dc;
        if (!rc)
            print_stat(name, &t);
        if (!rc && !zoid_stream_departures(cl, name, &dp, &dc, &err))
            printf("  departed: %u producers (without ending), %u consumers (undrained)\n", dp, dc);
        uint64_t rp, rb;
        if (!rc && !zoid_stream_refusals(cl, name, &rp, &rb, &err))
            printf("  refused for room: %llu pushes, %llu record bytes (sent again)\n",
                   (unsigned long long)rp, (unsigned long long)rb);
    } else if (!strcmp(verb, "rm")) {
        rc = zoid_stream_delete(cl, name, &err);
    } else {
        struct zoid_stream *s;
        if (!strcmp(verb, "push")) { /* a departure before the first record counts too */
            o.flags |= ZOID_STREAM_PRODUCER;
            o.key_val = (uint32_t)rank;
        }
        rc = zoid_stream_open(cl, name, &o, &s, &err);
        if (!rc) {
            int t = timeout < 0 ? -1 : (int)timeout;
            rc = !strcmp(verb, "push") ? do_push(s, record, (uint32_t)rank, t)
                                       : do_cat(s, name, count, t);
            if (rc == 1 || rc == 2) { /* reported by do_cat */
                zoid_stream_close(s);
                zoid_close(cl);
                return rc == 1 ? 3 : 1;
            }
            if (rc)
                zepto_fail(&err, -rc, "stream %s: %s", name,
                           rc == -EMSGSIZE  ? "record larger than the stream's limit"
                           : rc == -ENOBUFS ? "full (policy error)"
                           : rc == -EPIPE   ? "already ended"
                                            : strerror(-rc));
            zoid_stream_close(s);
        }
    }
    zoid_close(cl);
    return rc ? cli_fail(CMD, &err) : 0;
}
