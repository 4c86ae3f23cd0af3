! The Fortran MPI program of tests/integration/ktau_fortran.sh: a 1-D halo exchange (mpif.h
! bindings, or mpi_f08 when built with -DKTAU_F08) that makes a known number of each call, so
! that the test can count them in the TAU profiles libktau-mpi writes for each rank.
!
! Per rank, with STEPS=20 on 2 ranks (neighbours left/right on a ring):
!   MPI_Init 1, MPI_Comm_rank 1, MPI_Comm_size 1, MPI_Finalize 1, MPI_Barrier 2;
!   each step: 1 MPI_Sendrecv to the right (8 doubles = 64 bytes), 1 MPI_Isend + 1 MPI_Irecv to
!   and from the left (16 doubles = 128 bytes), 1 MPI_Waitall; every 5th step 1 MPI_Allreduce (1
!   double); rank 0 then 1 MPI_Send (32 doubles) to rank 1, rank 1 1 MPI_Recv; 1 MPI_Wait; 1
!   MPI_Bcast (4 integers), 1 MPI_Reduce (1 double).
! Prints "ranks=N sum=S" from rank 0 (S is checked).
program ktau_halo
#ifdef KTAU_F08
  use mpi_f08
  implicit none
  type(MPI_Request) :: req(2), r1
  type(MPI_Status) :: st
#else
  implicit none
  include 'mpif.h'
  integer :: req(2), r1
  integer :: st(MPI_STATUS_SIZE)
#endif
  integer, parameter :: steps = 20
  integer :: ierr, rank, nranks, left, right, i, n4(4)
  double precision :: a(8), b(8), c(16), d(16), big(32), x, total, y

  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nranks, ierr)
  left = mod(rank - 1 + nranks, nranks)
  right = mod(rank + 1, nranks)
  a = rank
  c = rank
  total = 0
  call MPI_Barrier(MPI_COMM_WORLD, ierr)
  do i = 1, steps
    call MPI_Sendrecv(a, 8, MPI_DOUBLE_PRECISION, right, 1, b, 8, MPI_DOUBLE_PRECISION, left, 1, &
                      MPI_COMM_WORLD, st, ierr)
    call MPI_Isend(c, 16, MPI_DOUBLE_PRECISION, left, 2, MPI_COMM_WORLD, req(1), ierr)
    call MPI_Irecv(d, 16, MPI_DOUBLE_PRECISION, right, 2, MPI_COMM_WORLD, req(2), ierr)
    call MPI_Waitall(2, req, MPI_STATUSES_IGNORE, ierr)
    if (mod(i, 5) == 0) then
      x = b(1) + d(1)
      call MPI_Allreduce(x, y, 1, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD, ierr)
      total = total + y
    end if
  end do
  big = 1
  if (rank == 0) then
    call MPI_Send(big, 32, MPI_DOUBLE_PRECISION, 1, 3, MPI_COMM_WORLD, ierr)
  else if (rank == 1) then
    call MPI_Recv(big, 32, MPI_DOUBLE_PRECISION, 0, 3, MPI_COMM_WORLD, st, ierr)
  end if
  call MPI_Isend(a, 1, MPI_DOUBLE_PRECISION, rank, 4, MPI_COMM_WORLD, r1, ierr)
  call MPI_Recv(b, 1, MPI_DOUBLE_PRECISION, rank, 4, MPI_COMM_WORLD, st, ierr)
  call MPI_Wait(r1, st, ierr)
  n4 = rank
  call MPI_Bcast(n4, 4, MPI_INTEGER, 0, MPI_COMM_WORLD, ierr)
  call MPI_Reduce(total, y, 1, MPI_DOUBLE_PRECISION, MPI_SUM, 0, MPI_COMM_WORLD, ierr)
  call MPI_Barrier(MPI_COMM_WORLD, ierr)
  if (rank == 0) print '(a,i0,a,f0.1)', 'ranks=', nranks, ' sum=', y
  call MPI_Finalize(ierr)
end program ktau_halo
