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

#include <sgpte/backends/symmetric_rank_k_update.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <limits>
#include <sstream>
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
  // (sequences). Throws NumericalError if it holds NaN or Inf, or values so large that XᵀX
  // would overflow float (the statistics are then left unchanged). An empty batch changes
  // nothing.
  template <class InputView>
  void add_batch(ExecutionSpace const &space, InputView const &inputs, std::int64_t samples = 1);

  int columns() const { return static_cast<int>(_mean.extent(0)); }
  std::int64_t tokens() const { return _tokens; }
  std::int64_t samples() const { return _samples; }

  // H = (2/S) Σ XᵀX over the S samples, columns × columns. The batches update its lower
  // triangle only (half the work of the whole product where a vendor syrk serves the
  // backend); this completes the upper one on the instance when batches came since the last
  // call. Released by release_hessian().
  Matrix<ExecutionSpace> const &hessian(ExecutionSpace const &space)
  {
    require_hessian();
    if (_upper_behind)
    {
      backends::mirror_lower_to_upper(space, _hessian);
      _upper_behind = false;
    }
    return _hessian;
  }
  void release_hessian() { _hessian = Matrix<ExecutionSpace>(); }

  // Takes over the statistics of another layer fed the same inputs (OPT's q, k and v
  // projections), instead of accumulating them again.
  void copy_from(ExecutionSpace const &space, CalibrationStatistics const &other)
  {
    if (other.columns() != columns())
      throw InvalidArgument("cannot copy calibration statistics of " +
                            std::to_string(other.columns()) + " input columns into statistics of " +
                            std::to_string(columns()));
    require_hessian();
    other.require_hessian();
    Kokkos::deep_copy(space, _hessian, other._hessian);
    Kokkos::deep_copy(space, _mean_abs, other._mean_abs);
    Kokkos::deep_copy(space, _mean, other._mean);
    Kokkos::deep_copy(space, _m2, other._m2);
    _tokens = other._tokens;
    _samples = other._samples;
    _upper_behind = other._upper_behind;
  }

  Vector<ExecutionSpace, double> const &column_mean_abs() const { return _mean_abs; }
  Vector<ExecutionSpace, double> const &column_mean() const { return _mean; }
  // Σ (x − mean)² per column; the population variance is m2 / tokens().
  Vector<ExecutionSpace, double> const &column_m2() const { return _m2; }

private:
  void require_hessian() const
  {
    if (_hessian.data() == nullptr)
      throw InvalidArgument("the Hessian of this layer was already released");
  }

  Matrix<ExecutionSpace> _hessian;
  Vector<ExecutionSpace, double> _mean_abs;
  Vector<ExecutionSpace, double> _mean;
  Vector<ExecutionSpace, double> _m2;
  Kokkos::View<double ***, Kokkos::LayoutRight, memory_space> _partials; // add_batch workspace
  std::int64_t _tokens = 0;
  std::int64_t _samples = 0;
  bool _upper_behind = false; // the upper triangle of H lags its lower one
};

