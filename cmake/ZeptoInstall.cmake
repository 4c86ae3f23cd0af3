# What `cmake --install` puts beside the binaries and libraries (their install() rules are in
# src/): the public headers a user builds against, zoid.pc, the CMake package Zepto (imported
# targets Zepto::zoid, Zepto::ktau, Zepto::zepto, and Zepto::ktau-mpi when built with MPI) and
# the Lmod modulefile. Every path is relative to the prefix: the install can be moved.
include(CMakePackageConfigHelpers)

# Headers: the ZOID client and plugin API with the codec the generated stubs use, ktau's timers
# and profile reader, and the noise trace reader (with zepto.h, which they all include).
install(FILES
  include/zepto/zepto.h
  include/zepto/zoid.h include/zepto/zoid_plugin.h include/zepto/zoid_codec.h
  include/zepto/ktau.h include/zepto/ktau_profile.h include/zepto/ktau_ranks.h
  include/zepto/noise.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/zepto)

# zoid.pc: clients (-lzoid) and, with --cflags only, plugins.
zepto_pc_install_dirs(ZOID_PC_PREFIX ZOID_PC_LIBDIR ZOID_PC_INCDIR)
configure_file(cmake/zoid.pc.in ${CMAKE_BINARY_DIR}/gen/zoid-install.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/gen/zoid-install.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        RENAME zoid.pc)

# find_package(Zepto): ZeptoTargets (zoid, ktau, zepto) and, in the MPI package, ZeptoMpiTargets.
set(ZEPTO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Zepto)
install(EXPORT ZeptoTargets NAMESPACE Zepto:: DESTINATION ${ZEPTO_CMAKE_DIR})
if(TARGET ktau-mpi)
  install(EXPORT ZeptoMpiTargets NAMESPACE Zepto:: DESTINATION ${ZEPTO_CMAKE_DIR})
endif()
configure_package_config_file(cmake/ZeptoConfig.cmake.in ${CMAKE_BINARY_DIR}/gen/ZeptoConfig.cmake
                              INSTALL_DESTINATION ${ZEPTO_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/gen/ZeptoConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/gen/ZeptoConfig.cmake
              ${CMAKE_BINARY_DIR}/gen/ZeptoConfigVersion.cmake DESTINATION ${ZEPTO_CMAKE_DIR})

# The Lmod modulefile: share/lmod/modulefiles/zepto/<version>.lua (`module use` that directory's
# parent). It finds the prefix from its own path.
set(ZEPTO_LMOD_SUBDIR share/lmod/modulefiles/zepto)
configure_file(dist/lmod/zepto.lua.in ${CMAKE_BINARY_DIR}/gen/zepto.lua @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/gen/zepto.lua DESTINATION ${ZEPTO_LMOD_SUBDIR}
        RENAME ${PROJECT_VERSION}.lua)
