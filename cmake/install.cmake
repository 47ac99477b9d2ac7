# Installs headers, the shared and static library, the CLI, the default model (a data file in
# <datadir>/katana/models/default), katana.pc and a CMake package config. When katana uses its
# pinned ONNX Runtime, that library is installed beside libkatana, which finds it through
# RUNPATH $ORIGIN: an installed prefix needs nothing from the checkout and can be moved.
install(DIRECTORY include/katana DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/include/katana/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/katana)
install(TARGETS katana EXPORT katanaTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS katana_static EXPORT katanaStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS katana_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The training checkpoint stays in the source tree: inference needs only the bundle.
install(DIRECTORY models/default DESTINATION ${CMAKE_INSTALL_DATADIR}/katana/models
  PATTERN "checkpoint.pt" EXCLUDE)

# ONNX Runtime: file name of the library that katana links (e.g. libonnxruntime.so.1).
file(REAL_PATH ${KAT_ORT_LIBRARY} _kat_ort_real)
get_filename_component(KAT_ORT_REAL_NAME ${_kat_ort_real} NAME)
if(KAT_ORT_PINNED)
  # The library with its symlinks, and provider libraries ORT loads from its own folder.
  file(GLOB _kat_ort_files ${KAT_ORT_LIBDIR}/libonnxruntime*.so*)
  install(FILES ${_kat_ort_files} DESTINATION ${CMAKE_INSTALL_LIBDIR})
  set(KAT_CONFIG_ORT_LOCATION "\${PACKAGE_PREFIX_DIR}/${CMAKE_INSTALL_LIBDIR}/${KAT_ORT_REAL_NAME}")
  set(KAT_PC_ORT "-lonnxruntime")
else()
  set(KAT_CONFIG_ORT_LOCATION "${_kat_ort_real}")
  set(KAT_PC_ORT "-L${KAT_ORT_LIBDIR} -lonnxruntime")
endif()

# CMake package: katana::katana (shared, always) and katana::katana_static (component "static",
# available when the FFmpeg, libpng, libjpeg and protobuf-c development files are found).
set(KAT_PC_MODULES libavformat libavcodec libswscale libavutil libpng libprotobuf-c)
if(AVDEVICE_FOUND)
  list(APPEND KAT_PC_MODULES libavdevice)
endif()
list(JOIN KAT_PC_MODULES " " KAT_CONFIG_PC_MODULES)
install(EXPORT katanaTargets NAMESPACE katana:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/katana)
install(EXPORT katanaStaticTargets NAMESPACE katana:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/katana)
include(CMakePackageConfigHelpers)
configure_package_config_file(cmake/katanaConfig.cmake.in ${CMAKE_BINARY_DIR}/katanaConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/katana)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/katanaConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/katanaConfig.cmake ${CMAKE_BINARY_DIR}/katanaConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/katana)

# pkg-config: dynamic linking needs only katana's own files. Static linking (--static) adds the
# dependencies as plain flags in Libs.private, not as Requires.private, so that `pkg-config
# --cflags --libs katana` works without the dependencies' development packages.
set(_kat_pc_private "")
foreach(v FFMPEG PNG PROTOBUFC AVDEVICE)
  if(${v}_FOUND)
    list(APPEND _kat_pc_private ${${v}_LDFLAGS})
  endif()
endforeach()
list(REMOVE_DUPLICATES _kat_pc_private)
list(JOIN _kat_pc_private " " KAT_PC_PRIVATE)
configure_file(cmake/katana.pc.in ${CMAKE_BINARY_DIR}/katana.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/katana.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Python package (python/katana, pure Python): <prefix>/${KAT_PYTHON_INSTALL_DIR}/katana,
# which Debian's python3 reads as is for the /usr prefix (others: PYTHONPATH). _installed.py
# tells it where libkatana lies relative to itself, so a moved prefix still works.
set(KAT_PYTHON_INSTALL_DIR "lib/python3/dist-packages" CACHE STRING
  "Where cmake --install puts the Python package katana, relative to the prefix")
file(RELATIVE_PATH KAT_PY_TO_LIB /kat_prefix/${KAT_PYTHON_INSTALL_DIR}/katana
  /kat_prefix/${CMAKE_INSTALL_LIBDIR})
file(WRITE ${CMAKE_BINARY_DIR}/python/_installed.py
  "\"\"\"Written by cmake --install: libkatana's folder relative to this package.\"\"\"\nLIB_RELATIVE = \"${KAT_PY_TO_LIB}\"\n")
install(DIRECTORY python/katana DESTINATION ${KAT_PYTHON_INSTALL_DIR}
  PATTERN "__pycache__" EXCLUDE PATTERN "_installed.py" EXCLUDE)
install(FILES ${CMAKE_BINARY_DIR}/python/_installed.py DESTINATION ${KAT_PYTHON_INSTALL_DIR}/katana)
