#ifndef SGPTE_CORE_KOKKOS_COMPAT_HPP
#define SGPTE_CORE_KOKKOS_COMPAT_HPP

// The one place where Kokkos / Kokkos Kernels version differences live. sgpte builds
// against Debian 12's Kokkos 3.4 (Serial only, C++17) and against Kokkos >= 4.6 with
// CUDA/OpenMP (C++20 with Kokkos 5); everything else includes this header instead of
// spelling a version-specific name.

#include <Kokkos_Core.hpp>

#include <KokkosBlas3_gemm.hpp>

#include <string>

namespace sgpte::compat
{

// Mathematical functions moved from Kokkos::Experimental to Kokkos in 3.7 and the old
// names were removed in 4.x.
#if KOKKOS_VERSION >= 30700
using Kokkos::exp;
using Kokkos::fabs;
using Kokkos::fmax;
using Kokkos::fmin;
using Kokkos::isfinite;
using Kokkos::log;
using Kokkos::nearbyint;
using Kokkos::pow;
using Kokkos::sqrt;
#else
using Kokkos::Experimental::exp;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::fmax;
using Kokkos::Experimental::fmin;
using Kokkos::Experimental::isfinite;
using Kokkos::Experimental::log;
using Kokkos::Experimental::nearbyint;
using Kokkos::Experimental::pow;
using Kokkos::Experimental::sqrt;
#endif

// C = beta C + alpha op(A) op(B) on the given execution-space instance. Kokkos Kernels
// before 4.0 has no instance overload: there the call runs on the default instance, so
// the given instance is fenced first to keep the ordering the caller expects.
template <class ExecutionSpace, class AView, class BView, class CView>
void gemm(ExecutionSpace const &space, char const *trans_a, char const *trans_b,
          typename AView::const_value_type alpha, AView const &a, BView const &b,
          typename CView::const_value_type beta, CView const &c)
{
#if defined(KOKKOSKERNELS_VERSION) && KOKKOSKERNELS_VERSION >= 40000
  KokkosBlas::gemm(space, trans_a, trans_b, alpha, a, b, beta, c);
#else
  space.fence();
  KokkosBlas::gemm(trans_a, trans_b, alpha, a, b, beta, c);
  Kokkos::DefaultExecutionSpace().fence();
#endif
}

// Another instance of the execution space whose work may overlap the given one's (its own
// CUDA stream), e.g. host-device copies beside kernels. Kokkos before 4.0 (Debian's 3.4,
// Serial only) has no partition_space; there the instance itself is returned.
template <class ExecutionSpace>
ExecutionSpace independent_instance(ExecutionSpace const &space)
{
#if KOKKOS_VERSION >= 40000
  return Kokkos::Experimental::partition_space(space, 1)[0];
#else
  return space;
#endif
}

// The Kokkos version the code was compiled against, as printed in reports.
inline std::string version_string()
{
  return std::to_string(KOKKOS_VERSION / 10000) + "." + std::to_string(KOKKOS_VERSION / 100 % 100) +
         "." + std::to_string(KOKKOS_VERSION % 100);
}

} // namespace sgpte::compat

#endif
