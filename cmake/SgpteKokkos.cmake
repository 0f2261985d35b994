# Finds Kokkos and Kokkos Kernels and guarantees the targets Kokkos::kokkos and
# Kokkos::kokkoskernels plus the variables Kokkos_VERSION and Kokkos_ENABLE_<BACKEND>.
#
# A normal installation (standalone Kokkos >= 3.4, Spack, a source build) exports these
# targets itself and is used as is. Debian 12 ships Kokkos 3.4 only inside Trilinos 13.2:
# its TriBITS configuration points at a non-existent include directory (/usr/lib/include)
# and names its targets trilinos_kokkoscore / trilinos_kokkoskernels. For such an install
# the two targets are rebuilt here from the headers and libraries themselves.
#
# This file is installed with sgpte and included by sgpteConfig.cmake, so that a project
# consuming sgpte::sgpte finds Kokkos exactly the way sgpte was built against it.

include_guard(GLOBAL)

if(NOT TARGET Kokkos::kokkos)
  find_package(Kokkos 3.4 CONFIG QUIET)
endif()

# Trilinos' configuration creates Kokkos::kokkos too, but with an include directory that
# does not exist and a bogus link item: detect that by looking for Kokkos_Core.hpp.
set(_sgpte_kokkos_usable FALSE)
if(TARGET Kokkos::kokkos)
  get_target_property(_sgpte_kokkos_includes Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
  foreach(_dir IN LISTS _sgpte_kokkos_includes)
    if(EXISTS "${_dir}/Kokkos_Core.hpp")
      set(_sgpte_kokkos_usable TRUE)
    endif()
  endforeach()
endif()

if(NOT _sgpte_kokkos_usable)
  find_path(SGPTE_KOKKOS_INCLUDE_DIR KokkosCore_config.h PATH_SUFFIXES trilinos kokkos
    DOC "Directory holding Kokkos' headers (Trilinos installs: include/trilinos)")
  find_library(SGPTE_KOKKOSCORE_LIBRARY NAMES trilinos_kokkoscore kokkoscore)
  find_library(SGPTE_KOKKOSCONTAINERS_LIBRARY NAMES trilinos_kokkoscontainers kokkoscontainers)
  if(NOT SGPTE_KOKKOS_INCLUDE_DIR OR NOT SGPTE_KOKKOSCORE_LIBRARY OR NOT SGPTE_KOKKOSCONTAINERS_LIBRARY)
    message(FATAL_ERROR
      "Kokkos was not found. Install Kokkos >= 3.4 (Debian 12: apt-get install "
      "libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev) or point Kokkos_ROOT at an "
      "installation.")
  endif()
  file(STRINGS "${SGPTE_KOKKOS_INCLUDE_DIR}/KokkosCore_config.h" _sgpte_kokkos_defines
    REGEX "^#define KOKKOS_(VERSION|ENABLE_[A-Z0-9_]+)")
  set(Kokkos_DEVICES)
  foreach(_line IN LISTS _sgpte_kokkos_defines)
    if(_line MATCHES "^#define KOKKOS_VERSION ([0-9]+)")
      math(EXPR _major "${CMAKE_MATCH_1} / 10000")
      math(EXPR _minor "${CMAKE_MATCH_1} / 100 % 100")
      math(EXPR _patch "${CMAKE_MATCH_1} % 100")
      set(Kokkos_VERSION "${_major}.${_minor}.${_patch}")
    elseif(_line MATCHES "^#define KOKKOS_ENABLE_(SERIAL|OPENMP|THREADS|CUDA|HIP|SYCL)$")
      set(Kokkos_ENABLE_${CMAKE_MATCH_1} ON)
      list(APPEND Kokkos_DEVICES ${CMAKE_MATCH_1})
    endif()
  endforeach()
  if(NOT TARGET Kokkos::kokkos)
    add_library(Kokkos::kokkos INTERFACE IMPORTED)
  endif()
  set_target_properties(Kokkos::kokkos PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${SGPTE_KOKKOS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${SGPTE_KOKKOSCONTAINERS_LIBRARY};${SGPTE_KOKKOSCORE_LIBRARY};${CMAKE_DL_LIBS}"
    INTERFACE_COMPILE_FEATURES "cxx_std_14"
    INTERFACE_COMPILE_OPTIONS "")
  set(Kokkos_FOUND TRUE)
  set(SGPTE_KOKKOS_FROM_FILES TRUE)
endif()

if(NOT TARGET Kokkos::kokkoskernels AND NOT SGPTE_KOKKOS_FROM_FILES)
  # Kokkos Kernels must be built against this Kokkos (often installed beside it): never
  # fall back to the Trilinos one below, which belongs to Debian's Kokkos.
  set(_sgpte_kokkos_prefix)
  if(Kokkos_DIR)
    get_filename_component(_sgpte_kokkos_prefix "${Kokkos_DIR}/../../.." ABSOLUTE)
  endif()
  find_package(KokkosKernels CONFIG QUIET HINTS ${_sgpte_kokkos_prefix})
  if(NOT TARGET Kokkos::kokkoskernels)
    message(FATAL_ERROR
      "Kokkos Kernels built against the Kokkos found in ${Kokkos_DIR} was not found: point "
      "KokkosKernels_ROOT at its installation.")
  endif()
endif()

if(NOT TARGET Kokkos::kokkoskernels)
  find_library(SGPTE_KOKKOSKERNELS_LIBRARY NAMES trilinos_kokkoskernels kokkoskernels)
  find_path(SGPTE_KOKKOSKERNELS_INCLUDE_DIR KokkosKernels_config.h PATH_SUFFIXES trilinos)
  if(NOT SGPTE_KOKKOSKERNELS_LIBRARY OR NOT SGPTE_KOKKOSKERNELS_INCLUDE_DIR)
    message(FATAL_ERROR
      "Kokkos Kernels was not found. Install it (Debian 12: libtrilinos-kokkos-kernels-dev) "
      "or point KokkosKernels_ROOT at an installation.")
  endif()
  # Trilinos' Kokkos Kernels was built with the BLAS and LAPACK TPLs.
  find_package(BLAS REQUIRED)
  find_package(LAPACK REQUIRED)
  add_library(Kokkos::kokkoskernels INTERFACE IMPORTED)
  set_target_properties(Kokkos::kokkoskernels PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${SGPTE_KOKKOSKERNELS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${SGPTE_KOKKOSKERNELS_LIBRARY};Kokkos::kokkos;LAPACK::LAPACK;BLAS::BLAS")
endif()

if(NOT Kokkos_FIND_QUIETLY AND NOT SGPTE_KOKKOS_REPORTED)
  set(SGPTE_KOKKOS_REPORTED TRUE)
  message(STATUS "sgpte: Kokkos ${Kokkos_VERSION}, backends: ${Kokkos_DEVICES}")
endif()
