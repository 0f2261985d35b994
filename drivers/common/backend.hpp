#ifndef SGPTE_DRIVERS_BACKEND_HPP
#define SGPTE_DRIVERS_BACKEND_HPP

// --backend: the Kokkos execution space a program runs on, among those this build enables
// ("default" is Kokkos::DefaultExecutionSpace: CUDA when enabled, else the host backend).

#include <sgpte/core/error.hpp>

#include <Kokkos_Core.hpp>

#include <string>
#include <vector>

namespace sgpte::drivers
{

inline std::vector<std::string> enabled_backends()
{
  std::vector<std::string> names = {"default"};
#if defined(KOKKOS_ENABLE_SERIAL)
  names.push_back("serial");
#endif
#if defined(KOKKOS_ENABLE_OPENMP)
  names.push_back("openmp");
#endif
#if defined(KOKKOS_ENABLE_CUDA)
  names.push_back("cuda");
#endif
  return names;
}

// Calls run(space) with a default-constructed instance of the named execution space.
// run must not define device lambdas itself (CUDA forbids them in generic lambdas): let
// it forward to a function template.
template <class Run>
void with_backend(std::string const &name, Run &&run)
{
  if (name == "default")
    return run(Kokkos::DefaultExecutionSpace());
#if defined(KOKKOS_ENABLE_SERIAL)
  if (name == "serial")
    return run(Kokkos::Serial());
#endif
#if defined(KOKKOS_ENABLE_OPENMP)
  if (name == "openmp")
    return run(Kokkos::OpenMP());
#endif
#if defined(KOKKOS_ENABLE_CUDA)
  if (name == "cuda")
    return run(Kokkos::Cuda());
#endif
  std::string enabled;
  for (auto const &backend : enabled_backends())
    enabled += (enabled.empty() ? "" : ", ") + backend;
  throw InvalidArgument("--backend '" + name + "' is not enabled in this build (enabled: " + enabled + ")");
}

} // namespace sgpte::drivers

#endif
