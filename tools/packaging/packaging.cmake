# Exported symbols and installation of bpnn, included from the top-level CMakeLists.txt:
#   include/bpnn.h, include/bpnn/*.hpp and the generated bpnn/version.h;
#   libbpnn.so (SONAME libbpnn.so.MAJOR) and libbpnn.a; the bpnn CLI;
#   a CMake package: find_package(bpnn CONFIG) gives bpnn::bpnn (shared) and bpnn::bpnn_static;
#   with MPI, libbpnn_mpi.a and include/bpnn_mpi.h as bpnn::bpnn_mpi (static, on bpnn_static);
#   bpnn.pc for pkg-config (relocatable: paths relative to the .pc file).
include(CMakePackageConfigHelpers)

# The shared library exports only the C API (bpnn_*) and the C++ API (bpnn::); the objects are
# already compiled with hidden visibility, the version script also keeps the standard-library
# template instantiations local.
target_link_options(bpnn PRIVATE "LINKER:--version-script=${CMAKE_CURRENT_LIST_DIR}/libbpnn.map")
set_property(TARGET bpnn APPEND PROPERTY LINK_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/libbpnn.map)

set(BPNN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/bpnn)

install(FILES ${PROJECT_SOURCE_DIR}/include/bpnn.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/bpnn/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bpnn
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h"
  PATTERN "onnx_export.hpp" EXCLUDE)  # bpnn_onnx (protobuf) is the CLI's, not installed
install(FILES ${PROJECT_BINARY_DIR}/include/bpnn/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bpnn)

set_target_properties(bpnn PROPERTIES EXPORT_NAME bpnn)
set_target_properties(bpnn_static PROPERTIES EXPORT_NAME bpnn_static)
# Two export sets: the shared library needs nothing from its users' systems, the static one needs
# TBB, OpenMP and Threads found first (bpnnConfig.cmake does that before loading it).
install(TARGETS bpnn EXPORT bpnnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS bpnn_static EXPORT bpnnStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS bpnn_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# bpnn_mpi (engine/mpi): a static library on bpnn_static and MPI::MPI_C, in a third export set
# that bpnnConfig.cmake loads when the static one is loaded and MPI is found.
if(BPNN_HAVE_MPI)
  set_target_properties(bpnn_mpi PROPERTIES EXPORT_NAME bpnn_mpi)
  install(TARGETS bpnn_mpi EXPORT bpnnMpiTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/bpnn_mpi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT bpnnMpiTargets NAMESPACE bpnn:: DESTINATION ${BPNN_CMAKE_DIR})
endif()

install(EXPORT bpnnTargets NAMESPACE bpnn:: DESTINATION ${BPNN_CMAKE_DIR})
install(EXPORT bpnnStaticTargets NAMESPACE bpnn:: DESTINATION ${BPNN_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/bpnnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/bpnnConfig.cmake INSTALL_DESTINATION ${BPNN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/bpnnConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/bpnnConfig.cmake ${PROJECT_BINARY_DIR}/bpnnConfigVersion.cmake
  DESTINATION ${BPNN_CMAKE_DIR})

# bpnn.pc: prefix relative to the .pc file, so the package works wherever it is installed
# (cmake --install build --prefix DIR).
set(BPNN_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
set(BPNN_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(BPNN_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH BPNN_PC_UP "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
  string(REGEX REPLACE "/$" "" BPNN_PC_UP "${BPNN_PC_UP}")
  set(BPNN_PC_PREFIX "\${pcfiledir}/${BPNN_PC_UP}")
  set(BPNN_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(BPNN_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/bpnn.pc.in ${PROJECT_BINARY_DIR}/bpnn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/bpnn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Python binding as an importable package, PREFIX/lib/python3/site-packages/bpnn/: the module
# plus _install.py, which records where the installed libbpnn.so lies relative to the package,
# so `import bpnn` needs only PYTHONPATH=PREFIX/lib/python3/site-packages (no BPNN_LIBRARY, no
# LD_LIBRARY_PATH), wherever the prefix is moved.
set(BPNN_PYTHON_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/python3/site-packages" CACHE STRING
    "Where cmake --install puts the Python package bpnn/ (relative to the prefix, or absolute)")
set(_bpnn_root "/bpnn-prefix")  # a stand-in prefix for paths given relative to the real one
foreach(dir BPNN_PYTHON_INSTALL_DIR CMAKE_INSTALL_LIBDIR)
  if(IS_ABSOLUTE "${${dir}}")
    set(_bpnn_${dir} "${${dir}}")
  else()
    set(_bpnn_${dir} "${_bpnn_root}/${${dir}}")
  endif()
endforeach()
file(RELATIVE_PATH BPNN_PYTHON_LIBRARY "${_bpnn_BPNN_PYTHON_INSTALL_DIR}/bpnn"
     "${_bpnn_CMAKE_INSTALL_LIBDIR}/libbpnn.so.${PROJECT_VERSION_MAJOR}")
file(WRITE ${PROJECT_BINARY_DIR}/python/_install.py
     "# Written by cmake --install: the installed libbpnn.so, relative to this package.\n"
     "LIBRARY = \"${BPNN_PYTHON_LIBRARY}\"\n")
install(FILES ${PROJECT_SOURCE_DIR}/tools/python/bpnn.py
        DESTINATION ${BPNN_PYTHON_INSTALL_DIR}/bpnn RENAME __init__.py)
install(FILES ${PROJECT_BINARY_DIR}/python/_install.py DESTINATION ${BPNN_PYTHON_INSTALL_DIR}/bpnn)
