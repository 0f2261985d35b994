#ifndef SGPTE_DRIVERS_COMMON_PEAK_MEMORY_HPP
#define SGPTE_DRIVERS_COMMON_PEAK_MEMORY_HPP

// The most memory a program's Kokkos views held at once in one memory space (the GPU's on
// Cuda), through Kokkos' tool callbacks for allocations: what the memory plan estimates.
// Vendor libraries' own workspaces (cuBLAS, cuSOLVER) are not Kokkos allocations and are not
// counted.

#include <Kokkos_Core.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

namespace sgpte::drivers
{

class PeakMemory
{
public:
  // Starts counting allocations in `memory_space` (e.g. Kokkos::CudaSpace::name()).
  static void track(char const *memory_space)
  {
    std::strncpy(space_name(), memory_space, name_size - 1);
    Kokkos::Tools::Experimental::set_allocate_data_callback(on_allocate);
    Kokkos::Tools::Experimental::set_deallocate_data_callback(on_deallocate);
  }

  static std::uint64_t peak_bytes() { return peak().load(); }

private:
  static constexpr std::size_t name_size = 64;

  static char *space_name()
  {
    static char name[name_size] = {};
    return name;
  }
  static std::atomic<std::int64_t> &current()
  {
    static std::atomic<std::int64_t> bytes{0};
    return bytes;
  }
  static std::atomic<std::uint64_t> &peak()
  {
    static std::atomic<std::uint64_t> bytes{0};
    return bytes;
  }

  static void on_allocate(Kokkos_Profiling_SpaceHandle const handle, char const *, void const *,
                          std::uint64_t const size)
  {
    if (std::strncmp(handle.name, space_name(), name_size) != 0)
      return;
    auto const now = static_cast<std::uint64_t>(current() += static_cast<std::int64_t>(size));
    std::uint64_t seen = peak().load();
    while (now > seen && !peak().compare_exchange_weak(seen, now))
    {
    }
  }

  static void on_deallocate(Kokkos_Profiling_SpaceHandle const handle, char const *, void const *,
                            std::uint64_t const size)
  {
    if (std::strncmp(handle.name, space_name(), name_size) == 0)
      current() -= static_cast<std::int64_t>(size);
  }
};

} // namespace sgpte::drivers

#endif
