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
