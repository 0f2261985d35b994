#ifndef SGPTE_CALIBRATION_DETAIL_GRAM_UPDATE_HPP
#define SGPTE_CALIBRATION_DETAIL_GRAM_UPDATE_HPP

// The product half of the calibration statistics (CalibrationStatistics): H = beta H + alpha
// XᵀX for a batch X of tokens × columns in any layout, through the backends' symmetric rank-k
// update (in place, or formed beside H for the staged update), or, for half-precision batches,
// their products on the tensor cores.

#include <sgpte/backends/completion_event.hpp>
#include <sgpte/backends/mixed_precision_gemm.hpp>
#include <sgpte/backends/rank_k_update_into.hpp>
#include <sgpte/backends/symmetric_rank_k_update.hpp>
#include <sgpte/core/product_precision.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace sgpte::detail
{

// Calls product(trans, A) with a column-major A for which op(A)ᵀ op(A) is XᵀX, X the batch of
// tokens × columns in any layout.
template <class ExecutionSpace, class InputView, class Product>
void with_column_major_batch(ExecutionSpace const &space, InputView const &inputs,
                             Product const &product)
{
  using layout = typename InputView::array_layout;
  bool const contiguous = inputs.span() == inputs.extent(0) * inputs.extent(1);
  if constexpr (std::is_same<layout, Kokkos::LayoutLeft>::value)
  {
    product("T", inputs);
    return;
  }
  else if constexpr (std::is_same<layout, Kokkos::LayoutRight>::value)
  {
    if (contiguous)
    {
      // A row-major tokens × columns matrix is a column-major columns × tokens one: XᵀX is
      // then (Xᵀ)(Xᵀ)ᵀ without a copy.
      Kokkos::View<float const **, Kokkos::LayoutLeft, typename InputView::memory_space,
                   Kokkos::MemoryTraits<Kokkos::Unmanaged>>
          transposed(inputs.data(), inputs.extent(1), inputs.extent(0));
      product("N", transposed);
      return;
    }
  }
  Matrix<ExecutionSpace> copy(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::batch_copy"), inputs.extent(0),
      inputs.extent(1));
  Kokkos::deep_copy(space, copy, inputs);
  product("T", copy);
}

// The lower triangle of H = beta H + alpha XᵀX.
template <class ExecutionSpace, class InputView>
void gram_update_lower(ExecutionSpace const &space, float alpha, InputView const &inputs,
                       float beta, Matrix<ExecutionSpace> const &hessian,
                       ProductPrecision precision = ProductPrecision::fp32)
{
  with_column_major_batch(space, inputs,
                          [&](char const *trans, auto const &a) {
                            backends::symmetric_rank_k_update_lower(space, trans, alpha, a, beta,
                                                                    hessian, precision);
                          });
}

// The lower triangle of next = beta H + alpha XᵀX, H left as it is.
template <class ExecutionSpace, class InputView>
void gram_update_into(ExecutionSpace const &space, float alpha, InputView const &inputs, float beta,
                      Matrix<ExecutionSpace> const &hessian, Matrix<ExecutionSpace> const &next,
                      ProductPrecision precision,
                      backends::RankKUpdateWorkspace<ExecutionSpace> &workspace)
{
  with_column_major_batch(space, inputs,
                          [&](char const *trans, auto const &a)
                          {
                            backends::rank_k_update_into(space, trans, alpha, a, beta, hessian,
                                                         next, precision, workspace);
                          });
}

// Tokens per product of half_gram_update.
inline constexpr std::int64_t half_product_slice_tokens = 2048;

// The lower triangle (at least) of H = beta H + alpha XᵀX for a batch X of float16 or bfloat16
// values. The products of two such values are exact in float, so XᵀX in fp32 is the same sum
// of the same exact products whichever unit forms it. With cuBLAS (gemm_ex_tpl_spec_avail) the
// tensor cores form it (cublasGemmEx, CUBLAS_COMPUTE_32F: half-precision operands, fp32
// accumulation), in slices of at most half_product_slice_tokens tokens, each added into H in
// fp32, so that no accumulation inside the tensor cores runs over more than 128 of their
// 16-term steps: their additions truncate instead of rounding to nearest, and a slice's error
// stays within the bound of an fp32 dot product of the same length (tests/core,
// half_inputs_match_their_float_values). Elsewhere the batch is widened to float and takes the
// float path. The product precision makes no difference here: half-precision values are also
// exact in TF32.
template <class ExecutionSpace, class InputView>
void half_gram_update(ExecutionSpace const &space, float alpha, InputView const &inputs, float beta,
                      Matrix<ExecutionSpace> const &hessian)
{
  using Value = typename InputView::non_const_value_type;
  using layout = typename InputView::array_layout;
  if constexpr (backends::gemm_ex_tpl_spec_avail<ExecutionSpace>::value &&
                std::is_same<layout, Kokkos::LayoutRight>::value)
  {
    if (inputs.span() == inputs.extent(0) * inputs.extent(1))
    {
      // Row-major tokens × columns is column-major columns × tokens: XᵀX = (Xᵀ)(Xᵀ)ᵀ.
      Kokkos::View<Value const **, Kokkos::LayoutLeft, typename InputView::memory_space,
                   Kokkos::MemoryTraits<Kokkos::Unmanaged>> const transposed(inputs.data(),
                                                                             inputs.extent(1),
                                                                             inputs.extent(0));
      std::int64_t const tokens = static_cast<std::int64_t>(inputs.extent(0));
      for (std::int64_t first = 0; first < tokens; first += half_product_slice_tokens)
      {
        auto const slice = Kokkos::subview(
            transposed, Kokkos::ALL(),
            std::make_pair(first, std::min(tokens, first + half_product_slice_tokens)));
        backends::mixed_precision_gemm(space, "N", "T", alpha, slice, slice,
                                       first == 0 ? beta : 1.0f, hessian);
      }
      return;
    }
  }
  Matrix<ExecutionSpace> widened(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::widened_batch"),
      inputs.extent(0), inputs.extent(1));
  backends::detail::convert_entries(space, inputs, widened);
  gram_update_lower(space, alpha, widened, beta, hessian);
}

// add_batch's staged update: where the host can wait for the batch's check while the device
// goes on (CompletionEvent::overlaps), the batch's update beta H + alpha XᵀX is formed beside
// H, queued before the wait, and becomes H once the batch is accepted, so that the device need
// not idle while the host receives the check and queues the product. On an H200 at 768
// columns and 2048 tokens that round trip cost ≈ 13 µs per batch
// (`git show 8af60cd:tools/device/statistics_update_probe.cu`). Only where the product can go
// beside H (backends::rank_k_update_into_tpl_spec_avail: cuBLASLt, as fast there as cuBLAS' GEMM in
// place), and below cuBLAS' syrk threshold: above, the update takes several hundred µs, which
// the round trip hardly adds to, and syrk forms half the product.
template <class ExecutionSpace>
bool stages_gram_update(int columns)
{
  return backends::CompletionEvent<ExecutionSpace>::overlaps &&
         backends::rank_k_update_into_tpl_spec_avail<ExecutionSpace>::value &&
         !backends::symmetric_rank_k_update_uses_vendor<ExecutionSpace>(columns);
}

} // namespace sgpte::detail

#endif
