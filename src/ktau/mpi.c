/*
 * libktau-mpi: PMPI wrappers that time the MPI calls HPC codes make (point-to-point, probes, waits
 * and tests, collectives, init/finalize) as libktau routines named after the call ("MPI_Send"),
 * and name the process's profiles with its MPI rank (ktau_set_rank after MPI_Init). Preloaded by
 * `zepto ktau run --mpi`, or linked before libmpi (-lktau-mpi). Each wrapper is
 *
 *     int MPI_X(params) { ktau_start("MPI_X"); rc = PMPI_X(args); ktau_stop("MPI_X"); }
 *
 * with the prototype of Open MPI's mpi.h (the compiler checks it against the declaration there,
 * const-correctness included). Only C calls are seen: Open MPI's Fortran bindings call PMPI_X
 * directly (docs/ktau.md, "MPI").
 */
#include <mpi.h>

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

/* The rank in MPI_COMM_WORLD names this process's profiles (node = rank). */
static void tell_rank(void)
{
    int rank;
    if (PMPI_Comm_rank(MPI_COMM_WORLD, &rank) == MPI_SUCCESS)
        ktau_set_rank(rank);
}

EXPORT int MPI_Init(int *argc, char ***argv);
int MPI_Init(int *argc, char ***argv)
{
    static const char name[] = "MPI_Init";
    ktau_start(name);
    int rc = PMPI_Init(argc, argv);
    if (rc == MPI_SUCCESS)
        tell_rank();
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
        tell_rank();
    ktau_stop(name);
    return rc;
}

KT_WRAP(Finalize, (void), ())

/* Point to point. */
KT_WRAP(Send, (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm),
        (buf, count, datatype, dest, tag, comm))
KT_WRAP(Ssend,
        (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm),
        (buf, count, datatype, dest, tag, comm))
KT_WRAP(Bsend,
        (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm),
        (buf, count, datatype, dest, tag, comm))
KT_WRAP(Rsend,
        (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm),
        (buf, count, datatype, dest, tag, comm))
KT_WRAP(Recv,
        (void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
         MPI_Status *status),
        (buf, count, datatype, source, tag, comm, status))
KT_WRAP(Isend,
        (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, datatype, dest, tag, comm, request))
KT_WRAP(Issend,
        (const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, datatype, dest, tag, comm, request))
KT_WRAP(Irecv,
        (void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
         MPI_Request *request),
        (buf, count, datatype, source, tag, comm, request))
KT_WRAP(Sendrecv,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag,
         void *recvbuf, int recvcount, MPI_Datatype recvtype, int source, int recvtag,
         MPI_Comm comm, MPI_Status *status),
        (sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, source, recvtag,
         comm, status))
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
KT_WRAP(Bcast, (void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm),
        (buffer, count, datatype, root, comm))
KT_WRAP(Reduce,
        (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, int root,
         MPI_Comm comm),
        (sendbuf, recvbuf, count, datatype, op, root, comm))
KT_WRAP(Allreduce,
        (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
         MPI_Comm comm),
        (sendbuf, recvbuf, count, datatype, op, comm))
KT_WRAP(Gather,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
         MPI_Datatype recvtype, int root, MPI_Comm comm),
        (sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm))
KT_WRAP(Gatherv,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
         const int recvcounts[], const int displs[], MPI_Datatype recvtype, int root,
         MPI_Comm comm),
        (sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, root, comm))
KT_WRAP(Scatter,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
         MPI_Datatype recvtype, int root, MPI_Comm comm),
        (sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm))
KT_WRAP(Scatterv,
        (const void *sendbuf, const int sendcounts[], const int displs[], MPI_Datatype sendtype,
         void *recvbuf, int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm),
        (sendbuf, sendcounts, displs, sendtype, recvbuf, recvcount, recvtype, root, comm))
KT_WRAP(Allgather,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
         MPI_Datatype recvtype, MPI_Comm comm),
        (sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm))
KT_WRAP(Allgatherv,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf,
         const int recvcounts[], const int displs[], MPI_Datatype recvtype, MPI_Comm comm),
        (sendbuf, sendcount, sendtype, recvbuf, recvcounts, displs, recvtype, comm))
KT_WRAP(Alltoall,
        (const void *sendbuf, int sendcount, MPI_Datatype sendtype, void *recvbuf, int recvcount,
         MPI_Datatype recvtype, MPI_Comm comm),
        (sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm))
KT_WRAP(Alltoallv,
        (const void *sendbuf, const int sendcounts[], const int sdispls[], MPI_Datatype sendtype,
         void *recvbuf, const int recvcounts[], const int rdispls[], MPI_Datatype recvtype,
         MPI_Comm comm),
        (sendbuf, sendcounts, sdispls, sendtype, recvbuf, recvcounts, rdispls, recvtype, comm))
KT_WRAP(Reduce_scatter,
        (const void *sendbuf, void *recvbuf, const int recvcounts[], MPI_Datatype datatype,
         MPI_Op op, MPI_Comm comm),
        (sendbuf, recvbuf, recvcounts, datatype, op, comm))
KT_WRAP(Scan,
        (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
         MPI_Comm comm),
        (sendbuf, recvbuf, count, datatype, op, comm))
KT_WRAP(Exscan,
        (const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
         MPI_Comm comm),
        (sendbuf, recvbuf, count, datatype, op, comm))

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
