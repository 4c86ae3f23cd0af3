/*
 * libktau-mpi's atomic events: the message sizes and partners of MPI calls, recorded through
 * ktau_event under TAU's names ("Message size sent to all nodes", "Message size sent to node 3",
 * "Message size for all-reduce"...). Shared by the C wrappers (mpi.c) and the Fortran ones
 * (mpi_fortran.c). Hidden inside libktau-mpi.so.
 */
#ifndef ZEPTO_KTAU_MPI_EVENTS_H
#define ZEPTO_KTAU_MPI_EVENTS_H

#include <mpi.h>

#define KM_HIDDEN __attribute__((visibility("hidden")))

/* The collectives' events, in TAU's words. */
enum km_coll {
    KM_BCAST,
    KM_REDUCE,
    KM_ALLREDUCE,
    KM_REDUCE_SCATTER,
    KM_SCAN,
    KM_ALLTOALL,
    KM_SCATTER,
    KM_GATHER,
    KM_ALLGATHER,
    KM_NCOLL
};

/* After MPI_Init: the rank for the profiles' names and the per-node event names (one each way
 * for every rank of MPI_COMM_WORLD, made once so that their addresses stay fixed). */
void km_after_init(void) KM_HIDDEN;

/* Bytes of count elements of type (0 when the type is not valid). */
double km_bytes(int count, MPI_Datatype type) KM_HIDDEN;

/* A message of bytes sent to rank dest of comm / received from rank src of comm
 * (MPI_PROC_NULL: nothing; MPI_ANY_SOURCE: only the all-nodes event). */
void km_sent(MPI_Comm comm, int dest, double bytes) KM_HIDDEN;
void km_received(MPI_Comm comm, int src, double bytes) KM_HIDDEN;

/* A collective's message size. */
void km_coll(enum km_coll which, double bytes) KM_HIDDEN;

#endif
