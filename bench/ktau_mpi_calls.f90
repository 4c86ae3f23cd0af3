! bench/ktau_mpi_calls.sh's Fortran program (mpif.h bindings): the same calls as ktau_mpi_calls.c
! (N MPI_Comm_rank, N MPI_Sendrecv of one double with itself), timed with MPI_Wtime; prints rank
! 0's ns per call: "f comm_rank_ns=X sendrecv_ns=Y". N is the first argument.
program ktau_mpi_calls
  implicit none
  include 'mpif.h'
  integer :: ierr, rank, r, i, n
  integer :: st(MPI_STATUS_SIZE)
  character(len=32) :: arg
  double precision :: x, y, t0, t1, t2

  call MPI_Init(ierr)
  n = 1000000
  if (command_argument_count() > 0) then
    call get_command_argument(1, arg)
    read (arg, *) n
  end if
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  x = 1
  call MPI_Barrier(MPI_COMM_WORLD, ierr)
  t0 = MPI_Wtime()
  do i = 1, n
    call MPI_Comm_rank(MPI_COMM_WORLD, r, ierr)
  end do
  t1 = MPI_Wtime()
  do i = 1, n
    call MPI_Sendrecv(x, 1, MPI_DOUBLE_PRECISION, rank, 0, y, 1, MPI_DOUBLE_PRECISION, rank, 0, &
                      MPI_COMM_WORLD, st, ierr)
  end do
  t2 = MPI_Wtime()
  call MPI_Barrier(MPI_COMM_WORLD, ierr)
  if (rank == 0) print '(a,f0.1,a,f0.1)', 'f comm_rank_ns=', (t1 - t0) * 1d9 / n, &
    ' sendrecv_ns=', (t2 - t1) * 1d9 / n
  call MPI_Finalize(ierr)
end program ktau_mpi_calls
