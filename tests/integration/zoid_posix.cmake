# Tests of the posix plugin (the daemon side of POSIX forwarding).

# The posix plugin (built into the daemon) through its generated client stubs: every zp_*
# function, escapes, sessions, identity.
add_executable(test_zoid_posix_ops zoid_posix_ops.c)
target_link_libraries(test_zoid_posix_ops PRIVATE zepto_zposix_client zepto_zoid Threads::Threads)
add_test(NAME integration.zoid_posix_ops
         COMMAND ${CMAKE_COMMAND} -E env ZEPTO=${ZEPTO_BIN}
                 WORK=${CMAKE_CURRENT_BINARY_DIR}/work-zoid_posix_ops
                 DRIVER=$<TARGET_FILE:test_zoid_posix_ops>
                 bash ${CMAKE_CURRENT_SOURCE_DIR}/zoid_posix_ops.sh)
set_tests_properties(integration.zoid_posix_ops PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
