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

# Reads the daemon sends from the file's pages (splice): their bytes over unix: and tcp:, none on
# shm: or with ZOID_POSIX_SPLICE=0, replies cut by killed clients, a file moving under reads.
add_executable(test_zoid_splice zoid_splice.c)
target_include_directories(test_zoid_splice PRIVATE ${CMAKE_SOURCE_DIR}/src/zoid/posix)
target_link_libraries(test_zoid_splice PRIVATE zepto_zposix_client zepto_zoid Threads::Threads)
# A program under `zoid run`: built without the sanitizers (the preload, which has none, goes
# first; ASan's runtime must be the first library of a process).
add_executable(test_zoid_byref zoid_byref.c)
set_target_properties(test_zoid_byref PROPERTIES COMPILE_OPTIONS "" LINK_OPTIONS "")
add_executable(test_zoid_splice_write zoid_splice_write.c)
target_include_directories(test_zoid_splice_write PRIVATE ${CMAKE_SOURCE_DIR}/src/zoid/posix)
target_link_libraries(test_zoid_splice_write PRIVATE zepto_zposix_client zepto_zoid)
add_test(NAME integration.zoid_splice
         COMMAND ${CMAKE_COMMAND} -E env ZEPTO=${ZEPTO_BIN}
                 WORK=${CMAKE_CURRENT_BINARY_DIR}/work-zoid_splice
                 DRIVER=$<TARGET_FILE:test_zoid_splice>
                 WRITER=$<TARGET_FILE:test_zoid_splice_write>
                 BYREF=$<TARGET_FILE:test_zoid_byref>
                 PLUGINS=${CMAKE_CURRENT_BINARY_DIR}/zoid-plugins/good
                 bash ${CMAKE_CURRENT_SOURCE_DIR}/zoid_splice.sh)
add_dependencies(test_zoid_splice_write zoid_test_plugin)
set_tests_properties(integration.zoid_splice PROPERTIES TIMEOUT 120)
