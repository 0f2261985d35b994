#ifndef SGPTE_BACKENDS_RANK_K_UPDATE_INTO_HPP
#define SGPTE_BACKENDS_RANK_K_UPDATE_INTO_HPP

// rank_k_update_into(space, trans, alpha, A, beta, C, D, precision, workspace): the lower
// triangle of D = beta C + alpha op(A) op(A)ᵀ, C left as it is (symmetric_rank_k_update.hpp
// names the arguments). The calibration statistics form a batch's update beside H this way
// while the host waits for the batch's check, and take D as the new H only if the batch
// passes: no second pass over H to add a staged product.
//
// Dispatch as in symmetric_rank_k_update.hpp: on Kokkos::Cuda with cuBLAS, one
// cublasLtMatmul forms all of D (cuda/cublaslt_rank_k_update.hpp); elsewhere C is copied into
// D and updated there. RankKUpdateWorkspace<ExecutionSpace> holds what the vendor call needs
// between calls (nothing elsewhere).

#include <sgpte/config.hpp>

#include <sgpte/backends/symmetric_rank_k_update.hpp>
#include <sgpte/core/product_precision.hpp>

#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
#include <sgpte/backends/cuda/cublaslt_rank_k_update.hpp>
#endif

#include <Kokkos_Core.hpp>

#include <type_traits>

namespace sgpte::backends
{

template <class ExecutionSpace, class Enable = void>
struct rank_k_update_into_tpl_spec_avail : std::false_type
{
};

template <class ExecutionSpace>
struct RankKUpdateWorkspace
{
  void release() {}
};

#if SGPTE_HAVE_CUBLAS && defined(KOKKOS_ENABLE_CUDA)
template <>
struct rank_k_update_into_tpl_spec_avail<Kokkos::Cuda> : std::true_type
{
};

template <>
struct RankKUpdateWorkspace<Kokkos::Cuda> : CublasLtWorkspace
{
};
#endif

template <class ExecutionSpace, class AView, class CView>
void rank_k_update_into(ExecutionSpace const &space, char const *trans, float alpha, AView const &a,
                        float beta, CView const &c, CView const &d, ProductPrecision precision,
                        [[maybe_unused]] RankKUpdateWorkspace<ExecutionSpace> &workspace)
{
  static_assert(Kokkos::is_view<AView>::value && Kokkos::is_view<CView>::value,
                "A, C and D must be Kokkos views");
  static_assert(std::is_same<typename AView::array_layout, Kokkos::LayoutLeft>::value &&
                    std::is_same<typename CView::array_layout, Kokkos::LayoutLeft>::value,
                "A, C and D must be column-major");
  static_assert(std::is_same<typename CView::non_const_value_type, float>::value,
                "C and D must hold float");
  if constexpr (rank_k_update_into_tpl_spec_avail<ExecutionSpace>::value)
  {
    Kokkos::Profiling::pushRegion("sgpte::rank_k_update_into");
    cublaslt_rank_k_update_into(space, trans, alpha, a, beta, c, d, precision, workspace);
    Kokkos::Profiling::popRegion();
  }
  else
  {
    Kokkos::deep_copy(space, d, c);
    symmetric_rank_k_update_lower(space, trans, alpha, a, beta, d, precision);
  }
}

} // namespace sgpte::backends

#endif
