#ifndef SGPTE_BACKENDS_STRIDED_BATCHED_GEMM_HPP
#define SGPTE_BACKENDS_STRIDED_BATCHED_GEMM_HPP

// strided_batched_gemm(space, trans_a, trans_b, alpha, operands, count, beta):
// C_b = beta C_b + alpha op(A_b) op(B_b) for b = 0 … count − 1, where operands(b) returns
// the tuple (A_b, B_b, C_b) of column-major views with unit row stride, and each operand's
// data pointer advances by a fixed number of elements from one b to the next (matrices
// at a fixed stride in one buffer, e.g. the heads of multi-head attention). The operand
// types are those of mixed_precision_gemm: A and B float, float16 or bfloat16, C the same or
// float, accumulated in fp32.
//
// Dispatch follows Kokkos Kernels' TPL pattern: on CUDA with cuBLAS the whole batch is one
// cublasGemmStridedBatchedEx call — the attention products are many small GEMMs (K = 64,
// or an output of 64 rows) that one at a time leave most of the GPU idle; elsewhere the
// products run one after another through mixed_precision_gemm (Kokkos Kernels 3.4, the
// Debian build, has no batched GEMM on views with a leading dimension).

#include <sgpte/config.hpp>

#include <sgpte/backends/mixed_precision_gemm.hpp>

#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
#include <sgpte/backends/cuda/cublas_gemm_ex.hpp>
#endif

#include <Kokkos_Core.hpp>

#include <type_traits>

namespace sgpte::backends
{

template <class ExecutionSpace, class Operands>
void strided_batched_gemm(ExecutionSpace const &space, char const *trans_a, char const *trans_b,
                          float alpha, Operands const &operands, int count, float beta)
{
  Kokkos::Profiling::pushRegion("sgpte::strided_batched_gemm");
  if constexpr (gemm_ex_tpl_spec_avail<ExecutionSpace>::value)
  {
#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
    cublas_strided_batched_gemm(space, trans_a, trans_b, alpha, operands, count, beta);
#endif
  }
  else
  {
    for (int b = 0; b < count; ++b)
    {
      auto const [a, x, c] = operands(b);
      mixed_precision_gemm(space, trans_a, trans_b, alpha, a, x, beta, c);
    }
  }
  Kokkos::Profiling::popRegion();
}

} // namespace sgpte::backends

#endif
