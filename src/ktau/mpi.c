/*
 * libktau-mpi: PMPI wrappers that time the MPI calls HPC codes make (point-to-point, probes, waits
 * and tests, collectives, init/finalize) as libktau routines named after the call ("MPI_Send"),
 * and name the process's profiles with its MPI rank (ktau_set_rank after MPI_Init). Preloaded by
 * `zepto ktau run --mpi`, or linked before libmpi (-lktau-mpi). Each wrapper is
 *
 *     int MPI_X(params) { ktau_start("MPI_X"); rc = PMPI_X(args); ktau_stop("MPI_X"); }
 *
 * with the prototype of Open MPI's mpi.h (the compiler checks it against the declaration there,
 * const-correctness included). Calls that move data also record its size and partner as TAU's
 * atomic events (mpi_events.c), after a successful call, inside its time. Open MPI's Fortran
 * bindings call PMPI_X directly: mpi_fortran.c wraps them.
 */
#include <mpi.h>

#include "ktau/mpi_events.h"
#include "zepto/ktau.h"

#define EXPORT __attribute__((visibility("default")))

/* One wrapper. The name is a static array so that start and stop pass libktau the same address
 * (libktau finds a routine by the address of its name first). */
#define KT_WRAP(X, PARAMS, ARGS)                                                                   \
    EXPORT int MPI_##X PARAMS;                                                                     \
    int MPI_##X PARAMS                                                                             \
    {                                                                                              \
        static const char name[] = "MPI_" #X;                                                      \
        ktau_start(name);                                                                          \
        int rc = PMPI_##X ARGS;                                                                    \
        ktau_stop(name);                                                                           \
        return rc;                                                                                 \
    }

/* One wrapper that records EVENT (a statement) after a successful call. */
#define KT_WRAPE(X, PARAMS, ARGS, EVENT)                                                           \
    EXPORT int MPI_##X PARAMS;                                                                     \
    int MPI_##X PARAMS                                                                             \
    {                                                                                              \
        static const char name[] = "MPI_" #X;                                                      \
        ktau_start(name);                                                                          \
        int rc = PMPI_##X ARGS;                                                                    \
        if (rc == MPI_SUCCESS) {                                                                   \
            EVENT;                                                                                 \
        }                                                                                          \
        ktau_stop(name);                                                                           \
        return rc;                                                                                 \
    }

/* A receive's size and source from its status (a local one stands in for MPI_STATUS_IGNORE). */
static void received(MPI_Comm comm, const MPI_Status *st)
{
    int bytes;
    if (PMPI_Get_count(st, MPI_BYTE, &bytes) == MPI_SUCCESS && bytes != MPI_UNDEFINED)
        kt_mpi_received(comm, st->MPI_SOURCE, bytes);
}

EXPORT int MPI_Init(int *argc, char ***argv);
int MPI_Init(int *argc, char ***argv)
{
    static const char name[] = "MPI_Init";
    ktau_start(name);
    int rc = PMPI_Init(argc, argv);
    if (rc == MPI_SUCCESS)
        kt_mpi_after_init(); /* the rank names this process's profiles */
    ktau_stop(name);
    return rc;
}

EXPORT int MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    static const char name[] = "MPI_Init_thread";
    ktau_start(name);
    int rc = PMPI_Init_thread(argc, argv, required, provided);
    if (rc == MPI_SUCCESS)
        kt_mpi_after_init(); /* the rank names this process's profiles */
    ktau_stop(name);
    return rc;
}

KT_WRAP(Finalize, (void), ())
KT_WRAP(Comm_rank, (MPI_Comm comm, int *rank), (comm, rank))
KT_WRAP(Comm_size, (MPI_Comm comm, int *size), (comm, size))

/* Point to point. */
KT_WRAPE(Send,
         (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm),
         (buf, count, datatype, dest, tag, comm),
         kt_mpi_sent(comm, dest, kt_mpi_bytes(count, datatype)))
KT_WRAPE(Ssend,
         (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm),
         (buf, count, datatype, dest, tag, comm),
         kt_mpi_sent(comm, dest, kt_mpi_bytes(count, datatype)))
