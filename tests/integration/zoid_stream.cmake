# integration.zoid_stream: the stream plugin (docs/zoid-stream.md) through its client API and CLI.
add_executable(test_zoid_stream_check zoid_stream_check.c)
target_link_libraries(test_zoid_stream_check PRIVATE zepto_zoid Threads::Threads)
add_test(NAME integration.zoid_stream
         COMMAND ${CMAKE_COMMAND} -E env ZEPTO=${ZEPTO_BIN}
                 WORK=${CMAKE_CURRENT_BINARY_DIR}/work-zoid_stream
                 DRIVER=$<TARGET_FILE:test_zoid_stream_check>
                 bash ${CMAKE_CURRENT_SOURCE_DIR}/zoid_stream.sh)
set_tests_properties(integration.zoid_stream PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
