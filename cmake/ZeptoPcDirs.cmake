# zepto_pc_install_dirs(PREFIX LIBDIR INCDIR): the prefix, libdir and includedir lines of an
# installed pkg-config file, relative to the file's own directory (${pcfiledir}), so that an
# install moved to another prefix still finds its headers and libraries.
function(zepto_pc_install_dirs prefix_var libdir_var incdir_var)
  set(pcdir ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  file(RELATIVE_PATH up ${pcdir} ${CMAKE_INSTALL_PREFIX})
  string(REGEX REPLACE "/$" "" up "${up}")
  set(${prefix_var} "\${pcfiledir}/${up}" PARENT_SCOPE)
  set(${libdir_var} "\${prefix}/${CMAKE_INSTALL_LIBDIR}" PARENT_SCOPE)
  set(${incdir_var} "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}" PARENT_SCOPE)
endfunction()
