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

#include <sgpte/backends/completion_event.hpp>
#include <sgpte/backends/symmetric_rank_k_update.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/product_precision.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

namespace sgpte
{

namespace detail
{
// Per input column: the mean |x|, the mean and M2 = Σ (x − mean)² of the tokens seen.
template <class ExecutionSpace>
struct ColumnStatistics
{
  ColumnStatistics(ExecutionSpace const &space, int columns)
      : mean_abs(Kokkos::view_alloc(space, "sgpte::column_mean_abs"), columns),
        mean(Kokkos::view_alloc(space, "sgpte::column_mean"), columns),
        m2(Kokkos::view_alloc(space, "sgpte::column_m2"), columns)
  {
  }
  Vector<ExecutionSpace, double> mean_abs;
  Vector<ExecutionSpace, double> mean;
  Vector<ExecutionSpace, double> m2;
};

// The result of a batch's check (check_and_merge below), where the host reads it.
template <class ExecutionSpace>
using CheckResult = typename Kokkos::MaxLoc<
    double, int,
    typename backends::CompletionEvent<ExecutionSpace>::result_memory_space>::result_view_type;
} // namespace detail

template <class ExecutionSpace>
class CalibrationStatistics
{
public:
  using execution_space = ExecutionSpace;
  using memory_space = typename ExecutionSpace::memory_space;

  CalibrationStatistics(ExecutionSpace const &space, int columns)
      : _hessian(Kokkos::view_alloc(space, "sgpte::hessian"), columns, columns),
        _columns(space, columns), _merged_columns(space, columns),
        _worst("sgpte::calibration_check")
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

  // The arithmetic of the batches' XᵀX (fp32 unless set; tf32 where
  // backends::supports_tf32_products, else InvalidArgument). Applies to the batches added after.
  void set_product_precision(ProductPrecision precision)
  {
    if (precision == ProductPrecision::tf32 && !backends::supports_tf32_products<ExecutionSpace>)
      throw InvalidArgument(std::string("TF32 calibration statistics need the Cuda backend with "
                                        "cuBLAS, not ") +
                            ExecutionSpace::name());
    _precision = precision;
  }
  ProductPrecision product_precision() const { return _precision; }

  int columns() const { return static_cast<int>(_columns.mean.extent(0)); }
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
  void release_hessian()
  {
    _hessian = Matrix<ExecutionSpace>();
    _batch_gram = Matrix<ExecutionSpace>();
  }

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
    Kokkos::deep_copy(space, _columns.mean_abs, other._columns.mean_abs);
    Kokkos::deep_copy(space, _columns.mean, other._columns.mean);
    Kokkos::deep_copy(space, _columns.m2, other._columns.m2);
    _tokens = other._tokens;
    _samples = other._samples;
    _upper_behind = other._upper_behind;
  }

  Vector<ExecutionSpace, double> const &column_mean_abs() const { return _columns.mean_abs; }
  Vector<ExecutionSpace, double> const &column_mean() const { return _columns.mean; }
  // Σ (x − mean)² per column; the population variance is m2 / tokens().
  Vector<ExecutionSpace, double> const &column_m2() const { return _columns.m2; }

private:
  void require_hessian() const
  {
    if (_hessian.data() == nullptr)
      throw InvalidArgument("the Hessian of this layer was already released");
  }

  Matrix<ExecutionSpace> _hessian;
  detail::ColumnStatistics<ExecutionSpace> _columns;
  // add_batch's workspaces: the column statistics with the batch merged in, which replace
  // _columns once the batch is accepted; the partial sums; the check's result; the batch's
  // 2/n XᵀX where add_batch stages it (detail::stages_gram_update).
  detail::ColumnStatistics<ExecutionSpace> _merged_columns;
  Kokkos::View<double ***, Kokkos::LayoutRight, memory_space> _partials;
  detail::CheckResult<ExecutionSpace> _worst;
  Matrix<ExecutionSpace> _batch_gram;
  backends::CompletionEvent<ExecutionSpace> _checked;
  ProductPrecision _precision = ProductPrecision::fp32;
  std::int64_t _tokens = 0;
  std::int64_t _samples = 0;
  bool _upper_behind = false; // the upper triangle of H lags its lower one
};

