#ifndef SGPTE_PACKED_DETAIL_DEVICE_ARRAY_HPP
#define SGPTE_PACKED_DETAIL_DEVICE_ARRAY_HPP

// Small host arrays (per column or per stream) to and from device views.

#include <Kokkos_Core.hpp>

#include <string>
#include <vector>

namespace sgpte::packed::detail
{

template <class ExecutionSpace, class Value>
Kokkos::View<Value *, typename ExecutionSpace::memory_space>
to_device(ExecutionSpace const &space, std::string const &label, std::vector<Value> const &values)
{
  Kokkos::View<Value *, typename ExecutionSpace::memory_space> view(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), values.size());
  Kokkos::View<Value const *, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> const
      host(values.data(), values.size());
  Kokkos::deep_copy(space, view, host);
  space.fence(); // the host vector may go away before an asynchronous copy finishes
  return view;
}

template <class View>
std::vector<typename View::non_const_value_type> to_host(View const &view)
{
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  return std::vector<typename View::non_const_value_type>(host.data(), host.data() + host.size());
}

} // namespace sgpte::packed::detail

#endif
