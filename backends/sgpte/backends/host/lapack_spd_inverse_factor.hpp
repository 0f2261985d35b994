#ifndef SGPTE_BACKENDS_HOST_LAPACK_SPD_INVERSE_FACTOR_HPP
#define SGPTE_BACKENDS_HOST_LAPACK_SPD_INVERSE_FACTOR_HPP

// LAPACK implementation of spd_inverse_lower_factor for host execution spaces: dpotrf and
// dtrtri (multi-threaded when the LAPACK is OpenBLAS or MKL).

#include <sgpte/backends/host/reversed_copy.hpp>
#include <sgpte/core/views.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

extern "C"
{
  // Fortran LAPACK; the trailing arguments are the hidden lengths of the character
  // arguments (gfortran ABI).
  void dpotrf_(char const *uplo, int const *n, double *a, int const *lda, int *info,
               std::size_t uplo_length);
  void dtrtri_(char const *uplo, char const *diag, int const *n, double *a, int const *lda,
               int *info, std::size_t uplo_length, std::size_t diag_length);
}

namespace sgpte::backends
{

template <class ExecutionSpace>
bool lapack_spd_inverse_lower_factor(ExecutionSpace const &space, Matrix<ExecutionSpace> const &hessian,
                                     double damp, Matrix<ExecutionSpace> const &lower)
{
  int const n = static_cast<int>(hessian.extent(0));
  std::vector<double> a(static_cast<std::size_t>(n) * n);
  detail::fill_reversed_damped(space, hessian, damp, a.data());
  int info = 0;
  dpotrf_("L", &n, a.data(), &n, &info, 1);
  if (info != 0)
    return false;
  dtrtri_("L", "N", &n, a.data(), &n, &info, 1, 1);
  if (info != 0)
    return false;
  for (int j = 0; j < n; ++j)
    for (int i = j; i < n; ++i)
      if (!std::isfinite(a[i + static_cast<std::size_t>(j) * n]))
        return false;
  detail::store_reversed_transpose(space, a.data(), lower);
  return true;
}

} // namespace sgpte::backends

#endif