namespace detail
{

// Tokens per partial sum of the column statistics: enough parallel work on a GPU while the
// partial sums stay short enough to be accurate in double precision.
inline constexpr int calibration_chunk_tokens = 64;

// Values the column statistics' loops load before they use them. Each thread sums its chunk
// (or a column's chunks) in order, and a value used as soon as it is loaded makes the thread
// wait out the memory's latency before it issues the next load. Grouped, the statistics at
// 768 columns ran 1.2× faster on OpenMP and 1.08× on Cuda (bench/README.md).
inline constexpr int loads_in_flight = 8;

KOKKOS_INLINE_FUNCTION int chunk_end(int chunk, int tokens)
{
  int const end = (chunk + 1) * calibration_chunk_tokens;
  return end < tokens ? end : tokens;
}

template <class ExecutionSpace>
using PartialSums = Kokkos::View<double ***, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

// H is accumulated in float by a GEMM or syrk. Every entry of XᵀX, and every partial sum one
// forms of it, is bounded by the largest column sum Σ_t x_tj² (Cauchy–Schwarz); H stays a
// weighted average of such sums times at most 2. Batches whose largest column sum exceeds
// this limit could overflow H to ±Inf (and Inf − Inf to NaN), so they are refused.
inline constexpr double max_column_square_sum = std::numeric_limits<float>::max() / 4;

// Slots of the partial sums per (chunk, column).
enum PartialSlot : int
{
  shifted_sum,        // Σ (x − K)
  shifted_square_sum, // Σ (x − K)²
  absolute_sum,       // Σ |x|
  square_sum,         // Σ x², for the overflow check
  non_finite_count,   // NaN and Inf values, which are counted, not summed
  partial_slots
};

// One pass over the batch: the partial sums per chunk of tokens and column (workspace
// `partials` of at least chunks × columns × partial_slots). K is the running mean (for the
// first batch the first token), so that the batch's M2 can come from the shifted-data
// formula, stable as long as K is within a few standard deviations of the batch mean,
// unlike Σx² − (Σx)². Asynchronous.
template <class ExecutionSpace, class InputView>
void column_partial_sums(ExecutionSpace const &space, InputView const &inputs, bool first_batch,
                         PartialSums<ExecutionSpace> const &partials, Vector<ExecutionSpace, double> const &mean)
{
  int const tokens = static_cast<int>(inputs.extent(0));
  int const columns = static_cast<int>(inputs.extent(1));
  int const chunks = (tokens + calibration_chunk_tokens - 1) / calibration_chunk_tokens;
  Kokkos::parallel_for(
      "sgpte::calibration_partial_sums",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(chunks) * columns),
      KOKKOS_LAMBDA(std::int64_t item) {
        int const chunk = static_cast<int>(item / columns);
        int const column = static_cast<int>(item % columns);
        int const end = chunk_end(chunk, tokens);
        double const shift = first_batch ? static_cast<double>(inputs(0, column)) : mean(column);
        double const k = compat::isfinite(shift) ? shift : 0.0;
        double sum = 0, shifted_squares = 0, abs_sum = 0, squares = 0, bad = 0;
        for (int first = chunk * calibration_chunk_tokens; first < end; first += loads_in_flight)
        {
          float x[loads_in_flight];
          for (int u = 0; u < loads_in_flight; ++u)
            x[u] = first + u < end ? inputs(first + u, column) : 0.0f;
          for (int u = 0; u < loads_in_flight; ++u)
          {
            if (first + u >= end)
              break;
            if (!compat::isfinite(x[u]))
            {
              bad += 1;
              continue;
            }
            double const d = x[u] - k;
            sum += d;
            shifted_squares += d * d;
            abs_sum += compat::fabs(x[u]);
            squares += static_cast<double>(x[u]) * x[u];
          }
        }
        partials(chunk, column, shifted_sum) = sum;
        partials(chunk, column, shifted_square_sum) = shifted_squares;
        partials(chunk, column, absolute_sum) = abs_sum;
        partials(chunk, column, square_sum) = squares;
        partials(chunk, column, non_finite_count) = bad;
      });
}

// The column that disqualifies the batch, if any, in one reduction (the one synchronisation
// of add_batch): a column holding NaN or Inf reports poisoned_column, any other its Σ x²
// (at most FLT_MAX² · tokens, far below it). The batch is acceptable when the result is at
// most max_column_square_sum.
inline constexpr double poisoned_column = std::numeric_limits<double>::max();

template <class ExecutionSpace>
Kokkos::ValLocScalar<double, int> worst_column(ExecutionSpace const &space, PartialSums<ExecutionSpace> const &partials,
                                               int chunks, int columns)
{
  Kokkos::ValLocScalar<double, int> worst;
  double const poisoned = poisoned_column;
  Kokkos::parallel_reduce(
      "sgpte::calibration_check", Kokkos::RangePolicy<ExecutionSpace>(space, 0, columns),
      KOKKOS_LAMBDA(int column, Kokkos::ValLocScalar<double, int> & partial) {
        double squares = 0, bad = 0;
        for (int first = 0; first < chunks; first += loads_in_flight)
        {
          double square_sums[loads_in_flight], bad_counts[loads_in_flight];
          for (int u = 0; u < loads_in_flight; ++u)
          {
            bool const inside = first + u < chunks;
            square_sums[u] = inside ? partials(first + u, column, square_sum) : 0.0;
            bad_counts[u] = inside ? partials(first + u, column, non_finite_count) : 0.0;
          }
          for (int u = 0; u < loads_in_flight; ++u)
          {
            squares += square_sums[u];
            bad += bad_counts[u];
          }
        }
        double const value = bad > 0 ? poisoned : squares;
        if (value > partial.val)
        {
          partial.val = value;
          partial.loc = column;
        }
      },
      Kokkos::MaxLoc<double, int>(worst));
  return worst;
}

