/*
 * The well-behaved client of the daemon-limit tests: while another client abuses the daemon, it
 * makes a null call every --interval-ms for --seconds and prints, as one JSON line, what it saw:
 * how many calls, how many failed, the slowest and the 99th-percentile latency (a call that
 * failed counts with the time it took). With --reconnect every probe is a new connection (what a
 * new client sees: accept, handshake, first call).
 *
 *   zoid_victim --server unix:PATH [--seconds S] [--interval-ms N] [--reconnect]
 *               [--token-file F] [--timeout-ms N]
 *
 * Exit 0 when it ran (the verdict is the caller's), 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zepto/zoid.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int usage(const char *why)
{
    fprintf(stderr,
            "zoid_victim: %s\nusage: zoid_victim --server ADDR [--seconds S] "
            "[--interval-ms N] [--reconnect] [--token-file F] [--timeout-ms N]\n",
            why);
    return 2;
}

int main(int argc, char **argv)
{
    const char *server = NULL, *token = NULL;
    double seconds = 5;
    long interval_ms = 10, timeout_ms = 10000;
    int reconnect = 0;
    static const struct option longopts[] = {{"server", required_argument, NULL, 's'},
                                             {"seconds", required_argument, NULL, 'n'},
                                             {"interval-ms", required_argument, NULL, 'i'},
                                             {"reconnect", no_argument, NULL, 'r'},
                                             {"token-file", required_argument, NULL, 't'},
                                             {"timeout-ms", required_argument, NULL, 'o'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 's': server = optarg; break;
        case 't': token = optarg; break;
        case 'r': reconnect = 1; break;
        case 'n':
            seconds = strtod(optarg, &end);
            if (*end || !(seconds > 0 && seconds <= 3600))
                return usage("--seconds: a number of seconds in (0, 3600]");
            break;
        case 'i':
            interval_ms = strtol(optarg, &end, 10);
            if (*end || interval_ms < 0 || interval_ms > 60000)
                return usage("--interval-ms: 0..60000");
            break;
        case 'o':
            timeout_ms = strtol(optarg, &end, 10);
            if (*end || timeout_ms < 1 || timeout_ms > 600000)
                return usage("--timeout-ms: 1..600000");
            break;
        default: return usage("unknown option");
        }
    }
    if (!server || optind != argc)
        return usage(server ? "unexpected argument" : "--server is required");

    struct zoid_client_opts o = {
        .token_file = token, .timeout_ms = (int)timeout_ms, .connect_timeout_ms = (int)timeout_ms};
    size_t cap = 1024, n = 0, failures = 0;
    double *lat = malloc(cap * sizeof(*lat));
    if (!lat)
        return 1;
    char first_error[200] = "";
    struct zoid_client *cl = NULL;
    double end = now_ms() + seconds * 1e3;
    while (now_ms() < end) {
        double t0 = now_ms();
        int rc = 0;
        if (!cl) {
            struct zepto_err err = {0};
            rc = zoid_connect(server, &o, &cl, &err);
            if (rc && !first_error[0])
                snprintf(first_error, sizeof(first_error), "connect: %s", err.msg);
        }
        if (!rc) {
            size_t got = 0;
            rc = zoid_call(cl, 0, 0, NULL, 0, NULL, 0, &got, 0);
            if (rc && !first_error[0])
                snprintf(first_error, sizeof(first_error), "call: %s", zoid_strerror(rc));
        }
        if (cl && (rc || reconnect)) {
            zoid_close(cl);
            cl = NULL;
        }
        double dt = now_ms() - t0;
        if (n == cap) {
            double *more = realloc(lat, 2 * cap * sizeof(*lat));
            if (!more)
                break;
            lat = more;
            cap *= 2;
        }
        lat[n++] = dt;
        failures += rc != 0;
        if (interval_ms) {
            struct timespec ts = {interval_ms / 1000, (interval_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    if (cl)
        zoid_close(cl);
    qsort(lat, n, sizeof(*lat), cmp_double);
    double max = n ? lat[n - 1] : 0, p99 = n ? lat[(size_t)((double)(n - 1) * 0.99)] : 0;
    double p50 = n ? lat[n / 2] : 0;
    for (char *q = first_error; *q; q++)
        if (*q == '"' || *q == '\\')
            *q = '\'';
    printf("{\"calls\":%zu,\"failures\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"first_error\":\"%s\"}\n",
           n, failures, p50, p99, max, first_error);
    free(lat);
    return 0;
}
