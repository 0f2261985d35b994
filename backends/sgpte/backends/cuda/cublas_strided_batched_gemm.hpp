#ifndef SGPTE_BACKENDS_CUDA_CUBLAS_STRIDED_BATCHED_GEMM_HPP
#define SGPTE_BACKENDS_CUDA_CUBLAS_STRIDED_BATCHED_GEMM_HPP

// cuBLAS implementation of strided_batched_gemm on Kokkos::Cuda: one
// cublasSgemmStridedBatched call on the instance's stream, in full fp32 (cuBLAS' default
// math mode; no TF32, as the reference runs).

#include <sgpte/backends/cuda/cublas_handle.hpp>

#include <Kokkos_Core.hpp>

#include <type_traits>

namespace sgpte::backends
{
namespace detail
{

// Elements from operand 0 to operand 1 of a batch (0 for a batch of one).
template <class View>
long long batch_stride(View const &first, View const &second)
{
  return static_cast<long long>(second.data() - first.data());
}

} // namespace detail

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
  static_assert(
      std::is_same<typename std::decay_t<decltype(c)>::non_const_value_type, float>::value,
      "cublas_strided_batched_gemm runs fp32 products");
  cublasOperation_t const op_a = detail::cublas_operation(trans_a);
  int const m = static_cast<int>(c.extent(0));
  int const n = static_cast<int>(c.extent(1));
  int const k = static_cast<int>(op_a == CUBLAS_OP_N ? a.extent(1) : a.extent(0));
  if (m == 0 || n == 0)
    return;
  cublasHandle_t const handle = detail::cublas_handle();
  check_cublas(cublasSetStream(handle, space.cuda_stream()), "cublasSetStream");
  check_cublas(cublasSgemmStridedBatched(
                   handle, op_a, detail::cublas_operation(trans_b), m, n, k, &alpha, a.data(),
                   detail::leading_dimension(a), detail::batch_stride(a, a_next), b.data(),
                   detail::leading_dimension(b), detail::batch_stride(b, b_next), &beta, c.data(),
                   detail::leading_dimension(c), detail::batch_stride(c, c_next), count),
               "cublasSgemmStridedBatched");
}

} // namespace sgpte::backends

#endif
