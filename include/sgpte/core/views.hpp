#ifndef SGPTE_CORE_VIEWS_HPP
#define SGPTE_CORE_VIEWS_HPP

// The view types the algorithms exchange. Weights and Hessians are column-major
// (LayoutLeft): the lazy block update and the statistics accumulation are then plain BLAS
// calls on sub-views, and on a GPU consecutive threads (rows) read consecutive addresses.

#include <Kokkos_Core.hpp>

#include <type_traits>

namespace sgpte
{

template <class ExecutionSpace>
using Matrix = Kokkos::View<float **, Kokkos::LayoutLeft, typename ExecutionSpace::memory_space>;

template <class ExecutionSpace, class Value = float>
using Vector = Kokkos::View<Value *, typename ExecutionSpace::memory_space>;

// Row-major matrices: activations (tokens × features) and weights as checkpoints store them
// (out × in), in float, float16 or bfloat16.
template <class ExecutionSpace, class Value = float>
using RowMajorMatrix =
    Kokkos::View<Value **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

using HostMatrix = Kokkos::View<float **, Kokkos::LayoutLeft, Kokkos::HostSpace>;

namespace detail
{

// True when kernels of ExecutionSpace may dereference views living in MemorySpace.
template <class ExecutionSpace, class MemorySpace>
inline constexpr bool is_accessible_from_v =
    Kokkos::SpaceAccessibility<ExecutionSpace, MemorySpace>::accessible;

// Host backends run one thread per team and prefer row-contiguous scratch; GPUs want
// consecutive threads on consecutive addresses.
template <class ExecutionSpace>
inline constexpr bool is_host_space_v =
    Kokkos::SpaceAccessibility<ExecutionSpace, Kokkos::HostSpace>::accessible;

} // namespace detail
} // namespace sgpte

#endif
