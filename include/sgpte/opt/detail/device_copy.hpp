#ifndef SGPTE_OPT_DETAIL_DEVICE_COPY_HPP
#define SGPTE_OPT_DETAIL_DEVICE_COPY_HPP

// Host arrays onto the device, and the device matrix of a row-major host array.

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

// Copies a row-major host array into an existing column-major device matrix.
template <class ExecutionSpace>
void copy_rows_to_device(ExecutionSpace const &space, float const *rows,
                         Matrix<ExecutionSpace> const &matrix)
{
  Kokkos::View<float const **, Kokkos::LayoutRight, Kokkos::HostSpace,
               Kokkos::MemoryTraits<Kokkos::Unmanaged>> const host_rows(rows, matrix.extent(0),
                                                                        matrix.extent(1));
  auto mirror = Kokkos::create_mirror_view(matrix);
  Kokkos::deep_copy(mirror, host_rows);
  Kokkos::deep_copy(space, matrix, mirror);
  space.fence();
}

} // namespace sgpte::opt::detail

#endif
