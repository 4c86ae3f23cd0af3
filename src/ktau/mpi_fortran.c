/*
 * libktau-mpi's Fortran wrappers. Open MPI's Fortran bindings (mpif.h and `use mpi`: mpi_send_
 * and its aliases mpi_send__, mpi_send, MPI_SEND in libmpi_mpifh; `use mpi_f08`: mpi_send_f08_ in
 * libmpi_usempif08) call PMPI_Send directly, so the C wrappers (mpi.c) never see a Fortran
 * program's calls. Each symbol here interposes on one of those (preloaded, or linked before
 * libmpi), times the call as a routine named like the C one ("MPI_Send": the same routine when a
 * program calls both), records its message size and partner (mpi_events.c) and passes the call
 * to the binding's profiling entry (pmpi_send_ / pmpi_send_f08_), found with dlsym(RTLD_NEXT)
 * at its first use: libktau-mpi does not link the Fortran libraries, which only Fortran programs
 * load. Every argument is a pointer (Fortran passes by reference); the f08 handles (TYPE(MPI_Comm)
 * ...) hold the same integer as the old ones, and an absent optional ierror is NULL.
 *
 * Receives record the size posted (count x type) and the source argument: the status may be
 * MPI_STATUS_IGNORE, which only the Fortran library can recognise.
 */
#include <dlfcn.h>
#include <mpi.h>
#include <stdatomic.h>
#include <string.h>

#include "ktau/mpi_events.h"
#include "zepto/ktau.h"

#define EXPORT     __attribute__((visibility("default")))
#define KF_ID(...) __VA_ARGS__

/* The binding's profiling entry called sym (resolved once; NULL if the library is not there). */
static void *real(_Atomic(void *) *slot, const char *sym)
{
    void *p = atomic_load_explicit(slot, memory_order_relaxed);
    if (!p) {
        p = dlsym(RTLD_NEXT, sym);
        atomic_store_explicit(slot, p, memory_order_relaxed);
    }
    return p;
}

static MPI_Comm comm_of(const MPI_Fint *c)
{
    return PMPI_Comm_f2c(*c);
}

static double bytes_of(const MPI_Fint *count, const MPI_Fint *type)
{
    return kt_mpi_bytes(*count, PMPI_Type_f2c(*type));
}

/* One call: kf_<x>(f08, params) calls pmpi_<x>_ (or pmpi_<x>_f08_) between ktau_start and
 * ktau_stop, with EVENT after a successful call; then the five exported names. PARAMS must end
 * with MPI_Fint *ierr. */
