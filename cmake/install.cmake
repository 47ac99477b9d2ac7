# Installs headers, the shared and static library, katana.pc and a CMake package config.
install(DIRECTORY include/katana DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/include/katana/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/katana)
install(TARGETS katana katana_static EXPORT katanaTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS katana_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT katanaTargets NAMESPACE katana:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/katana)
include(CMakePackageConfigHelpers)
configure_package_config_file(cmake/katanaConfig.cmake.in ${CMAKE_BINARY_DIR}/katanaConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/katana)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/katanaConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/katanaConfig.cmake ${CMAKE_BINARY_DIR}/katanaConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/katana)
set(KAT_PC_AVDEVICE "")
if(AVDEVICE_FOUND)
  set(KAT_PC_AVDEVICE " libavdevice")
endif()
configure_file(cmake/katana.pc.in ${CMAKE_BINARY_DIR}/katana.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/katana.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
