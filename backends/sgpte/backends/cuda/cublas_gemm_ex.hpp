#ifndef SGPTE_BACKENDS_CUDA_CUBLAS_GEMM_EX_HPP
#define SGPTE_BACKENDS_CUDA_CUBLAS_GEMM_EX_HPP

// cuBLAS implementations of mixed_precision_gemm and strided_batched_gemm on Kokkos::Cuda:
// cublasGemmEx and cublasGemmStridedBatchedEx on the instance's stream, operands in float,
// F16 or BF16, the result in the operands' type or in float, always accumulated in fp32
// (CUBLAS_COMPUTE_32F: half-precision operands go through the tensor cores, float ones
// through the CUDA cores in full fp32, no TF32, as the reference runs).

#include <sgpte/backends/cuda/cublas_handle.hpp>
#include <sgpte/core/half_precision.hpp>

#include <Kokkos_Core.hpp>

#include <type_traits>

#include <cublas_v2.h>

namespace sgpte::backends
{
namespace detail
{

template <class T>
cudaDataType cuda_data_type()
{
  if constexpr (std::is_same<T, float16>::value)
    return CUDA_R_16F;
  else if constexpr (std::is_same<T, bfloat16>::value)
    return CUDA_R_16BF;
  else
  {
    static_assert(std::is_same<T, float>::value, "cuBLAS operands are float, float16 or bfloat16");
    return CUDA_R_32F;
  }
}

template <class View>
cudaDataType cuda_data_type_of(View const &)
{
  return cuda_data_type<typename View::non_const_value_type>();
}

// C's rows and columns and the inner dimension of C = op(A) op(B).
struct GemmShape
{
  int m, n, k;
};

template <class AView, class CView>
GemmShape gemm_shape(cublasOperation_t op_a, AView const &a, CView const &c)
{
  return {static_cast<int>(c.extent(0)), static_cast<int>(c.extent(1)),
          static_cast<int>(op_a == CUBLAS_OP_N ? a.extent(1) : a.extent(0))};
}

// Elements from operand 0 to operand 1 of a batch (0 for a batch of one).
template <class View>
long long batch_stride(View const &first, View const &second)
{
  return static_cast<long long>(second.data() - first.data());
}

} // namespace detail

template <class AView, class BView, class CView>
void cublas_gemm_ex(Kokkos::Cuda const &space, char const *trans_a, char const *trans_b,
                    float alpha, AView const &a, BView const &b, float beta, CView const &c)
{
  using detail::check_cublas;
  cublasOperation_t const op_a = detail::cublas_operation(trans_a);
  auto const [m, n, k] = detail::gemm_shape(op_a, a, c);
  if (m == 0 || n == 0)
    return;
  detail::HeldFloatingPointTraps const traps;
  check_cublas(cublasGemmEx(detail::cublas_handle_on(space), op_a,
                            detail::cublas_operation(trans_b), m, n, k, &alpha, a.data(),
                            detail::cuda_data_type_of(a), detail::leading_dimension(a), b.data(),
                            detail::cuda_data_type_of(b), detail::leading_dimension(b), &beta,
                            c.data(), detail::cuda_data_type_of(c), detail::leading_dimension(c),
                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

template <class Operands>
void cublas_strided_batched_gemm(Kokkos::Cuda const &space, char const *trans_a,
                                 char const *trans_b, float alpha, Operands const &operands,
                                 int count, float beta)
{
  using detail::check_cublas;
  if (count <= 0)
    return;
  auto const [a, b, c] = operands(0);
  auto const [a_next, b_next, c_next] = operands(count > 1 ? 1 : 0);
  cublasOperation_t const op_a = detail::cublas_operation(trans_a);
  auto const [m, n, k] = detail::gemm_shape(op_a, a, c);
  if (m == 0 || n == 0)
    return;
  detail::HeldFloatingPointTraps const traps;
  check_cublas(cublasGemmStridedBatchedEx(
                   detail::cublas_handle_on(space), op_a, detail::cublas_operation(trans_b), m, n,
                   k, &alpha, a.data(), detail::cuda_data_type_of(a), detail::leading_dimension(a),
                   detail::batch_stride(a, a_next), b.data(), detail::cuda_data_type_of(b),
                   detail::leading_dimension(b), detail::batch_stride(b, b_next), &beta, c.data(),
                   detail::cuda_data_type_of(c), detail::leading_dimension(c),
                   detail::batch_stride(c, c_next), count, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmStridedBatchedEx");
}

} // namespace sgpte::backends

#endif
