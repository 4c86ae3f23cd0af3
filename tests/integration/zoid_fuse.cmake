# Tests of `zepto zoid mount`: a daemon on a scratch export under $WORK, FUSE mounts under $WORK.
# They skip (77, with the reason) where /dev/fuse is absent or mounting is not permitted, which
# they find out by mounting. zoid_fuse_check makes the checks the shell cannot (mmap, two open
# files on two mounts, locks).
add_executable(zoid_fuse_check zoid_fuse_check.c)
target_link_libraries(zoid_fuse_check PRIVATE Threads::Threads)
zepto_shell_test(zoid_fuse_cli)
zepto_shell_test(zoid_fuse_programs)
# A user changing what a path names behind a root mount's back (links, renames): refused.
zepto_shell_test(zoid_fuse_swap)
zepto_shell_test(zoid_fuse_faults RUN_SERIAL TRUE)
# Each uid's share of the mount's handles (issue 12): timed (a victim's latency), serial.
list(APPEND ZEPTO_TIMING_TESTS zoid_fuse_share)
zepto_shell_test(zoid_fuse_share RUN_SERIAL TRUE)
# A hostile daemon behind the mount (issue 12): every lie gives the correct data or EIO.
zepto_shell_test(zoid_fuse_hostile)
set_tests_properties(integration.zoid_fuse_hostile PROPERTIES TIMEOUT 120
  ENVIRONMENT "ZHS=$<TARGET_FILE:zoid_hostile_server>")
# What a relaxed mount may show stale, and for how long (issue 15).
zepto_shell_test(zoid_fuse_relaxed)
set_tests_properties(integration.zoid_fuse_relaxed PROPERTIES TIMEOUT 120)
# A relaxed mount's write-behind (issue 15): exact data, fewer calls, errors reach close.
# The mount's writes through descriptors a daemon on this node (shm:) lends (zoid_fuse_lend.sh).
zepto_shell_test(zoid_fuse_lend)
set_tests_properties(integration.zoid_fuse_lend PROPERTIES TIMEOUT 120
  ENVIRONMENT "ZHS=$<TARGET_FILE:zoid_hostile_server>")
# Kernel passthrough of a strict mount of a daemon on this node (zoid_fuse_passthrough.sh).
zepto_shell_test(zoid_fuse_passthrough)
set_tests_properties(integration.zoid_fuse_passthrough PROPERTIES TIMEOUT 120
  ENVIRONMENT "ZHS=$<TARGET_FILE:zoid_hostile_server>")
zepto_shell_test(zoid_fuse_behind)
set_tests_properties(integration.zoid_fuse_behind PROPERTIES TIMEOUT 240)
# A relaxed mount answers absent names from a fresh listing (issue 15): never wrongly.
zepto_shell_test(zoid_fuse_listings)
set_tests_properties(integration.zoid_fuse_listings PROPERTIES TIMEOUT 120)
# A relaxed mount's writes gathered by the daemon (issue 14): zoid_strided_writer is built in
# zoid_preload.cmake.
zepto_shell_test(zoid_fuse_coalesce)
set_tests_properties(integration.zoid_fuse_coalesce PROPERTIES TIMEOUT 60
  ENVIRONMENT "ZSW=$<TARGET_FILE:zoid_strided_writer>")
