# Man pages and shell completion. The man pages (zepto.1, zepto-noise-record.1, ...) are generated
# at build time from the commands' --help texts by docs/man/gen.sh (help2man), into
# build/man/man1, and installed into share/man/man1; the bash completion (which reads --help at
# completion time, so it cannot drift) into share/bash-completion/completions.
include(GNUInstallDirs)

find_program(ZEPTO_HELP2MAN help2man)
set(ZEPTO_MAN_DIR ${CMAKE_BINARY_DIR}/man/man1)
if(ZEPTO_HELP2MAN)
  file(GLOB ZEPTO_MAN_INCLUDES ${CMAKE_SOURCE_DIR}/docs/man/*.h2m)
  add_custom_command(
    OUTPUT ${ZEPTO_MAN_DIR}/zepto.1
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${ZEPTO_MAN_DIR}
    COMMAND bash ${CMAKE_SOURCE_DIR}/docs/man/gen.sh $<TARGET_FILE:zepto> ${ZEPTO_MAN_DIR} >/dev/null
    DEPENDS zepto ${CMAKE_SOURCE_DIR}/docs/man/gen.sh ${CMAKE_SOURCE_DIR}/docs/man/cli.sh
            ${ZEPTO_MAN_INCLUDES}
    COMMENT "Man pages from --help (help2man)")
  add_custom_target(zepto_man ALL DEPENDS ${ZEPTO_MAN_DIR}/zepto.1)
  install(DIRECTORY ${ZEPTO_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          FILES_MATCHING PATTERN "*.1")
else()
  message(STATUS "help2man not found: no man pages (scripts/deps.sh installs it)")
endif()

install(FILES ${CMAKE_SOURCE_DIR}/dist/bash-completion/zepto
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# The output contracts (JSON Schemas of every --json output and report.json), for scripts that
# validate what they read: share/zepto/schema.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/schema/ DESTINATION ${CMAKE_INSTALL_DATADIR}/zepto/schema
        FILES_MATCHING PATTERN "*.json" PATTERN "README.md")
