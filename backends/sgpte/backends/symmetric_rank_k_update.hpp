#ifndef SGPTE_BACKENDS_SYMMETRIC_RANK_K_UPDATE_HPP
#define SGPTE_BACKENDS_SYMMETRIC_RANK_K_UPDATE_HPP

// symmetric_rank_k_update_lower(space, trans, alpha, A, beta, C): the lower triangle of
// C = beta C + alpha op(A) op(A)ᵀ with op(A) = A for "N" and Aᵀ for "T", for float
// column-major views (unit row stride), C n × n and symmetric; its strict upper triangle is
// left behind, for mirror_lower_to_upper to complete once after many updates. This is the
// calibration statistics' H += XᵀX, where it is the main cost of a calibration pass.
//
// Dispatch follows Kokkos Kernels' TPL pattern: where a vendor BLAS serves the execution
// space (ssyrk of the host BLAS that comes with LAPACK, cublasSsyrk on CUDA) only the lower
// triangle is computed, half the flops of a GEMM; elsewhere Kokkos Kernels' gemm forms the
// whole product (Kokkos Kernels has no syrk). cuBLAS' syrk only pays off for large C: on an
// H200 with k = 2048, per update, cublasSsyrk against cublasSgemm took 184 against 61 µs at
// n = 768, 109 against 94 µs at 1024, 156 against 179 µs at 1280 and 208 against 245 µs at
// 1536 (`git show 8af60cd:tools/device/statistics_update_probe.cu`), so CUDA takes the GEMM below
// cublas_syrk_min_order.

#include <sgpte/config.hpp>

#include <sgpte/backends/blas_arguments.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/product_precision.hpp>
#include <sgpte/core/views.hpp>

#if SGPTE_HAVE_LAPACK
#include <sgpte/backends/host/blas_symmetric_rank_k_update.hpp>
#endif
#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
#include <sgpte/backends/cuda/cublas_symmetric_rank_k_update.hpp>
#endif

#include <Kokkos_Core.hpp>

#include <string>
#include <type_traits>

namespace sgpte::backends
{

template <class ExecutionSpace, class Enable = void>
struct symmetric_rank_k_update_tpl_spec_avail : std::false_type
{
};

#if SGPTE_HAVE_LAPACK
template <class ExecutionSpace>
struct symmetric_rank_k_update_tpl_spec_avail<
    ExecutionSpace, std::enable_if_t<sgpte::detail::is_host_space_v<ExecutionSpace>>>
    : std::true_type
{
};
#endif

#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
template <>
struct symmetric_rank_k_update_tpl_spec_avail<Kokkos::Cuda> : std::true_type
{
};
#endif

inline constexpr int cublas_syrk_min_order = 1280;

// Whether symmetric_rank_k_update_lower of an n × n C goes to the vendor syrk.
template <class ExecutionSpace>
bool symmetric_rank_k_update_uses_vendor([[maybe_unused]] int n)
{
  if constexpr (!symmetric_rank_k_update_tpl_spec_avail<ExecutionSpace>::value)
    return false;
#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
  else if constexpr (std::is_same<ExecutionSpace, Kokkos::Cuda>::value)
    return n >= cublas_syrk_min_order;
#endif
  else
    return true;
}

// Whether symmetric_rank_k_update_lower takes ProductPrecision::tf32 on ExecutionSpace.
template <class ExecutionSpace>
inline constexpr bool supports_tf32_products =
#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
    std::is_same<ExecutionSpace, Kokkos::Cuda>::value;
#else
    false;
#endif

// C(i, j) = C(j, i) above the diagonal. Consecutive i are consecutive addresses of the
// written column.
template <class ExecutionSpace, class CView>
void mirror_lower_to_upper(ExecutionSpace const &space, CView const &c)
{
  int const n = static_cast<int>(c.extent(0));
  Kokkos::parallel_for(
      "sgpte::mirror_lower_to_upper",
      Kokkos::MDRangePolicy<ExecutionSpace,
                            Kokkos::Rank<2, Kokkos::Iterate::Left, Kokkos::Iterate::Left>>(
          space, {0, 0}, {n, n}),
      KOKKOS_LAMBDA(int i, int j) {
        if (i < j)
          c(i, j) = c(j, i);
      });
}

// With ProductPrecision::tf32 (where supports_tf32_products) the whole of C is formed in TF32;
// elsewhere tf32 throws InvalidArgument.
template <class ExecutionSpace, class AView, class CView>
void symmetric_rank_k_update_lower(ExecutionSpace const &space, char const *trans, float alpha,
                                   AView const &a, float beta, CView const &c,
                                   ProductPrecision precision = ProductPrecision::fp32)
{
  static_assert(Kokkos::is_view<AView>::value && Kokkos::is_view<CView>::value,
                "A and C must be Kokkos views");
  static_assert(std::is_same<typename AView::array_layout, Kokkos::LayoutLeft>::value &&
                    std::is_same<typename CView::array_layout, Kokkos::LayoutLeft>::value,
                "A and C must be column-major");
  static_assert(std::is_same<typename CView::non_const_value_type, float>::value,
                "C must hold float");
  if (precision == ProductPrecision::tf32)
  {
    if constexpr (supports_tf32_products<ExecutionSpace>)
    {
      Kokkos::Profiling::pushRegion("sgpte::symmetric_rank_k_update_lower (TF32)");
      cublas_tf32_rank_k_update(space, trans, alpha, a, beta, c);
      Kokkos::Profiling::popRegion();
      return;
    }
    else
      throw InvalidArgument(std::string("TF32 products need the Cuda backend with cuBLAS, not ") +
                            ExecutionSpace::name());
  }
  Kokkos::Profiling::pushRegion("sgpte::symmetric_rank_k_update_lower");
  if (symmetric_rank_k_update_uses_vendor<ExecutionSpace>(static_cast<int>(c.extent(0))))
  {
#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
    if constexpr (std::is_same<ExecutionSpace, Kokkos::Cuda>::value)
      cublas_symmetric_rank_k_update_lower(space, trans, alpha, a, beta, c);
#endif
#if SGPTE_HAVE_LAPACK
    if constexpr (sgpte::detail::is_host_space_v<ExecutionSpace>)
      blas_symmetric_rank_k_update_lower(space, trans, alpha, a, beta, c);
#endif
  }
  else
  {
    bool const transposed = detail::transposes(trans);
    compat::gemm(space, transposed ? "T" : "N", transposed ? "N" : "T", alpha, a, a, beta, c);
  }
  Kokkos::Profiling::popRegion();
}

} // namespace sgpte::backends

#endif
