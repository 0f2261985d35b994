#ifndef SGPTE_BACKENDS_CUDA_CUBLAS_SYMMETRIC_RANK_K_UPDATE_HPP
#define SGPTE_BACKENDS_CUDA_CUBLAS_SYMMETRIC_RANK_K_UPDATE_HPP

// cuBLAS implementations of the lower half of symmetric_rank_k_update on Kokkos::Cuda, on the
// instance's stream: cublasSsyrk in full fp32 (cuBLAS' default math mode), and the whole
// product by cublasGemmEx on the tensor cores in TF32 (ProductPrecision::tf32).

#include <sgpte/backends/cuda/cublas_handle.hpp>

#include <Kokkos_Core.hpp>

namespace sgpte::backends
{

// The lower triangle of C = beta C + alpha op(A) op(A)ᵀ; the strict upper triangle is not
// touched.
template <class AView, class CView>
void cublas_symmetric_rank_k_update_lower(Kokkos::Cuda const &space, char const *trans, float alpha,
                                          AView const &a, float beta, CView const &c)
{
  using detail::check_cublas;
  cublasOperation_t const op = detail::cublas_operation(trans);
  int const n = static_cast<int>(c.extent(0));
  int const k = static_cast<int>(op == CUBLAS_OP_T ? a.extent(0) : a.extent(1));
  cublasHandle_t const handle = detail::cublas_handle_on(space);
  check_cublas(cublasSsyrk(handle, CUBLAS_FILL_MODE_LOWER, op, n, k, &alpha, a.data(),
                           detail::leading_dimension(a), &beta, c.data(),
                           detail::leading_dimension(c)),
               "cublasSsyrk");
}

// C = beta C + alpha op(A) op(A)ᵀ, the inputs rounded to TF32 and the products accumulated in
// fp32: cuBLAS has no TF32 syrk, so the whole of C is formed.
template <class AView, class CView>
void cublas_tf32_rank_k_update(Kokkos::Cuda const &space, char const *trans, float alpha,
                               AView const &a, float beta, CView const &c)
{
  using detail::check_cublas;
  cublasOperation_t const op = detail::cublas_operation(trans);
  cublasOperation_t const op_b = op == CUBLAS_OP_T ? CUBLAS_OP_N : CUBLAS_OP_T;
  int const n = static_cast<int>(c.extent(0));
  int const k = static_cast<int>(op == CUBLAS_OP_T ? a.extent(0) : a.extent(1));
  int const lda = detail::leading_dimension(a);
  cublasHandle_t const handle = detail::cublas_handle_on(space);
  check_cublas(cublasGemmEx(handle, op, op_b, n, n, k, &alpha, a.data(), CUDA_R_32F, lda, a.data(),
                            CUDA_R_32F, lda, &beta, c.data(), CUDA_R_32F,
                            detail::leading_dimension(c), CUBLAS_COMPUTE_32F_FAST_TF32,
                            CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx (TF32)");
}

} // namespace sgpte::backends

#endif
