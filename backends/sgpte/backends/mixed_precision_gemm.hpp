#ifndef SGPTE_BACKENDS_MIXED_PRECISION_GEMM_HPP
#define SGPTE_BACKENDS_MIXED_PRECISION_GEMM_HPP

// mixed_precision_gemm(space, trans_a, trans_b, alpha, A, B, beta, C): C = beta C + alpha
// op(A) op(B) for column-major views (unit row stride) whose A and B hold one type S — float,
// float16 or bfloat16 — and C S or float, the products accumulated in fp32 and C rounded once,
// as PyTorch computes a half-precision model's products. float operands go to Kokkos Kernels'
// gemm (BLAS or cuBLAS in fp32). Half-precision operands: on CUDA with cuBLAS one
// cublasGemmEx (tensor cores); elsewhere the operands are widened to float, multiplied by
// Kokkos Kernels' gemm and the result narrowed, the same arithmetic up to the order of the
// sums (the host backends' half-precision forward pass is for validation, not speed).

#include <sgpte/config.hpp>

#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
#include <sgpte/backends/cuda/cublas_gemm_ex.hpp>
#endif

#include <Kokkos_Core.hpp>

#include <string>
#include <type_traits>

namespace sgpte::backends
{

template <class ExecutionSpace, class Enable = void>
struct gemm_ex_tpl_spec_avail : std::false_type
{
};

#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
template <>
struct gemm_ex_tpl_spec_avail<Kokkos::Cuda> : std::true_type
{
};
#endif

namespace detail
{

// dst = src entry by entry, converted through float (src and dst of equal extents).
template <class ExecutionSpace, class Source, class Destination>
void convert_entries(ExecutionSpace const &space, Source const &source,
                     Destination const &destination)
{
  using Target = typename Destination::non_const_value_type;
  Kokkos::parallel_for(
      "sgpte::convert_entries",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(
          space, {0, 0},
          {static_cast<std::int64_t>(source.extent(0)),
           static_cast<std::int64_t>(source.extent(1))}),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t j) {
        destination(i, j) = from_float<Target>(to_float(source(i, j)));
      });
}

// A float copy of a column-major view.
template <class ExecutionSpace, class View>
Matrix<ExecutionSpace> widened(ExecutionSpace const &space, View const &view)
{
  Matrix<ExecutionSpace> copy(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string("sgpte::widened")),
      view.extent(0), view.extent(1));
  convert_entries(space, view, copy);
  return copy;
}

} // namespace detail

template <class ExecutionSpace, class AView, class BView, class CView>
void mixed_precision_gemm(ExecutionSpace const &space, char const *trans_a, char const *trans_b,
                          float alpha, AView const &a, BView const &b, float beta, CView const &c)
{
  using Operand = typename AView::non_const_value_type;
  using Result = typename CView::non_const_value_type;
  static_assert(std::is_same<Operand, typename BView::non_const_value_type>::value,
                "mixed_precision_gemm: A and B hold the same type");
  static_assert(std::is_same<Result, Operand>::value || std::is_same<Result, float>::value,
                "mixed_precision_gemm: C holds the operands' type or float");
  if constexpr (std::is_same<Operand, float>::value)
    compat::gemm(space, trans_a, trans_b, alpha, a, b, beta, c);
  else if constexpr (gemm_ex_tpl_spec_avail<ExecutionSpace>::value)
  {
#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
    cublas_gemm_ex(space, trans_a, trans_b, alpha, a, b, beta, c);
#endif
  }
  else
  {
    auto const wide_a = detail::widened(space, a);
    auto const wide_b = detail::widened(space, b);
    if constexpr (std::is_same<Result, float>::value)
      compat::gemm(space, trans_a, trans_b, alpha, wide_a, wide_b, beta, c);
    else
    {
      auto const wide_c = detail::widened(space, c);
      compat::gemm(space, trans_a, trans_b, alpha, wide_a, wide_b, beta, wide_c);
      detail::convert_entries(space, wide_c, c);
    }
  }
}

} // namespace sgpte::backends

#endif
