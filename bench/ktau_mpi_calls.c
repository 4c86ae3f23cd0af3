/*
 * bench/ktau_mpi_calls.sh's C program: on each rank, N calls of MPI_Comm_rank (a wrapper and
 * nothing else: the timer pair) and N of MPI_Sendrecv of one double with itself (a wrapper that
 * also records two message-size events and two partner events), timed with CLOCK_MONOTONIC.
 * Prints rank 0's ns per call: "c comm_rank_ns=X sendrecv_ns=Y".
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int rank, r;
    double x = 1, y;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
    double t1 = now_ns();
    for (long i = 0; i < n; i++)
        MPI_Sendrecv(&x, 1, MPI_DOUBLE, rank, 0, &y, 1, MPI_DOUBLE, rank, 0, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
    double t2 = now_ns();
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        printf("c comm_rank_ns=%.1f sendrecv_ns=%.1f\n", (t1 - t0) / (double)n,
               (t2 - t1) / (double)n);
    MPI_Finalize();
    return 0;
}
