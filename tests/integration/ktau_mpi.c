/*
 * The MPI program of tests/integration/ktau_mpi.sh: two ranks make a known number of each MPI call
 * (the test counts them in the TAU profiles of each rank), a user region around some of them,
 * and rank 0 starts one child process (`true`, posix_spawnp: a process of the rank's own).
 *
 * Per rank: MPI_Init 1; rank 0 MPI_Send 100, rank 1 MPI_Recv 100; region "exchange" with 10
 * rounds of MPI_Isend + MPI_Irecv + MPI_Waitall (30 child calls); MPI_Allreduce 50;
 * MPI_Barrier 20 (the first after rank 1 slept 100 ms, so that rank 0 waits in it);
 * MPI_Finalize 1.
 *
 * `ktau_mpi bench N` instead times N MPI_Iprobe calls on each rank and prints rank 0's mean in ns
 * (bench/ktau_mpi.sh: the cost a wrapper adds).
 */
#include <mpi.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "zepto/ktau.h"

extern char **environ;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bench(long n)
{
    int rank, flag;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        MPI_Iprobe(MPI_ANY_SOURCE, 99, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    double t = (now_ns() - t0) / (double)n;
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        printf("iprobe_ns=%.1f\n", t);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc == 3 && !strcmp(argv[1], "bench")) {
        int rc = bench(atol(argv[2]));
        MPI_Finalize();
        return rc;
    }
    if (size != 2) {
        if (rank == 0)
            fprintf(stderr, "ktau_mpi: needs 2 ranks, has %d\n", size);
        MPI_Finalize();
        return 2;
    }
    int peer = 1 - rank;
    double buf[64] = {0}, in[64];

    for (int i = 0; i < 100; i++) {
        if (rank == 0)
            MPI_Send(buf, 64, MPI_DOUBLE, 1, 1, MPI_COMM_WORLD);
        else
            MPI_Recv(in, 64, MPI_DOUBLE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }

    ktau_start("exchange");
    for (int i = 0; i < 10; i++) {
        MPI_Request req[2];
        MPI_Isend(buf, 64, MPI_DOUBLE, peer, 2, MPI_COMM_WORLD, &req[0]);
        MPI_Irecv(in, 64, MPI_DOUBLE, peer, 2, MPI_COMM_WORLD, &req[1]);
        MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
    }
    ktau_stop("exchange");

    for (int i = 0; i < 50; i++) {
        double x = rank + i, sum;
        MPI_Allreduce(&x, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (sum != 2.0 * i + 1) {
            fprintf(stderr, "ktau_mpi: allreduce gave %g, expected %d\n", sum, 2 * i + 1);
            return 1;
        }
    }

    if (rank == 1)
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    for (int i = 0; i < 20; i++)
        MPI_Barrier(MPI_COMM_WORLD);

    if (rank == 0) {
        char *targv[] = {"true", NULL};
        pid_t pid;
        int ws = 0;
        if (posix_spawnp(&pid, "true", NULL, NULL, targv, environ) || waitpid(pid, &ws, 0) < 0 ||
            ws != 0) {
            fprintf(stderr, "ktau_mpi: could not run true\n");
            return 1;
        }
    }
    MPI_Finalize();
    printf("rank %d done\n", rank);
    return 0;
}
