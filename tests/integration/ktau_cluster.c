/*
 * The MPI program of tests/integration/cluster_ktau.sh: a 1-D halo exchange on a ring of ranks
 * with a known number of each call, where one rank (argv[1]) also draws argv[2] MiB from
 * getrandom(2) in 64 KiB calls inside a region "extra": kernel work (about 2.5 ms of system time
 * per MiB on the machine this was written on, all of it in the call), so that it is the rank with
 * the most kernel time. Busy-polling in Open MPI's progress engine (poll(2) with no timeout)
 * also costs kernel time, in proportion to the time a rank waits (and more on a loaded
 * machine): so the others wait for the noisy rank in an MPI_Ibarrier tested every millisecond.
 *
 * Per rank, STEPS = 50: MPI_Init 1, MPI_Comm_rank 1, MPI_Comm_size 1, MPI_Sendrecv 100 (2 a
 * step: 16 doubles = 128 bytes to the right, then to the left), MPI_Allreduce 5 (every 10th
 * step, 1 double), MPI_Ibarrier 1 (then MPI_Test every millisecond until it completes),
 * MPI_Finalize 1. Each rank prints "rank R of N on HOST".
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "zepto/ktau.h"

#define STEPS 50
#define NPTS  16

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int noisy = argc > 1 ? atoi(argv[1]) : -1;
    long extra = argc > 2 ? atol(argv[2]) * 16 : 0; /* 64 KiB calls */
    char host[64] = "?";
    gethostname(host, sizeof(host) - 1);
    printf("rank %d of %d on %s\n", rank, size, host);
    fflush(stdout);

    int left = (rank + size - 1) % size, right = (rank + 1) % size;
    double out[NPTS], in[NPTS], res = 0;
    for (int i = 0; i < NPTS; i++)
        out[i] = rank;
    for (int s = 1; s <= STEPS; s++) {
        MPI_Sendrecv(out, NPTS, MPI_DOUBLE, right, 0, in, NPTS, MPI_DOUBLE, left, 0, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        MPI_Sendrecv(out, NPTS, MPI_DOUBLE, left, 1, in, NPTS, MPI_DOUBLE, right, 1, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        if (s % 10 == 0) {
            double x = in[0], sum;
            MPI_Allreduce(&x, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            res += sum;
        }
    }
    if (rank == noisy) {
        ktau_start("extra");
        static char buf[65536];
        for (long i = 0; i < extra; i++)
            if (getrandom(buf, sizeof(buf), 0) < 0)
                return 1;
        ktau_stop("extra");
    }
    /* Wait for the noisy rank without busy-polling (a blocking MPI_Barrier would poll(2)
     * without pause, kernel time that grows with the wait and with the machine's load): an
     * MPI_Ibarrier tested every millisecond. */
    MPI_Request req;
    int done = 0;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    for (;;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    MPI_Finalize();
    return res < 0;
}
