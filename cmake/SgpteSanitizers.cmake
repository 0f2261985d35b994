# AddressSanitizer and UndefinedBehaviorSanitizer for sgpte's own targets.
#
#   cmake -S . -B build-asan -DSGPTE_SANITIZE=address,undefined -DSGPTE_ENABLE_TESTS=ON
#
# instruments every executable and library this project defines (tests, programs,
# benchmarks, fuzz replays), not the dependencies and not CMAKE_CXX_FLAGS: Debian's Kokkos
# and BLAS stay uninstrumented, which both sanitizers tolerate, and a project that consumes
# the installed package is unaffected. Undefined behaviour aborts
# (-fno-sanitize-recover=undefined) instead of printing and carrying on, so a finding fails
# the test that triggers it.

include_guard(GLOBAL)

set(SGPTE_SANITIZE "" CACHE STRING
  "Sanitizers for sgpte's own targets, as for -fsanitize= (e.g. address,undefined); empty: none")

# Compiles and links `target` with -fsanitize=<sanitizers>.
function(sgpte_target_sanitizers target sanitizers)
  set(compile_options -fsanitize=${sanitizers} -fno-omit-frame-pointer)
  if(sanitizers MATCHES "undefined")
    list(APPEND compile_options -fno-sanitize-recover=undefined)
  endif()
  target_compile_options(${target} PRIVATE ${compile_options})
  target_link_options(${target} PRIVATE -fsanitize=${sanitizers})
endfunction()

# Applies SGPTE_SANITIZE to every compiled target defined in `directory` and below; called
# once at the end of the top-level CMakeLists.txt, when every target exists.
function(sgpte_sanitize_targets directory)
  if(NOT SGPTE_SANITIZE)
    return()
  endif()
  get_property(targets DIRECTORY ${directory} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY" AND NOT type STREQUAL "UTILITY")
      sgpte_target_sanitizers(${target} ${SGPTE_SANITIZE})
    endif()
  endforeach()
  get_property(subdirectories DIRECTORY ${directory} PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    sgpte_sanitize_targets(${subdirectory})
  endforeach()
endfunction()