KT_WRAPE(Bsend,
         (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm),
         (buf, count, datatype, dest, tag, comm),
         kt_mpi_sent(comm, dest, kt_mpi_bytes(count, datatype)))
KT_WRAPE(Rsend,
         (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm),
         (buf, count, datatype, dest, tag, comm),
         kt_mpi_sent(comm, dest, kt_mpi_bytes(count, datatype)))
EXPORT int MPI_Recv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
                    MPI_Status *status);
int MPI_Recv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
             MPI_Status *status)
{
    static const char name[] = "MPI_Recv";
    MPI_Status own;
    MPI_Status *st = status == MPI_STATUS_IGNORE ? &own : status;
    ktau_start(name);
    int rc = PMPI_Recv(buf, count, datatype, source, tag, comm, st);
    if (rc == MPI_SUCCESS)
        received(comm, st);
    ktau_stop(name);
    return rc;
}
KT_WRAPE(Isend,
         (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
          MPI_Request *request),
         (buf, count, datatype, dest, tag, comm, request),
         kt_mpi_sent(comm, dest, kt_mpi_bytes(count, datatype)))
KT_WRAPE(Issend,
         (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
          MPI_Request *request),
         (buf, count, datatype, dest, tag, comm, request),
         kt_mpi_sent(comm, dest, kt_mpi_bytes(count, datatype)))
/* The size of a non-blocking receive is the one posted (its status is only seen by a wait). */
KT_WRAPE(Irecv,
         (void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
          MPI_Request *request),
         (buf, count, datatype, source, tag, comm, request),
         kt_mpi_received(comm, source, kt_mpi_bytes(count, datatype)))
EXPORT int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                        int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                        int source, int recvtag, MPI_Comm comm, MPI_Status *status);
int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag,
                 void *recvbuf, int recvcount, MPI_Datatype recvtype, int source, int recvtag,
                 MPI_Comm comm, MPI_Status *status)
{
    static const char name[] = "MPI_Sendrecv";
    MPI_Status own;
    MPI_Status *st = status == MPI_STATUS_IGNORE ? &own : status;
    ktau_start(name);
    int rc = PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount,
                           recvtype, source, recvtag, comm, st);
    if (rc == MPI_SUCCESS) {
        kt_mpi_sent(comm, dest, kt_mpi_bytes(sendcount, sendtype));
        received(comm, st);
    }
    ktau_stop(name);
    return rc;
}
KT_WRAP(Sendrecv_replace,
        (void *buf, int count, MPI_Datatype datatype, int dest, int sendtag, int source,
         int recvtag, MPI_Comm comm, MPI_Status *status),
        (buf, count, datatype, dest, sendtag, source, recvtag, comm, status))
KT_WRAP(Probe, (int source, int tag, MPI_Comm comm, MPI_Status *status),
        (source, tag, comm, status))
KT_WRAP(Iprobe, (int source, int tag, MPI_Comm comm, int *flag, MPI_Status *status),
        (source, tag, comm, flag, status))

/* Completion. */
KT_WRAP(Wait, (MPI_Request * request, MPI_Status *status), (request, status))
KT_WRAP(Waitall, (int count, MPI_Request array_of_requests[], MPI_Status *array_of_statuses),
        (count, array_of_requests, array_of_statuses))
KT_WRAP(Waitany, (int count, MPI_Request array_of_requests[], int *index, MPI_Status *status),
        (count, array_of_requests, index, status))
KT_WRAP(Waitsome,
        (int incount, MPI_Request array_of_requests[], int *outcount, int array_of_indices[],
         MPI_Status array_of_statuses[]),
        (incount, array_of_requests, outcount, array_of_indices, array_of_statuses))
KT_WRAP(Test, (MPI_Request * request, int *flag, MPI_Status *status), (request, flag, status))
KT_WRAP(Testall,
        (int count, MPI_Request array_of_requests[], int *flag, MPI_Status array_of_statuses[]),
        (count, array_of_requests, flag, array_of_statuses))
