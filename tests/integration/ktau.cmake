# ktau end to end: the ground-truth regions (kernel work charged to the right routine), automatic
# instrumentation, and the CLI's bad input. The programs link libktau (built without sanitizers).
add_executable(ktau_regions ktau_regions.c)
target_include_directories(ktau_regions PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(ktau_regions PRIVATE ktau Threads::Threads)
# The program runs with libktau preloaded: no sanitizer runtime in it (it would have to come
# first in the process).
foreach(prop COMPILE_OPTIONS LINK_OPTIONS)
  get_target_property(opts ktau_regions ${prop})
  if(opts)
    list(FILTER opts EXCLUDE REGEX "sanitize")
    set_target_properties(ktau_regions PROPERTIES ${prop} "${opts}")
  endif()
endforeach()
zepto_shell_test(ktau_regions RUN_SERIAL TRUE)
set_tests_properties(integration.ktau_regions PROPERTIES TIMEOUT 120)
# Built by the test itself with the flags of zepto-ktau.pc (that is what it checks).
zepto_shell_test(ktau_auto)
set_tests_properties(integration.ktau_auto PROPERTIES TIMEOUT 120)
zepto_shell_test(ktau_cli)
# MPI: two ranks under mpirun with libktau-mpi preloaded (ktau_mpi.c makes a known number of each
# call); built only when MPI is found. The program links libktau for its user region.
find_package(MPI COMPONENTS C)
if(MPI_C_FOUND)
  add_executable(ktau_mpi ktau_mpi.c)
  target_include_directories(ktau_mpi PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_link_libraries(ktau_mpi PRIVATE ktau MPI::MPI_C)
  foreach(prop COMPILE_OPTIONS LINK_OPTIONS)
    get_target_property(opts ktau_mpi ${prop})
    if(opts)
      list(FILTER opts EXCLUDE REGEX "sanitize")
      set_target_properties(ktau_mpi PROPERTIES ${prop} "${opts}")
    endif()
  endforeach()
  add_dependencies(ktau_mpi ktau-mpi)
endif()
zepto_shell_test(ktau_mpi RUN_SERIAL TRUE)
set_tests_properties(integration.ktau_mpi PROPERTIES TIMEOUT 60)
# Atomic events (TAU's userevents): ktau_events.c's known values, and the message sizes of
# ktau_mpi.c's calls (that part skips without MPI).
add_executable(ktau_events ktau_events.c)
target_include_directories(ktau_events PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(ktau_events PRIVATE ktau Threads::Threads)
foreach(prop COMPILE_OPTIONS LINK_OPTIONS)
  get_target_property(opts ktau_events ${prop})
  if(opts)
    list(FILTER opts EXCLUDE REGEX "sanitize")
    set_target_properties(ktau_events PROPERTIES ${prop} "${opts}")
  endif()
endforeach()
zepto_shell_test(ktau_events)
set_tests_properties(integration.ktau_events PROPERTIES TIMEOUT 60)
# Fortran MPI (mpif.h and mpi_f08): tests/integration/ktau_halo.f90, built by the test with
# mpif90 (skips without it), profiled on two ranks: exact counts of each call and message sizes.
zepto_shell_test(ktau_fortran)
set_tests_properties(integration.ktau_fortran PROPERTIES TIMEOUT 120)
