#ifndef SGPTE_CALIBRATION_CALIBRATION_STATISTICS_HPP
#define SGPTE_CALIBRATION_CALIBRATION_STATISTICS_HPP

// Calibration statistics of one linear layer y = W x (SPEC §2): the Hessian of the
// layer-wise reconstruction error and, per input column, the mean |x|, the mean and the
// population variance of x over all tokens. Batches of any size update them as running
// averages; memory does not grow with the number of tokens.
//
// H follows the reference's update rule H *= n/(n+t); n += t; H += (2/n) XᵀX, where t
// counts *samples*, as the reference does: it treats a 2-D batch (tokens × columns) as one
// sample, so H = (2/S) Σ XᵀX over the S samples seen. That is a constant multiple of the
// per-token average SPEC §2 writes, and the constant matters: the dead-column rule
// (H_jj = 0 → 1) and with it the damping are not scale-invariant, so only the reference's
// count reproduces its results. Pass samples = tokens for a per-token average.

#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>

namespace sgpte
{

template <class ExecutionSpace>
class CalibrationStatistics
{
public:
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;

  CalibrationStatistics(ExecutionSpace const &space, int columns)
      : _hessian(Kokkos::view_alloc(space, "sgpte::hessian"), columns, columns)
      , _mean_abs(Kokkos::view_alloc(space, "sgpte::column_mean_abs"), columns)
      , _mean(Kokkos::view_alloc(space, "sgpte::column_mean"), columns)
      , _m2(Kokkos::view_alloc(space, "sgpte::column_m2"), columns)
  {
    if (columns <= 0)
      throw InvalidArgument("calibration statistics need at least one input column, got " +
                            std::to_string(columns));
  }

  // inputs: tokens × columns, any layout, float, holding `samples` calibration samples
  // (sequences). Throws NumericalError if it holds NaN or Inf (the statistics are then
  // left unchanged). An empty batch changes nothing.
  template <class InputView>
  void add_batch(ExecutionSpace const &space, InputView const &inputs, std::int64_t samples = 1);

  int columns() const { return static_cast<int>(_mean.extent(0)); }
  std::int64_t tokens() const { return _tokens; }
  std::int64_t samples() const { return _samples; }

  // H = (2/S) Σ XᵀX over the S samples, columns × columns. Released by release_hessian().
  Matrix<ExecutionSpace> const &hessian() const
  {
    if (_hessian.data() == nullptr)
      throw InvalidArgument("the Hessian of this layer was already released");
    return _hessian;
  }
  void release_hessian() { _hessian = Matrix<ExecutionSpace>(); }

  Vector<ExecutionSpace, double> const &column_mean_abs() const { return _mean_abs; }
  Vector<ExecutionSpace, double> const &column_mean() const { return _mean; }
  // Σ (x − mean)² per column; the population variance is m2 / tokens().
  Vector<ExecutionSpace, double> const &column_m2() const { return _m2; }

private:
  Matrix<ExecutionSpace> _hessian;
  Vector<ExecutionSpace, double> _mean_abs;
  Vector<ExecutionSpace, double> _mean;
  Vector<ExecutionSpace, double> _m2;
  Kokkos::View<double ***, Kokkos::LayoutRight, memory_space> _partials; // add_batch workspace
  std::int64_t _tokens = 0;
  std::int64_t _samples = 0;
};

namespace detail
{

// Tokens per partial sum of the column statistics: enough parallel work on a GPU while the
// partial sums stay short enough to be accurate in double precision.
inline constexpr int calibration_chunk_tokens = 256;

KOKKOS_INLINE_FUNCTION int chunk_end(int chunk, int tokens)
{
  int const end = (chunk + 1) * calibration_chunk_tokens;
  return end < tokens ? end : tokens;
}

template <class ExecutionSpace>
using PartialSums = Kokkos::View<double ***, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

// The column statistics of one batch merged into the running ones, in two kernels: partial
// sums per chunk of tokens, then per column the batch's (count, mean, M2) merged with
// Chan et al.'s update. The batch's M2 comes from sums of x − K with K the running mean
// (for the first batch its first token): the shifted-data formula, stable as long as K is
// within a few standard deviations of the batch mean, unlike Σx² − (Σx)².
// partials: workspace of at least chunks × columns × 3. Returns the number of NaN/Inf
// inputs; the statistics are left unchanged when there are any.
template <class ExecutionSpace, class InputView>
std::int64_t accumulate_column_statistics(ExecutionSpace const &space, InputView const &inputs,
                                          std::int64_t tokens_before, PartialSums<ExecutionSpace> const &partials,
                                          Vector<ExecutionSpace, double> const &mean_abs,
                                          Vector<ExecutionSpace, double> const &mean,
                                          Vector<ExecutionSpace, double> const &m2)
{
  int const tokens = static_cast<int>(inputs.extent(0));
  int const columns = static_cast<int>(inputs.extent(1));
  int const chunks = (tokens + calibration_chunk_tokens - 1) / calibration_chunk_tokens;
  bool const first_batch = tokens_before == 0;
  auto shift = [=] KOKKOS_FUNCTION(int column) -> double {
    return first_batch ? static_cast<double>(inputs(0, column)) : mean(column);
  };

  // Non-finite values are counted, not summed (a +Inf and a -Inf in one column would
  // otherwise raise FE_INVALID).
  std::int64_t non_finite = 0;
  Kokkos::parallel_reduce(
      "sgpte::calibration_partial_sums",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(chunks) * columns),
      KOKKOS_LAMBDA(std::int64_t item, std::int64_t & bad) {
        int const chunk = static_cast<int>(item / columns);
        int const column = static_cast<int>(item % columns);
        int const end = chunk_end(chunk, tokens);
        double const k = compat::isfinite(shift(column)) ? shift(column) : 0.0;
        double sum = 0, square_sum = 0, abs_sum = 0;
        for (int t = chunk * calibration_chunk_tokens; t < end; ++t)
        {
          float const x = inputs(t, column);
          if (!compat::isfinite(x))
          {
            ++bad;
            continue;
          }
          double const d = x - k;
          sum += d;
          square_sum += d * d;
          abs_sum += compat::fabs(x);
        }
        partials(chunk, column, 0) = sum;
        partials(chunk, column, 1) = square_sum;
        partials(chunk, column, 2) = abs_sum;
      },
      non_finite);
  if (non_finite > 0)
    return non_finite;

