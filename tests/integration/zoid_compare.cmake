# Differential tests of POSIX forwarding: the same operations locally, through the interposer and
# through the FUSE mount (tests/integration/zoid_compare.sh, one test per mode; posix_ops.c is the
# script of operations, linked dynamically so that the interposer sees its calls).
add_executable(posix_ops posix_ops.c)
# Never instrumented: under the sanitizers, ASan's runtime would have to come first in the
# process, before the (uninstrumented) libzoid-preload.so that LD_PRELOAD puts there.
target_compile_options(posix_ops PRIVATE -fno-sanitize=all)
target_link_options(posix_ops PRIVATE -fno-sanitize=all)
foreach(mode preload fuse)
  set(work ${CMAKE_CURRENT_BINARY_DIR}/work-zoid_compare_${mode})
  add_test(NAME integration.zoid_compare_${mode}
           COMMAND ${CMAKE_COMMAND} -E env ZEPTO=${ZEPTO_BIN} WORK=${work}
                   BIN=${CMAKE_BINARY_DIR}/bin MODE=${mode}
                   bash ${CMAKE_CURRENT_SOURCE_DIR}/zoid_compare.sh)
  set_tests_properties(integration.zoid_compare_${mode} PROPERTIES SKIP_RETURN_CODE 77
                       TIMEOUT 120)
endforeach()
