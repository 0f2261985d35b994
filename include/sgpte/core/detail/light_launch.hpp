#ifndef SGPTE_CORE_DETAIL_LIGHT_LAUNCH_HPP
#define SGPTE_CORE_DETAIL_LIGHT_LAUNCH_HPP

// The launch of kernels that run once per call of a hot operation (packed_matmul) and whose
// functor holds views of a whole layer. Kokkos' CUDA backend passes a kernel's driver (the
// functor and the policy) as a kernel argument only while it is under 512 bytes; a larger one
// goes through constant memory, whose launch waits on the host for the previous such kernel to
// finish (on an H200, back to back, an empty team kernel with packed_matmul's 432-byte functor,
// a 584-byte driver, took 14.4 µs a call; with an 8-byte functor, or the 432-byte one in a
// 480-byte range driver, 4.5 to 4.7 µs). WorkItemProperty::HintLightWeight
// keeps the driver a kernel argument up to 4 KB, the limit of kernel arguments before CUDA
// 12.1; Kokkos would fall back to constant memory above it, so the functor's size is checked
// here, leaving 512 bytes of the driver for the policy. Host backends ignore the hint. The
// spelling is the same in Kokkos 3.4 and 4.x.

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace sgpte::detail
{

inline constexpr std::size_t light_launch_functor_bytes = 4096 - 512;

// `policy` with the light-weight launch, for a kernel of functor type Functor.
template <class Functor, class Policy>
auto light_launch(Policy const &policy)
{
  static_assert(sizeof(Functor) <= light_launch_functor_bytes,
                "the functor is too large to be passed as a kernel argument");
  return Kokkos::Experimental::require(policy,
                                       Kokkos::Experimental::WorkItemProperty::HintLightWeight);
}

} // namespace sgpte::detail

#endif