// Merges the batch's (count, mean, M2) per column into the running ones with Chan et al.'s
// update. Asynchronous.
template <class ExecutionSpace, class InputView>
void merge_column_statistics(ExecutionSpace const &space, InputView const &inputs,
                             PartialSums<ExecutionSpace> const &partials, std::int64_t tokens_before,
                             Vector<ExecutionSpace, double> const &mean_abs, Vector<ExecutionSpace, double> const &mean,
                             Vector<ExecutionSpace, double> const &m2)
{
  int const chunks = (static_cast<int>(inputs.extent(0)) + calibration_chunk_tokens - 1) / calibration_chunk_tokens;
  bool const first_batch = tokens_before == 0;
  double const n_a = static_cast<double>(tokens_before);
  double const n_b = static_cast<double>(inputs.extent(0));
  Kokkos::parallel_for(
      "sgpte::calibration_merge", Kokkos::RangePolicy<ExecutionSpace>(space, 0, static_cast<int>(mean.extent(0))),
      KOKKOS_LAMBDA(int column) {
        double sum = 0, shifted_squares = 0, abs_sum = 0;
        for (int first = 0; first < chunks; first += loads_in_flight)
        {
          double sums[loads_in_flight], shifted[loads_in_flight], absolute[loads_in_flight];
          for (int u = 0; u < loads_in_flight; ++u)
          {
            bool const inside = first + u < chunks;
            sums[u] = inside ? partials(first + u, column, shifted_sum) : 0.0;
            shifted[u] = inside ? partials(first + u, column, shifted_square_sum) : 0.0;
            absolute[u] = inside ? partials(first + u, column, absolute_sum) : 0.0;
          }
          for (int u = 0; u < loads_in_flight; ++u)
          {
            sum += sums[u];
            shifted_squares += shifted[u];
            abs_sum += absolute[u];
          }
        }
        double const shift = first_batch ? static_cast<double>(inputs(0, column)) : mean(column);
        double const batch_mean = shift + sum / n_b;
        double const batch_m2 = shifted_squares - sum * sum / n_b;
        double const n = n_a + n_b;
        double const delta = batch_mean - mean(column);
        mean(column) += delta * (n_b / n);
        m2(column) += (batch_m2 > 0.0 ? batch_m2 : 0.0) + delta * delta * (n_a * n_b / n);
        mean_abs(column) = (mean_abs(column) * n_a + abs_sum) / n;
      });
}

// The lower triangle of H = beta H + alpha XᵀX for X of tokens × columns in any layout.
template <class ExecutionSpace, class InputView>
void gram_update_lower(ExecutionSpace const &space, float alpha, InputView const &inputs,
                       float beta, Matrix<ExecutionSpace> const &hessian)
{
  using layout = typename InputView::array_layout;
  bool const contiguous = inputs.span() == inputs.extent(0) * inputs.extent(1);
  if constexpr (std::is_same<layout, Kokkos::LayoutLeft>::value)
  {
    backends::symmetric_rank_k_update_lower(space, "T", alpha, inputs, beta, hessian);
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
      backends::symmetric_rank_k_update_lower(space, "N", alpha, transposed, beta, hessian);
      return;
    }
  }
  Matrix<ExecutionSpace> copy(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::batch_copy"),
                              inputs.extent(0), inputs.extent(1));
  Kokkos::deep_copy(space, copy, inputs);
  backends::symmetric_rank_k_update_lower(space, "T", alpha, copy, beta, hessian);
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
  require_hessian();

  Kokkos::Profiling::pushRegion("sgpte::add_batch");
  int const chunks = (static_cast<int>(batch_tokens) + detail::calibration_chunk_tokens - 1) /
                     detail::calibration_chunk_tokens;
  if (static_cast<int>(_partials.extent(0)) < chunks) // grow-only: no allocation per batch
    _partials = detail::PartialSums<ExecutionSpace>(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::partial_sums"), chunks, columns(),
        detail::partial_slots);
  detail::column_partial_sums(space, inputs, _tokens == 0, _partials, _mean);
  if (auto const worst = detail::worst_column(space, _partials, chunks, columns());
      worst.val > detail::max_column_square_sum)
  {
    Kokkos::Profiling::popRegion();
    std::ostringstream message;
    if (worst.val == detail::poisoned_column)
      message << "calibration batch holds NaN or Inf values (input column " << worst.loc << ")";
    else
      message << "calibration batch overflows the float Hessian: column " << worst.loc
              << " has a sum of squares of " << worst.val << " over the batch (at most "
              << detail::max_column_square_sum << " fits); the activations are too large";
    throw NumericalError(message.str());
  }
  detail::merge_column_statistics(space, inputs, _partials, _tokens, _mean_abs, _mean, _m2);

  // The reference's update H *= n/(n+t); n += t; H += (2/n) XᵀX as one BLAS call (its lower
  // triangle).
  std::int64_t const total = _samples + samples;
  float const alpha = static_cast<float>(2.0 / static_cast<double>(total));
  float const beta = static_cast<float>(static_cast<double>(_samples) / static_cast<double>(total));
  detail::gram_update_lower(space, alpha, inputs, beta, _hessian);
  _upper_behind = true;
  _samples = total;
  _tokens += batch_tokens;
  Kokkos::Profiling::popRegion();
}

} // namespace sgpte

#endif