  double const n_a = static_cast<double>(tokens_before);
  double const n_b = tokens;
  Kokkos::parallel_for(
      "sgpte::calibration_merge", Kokkos::RangePolicy<ExecutionSpace>(space, 0, columns),
      KOKKOS_LAMBDA(int column) {
        double sum = 0, square_sum = 0, abs_sum = 0;
        for (int chunk = 0; chunk < chunks; ++chunk)
        {
          sum += partials(chunk, column, 0);
          square_sum += partials(chunk, column, 1);
          abs_sum += partials(chunk, column, 2);
        }
        double const batch_mean = shift(column) + sum / n_b;
        double const batch_m2 = square_sum - sum * sum / n_b;
        double const n = n_a + n_b;
        double const delta = batch_mean - mean(column);
        mean(column) += delta * (n_b / n);
        m2(column) += (batch_m2 > 0.0 ? batch_m2 : 0.0) + delta * delta * (n_a * n_b / n);
        mean_abs(column) = (mean_abs(column) * n_a + abs_sum) / n;
      });
  return 0;
}

// H = beta H + alpha XᵀX for X of tokens × columns in any layout.
template <class ExecutionSpace, class InputView>
void gram_update(ExecutionSpace const &space, float alpha, InputView const &inputs, float beta,
                 Matrix<ExecutionSpace> const &hessian)
{
  using layout = typename InputView::array_layout;
  bool const contiguous = inputs.span() == inputs.extent(0) * inputs.extent(1);
  if constexpr (std::is_same<layout, Kokkos::LayoutLeft>::value)
  {
    compat::gemm(space, "T", "N", alpha, inputs, inputs, beta, hessian);
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
      compat::gemm(space, "N", "T", alpha, transposed, transposed, beta, hessian);
      return;
    }
  }
  Matrix<ExecutionSpace> copy(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::batch_copy"),
                              inputs.extent(0), inputs.extent(1));
  Kokkos::deep_copy(space, copy, inputs);
  compat::gemm(space, "T", "N", alpha, copy, copy, beta, hessian);
}

} // namespace detail

template <class ExecutionSpace>
template <class InputView>
void CalibrationStatistics<ExecutionSpace>::add_batch(ExecutionSpace const &space, InputView const &inputs,
                                                      std::int64_t samples)
{
  static_assert(Kokkos::is_view<InputView>::value, "inputs must be a Kokkos::View");
  static_assert(InputView::rank == 2, "inputs must be tokens × columns");
  static_assert(std::is_same<typename InputView::non_const_value_type, float>::value,
                "inputs must hold float");
  static_assert(detail::is_accessible_from_v<ExecutionSpace, typename InputView::memory_space>,
                "inputs must be accessible from the execution space");

  if (static_cast<int>(inputs.extent(1)) != columns())
    throw InvalidArgument("calibration batch has " + std::to_string(inputs.extent(1)) +
                          " columns but the layer has " + std::to_string(columns()) +
                          " input columns");
  std::int64_t const batch_tokens = static_cast<std::int64_t>(inputs.extent(0));
  if (batch_tokens == 0)
    return;
  if (samples < 1)
    throw InvalidArgument("a calibration batch holds at least one sample, got " + std::to_string(samples));
  hessian(); // throws if released

  Kokkos::Profiling::pushRegion("sgpte::add_batch");
  int const chunks = (static_cast<int>(batch_tokens) + detail::calibration_chunk_tokens - 1) /
                     detail::calibration_chunk_tokens;
  if (static_cast<int>(_partials.extent(0)) < chunks) // grow-only: no allocation per batch
    _partials = detail::PartialSums<ExecutionSpace>(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::partial_sums"), chunks, columns(), 3);
  std::int64_t const non_finite =
      detail::accumulate_column_statistics(space, inputs, _tokens, _partials, _mean_abs, _mean, _m2);
  if (non_finite > 0)
  {
    Kokkos::Profiling::popRegion();
    throw NumericalError("calibration batch holds " + std::to_string(non_finite) +
                         " NaN or Inf values");
  }

  // The reference's update H *= n/(n+t); n += t; H += (2/n) XᵀX as one GEMM.
  std::int64_t const total = _samples + samples;
  float const alpha = static_cast<float>(2.0 / static_cast<double>(total));
  float const beta = static_cast<float>(static_cast<double>(_samples) / static_cast<double>(total));
  detail::gram_update(space, alpha, inputs, beta, _hessian);
  _samples = total;
  _tokens += batch_tokens;
  Kokkos::Profiling::popRegion();
}

} // namespace sgpte

#endif
