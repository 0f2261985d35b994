#ifndef SGPTE_BACKENDS_SPD_INVERSE_FACTOR_HPP
#define SGPTE_BACKENDS_SPD_INVERSE_FACTOR_HPP

// spd_inverse_lower_factor(space, H, damp, L): the lower-triangular L with
// (H + damp·I)⁻¹ = L Lᵀ, i.e. the transpose of the upper Cholesky factor U of H⁻¹ that
// the reference computes with cholesky → cholesky_inverse → cholesky(upper).
//
// Route (one factorisation and one triangular inverse instead of the reference's three
// cubic steps): with J the reversal permutation, J H J = L̃ L̃ᵀ gives
// H⁻¹ = J L̃⁻ᵀ L̃⁻¹ J = Uᵀ U with U = J L̃⁻¹ J upper triangular, so L = Uᵀ = J L̃⁻ᵀ J.
// The factorisation runs in double precision whatever the backend.
//
// Dispatch follows Kokkos Kernels' TPL pattern: spd_inverse_factor_tpl_spec_avail says
// whether a vendor library serves an execution space (LAPACK on the host, cuSOLVER on
// CUDA); otherwise the native implementation (Eigen, on a host copy) runs.

#include <sgpte/config.hpp>

#include <sgpte/backends/host/eigen_spd_inverse_factor.hpp>
#include <sgpte/core/views.hpp>

#if SGPTE_HAVE_LAPACK
#include <sgpte/backends/host/lapack_spd_inverse_factor.hpp>
#endif
#if SGPTE_HAVE_CUSOLVER && defined(KOKKOS_ENABLE_CUDA)
#include <sgpte/backends/cuda/cusolver_spd_inverse_factor.hpp>
#endif

#include <Kokkos_Core.hpp>

#include <type_traits>

namespace sgpte::backends
{

template <class ExecutionSpace, class Enable = void>
struct spd_inverse_factor_tpl_spec_avail : std::false_type
{
};

#if SGPTE_HAVE_LAPACK
template <class ExecutionSpace>
struct spd_inverse_factor_tpl_spec_avail<
    ExecutionSpace, std::enable_if_t<sgpte::detail::is_host_space_v<ExecutionSpace>>>
    : std::true_type
{
};
#endif

#if SGPTE_HAVE_CUSOLVER && defined(KOKKOS_ENABLE_CUDA)
template <>
struct spd_inverse_factor_tpl_spec_avail<Kokkos::Cuda> : std::true_type
{
};
#endif

// Returns false when H + damp·I is not positive definite (L is then unspecified).
// H is read in full (it is symmetric); L must be n × n and is overwritten.
template <class ExecutionSpace>
bool spd_inverse_lower_factor(ExecutionSpace const &space, Matrix<ExecutionSpace> const &hessian,
                              double damp, Matrix<ExecutionSpace> const &lower)
{
  Kokkos::Profiling::pushRegion("sgpte::spd_inverse_lower_factor");
  bool ok;
  if constexpr (!spd_inverse_factor_tpl_spec_avail<ExecutionSpace>::value)
    ok = eigen_spd_inverse_lower_factor(space, hessian, damp, lower);
#if SGPTE_HAVE_CUSOLVER && defined(KOKKOS_ENABLE_CUDA)
  else if constexpr (std::is_same<ExecutionSpace, Kokkos::Cuda>::value)
    ok = cusolver_spd_inverse_lower_factor(space, hessian, damp, lower);
#endif
#if SGPTE_HAVE_LAPACK
  else
    ok = lapack_spd_inverse_lower_factor(space, hessian, damp, lower);
#endif
  Kokkos::Profiling::popRegion();
  return ok;
}

} // namespace sgpte::backends

#endif
