#ifndef SGPTE_BACKENDS_HOST_BLAS_SYMMETRIC_RANK_K_UPDATE_HPP
#define SGPTE_BACKENDS_HOST_BLAS_SYMMETRIC_RANK_K_UPDATE_HPP

// Host BLAS implementation of the lower half of symmetric_rank_k_update: ssyrk (threaded
// when the BLAS is OpenBLAS or MKL). The BLAS comes with the LAPACK the build found.

#include <sgpte/backends/blas_arguments.hpp>

#include <cstddef>

extern "C"
{
  // Fortran BLAS; the trailing arguments are the hidden lengths of the character arguments
  // (gfortran ABI).
  void ssyrk_(char const *uplo, char const *trans, int const *n, int const *k, float const *alpha,
              float const *a, int const *lda, float const *beta, float *c, int const *ldc,
              std::size_t uplo_length, std::size_t trans_length);
}

namespace sgpte::backends
{

// The lower triangle of C = beta C + alpha op(A) op(A)ᵀ; the strict upper triangle is not
// touched.
template <class ExecutionSpace, class AView, class CView>
void blas_symmetric_rank_k_update_lower(ExecutionSpace const &space, char const *trans, float alpha,
                                        AView const &a, float beta, CView const &c)
{
  bool const transposed = detail::transposes(trans);
  int const n = static_cast<int>(c.extent(0));
  int const k = static_cast<int>(transposed ? a.extent(0) : a.extent(1));
  int const lda = detail::leading_dimension(a);
  int const ldc = detail::leading_dimension(c);
  space.fence(); // A and C may still be being written on the instance
  ssyrk_("L", transposed ? "T" : "N", &n, &k, &alpha, a.data(), &lda, &beta, c.data(), &ldc, 1, 1);
}

} // namespace sgpte::backends

#endif
