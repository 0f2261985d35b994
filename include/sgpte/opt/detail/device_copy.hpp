#ifndef SGPTE_OPT_DETAIL_DEVICE_COPY_HPP
#define SGPTE_OPT_DETAIL_DEVICE_COPY_HPP

// Host arrays onto the device.

#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <string>

namespace sgpte::opt::detail
{

template <class ExecutionSpace, class Value>
Kokkos::View<Value *, typename ExecutionSpace::memory_space>
copy_to_device(ExecutionSpace const &space, Value const *values, std::size_t count,
               std::string const &label)
{
  Kokkos::View<Value const *, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> const
      host(values, count);
  Kokkos::View<Value *, typename ExecutionSpace::memory_space> device(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), count);
  auto mirror = Kokkos::create_mirror_view(device);
  Kokkos::deep_copy(mirror, host);
  Kokkos::deep_copy(space, device, mirror);
  space.fence(); // the caller's host array may go away
  return device;
}

} // namespace sgpte::opt::detail

#endif
