# FindKokkos.cmake — Kokkos for sgdsweep's host kernels, as the imported target Kokkos::kokkos.
#
# Why a Find module: Debian 12's libtrilinos-kokkos-dev (Kokkos 3.4.1, Serial backend) ships a
# KokkosConfig.cmake whose include path is wrong (the headers are in /usr/include/trilinos) and
# whose libraries are named libtrilinos_kokkoscore*. This module looks for the header and the
# library under both naming schemes, so it finds Debian's package and a standalone Kokkos
# (Spack, source build) alike. Pass -DKokkos_ROOT=/prefix to point at a particular install.
#
# sgdsweep runs one MPI rank per core, so it needs a Kokkos with a host backend (Serial or
# OpenMP); a Kokkos whose default execution space is a GPU is rejected: our GPU path is the
# hand-written CUDA in kernels/, not Kokkos.
#
# Results: Kokkos_FOUND, Kokkos_VERSION, Kokkos_INCLUDE_DIR, Kokkos_CORE_LIBRARY, Kokkos::kokkos.

find_path(Kokkos_INCLUDE_DIR
  NAMES Kokkos_Core.hpp
  HINTS ${Kokkos_ROOT} ENV Kokkos_ROOT
  PATH_SUFFIXES include include/trilinos trilinos)

find_library(Kokkos_CORE_LIBRARY
  NAMES kokkoscore trilinos_kokkoscore
  HINTS ${Kokkos_ROOT} ENV Kokkos_ROOT
  PATH_SUFFIXES lib lib64)

if(Kokkos_INCLUDE_DIR AND EXISTS "${Kokkos_INCLUDE_DIR}/KokkosCore_config.h")
  file(STRINGS "${Kokkos_INCLUDE_DIR}/KokkosCore_config.h" _kokkos_version_line
       REGEX "^#define KOKKOS_VERSION [0-9]+")
  string(REGEX REPLACE "^#define KOKKOS_VERSION ([0-9]+).*" "\\1" _kokkos_version_number
         "${_kokkos_version_line}")
  if(_kokkos_version_number)
    math(EXPR _major "${_kokkos_version_number} / 10000")
    math(EXPR _minor "${_kokkos_version_number} / 100 % 100")
    math(EXPR _patch "${_kokkos_version_number} % 100")
    set(Kokkos_VERSION "${_major}.${_minor}.${_patch}")
  endif()
  file(STRINGS "${Kokkos_INCLUDE_DIR}/KokkosCore_config.h" _kokkos_backends
       REGEX "^#define KOKKOS_ENABLE_(SERIAL|OPENMP|THREADS|CUDA|HIP|SYCL)$")
  string(REGEX REPLACE "#define KOKKOS_ENABLE_" "" Kokkos_BACKENDS "${_kokkos_backends}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Kokkos
  REQUIRED_VARS Kokkos_INCLUDE_DIR Kokkos_CORE_LIBRARY
  VERSION_VAR Kokkos_VERSION)

if(Kokkos_FOUND)
  if(NOT ("SERIAL" IN_LIST Kokkos_BACKENDS OR "OPENMP" IN_LIST Kokkos_BACKENDS))
    message(FATAL_ERROR "Kokkos at ${Kokkos_INCLUDE_DIR} has no host backend (found: "
      "${Kokkos_BACKENDS}); sgdsweep needs Serial or OpenMP (Spack: kokkos+serial).")
  endif()
  if("CUDA" IN_LIST Kokkos_BACKENDS OR "HIP" IN_LIST Kokkos_BACKENDS)
    message(FATAL_ERROR "Kokkos at ${Kokkos_INCLUDE_DIR} was built with a GPU backend "
      "(${Kokkos_BACKENDS}); sgdsweep uses Kokkos for host kernels only. Use a host-only "
      "Kokkos (Spack: kokkos+serial~cuda); GPUs are driven by kernels/ (-DSGDSWEEP_CUDA=ON).")
  endif()
  if(NOT TARGET Kokkos::kokkos)
    add_library(Kokkos::kokkos INTERFACE IMPORTED)
    set_target_properties(Kokkos::kokkos PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${Kokkos_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${Kokkos_CORE_LIBRARY};${CMAKE_DL_LIBS}")
    if("OPENMP" IN_LIST Kokkos_BACKENDS)
      find_package(OpenMP REQUIRED COMPONENTS CXX)
      set_property(TARGET Kokkos::kokkos APPEND PROPERTY INTERFACE_LINK_LIBRARIES OpenMP::OpenMP_CXX)
    endif()
  endif()
  mark_as_advanced(Kokkos_INCLUDE_DIR Kokkos_CORE_LIBRARY)
endif()
