# integration.zoid_stream: the stream plugin (docs/zoid-stream.md) through its client API and CLI.
add_executable(test_zoid_stream_check zoid_stream_check.c)
target_link_libraries(test_zoid_stream_check PRIVATE zepto_zoid Threads::Threads)
add_test(NAME integration.zoid_stream
         COMMAND ${CMAKE_COMMAND} -E env ZEPTO=${ZEPTO_BIN}
                 WORK=${CMAKE_CURRENT_BINARY_DIR}/work-zoid_stream
                 DRIVER=$<TARGET_FILE:test_zoid_stream_check>
                 bash ${CMAKE_CURRENT_SOURCE_DIR}/zoid_stream.sh)
set_tests_properties(integration.zoid_stream PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

# integration.zoid_stream_reduce: reductions from third-party plugins (the example
# examples/zoid-stream/reduce_stats.c and misbehaving ones, zoid_stream_badreduce.c).
add_library(zoid_stream_badreduce MODULE zoid_stream_badreduce.c)
target_include_directories(zoid_stream_badreduce PRIVATE ${CMAKE_SOURCE_DIR}/include)
set_target_properties(zoid_stream_badreduce PROPERTIES C_VISIBILITY_PRESET hidden)
add_test(NAME integration.zoid_stream_reduce
         COMMAND ${CMAKE_COMMAND} -E env ZEPTO=${ZEPTO_BIN}
                 WORK=${CMAKE_CURRENT_BINARY_DIR}/work-zoid_stream_reduce
                 STATS_SO=$<TARGET_FILE:zoid_stream_stats>
                 BAD_SO=$<TARGET_FILE:zoid_stream_badreduce>
                 bash ${CMAKE_CURRENT_SOURCE_DIR}/zoid_stream_reduce.sh)
set_tests_properties(integration.zoid_stream_reduce PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)

# integration.zoid_stream_depart: departures: a producer or a consumer SIGKILLed mid-stream
# (docs/zoid-stream.md, "Departures").
add_test(NAME integration.zoid_stream_depart
         COMMAND ${CMAKE_COMMAND} -E env ZEPTO=${ZEPTO_BIN}
                 WORK=${CMAKE_CURRENT_BINARY_DIR}/work-zoid_stream_depart
                 bash ${CMAKE_CURRENT_SOURCE_DIR}/zoid_stream_depart.sh)
set_tests_properties(integration.zoid_stream_depart PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