#define KF_CALL(x, X, NAME, PARAMS, ARGS, EVENT)                                                   \
    static _Atomic(void *) kf_real_##x[2];                                                         \
    static const char kf_name_##x[] = NAME;                                                        \
    static void kf_##x(int f08, KF_ID PARAMS)                                                      \
    {                                                                                              \
        void(*fn) PARAMS;                                                                          \
        void *p = real(&kf_real_##x[f08], f08 ? "pmpi_" #x "_f08_" : "pmpi_" #x "_");              \
        if (!p) {                                                                                  \
            if (ierr)                                                                              \
                *ierr = MPI_ERR_INTERN;                                                            \
            return;                                                                                \
        }                                                                                          \
        memcpy(&fn, &p, sizeof(fn));                                                               \
        ktau_start(kf_name_##x);                                                                   \
        fn ARGS;                                                                                   \
        if (!ierr || *ierr == MPI_SUCCESS) {                                                       \
            EVENT;                                                                                 \
        }                                                                                          \
        ktau_stop(kf_name_##x);                                                                    \
    }                                                                                              \
    EXPORT void mpi_##x##_ PARAMS;                                                                 \
    EXPORT void mpi_##x##__ PARAMS;                                                                \
    EXPORT void mpi_##x PARAMS;                                                                    \
    EXPORT void X PARAMS;                                                                          \
    EXPORT void mpi_##x##_f08_ PARAMS;                                                             \
    void mpi_##x##_ PARAMS                                                                         \
    {                                                                                              \
        kf_##x(0, KF_ID ARGS);                                                                     \
    }                                                                                              \
    void mpi_##x##__ PARAMS                                                                        \
    {                                                                                              \
        kf_##x(0, KF_ID ARGS);                                                                     \
    }                                                                                              \
    void mpi_##x PARAMS                                                                            \
    {                                                                                              \
        kf_##x(0, KF_ID ARGS);                                                                     \
    }                                                                                              \
    void X PARAMS                                                                                  \
    {                                                                                              \
        kf_##x(0, KF_ID ARGS);                                                                     \
    }                                                                                              \
    void mpi_##x##_f08_ PARAMS                                                                     \
    {                                                                                              \
        kf_##x(1, KF_ID ARGS);                                                                     \
    }

#define NONE ((void)0)

/* Set-up, and the rank that names the profiles. */
KF_CALL(init, MPI_INIT, "MPI_Init", (MPI_Fint * ierr), (ierr), kt_mpi_after_init())
KF_CALL(init_thread, MPI_INIT_THREAD, "MPI_Init_thread",
        (MPI_Fint * required, MPI_Fint *provided, MPI_Fint *ierr), (required, provided, ierr),
        kt_mpi_after_init())
KF_CALL(finalize, MPI_FINALIZE, "MPI_Finalize", (MPI_Fint * ierr), (ierr), NONE)
KF_CALL(comm_rank, MPI_COMM_RANK, "MPI_Comm_rank",
        (MPI_Fint * comm, MPI_Fint *rank, MPI_Fint *ierr), (comm, rank, ierr), NONE)
KF_CALL(comm_size, MPI_COMM_SIZE, "MPI_Comm_size",
        (MPI_Fint * comm, MPI_Fint *size, MPI_Fint *ierr), (comm, size, ierr), NONE)

/* Point to point. */
KF_CALL(send, MPI_SEND, "MPI_Send",
        (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *dest, MPI_Fint *tag, MPI_Fint *comm,
         MPI_Fint *ierr),
        (buf, count, type, dest, tag, comm, ierr),
        kt_mpi_sent(comm_of(comm), *dest, bytes_of(count, type)))
KF_CALL(ssend, MPI_SSEND, "MPI_Ssend",
        (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *dest, MPI_Fint *tag, MPI_Fint *comm,
         MPI_Fint *ierr),
        (buf, count, type, dest, tag, comm, ierr),
        kt_mpi_sent(comm_of(comm), *dest, bytes_of(count, type)))
KF_CALL(recv, MPI_RECV, "MPI_Recv",
        (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *src, MPI_Fint *tag, MPI_Fint *comm,
         MPI_Fint *status, MPI_Fint *ierr),
        (buf, count, type, src, tag, comm, status, ierr),
        kt_mpi_received(comm_of(comm), *src, bytes_of(count, type)))
KF_CALL(isend, MPI_ISEND, "MPI_Isend",
        (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *dest, MPI_Fint *tag, MPI_Fint *comm,
         MPI_Fint *request, MPI_Fint *ierr),
        (buf, count, type, dest, tag, comm, request, ierr),
        kt_mpi_sent(comm_of(comm), *dest, bytes_of(count, type)))
KF_CALL(irecv, MPI_IRECV, "MPI_Irecv",
        (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *src, MPI_Fint *tag, MPI_Fint *comm,
         MPI_Fint *request, MPI_Fint *ierr),
        (buf, count, type, src, tag, comm, request, ierr),
        kt_mpi_received(comm_of(comm), *src, bytes_of(count, type)))
KF_CALL(sendrecv, MPI_SENDRECV, "MPI_Sendrecv",
        (void *sendbuf, MPI_Fint *sendcount, MPI_Fint *sendtype, MPI_Fint *dest, MPI_Fint *sendtag,
         void *recvbuf, MPI_Fint *recvcount, MPI_Fint *recvtype, MPI_Fint *src, MPI_Fint *recvtag,
         MPI_Fint *comm, MPI_Fint *status, MPI_Fint *ierr),
        (sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, src, recvtag,
         comm, status, ierr),
        kt_mpi_sent(comm_of(comm), *dest, bytes_of(sendcount, sendtype));
        kt_mpi_received(comm_of(comm), *src, bytes_of(recvcount, recvtype)))

/* Completion. */
KF_CALL(wait, MPI_WAIT, "MPI_Wait", (MPI_Fint * request, MPI_Fint *status, MPI_Fint *ierr),
        (request, status, ierr), NONE)
KF_CALL(waitall, MPI_WAITALL, "MPI_Waitall",
        (MPI_Fint * count, MPI_Fint *requests, MPI_Fint *statuses, MPI_Fint *ierr),
        (count, requests, statuses, ierr), NONE)

/* Collectives. */
KF_CALL(barrier, MPI_BARRIER, "MPI_Barrier", (MPI_Fint * comm, MPI_Fint *ierr), (comm, ierr), NONE)
KF_CALL(bcast, MPI_BCAST, "MPI_Bcast",
        (void *buf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *root, MPI_Fint *comm,
         MPI_Fint *ierr),
        (buf, count, type, root, comm, ierr), kt_mpi_coll(KT_MPI_BCAST, bytes_of(count, type)))
KF_CALL(reduce, MPI_REDUCE, "MPI_Reduce",
        (void *sendbuf, void *recvbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op,
         MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr),
        (sendbuf, recvbuf, count, type, op, root, comm, ierr),
        kt_mpi_coll(KT_MPI_REDUCE, bytes_of(count, type)))
KF_CALL(allreduce, MPI_ALLREDUCE, "MPI_Allreduce",
        (void *sendbuf, void *recvbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op,
         MPI_Fint *comm, MPI_Fint *ierr),
        (sendbuf, recvbuf, count, type, op, comm, ierr),
        kt_mpi_coll(KT_MPI_ALLREDUCE, bytes_of(count, type)))
