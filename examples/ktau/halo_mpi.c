/*
 * An MPI example for `zepto ktau`: a 1-D heat equation split between ranks, each step a halo
 * exchange with its neighbours (MPI_Sendrecv), a stencil sweep (KTAU_REGION "stencil") and, every
 * 10 steps, a global residual (MPI_Allreduce). Under `zepto ktau run --mpi` every MPI call is a
 * routine of its own, each rank's profile is named by its rank, and the kernel's share of each
 * (poll calls of Open MPI's progress engine, preemption when ranks share a CPU) shows under it.
 *
 *   make -C examples/ktau halo_mpi
 *   mpirun -np 4 zepto ktau run --mpi -o prof -- examples/ktau/halo_mpi 100000 200
 *   zepto ktau show prof
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "zepto/ktau.h"

static void sweep(const double *u, double *v, int n)
{
    KTAU_REGION("stencil");
    for (int i = 1; i <= n; i++)
        v[i] = u[i] + 0.25 * (u[i - 1] - 2 * u[i] + u[i + 1]);
}

static void halo(double *u, int n, int left, int right)
{
    MPI_Sendrecv(&u[1], 1, MPI_DOUBLE, left, 0, &u[n + 1], 1, MPI_DOUBLE, right, 0, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    MPI_Sendrecv(&u[n], 1, MPI_DOUBLE, right, 1, &u[0], 1, MPI_DOUBLE, left, 1, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int n = argc > 1 ? atoi(argv[1]) : 100000, steps = argc > 2 ? atoi(argv[2]) : 200;
    if (n < 1 || steps < 1) {
        if (!rank)
            fprintf(stderr, "usage: halo_mpi [POINTS-PER-RANK] [STEPS]\n");
        MPI_Finalize();
        return 2;
    }
    double *u = calloc((size_t)n + 2, sizeof(double)), *v = calloc((size_t)n + 2, sizeof(double));
    if (!u || !v)
        MPI_Abort(MPI_COMM_WORLD, 1);
    if (rank == 0)
        u[1] = 1e6; /* a hot spot at the left end */
    int left = rank ? rank - 1 : MPI_PROC_NULL, right = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
    double residual = 0;
    for (int s = 0; s < steps; s++) {
        halo(u, n, left, right);
        sweep(u, v, n);
        double *t = u;
        u = v;
        v = t;
        if (s % 10 == 9) {
            double local = 0;
            for (int i = 1; i <= n; i++)
                local += u[i] > v[i] ? u[i] - v[i] : v[i] - u[i];
            MPI_Allreduce(&local, &residual, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        }
    }
    if (!rank)
        printf("ranks=%d points=%d steps=%d residual=%g\n", size, n * size, steps, residual);
    free(u);
    free(v);
    MPI_Finalize();
    return 0;
}