KT_WRAP(Testany,
        (int count, MPI_Request array_of_requests[], int *index, int *flag, MPI_Status *status),
        (count, array_of_requests, index, flag, status))

/* Collectives. */
KT_WRAP(Barrier, (MPI_Comm comm), (comm))
KT_WRAPE(Bcast, (void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm),
         (buffer, count, datatype, root, comm),
         kt_mpi_coll(KT_MPI_BCAST, kt_mpi_bytes(count, datatype)))
KT_WRAPE(Reduce,
         (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, int root,
          MPI_Comm comm),
         (sendbuf, recvbuf, count, datatype, op, root, comm),
         kt_mpi_coll(KT_MPI_REDUCE, kt_mpi_bytes(count, datatype)))
KT_WRAPE(Allreduce,
         (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
          MPI_Comm comm),
         (sendbuf, recvbuf, count, datatype, op, comm),
         kt_mpi_coll(KT_MPI_ALLREDUCE, kt_mpi_bytes(count, datatype)))
KT_WRAPE(Gather,
         (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
          MPI_Datatype recvtype, int root, MPI_Comm comm),
         (sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm),
         kt_mpi_coll(KT_MPI_GATHER, kt_mpi_bytes(recvcount, recvtype)))
KT_WRAP(Gatherv,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
         const int recvcounts[], const int displs[], MPI_Datatype recvtype, int root,
         MPI_Comm comm),
        (sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, root, comm))
KT_WRAPE(Scatter,
         (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
          MPI_Datatype recvtype, int root, MPI_Comm comm),
         (sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm),
         kt_mpi_coll(KT_MPI_SCATTER, kt_mpi_bytes(recvcount, recvtype)))
KT_WRAP(Scatterv,
        (const void *sendbuf, const int sendcounts[], const int displs[], MPI_Datatype sendtype,
         void *recvbuf, int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm),
        (sendbuf, sendcounts, displs, sendtype, recvbuf, recvcount, recvtype, root, comm))
KT_WRAPE(Allgather,
         (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
          MPI_Datatype recvtype, MPI_Comm comm),
         (sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm),
         kt_mpi_coll(KT_MPI_ALLGATHER, kt_mpi_bytes(recvcount, recvtype)))
KT_WRAP(Allgatherv,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
         const int recvcounts[], const int displs[], MPI_Datatype recvtype, MPI_Comm comm),
        (sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, comm))
KT_WRAPE(Alltoall,
         (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
          MPI_Datatype recvtype, MPI_Comm comm),
         (sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm),
         kt_mpi_coll(KT_MPI_ALLTOALL, kt_mpi_bytes(recvcount, recvtype)))
KT_WRAP(Alltoallv,
        (const void *sendbuf, const int sendcounts[], const int sdispls[], MPI_Datatype sendtype,
         void *recvbuf, const int recvcounts[], const int rdispls[], MPI_Datatype recvtype,
         MPI_Comm comm),
        (sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm))
KT_WRAP(Reduce_scatter,
        (const void *sendbuf, void *recvbuf, const int recvcounts[], MPI_Datatype datatype,
         MPI_Op op, MPI_Comm comm),
        (sendbuf, recvbuf, recvcounts, datatype, op, comm))
KT_WRAPE(Scan,
         (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
          MPI_Comm comm),
         (sendbuf, recvbuf, count, datatype, op, comm),
         kt_mpi_coll(KT_MPI_SCAN, kt_mpi_bytes(count, datatype)))
KT_WRAPE(Exscan,
         (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
          MPI_Comm comm),
         (sendbuf, recvbuf, count, datatype, op, comm),
         kt_mpi_coll(KT_MPI_SCAN, kt_mpi_bytes(count, datatype)))

/* Non-blocking collectives. */
KT_WRAP(Ibarrier, (MPI_Comm comm, MPI_Request *request), (comm, request))
KT_WRAP(Ibcast,
        (void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm,
         MPI_Request *request),
        (buffer, count, datatype, root, comm, request))
KT_WRAP(Iallreduce,
        (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
         MPI_Comm comm, MPI_Request *request),
        (sendbuf, recvbuf, count, datatype, op, comm, request))
