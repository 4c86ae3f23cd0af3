! A Fortran program for tests/integration/bigmem_static.sh: a 512 MiB COMMON block and a 64 MiB
! module array (.bss), filled, summed; prints the checksum and the page faults taken touching them.
module big
  real(8) :: marr(8*1024*1024)
end module
program p
  use big
  implicit none
  real(8) :: c(64*1024*1024)
  common /blk/ c
  integer(8) :: i, f0, f1
  real(8) :: s
  interface
    function minflt() bind(C, name="minflt")
      use iso_c_binding, only: c_long
      integer(c_long) :: minflt
    end function
  end interface
  do i = 1, size(c)
    c(i) = real(mod(i, 1000), 8)
  end do
  f0 = minflt()
  do i = 1, size(marr)
    marr(i) = real(mod(i, 7), 8)
  end do
  s = sum(c) + sum(marr)
  f1 = minflt()
  print '(a,f0.1)', 'checksum ', s
  print '(a,i0)', 'faults ', f1 - f0
end program