namespace detail
{

// Tokens per partial sum of the column statistics, short enough for the partial sums to be
// accurate in double precision. On a GPU the partial sums are the statistics' parallelism
// over the tokens: 16-token chunks give four times the threads of 64-token ones, enough to keep
// the memory busy (bench/README.md). A host thread sums many chunks in a row and is faster
// with longer ones, whose fewer partial sums it also adds up faster.
template <class ExecutionSpace>
inline constexpr int calibration_chunk_tokens = is_host_space_v<ExecutionSpace> ? 64 : 16;

template <class ExecutionSpace>
int calibration_chunks(std::int64_t tokens)
{
  return static_cast<int>((tokens + calibration_chunk_tokens<ExecutionSpace> - 1) /
                          calibration_chunk_tokens<ExecutionSpace>);
}

// Values the column statistics' loops load before they use them. Each thread sums its chunk
// (or a column's chunks) in order, and a value used as soon as it is loaded makes the thread
// wait out the memory's latency before it issues the next load. Grouped, the statistics at
// 768 columns ran 1.2× faster on OpenMP and 1.08× on Cuda (bench/README.md).
inline constexpr int loads_in_flight = 8;

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
  int const chunks = calibration_chunks<ExecutionSpace>(tokens);
  int const chunk_tokens = calibration_chunk_tokens<ExecutionSpace>;
  Kokkos::parallel_for(
      "sgpte::calibration_partial_sums",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(chunks) * columns),
      KOKKOS_LAMBDA(std::int64_t item) {
        int const chunk = static_cast<int>(item / columns);
        int const column = static_cast<int>(item % columns);
        int const end = (chunk + 1) * chunk_tokens < tokens ? (chunk + 1) * chunk_tokens : tokens;
        double const shift = first_batch ? static_cast<double>(inputs(0, column)) : mean(column);
        double const k = compat::isfinite(shift) ? shift : 0.0;
        double sum = 0, shifted_squares = 0, abs_sum = 0, squares = 0, bad = 0;
        for (int first = chunk * chunk_tokens; first < end; first += loads_in_flight)
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

// Σ over the chunks first, first + stride, … of each slot of one column's partial sums, in
// that order, loads_in_flight chunks at a time.
template <class Partials>
KOKKOS_INLINE_FUNCTION void column_totals(Partials const &partials, int first, int stride,
                                          int chunks, int column, double (&totals)[partial_slots])
{
  for (int s = 0; s < partial_slots; ++s)
    totals[s] = 0.0;
  for (int group = first; group < chunks; group += loads_in_flight * stride)
  {
    double loaded[loads_in_flight][partial_slots];
    for (int u = 0; u < loads_in_flight; ++u)
      for (int s = 0; s < partial_slots; ++s)
        loaded[u][s] = group + u * stride < chunks ? partials(group + u * stride, column, s) : 0.0;
    for (int u = 0; u < loads_in_flight; ++u)
      for (int s = 0; s < partial_slots; ++s)
        totals[s] += loaded[u][s];
  }
}

// Threads of check_and_merge that share one column's partial sums: a warp on a GPU, whose
// 16-token chunks (calibration_chunk_tokens) would leave one thread per column a long chain of
// loads. Teams of eight columns, which make Kokkos' reduction over the teams cheaper (4.7
// against 10 µs empty), made the kernel slower (23 against 14 µs on an H200 at 768 columns;
// tools/device/reduction_probe.cpp, bench/README.md).
template <class ExecutionSpace>
inline constexpr int check_team_size = is_host_space_v<ExecutionSpace> ? 1 : 32;

// The column that disqualifies the batch, if any: a column holding NaN or Inf reports
// poisoned_column, any other its Σ x² (at most FLT_MAX² · tokens, far below it). The batch is
// acceptable when the result is at most max_column_square_sum.
inline constexpr double poisoned_column = std::numeric_limits<double>::max();

// One pass over the partial sums, a team per column: the check's worst column into `worst`,
// and the batch's (count, mean, M2) merged with Chan et al.'s update into `merged`, from
// `current` (which stays as it was, so that a refused batch changes nothing). Asynchronous
// where the result's memory is device-accessible (a Kokkos reduction into a view).
template <class ExecutionSpace, class InputView>
void check_and_merge(ExecutionSpace const &space, InputView const &inputs,
                     PartialSums<ExecutionSpace> const &partials, std::int64_t tokens_before,
                     ColumnStatistics<ExecutionSpace> const &current,
                     ColumnStatistics<ExecutionSpace> const &merged,
                     CheckResult<ExecutionSpace> const &worst)
{
  int const tokens = static_cast<int>(inputs.extent(0));
  int const chunks = calibration_chunks<ExecutionSpace>(tokens);
  bool const first_batch = tokens_before == 0;
  double const n_a = static_cast<double>(tokens_before);
  double const n_b = static_cast<double>(tokens);
  double const poisoned = poisoned_column;
  auto const mean_abs = current.mean_abs, mean = current.mean, m2 = current.m2;
  auto const merged_mean_abs = merged.mean_abs, merged_mean = merged.mean, merged_m2 = merged.m2;
  using Reducer = Kokkos::MaxLoc<double, int, typename CheckResult<ExecutionSpace>::memory_space>;
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  using ThreadTotals =
      Kokkos::View<double *[partial_slots], Kokkos::LayoutRight,
                   typename ExecutionSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  int const team_size = check_team_size<ExecutionSpace>;
  Kokkos::parallel_reduce(
      "sgpte::calibration_check_and_merge",
      Policy(space, static_cast<int>(mean.extent(0)), team_size)
          .set_scratch_size(0, Kokkos::PerTeam(ThreadTotals::shmem_size(team_size))),
      KOKKOS_LAMBDA(typename Policy::member_type const &team,
                    typename Reducer::value_type &partial) {
        int const column = team.league_rank();
        int const rank = team.team_rank();
        ThreadTotals thread_totals(team.team_scratch(0), team.team_size());
        double totals[partial_slots];
        column_totals(partials, rank, team.team_size(), chunks, column, totals);
        for (int s = 0; s < partial_slots; ++s)
          thread_totals(rank, s) = totals[s];
        team.team_barrier();
        if (rank != 0)
          return;
        // The threads' totals in thread order, so that every run gives the same result.
        for (int t = 1; t < team.team_size(); ++t)
          for (int s = 0; s < partial_slots; ++s)
            totals[s] += thread_totals(t, s);
        double const value = totals[non_finite_count] > 0 ? poisoned : totals[square_sum];
        if (value > partial.val)
        {
          partial.val = value;
          partial.loc = column;
        }
        if (value == poisoned)
          return; // the batch is refused: nothing to merge
        // The shift of column_partial_sums: the batch's first value, finite here.
        double const shift = first_batch ? static_cast<double>(inputs(0, column)) : mean(column);
        double const sum = totals[shifted_sum];
        double const batch_mean = shift + sum / n_b;
        double const batch_m2 = totals[shifted_square_sum] - sum * sum / n_b;
        double const n = n_a + n_b;
        double const delta = batch_mean - mean(column);
        merged_mean(column) = mean(column) + delta * (n_b / n);
        merged_m2(column) =
            m2(column) + (batch_m2 > 0.0 ? batch_m2 : 0.0) + delta * delta * (n_a * n_b / n);
        merged_mean_abs(column) = (mean_abs(column) * n_a + totals[absolute_sum]) / n;
      },
      Reducer(worst));
}

// The lower triangle of H = beta H + alpha XᵀX for X of tokens × columns in any layout.
template <class ExecutionSpace, class InputView>
void gram_update_lower(ExecutionSpace const &space, float alpha, InputView const &inputs,
                       float beta, Matrix<ExecutionSpace> const &hessian,
                       ProductPrecision precision = ProductPrecision::fp32)
{
  using layout = typename InputView::array_layout;
  bool const contiguous = inputs.span() == inputs.extent(0) * inputs.extent(1);
  if constexpr (std::is_same<layout, Kokkos::LayoutLeft>::value)
  {
    backends::symmetric_rank_k_update_lower(space, "T", alpha, inputs, beta, hessian, precision);
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
      backends::symmetric_rank_k_update_lower(space, "N", alpha, transposed, beta, hessian,
                                              precision);
      return;
    }
  }
  Matrix<ExecutionSpace> copy(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::batch_copy"),
                              inputs.extent(0), inputs.extent(1));
  Kokkos::deep_copy(space, copy, inputs);
  backends::symmetric_rank_k_update_lower(space, "T", alpha, copy, beta, hessian, precision);
}

// add_batch's staged update: where the host can wait for the batch's check while the device
// goes on (CompletionEvent::overlaps), the batch's XᵀX is formed in a workspace, queued before
// the wait, and added into H once the batch is accepted, so that the device need not idle
// while the host receives the check and queues the product. On an H200 at 768 columns and 2048
// tokens that round trip cost ≈ 13 µs per batch (tools/device/statistics_update_probe.cu) and
// the add costs 3.3 µs of device time (tools/device/reduction_probe.cpp). Only below cuBLAS'
// syrk threshold: above, the update takes several hundred µs, which the round trip hardly adds
// to, and the add's pass over H grows with it (180 µs at 3072 columns).
template <class ExecutionSpace>
bool stages_gram_update(int columns)
{
  return backends::CompletionEvent<ExecutionSpace>::overlaps &&
         !backends::symmetric_rank_k_update_uses_vendor<ExecutionSpace>(columns);
}

// The lower triangle of H = beta H + G: a team per column, its threads on consecutive rows
// (consecutive addresses) from the diagonal down. A flat index over all n² entries spent most
// of its time in 64-bit divisions and idle upper-triangle items (7.2 µs at 768 columns on an
// H200; bench/README.md).
template <class ExecutionSpace>
void add_scaled_lower(ExecutionSpace const &space, float beta, Matrix<ExecutionSpace> const &g,
                      Matrix<ExecutionSpace> const &h)
{
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  int const n = static_cast<int>(h.extent(0));
  Kokkos::parallel_for(
      "sgpte::calibration_add_batch_gram",
      Policy(space, n, is_host_space_v<ExecutionSpace> ? 1 : 128),
      KOKKOS_LAMBDA(typename Policy::member_type const &team) {
        int const j = team.league_rank();
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, j, n),
                             [&](int i) { h(i, j) = beta * h(i, j) + g(i, j); });
      });
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
  int const chunks = detail::calibration_chunks<ExecutionSpace>(batch_tokens);
  if (static_cast<int>(_partials.extent(0)) < chunks) // grow-only: no allocation per batch
    _partials = detail::PartialSums<ExecutionSpace>(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::partial_sums"), chunks, columns(),
        detail::partial_slots);
  detail::column_partial_sums(space, inputs, _tokens == 0, _partials, _columns.mean);
  detail::check_and_merge(space, inputs, _partials, _tokens, _columns, _merged_columns, _worst);
  _checked.record(space);

  // The reference's update H *= n/(n+t); n += t; H += (2/n) XᵀX as one BLAS call (its lower
  // triangle), or staged as G = (2/n) XᵀX, then H = n/(n+t) H + G.
  std::int64_t const total = _samples + samples;
  float const alpha = static_cast<float>(2.0 / static_cast<double>(total));
  float const beta = static_cast<float>(static_cast<double>(_samples) / static_cast<double>(total));
  bool const staged = detail::stages_gram_update<ExecutionSpace>(columns());
  if (staged)
  {
    if (_batch_gram.data() == nullptr)
      _batch_gram = Matrix<ExecutionSpace>(
          Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::batch_gram"), columns(),
          columns());
    detail::gram_update_lower(space, alpha, inputs, 0.0f, _batch_gram, _precision);
  }

  _checked.wait();
  if (auto const worst = _worst(); worst.val > detail::max_column_square_sum)
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
  std::swap(_columns, _merged_columns);
  if (staged)
    detail::add_scaled_lower(space, beta, _batch_gram, _hessian);
  else
    detail::gram_update_lower(space, alpha, inputs, beta, _hessian, _precision);
  _upper_behind = true;
  _samples = total;
  _tokens += batch_tokens;
  Kokkos::Profiling::popRegion();
}

} // namespace sgpte

#endif
