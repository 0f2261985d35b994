#ifndef SGPTE_BACKENDS_HOST_REVERSED_COPY_HPP
#define SGPTE_BACKENDS_HOST_REVERSED_COPY_HPP

// The host-side halves of the reversal route of spd_inverse_factor.hpp, shared by the
// LAPACK and Eigen implementations: J (H + damp·I) J into a column-major double array,
// and L = J L̃⁻ᵀ J back from the inverted factor L̃⁻¹.

#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

namespace sgpte::backends::detail
{

// a(i, j) = H(n-1-i, n-1-j) + damp δᵢⱼ, column-major with leading dimension n.
template <class ExecutionSpace>
void fill_reversed_damped(ExecutionSpace const &space, Matrix<ExecutionSpace> const &hessian,
                          double damp, double *a)
{
  space.fence(); // H may still be being written on the instance
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), hessian);
  int const n = static_cast<int>(hessian.extent(0));
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i)
      a[i + static_cast<std::size_t>(j) * n] =
          static_cast<double>(host(n - 1 - i, n - 1 - j)) + (i == j ? damp : 0.0);
}

// lower(i, j) = inverse_factor(n-1-j, n-1-i) for i ≥ j, 0 above the diagonal, where
// inverse_factor is L̃⁻¹ (lower, column-major, leading dimension n).
template <class ExecutionSpace>
void store_reversed_transpose(ExecutionSpace const &space, double const *inverse_factor,
                              Matrix<ExecutionSpace> const &lower)
{
  int const n = static_cast<int>(lower.extent(0));
  auto host = Kokkos::create_mirror_view(lower);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i)
      host(i, j) = i >= j ? static_cast<float>(
                                inverse_factor[(n - 1 - j) + static_cast<std::size_t>(n - 1 - i) * n])
                          : 0.0f;
  Kokkos::deep_copy(space, lower, host);
  space.fence();
}

} // namespace sgpte::backends::detail

#endif
