/*
 * Example of zoid streams (docs/zoid-stream.md): N ranks (processes here; on a cluster, the
 * ranks of a job on compute nodes) each produce one slice of a field per time step; the daemon
 * on the I/O node sums the slices of each step, and the consumer (this program's parent, or any
 * program that can reach the daemon over TCP) receives whole, reduced time steps.
 *
 * usage: zoid_stream_timesteps ADDR [RANKS] [STEPS]      (ADDR: unix:PATH or tcp:HOST:PORT)
 *        zoid_stream_timesteps --consume ADDR RANKS STEPS  the consumer alone (creates the stream)
 *        zoid_stream_timesteps --produce ADDR RANK STEPS   one rank (RANK "slurm": $SLURM_PROCID)
 * Prints one line per step: how many ranks contributed and whether every cell is the expected
 * sum; exits 0 when every step was complete and right. A tcp daemon's token: $ZOID_TOKEN_FILE.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zepto/zoid.h"

#define CELLS 1024 /* doubles per slice */

static int connect_to(const char *addr, struct zoid_client **c, struct zepto_err *err)
{
    struct zoid_client_opts co = {.token_file = getenv("ZOID_TOKEN_FILE"), .timeout_ms = -1};
    return zoid_connect(addr, &co, c, err);
}

static int rank_main(const char *addr, uint32_t rank, unsigned steps)
{
    struct zoid_client *c;
    struct zoid_stream *s;
    struct zepto_err err = {0};
    if (connect_to(addr, &c, &err) || zoid_stream_open(c, "field", NULL, &s, &err)) {
        fprintf(stderr, "rank %u: %s\n", rank, err.msg);
        return 1;
    }
    static double slice[CELLS];
    for (unsigned t = 0; t < steps; t++) {
        for (unsigned i = 0; i < CELLS; i++)
            slice[i] = rank + t; /* this rank's contribution to step t */
        /* one slice per time step, sent as it is made */
        if (zoid_stream_push(s, t, rank, slice, sizeof(slice), -1) || zoid_stream_flush(s, -1))
            return 1;
    }
    int rc = zoid_stream_end(s, -1);
    zoid_stream_close(s);
    zoid_close(c);
    return rc ? 1 : 0;
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s ADDR [RANKS] [STEPS]\n"
            "       %s --consume ADDR RANKS STEPS\n"
            "       %s --produce ADDR RANK|slurm STEPS\n",
            argv0, argv0, argv0);
    return 2;
}

/* A count from 1 to max, or 0. */
static unsigned count_arg(const char *s, unsigned max)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return (*s && !*end && v >= 1 && v <= max) ? (unsigned)v : 0;
}

int main(int argc, char **argv)
{
    bool consume = argc > 1 && !strcmp(argv[1], "--consume");
    bool produce = argc > 1 && !strcmp(argv[1], "--produce");
    if (consume || produce) {
        argv++;
        argc--;
        if (argc != 4)
            return usage(argv[-1]);
    }
    if (argc < 2 || argc > 4)
        return usage(argv[0]);
    const char *addr = argv[1];
    unsigned steps = argc > 3 ? count_arg(argv[3], 1000000) : 10;
    if (!steps) {
        fprintf(stderr, "steps '%s': a number from 1 to 1000000\n", argv[3]);
        return 2;
    }
    if (produce) {
        const char *r = strcmp(argv[2], "slurm") ? argv[2] : getenv("SLURM_PROCID");
        char *end;
        unsigned long rank = r ? strtoul(r, &end, 10) : 0;
        if (!r || !*r || *end || rank >= 4096) {
            fprintf(stderr, "rank '%s': a number from 0 to 4095 (slurm: $SLURM_PROCID)\n",
                    r ? r : "(SLURM_PROCID unset)");
            return 2;
        }
        return rank_main(addr, (uint32_t)rank, steps);
    }
    unsigned ranks = argc > 2 ? count_arg(argv[2], 4096) : 4;
    if (!ranks) {
        fprintf(stderr, "ranks '%s': a number from 1 to 4096\n", argv[2]);
        return 2;
    }
    struct zoid_client *c;
    struct zoid_stream *s;
    struct zepto_err err = {0};
    struct zoid_stream_opts o = {.flags = ZOID_STREAM_CREATE | ZOID_STREAM_EXCL,
                                 .producers = ranks,
                                 .reduce = ZOID_STREAM_SUM_F64};
    if (connect_to(addr, &c, &err) || zoid_stream_open(c, "field", &o, &s, &err)) {
        fprintf(stderr, "consumer: %s\n", err.msg);
        return 1;
    }
    for (uint32_t r = 0; !consume && r < ranks; r++)
        if (fork() == 0)
            _exit(rank_main(addr, r, steps));
    struct zoid_stream_record rec;
    unsigned complete = 0, right = 0;
    while (zoid_stream_read(s, &rec, -1) == 1) {
        double want = (double)ranks * (ranks - 1) / 2 + (double)ranks * (double)rec.step;
        const double *v = rec.data;
        bool ok = rec.len == sizeof(double) * CELLS;
        for (unsigned i = 0; ok && i < CELLS; i++)
            ok = v[i] == want;
        printf("step %llu: %u of %u ranks, sum %s (cell 0 = %g, want %g)\n",
               (unsigned long long)rec.step, rec.rank, ranks, ok ? "ok" : "WRONG",
               rec.len >= sizeof(double) ? v[0] : 0.0, want);
        complete += rec.rank == ranks;
        right += ok;
    }
    if (zoid_stream_departed(s))
        printf("%u ranks departed without ending\n", zoid_stream_departed(s));
    fflush(stdout);
    while (!consume && wait(NULL) > 0)
        ;
    zoid_stream_close(s);
    zoid_stream_delete(c, "field", &err);
    zoid_close(c);
    return complete == steps && right == steps ? 0 : 1;
}
