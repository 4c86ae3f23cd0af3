/*
 * libktau-mpi's atomic events: the message sizes and partners of MPI calls, recorded through
 * ktau_event under TAU's names ("Message size sent to all nodes", "Message size sent to node 3",
 * "Message size for all-reduce"...). Shared by the C wrappers (mpi.c) and the Fortran ones
 * (mpi_fortran.c). Hidden inside libktau-mpi.so.
 */
#ifndef ZEPTO_KTAU_MPI_EVENTS_H
#define ZEPTO_KTAU_MPI_EVENTS_H

#include <mpi.h>

#define KT_MPI_HIDDEN __attribute__((visibility("hidden")))

/* The collectives' events, in TAU's words. */
enum kt_mpi_coll {
    KT_MPI_BCAST,
    KT_MPI_REDUCE,
    KT_MPI_ALLREDUCE,
    KT_MPI_REDUCE_SCATTER,
    KT_MPI_SCAN,
    KT_MPI_ALLTOALL,
    KT_MPI_SCATTER,
    KT_MPI_GATHER,
    KT_MPI_ALLGATHER,
    KT_MPI_NCOLL
};

/* After MPI_Init: the rank for the profiles' names and the per-node event names (one each way
 * for every rank of MPI_COMM_WORLD, made once so that their addresses stay fixed). */
void kt_mpi_after_init(void) KT_MPI_HIDDEN;

/* Bytes of count elements of type (0 when the type is not valid). */
double kt_mpi_bytes(int count, MPI_Datatype type) KT_MPI_HIDDEN;

/* A message of bytes sent to rank dest of comm / received from rank src of comm
 * (MPI_PROC_NULL: nothing; MPI_ANY_SOURCE: only the all-nodes event). */
void kt_mpi_sent(MPI_Comm comm, int dest, double bytes) KT_MPI_HIDDEN;
void kt_mpi_received(MPI_Comm comm, int src, double bytes) KT_MPI_HIDDEN;

/* A collective's message size. */
void kt_mpi_coll(enum kt_mpi_coll which, double bytes) KT_MPI_HIDDEN;

#endif
