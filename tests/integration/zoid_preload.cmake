# Tests of libzoid-preload.so and `zepto zoid run`: real programs (cp, tar, sqlite3, find, ls,
# du, mv, rm, sed, awk, shells) and a C driver through the interposer, faults of the daemon, and
# the command line. Each shell test starts its own daemon on a scratch export under $WORK.

# The driver runs with the (sanitizer-free) preload in front of it, so it is built without the
# sanitizers too: ASan's runtime must be the first library of a process.
add_executable(zoid_preload_prog zoid_preload_prog.c)
target_link_libraries(zoid_preload_prog PRIVATE Threads::Threads)
get_target_property(zpp_copts zoid_preload_prog COMPILE_OPTIONS)
if(zpp_copts)
  list(FILTER zpp_copts EXCLUDE REGEX "sanitize")
  set_target_properties(zoid_preload_prog PROPERTIES COMPILE_OPTIONS "${zpp_copts}")
endif()
get_target_property(zpp_lopts zoid_preload_prog LINK_OPTIONS)
if(zpp_lopts)
  list(FILTER zpp_lopts EXCLUDE REGEX "sanitize")
  set_target_properties(zoid_preload_prog PROPERTIES LINK_OPTIONS "${zpp_lopts}")
endif()

# The edges (zoid_preload_edges.sh): a program that closes the library's connection, unix
# sockets on forwarded paths, invalid path pointers, a refused connection.
add_executable(zoid_preload_edge ../helpers/zoid_preload_edge.c)
set_target_properties(zoid_preload_edge PROPERTIES COMPILE_OPTIONS "" LINK_OPTIONS "")
# Bad buffers handed to forwarded calls (tests/helpers/zoid_preload_badbuf.c): EFAULT, no crash,
# the descriptor and the connection still working; run by the edges (unix:) and lend (shm:) tests.
add_executable(zoid_preload_badbuf ../helpers/zoid_preload_badbuf.c)
set_target_properties(zoid_preload_badbuf PROPERTIES COMPILE_OPTIONS "" LINK_OPTIONS "")

foreach(t programs sqlite fio driver faults cli edges identity)
  zepto_shell_test(zoid_preload_${t})
  set_tests_properties(integration.zoid_preload_${t} PROPERTIES TIMEOUT 180
    ENVIRONMENT "ZPP=$<TARGET_FILE:zoid_preload_prog>;ZPE=$<TARGET_FILE:zoid_preload_edge>;ZPB=$<TARGET_FILE:zoid_preload_badbuf>;ZPL_LIB=$<TARGET_FILE:zoid-preload>")
endforeach()

# A hostile daemon (zoid_preload_hostile.sh): every lie gives correct data or EIO (issue 12).
zepto_shell_test(zoid_preload_hostile)
set_tests_properties(integration.zoid_preload_hostile PROPERTIES TIMEOUT 120
  ENVIRONMENT "ZHS=$<TARGET_FILE:zoid_hostile_server>;ZPL_LIB=$<TARGET_FILE:zoid-preload>")

# Lent descriptors (zoid_preload_lend.sh, issue 15): the daemon on this node (shm:) lends the
# interposer its open file descriptions; the hostile daemon lends the wrong ones, a hoarder never
# takes them.
zepto_shell_test(zoid_preload_lend)
set_tests_properties(integration.zoid_preload_lend PROPERTIES TIMEOUT 180
  ENVIRONMENT "ZHS=$<TARGET_FILE:zoid_hostile_server>;HOARD=$<TARGET_FILE:zoid_lend_hoard>;ZPB=$<TARGET_FILE:zoid_preload_badbuf>;ZPL_LIB=$<TARGET_FILE:zoid-preload>")

# Long job scripts (zoid_preload_loop.sh, issue 12): programs ending without exit handlers leave
# no handle open in the daemon.
add_executable(zoid_abrupt_exit ../helpers/zoid_abrupt_exit.c)
zepto_shell_test(zoid_preload_loop)
set_tests_properties(integration.zoid_preload_loop PROPERTIES TIMEOUT 120
  ENVIRONMENT "ZAE=$<TARGET_FILE:zoid_abrupt_exit>;ZPL_LIB=$<TARGET_FILE:zoid-preload>")

# Read-ahead and write-behind (zoid_preload_async.sh, issue 15), and large relaxed writes streamed
# over TCP (a daemon on loopback with a token): a driver built without the sanitizers, as the one
# above.
add_executable(zoid_preload_async zoid_preload_async.c)
set_target_properties(zoid_preload_async PROPERTIES COMPILE_OPTIONS "" LINK_OPTIONS "")
zepto_shell_test(zoid_preload_async)
set_tests_properties(integration.zoid_preload_async PROPERTIES TIMEOUT 300
  ENVIRONMENT "ZPA=$<TARGET_FILE:zoid_preload_async>;ZPL_LIB=$<TARGET_FILE:zoid-preload>")

# Relaxed writes of real programs gathered by the daemon (zoid_run_coalesce.sh, issue 14): dd
# and an N-to-1 strided writer, built without the sanitizers (the preload goes first).
add_executable(zoid_strided_writer ../helpers/zoid_strided_writer.c)
set_target_properties(zoid_strided_writer PROPERTIES COMPILE_OPTIONS "" LINK_OPTIONS "")
# How much is gathered depends on the writers running at once: under stress-ng --cpu 4 the backend
# writes were 514-1536 for 2048 calls (timing_retry: skipped on a busy machine, with the reason).
list(APPEND ZEPTO_TIMING_TESTS zoid_run_coalesce)
zepto_shell_test(zoid_run_coalesce)
set_tests_properties(integration.zoid_run_coalesce PROPERTIES TIMEOUT 180
  ENVIRONMENT "ZSW=$<TARGET_FILE:zoid_strided_writer>;ZPL_LIB=$<TARGET_FILE:zoid-preload>")
