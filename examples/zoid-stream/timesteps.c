/*
 * Example of zoid streams (docs/zoid-stream.md): N ranks (processes here; on a cluster, the
 * ranks of a job on compute nodes) each produce one slice of a field per time step; the daemon
 * on the I/O node sums the slices of each step, and the consumer (this program's parent, or any
 * program that can reach the daemon over TCP) receives whole, reduced time steps.
 *
 * usage: zoid_stream_timesteps ADDR [RANKS] [STEPS]      (ADDR: unix:PATH or tcp:HOST:PORT)
 * Prints one line per step: its sum over the ranks; exits 0 when every step was complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zepto/zoid.h"

#define CELLS 1024 /* doubles per slice */

static int rank_main(const char *addr, uint32_t rank, unsigned steps)
{
    struct zoid_client *c;
    struct zoid_stream *s;
    struct zepto_err err = {0};
    if (zoid_connect(addr, NULL, &c, &err) || zoid_stream_open(c, "field", NULL, &s, &err)) {
        fprintf(stderr, "rank %u: %s\n", rank, err.msg);
        return 1;
    }
    static double slice[CELLS];
    for (unsigned t = 0; t < steps; t++) {
        for (unsigned i = 0; i < CELLS; i++)
            slice[i] = rank + t; /* this rank's contribution to step t */
        if (zoid_stream_push(s, t, rank, slice, sizeof(slice), -1))
            return 1;
    }
    int rc = zoid_stream_end(s, -1);
    zoid_stream_close(s);
    zoid_close(c);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s ADDR [RANKS] [STEPS]\n", argv[0]);
        return 2;
    }
    const char *addr = argv[1];
    unsigned ranks = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
    unsigned steps = argc > 3 ? (unsigned)atoi(argv[3]) : 10;
    struct zoid_client *c;
    struct zoid_stream *s;
    struct zepto_err err = {0};
    struct zoid_stream_opts o = {.flags = ZOID_STREAM_CREATE | ZOID_STREAM_EXCL,
                                 .producers = ranks,
                                 .reduce = ZOID_STREAM_SUM_F64};
    if (zoid_connect(addr, NULL, &c, &err) || zoid_stream_open(c, "field", &o, &s, &err)) {
        fprintf(stderr, "consumer: %s\n", err.msg);
        return 1;
    }
    for (uint32_t r = 0; r < ranks; r++)
        if (fork() == 0)
            _exit(rank_main(addr, r, steps));
    struct zoid_stream_record rec;
    unsigned complete = 0;
    while (zoid_stream_read(s, &rec, -1) == 1) {
        const double *v = rec.data;
        printf("step %llu: %u of %u ranks, cell 0 = %g\n", (unsigned long long)rec.step, rec.rank,
               ranks, v[0]);
        complete += rec.rank == ranks;
    }
    while (wait(NULL) > 0)
        ;
    zoid_stream_delete(c, "field", &err);
    zoid_close(c);
    return complete == steps ? 0 : 1;
}
