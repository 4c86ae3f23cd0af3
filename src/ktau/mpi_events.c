/*
 * The message-size events of libktau-mpi (mpi_events.h). The per-node names are made once after
 * MPI_Init for the ranks of MPI_COMM_WORLD (at most KT_MPI_MAX_NODES; beyond, only the all-nodes
 * events are recorded) and never freed: libktau keys events by the name's address, so a name
 * must outlive every thread that used it. A partner in another communicator is translated to
 * its rank in MPI_COMM_WORLD, as TAU does (a group translation: costs more than the call on
 * MPI_COMM_WORLD, which needs none).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "ktau/mpi_events.h"
#include "zepto/ktau.h"

#define KT_MPI_MAX_NODES 65536
#define KT_MPI_NAME_LEN  48

static const char *const coll_names[KT_MPI_NCOLL] = {
    [KT_MPI_BCAST] = "Message size for broadcast",
    [KT_MPI_REDUCE] = "Message size for reduce",
    [KT_MPI_ALLREDUCE] = "Message size for all-reduce",
    [KT_MPI_REDUCE_SCATTER] = "Message size for reduce-scatter",
    [KT_MPI_SCAN] = "Message size for scan",
    [KT_MPI_ALLTOALL] = "Message size for all-to-all",
    [KT_MPI_SCATTER] = "Message size for scatter",
    [KT_MPI_GATHER] = "Message size for gather",
    [KT_MPI_ALLGATHER] = "Message size for all-gather",
};
static const char sent_all[] = "Message size sent to all nodes";
static const char recv_all[] = "Message size received from all nodes";

/* names[2 * rank] "sent to node <rank>", names[2 * rank + 1] "received from node <rank>";
 * published once (atomically) by kt_mpi_after_init, read-only afterwards. */
static char (*_Atomic names)[KT_MPI_NAME_LEN];
static _Atomic int nnodes;

void kt_mpi_after_init(void)
{
    int rank, size;
    if (PMPI_Comm_rank(MPI_COMM_WORLD, &rank) == MPI_SUCCESS)
        ktau_set_rank(rank);
    if (atomic_load(&names) || PMPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS || size <= 0)
        return;
    if (size > KT_MPI_MAX_NODES)
        size = KT_MPI_MAX_NODES;
    char(*n)[KT_MPI_NAME_LEN] = calloc((size_t)size * 2, KT_MPI_NAME_LEN);
    if (!n)
        return;
    for (int i = 0; i < size; i++) {
        snprintf(n[2 * i], KT_MPI_NAME_LEN, "Message size sent to node %d", i);
        snprintf(n[2 * i + 1], KT_MPI_NAME_LEN, "Message size received from node %d", i);
    }
    atomic_store(&nnodes, size);
    atomic_store(&names, n);
}

double kt_mpi_bytes(int count, MPI_Datatype type)
{
    int sz;
    if (count <= 0 || PMPI_Type_size(type, &sz) != MPI_SUCCESS)
        return 0;
    return (double)count * sz;
}

/* The rank in MPI_COMM_WORLD of rank r of comm, or -1. */
static int world_rank(MPI_Comm comm, int r)
{
    if (comm == MPI_COMM_WORLD)
        return r;
    MPI_Group g, wg;
    int w = MPI_UNDEFINED;
    if (PMPI_Comm_group(comm, &g) != MPI_SUCCESS)
        return -1;
    if (PMPI_Comm_group(MPI_COMM_WORLD, &wg) == MPI_SUCCESS) {
        PMPI_Group_translate_ranks(g, 1, &r, wg, &w);
        PMPI_Group_free(&wg);
    }
    PMPI_Group_free(&g);
    return w == MPI_UNDEFINED ? -1 : w;
}

static void partner(MPI_Comm comm, int r, int way, double bytes)
{
    char(*n)[KT_MPI_NAME_LEN] = atomic_load(&names);
    if (!n || r < 0)
        return;
    int w = world_rank(comm, r);
    if (w >= 0 && w < atomic_load(&nnodes))
        ktau_event(n[2 * w + way], bytes);
}

void kt_mpi_sent(MPI_Comm comm, int dest, double bytes)
{
    if (dest == MPI_PROC_NULL)
        return;
    ktau_event(sent_all, bytes);
    partner(comm, dest, 0, bytes);
}

void kt_mpi_received(MPI_Comm comm, int src, double bytes)
{
    if (src == MPI_PROC_NULL)
        return;
    ktau_event(recv_all, bytes);
    if (src != MPI_ANY_SOURCE)
        partner(comm, src, 1, bytes);
}

void kt_mpi_coll(enum kt_mpi_coll which, double bytes)
{
    ktau_event(coll_names[which], bytes);
}
