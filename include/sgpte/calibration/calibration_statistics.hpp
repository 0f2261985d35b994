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
#include <sgpte/backends/rank_k_update_into.hpp>
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

// A batch's check per input column (column_statistics below), where the host reads it.
template <class ExecutionSpace>
using ColumnChecks =
    Kokkos::View<double *, typename backends::CompletionEvent<ExecutionSpace>::result_memory_space>;

// Host workspace of column_statistics: the sums per chunk of tokens and column.
template <class ExecutionSpace>
using ChunkSums =
    Kokkos::View<double ***, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

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
        _column_checks("sgpte::calibration_checks", columns > 0 ? columns : 0)
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
  // call. Released by release_hessian(). A batch may leave H in another buffer (the staged
  // update): a view of H kept from before a batch does not see that batch.
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
    _next_hessian = Matrix<ExecutionSpace>();
    _product_workspace.release();
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
  // _columns once the batch is accepted; the host's chunk sums; the check per column; where
  // add_batch stages the update (detail::stages_gram_update), H with the batch added, which
  // replaces _hessian once the batch is accepted, and the product's workspace.
  detail::ColumnStatistics<ExecutionSpace> _merged_columns;
  detail::ChunkSums<ExecutionSpace> _chunk_sums;
  detail::ColumnChecks<ExecutionSpace> _column_checks;
  Matrix<ExecutionSpace> _next_hessian;
  backends::RankKUpdateWorkspace<ExecutionSpace> _product_workspace;
  backends::CompletionEvent<ExecutionSpace> _checked;
  ProductPrecision _precision = ProductPrecision::fp32;
  std::int64_t _tokens = 0;
  std::int64_t _samples = 0;
  bool _upper_behind = false; // the upper triangle of H lags its lower one
};

namespace detail
{

// Tokens one thread of the column statistics sums at a time, few enough for the chunk's sums
// to be accurate in double precision. On a GPU these chunks are the statistics' parallelism
// over the tokens: 16-token chunks give four times the threads of 64-token ones (bench/README.md).
// A host thread sums many chunks in a row and is faster with longer ones.
template <class ExecutionSpace>
inline constexpr int calibration_chunk_tokens = is_host_space_v<ExecutionSpace> ? 64 : 16;

// Values a thread loads before it uses them. Each thread sums its chunk in order, and a value
// used as soon as it is loaded makes the thread wait out the memory's latency before it issues
// the next load. Grouped by eight, the statistics at 768 columns ran 1.2× faster on OpenMP and
// 1.08× on Cuda (bench/README.md); a GPU thread loads its whole chunk at once.
template <class ExecutionSpace>
inline constexpr int loads_in_flight = is_host_space_v<ExecutionSpace> ? 8 : 16;

// H is accumulated in float by a GEMM or syrk. Every entry of XᵀX, and every partial sum one
// forms of it, is bounded by the largest column sum Σ_t x_tj² (Cauchy–Schwarz); H stays a
// weighted average of such sums times at most 2. Batches whose largest column sum exceeds
// this limit could overflow H to ±Inf (and Inf − Inf to NaN), so they are refused.
inline constexpr double max_column_square_sum = std::numeric_limits<float>::max() / 4;

// The column that disqualifies the batch, if any: a column holding NaN or Inf reports
// poisoned_column, any other its Σ x² (at most FLT_MAX² · tokens, far below it). The batch is
// acceptable when every column's check is at most max_column_square_sum.
inline constexpr double poisoned_column = std::numeric_limits<double>::max();

// Sums per column that the statistics gather over a batch.
enum ColumnSum : int
{
  shifted_sum,        // Σ (x − K)
  shifted_square_sum, // Σ (x − K)²
  absolute_sum,       // Σ |x|
  square_sum,         // Σ x², for the overflow check
  non_finite_count,   // NaN and Inf values, which are counted, not summed
  column_sums
};

// The sums of one column over the tokens [begin, end) in token order, added to `sums`. K, the
// shift, is the running mean (for the first batch the first token), so that the batch's M2
// can come from the shifted-data formula, stable as long as K is within a few standard
// deviations of the batch mean, unlike Σx² − (Σx)².
template <int loads, class InputView>
KOKKOS_INLINE_FUNCTION void add_column_sums(InputView const &inputs, int column, int begin, int end,
                                            double shift, double (&sums)[column_sums])
{
  double const k = compat::isfinite(shift) ? shift : 0.0;
  for (int first = begin; first < end; first += loads)
  {
    float x[loads];
    for (int u = 0; u < loads; ++u)
      x[u] = first + u < end ? inputs(first + u, column) : 0.0f;
    for (int u = 0; u < loads; ++u)
    {
      if (first + u >= end)
        break;
      if (!compat::isfinite(x[u]))
      {
        sums[non_finite_count] += 1;
        continue;
      }
      double const d = x[u] - k;
      sums[shifted_sum] += d;
      sums[shifted_square_sum] += d * d;
      sums[absolute_sum] += compat::fabs(x[u]);
      sums[square_sum] += static_cast<double>(x[u]) * x[u];
    }
  }
}

// A batch's column sums made into its check and, if the column passes, merged with Chan et
// al.'s update into `merged`, from `current` (which stays as it was, so that a refused batch
// changes nothing).
template <class ExecutionSpace, class InputView>
struct ColumnMerge
{
  InputView inputs;
  Vector<ExecutionSpace, double> mean_abs, mean, m2;
  Vector<ExecutionSpace, double> merged_mean_abs, merged_mean, merged_m2;
  ColumnChecks<ExecutionSpace> checks;
  bool first_batch;
  double n_a, n_b; // tokens before the batch, and in it

  ColumnMerge(InputView const &inputs, std::int64_t tokens_before,
              ColumnStatistics<ExecutionSpace> const &current,
              ColumnStatistics<ExecutionSpace> const &merged,
              ColumnChecks<ExecutionSpace> const &checks)
      : inputs(inputs), mean_abs(current.mean_abs), mean(current.mean), m2(current.m2),
        merged_mean_abs(merged.mean_abs), merged_mean(merged.mean), merged_m2(merged.m2),
        checks(checks), first_batch(tokens_before == 0), n_a(static_cast<double>(tokens_before)),
        n_b(static_cast<double>(inputs.extent(0)))
  {
  }

  KOKKOS_INLINE_FUNCTION double shift(int column) const
  {
    return first_batch ? static_cast<double>(inputs(0, column)) : mean(column);
  }

  KOKKOS_INLINE_FUNCTION void operator()(int column, double const (&totals)[column_sums]) const
  {
    double const value = totals[non_finite_count] > 0 ? poisoned_column : totals[square_sum];
    checks(column) = value;
    if (value == poisoned_column)
      return; // the batch is refused: nothing to merge
    double const sum = totals[shifted_sum];
    double const batch_mean = shift(column) + sum / n_b;
    double const batch_m2 = totals[shifted_square_sum] - sum * sum / n_b;
    double const n = n_a + n_b;
    double const delta = batch_mean - mean(column);
    merged_mean(column) = mean(column) + delta * (n_b / n);
    merged_m2(column) =
        m2(column) + (batch_m2 > 0.0 ? batch_m2 : 0.0) + delta * delta * (n_a * n_b / n);
    merged_mean_abs(column) = (mean_abs(column) * n_a + totals[absolute_sum]) / n;
  }
};

// A GPU team of column_statistics: its threads on `columns` consecutive input columns times
// `rows`, a row summing every rows-th chunk of the batch, the rows' sums then added up in the
// team. A warp's loads cover 32 consecutive bytes (a memory sector) of four tokens' rows, and a
// team holds a whole batch of its columns, so that no team waits for another's sums.
struct GpuStatisticsTeam
{
  static constexpr int columns = 8;
  static constexpr int rows = 64;
};

// One pass over the batch: each column's check into `checks` and the batch merged into `merged`
// (ColumnMerge). Asynchronous. The host finds the worst column itself: a Kokkos reduction over
// the columns cost 5–10 µs of device time on an H200 before any work
// (tools/device/reduction_probe.cpp).
//
// On a GPU one kernel, a GpuStatisticsTeam per group of columns, the rows' sums added pairwise
// in the team: 7.5 µs of device time per 2,048-token batch at 768 columns on an H200, where
// 16-token sums per (chunk, column) and a second kernel, a Kokkos reduction, to add them up
// took 21.7 µs, and teams of 128 tokens whose last merged the group's sums through device
// memory 20 µs (bench/README.md). On the host a thread per (chunk, column), consecutive columns
// of a chunk sharing cache lines, writes the chunk's sums into `chunk_sums` (grown as needed);
// a thread per column then adds them up in chunk order. A thread walking a whole column took
// 1.4× as long.
template <class ExecutionSpace, class InputView>
void column_statistics(ExecutionSpace const &space, InputView const &inputs,
                       std::int64_t tokens_before, ColumnStatistics<ExecutionSpace> const &current,
                       ColumnStatistics<ExecutionSpace> const &merged,
                       ColumnChecks<ExecutionSpace> const &checks,
                       ChunkSums<ExecutionSpace> &chunk_sums)
{
  int const tokens = static_cast<int>(inputs.extent(0));
  int const columns = static_cast<int>(inputs.extent(1));
  constexpr int chunk_tokens = calibration_chunk_tokens<ExecutionSpace>;
  constexpr int loads = loads_in_flight<ExecutionSpace>;
  int const chunks = (tokens + chunk_tokens - 1) / chunk_tokens;
  ColumnMerge<ExecutionSpace, InputView> const merge(inputs, tokens_before, current, merged,
                                                     checks);
  if constexpr (is_host_space_v<ExecutionSpace>)
  {
    if (static_cast<int>(chunk_sums.extent(0)) < chunks) // grow-only: no allocation per batch
      chunk_sums = ChunkSums<ExecutionSpace>(
          Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::chunk_sums"), chunks,
          columns, column_sums);
    auto const sums = chunk_sums;
    Kokkos::parallel_for(
        "sgpte::calibration_chunk_sums",
        Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
            space, 0, static_cast<std::int64_t>(chunks) * columns),
        KOKKOS_LAMBDA(std::int64_t item) {
          int const chunk = static_cast<int>(item / columns);
          int const column = static_cast<int>(item % columns);
          int const end = (chunk + 1) * chunk_tokens < tokens ? (chunk + 1) * chunk_tokens : tokens;
          double chunk_totals[column_sums] = {};
          add_column_sums<loads>(inputs, column, chunk * chunk_tokens, end, merge.shift(column),
                                 chunk_totals);
          for (int s = 0; s < column_sums; ++s)
            sums(chunk, column, s) = chunk_totals[s];
        });
    Kokkos::parallel_for(
        "sgpte::calibration_check_and_merge",
        Kokkos::RangePolicy<ExecutionSpace>(space, 0, columns), KOKKOS_LAMBDA(int column) {
          double totals[column_sums] = {};
          for (int chunk = 0; chunk < chunks; ++chunk)
            for (int s = 0; s < column_sums; ++s)
              totals[s] += sums(chunk, column, s);
          merge(column, totals);
        });
  }
  else
  {
    using Team = GpuStatisticsTeam;
    constexpr int team_size = Team::columns * Team::rows;
    using Policy = Kokkos::TeamPolicy<ExecutionSpace, Kokkos::LaunchBounds<team_size, 1>>;
    using ThreadSums =
        Kokkos::View<double *[column_sums], Kokkos::LayoutRight,
                     typename ExecutionSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
    Kokkos::parallel_for(
        "sgpte::calibration_statistics",
        Policy(space, (columns + Team::columns - 1) / Team::columns, team_size)
            .set_scratch_size(0, Kokkos::PerTeam(ThreadSums::shmem_size(team_size))),
        KOKKOS_LAMBDA(typename Policy::member_type const &team) {
          int const lane = team.team_rank() % Team::columns;
          int const row = team.team_rank() / Team::columns;
          int const column = team.league_rank() * Team::columns + lane;
          double totals[column_sums] = {};
          if (column < columns)
          {
            double const shift = merge.shift(column);
            for (int chunk = row; chunk < chunks; chunk += Team::rows)
            {
              int const end =
                  (chunk + 1) * chunk_tokens < tokens ? (chunk + 1) * chunk_tokens : tokens;
              add_column_sums<loads>(inputs, column, chunk * chunk_tokens, end, shift, totals);
            }
          }
          // The rows' sums pairwise, always in the same pairs, so that every run gives the
          // same result.
          ThreadSums thread_sums(team.team_scratch(0), team.team_size());
          for (int s = 0; s < column_sums; ++s)
            thread_sums(team.team_rank(), s) = totals[s];
          for (int half = Team::rows / 2; half > 0; half /= 2)
          {
            team.team_barrier();
            if (row < half)
              for (int s = 0; s < column_sums; ++s)
              {
                totals[s] += thread_sums((row + half) * Team::columns + lane, s);
                thread_sums(team.team_rank(), s) = totals[s];
              }
          }
          if (row == 0 && column < columns)
            merge(column, totals);
        });
  }
}

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
  Matrix<ExecutionSpace> copy(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::batch_copy"),
                              inputs.extent(0), inputs.extent(1));
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

// add_batch's staged update: where the host can wait for the batch's check while the device
// goes on (CompletionEvent::overlaps), the batch's update beta H + alpha XᵀX is formed beside
// H, queued before the wait, and becomes H once the batch is accepted, so that the device need
// not idle while the host receives the check and queues the product. On an H200 at 768
// columns and 2048 tokens that round trip cost ≈ 13 µs per batch
// (tools/device/statistics_update_probe.cu). Only where the product can go beside H
// (backends::rank_k_update_into_tpl_spec_avail: cuBLASLt, as fast there as cuBLAS' GEMM in
// place), and below cuBLAS' syrk threshold: above, the update takes several hundred µs, which
// the round trip hardly adds to, and syrk forms half the product.
template <class ExecutionSpace>
bool stages_gram_update(int columns)
{
  return backends::CompletionEvent<ExecutionSpace>::overlaps &&
         backends::rank_k_update_into_tpl_spec_avail<ExecutionSpace>::value &&
         !backends::symmetric_rank_k_update_uses_vendor<ExecutionSpace>(columns);
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
  detail::column_statistics(space, inputs, _tokens, _columns, _merged_columns, _column_checks,
                            _chunk_sums);
  _checked.record(space);

  // The reference's update H *= n/(n+t); n += t; H += (2/n) XᵀX as one BLAS call (its lower
  // triangle), in place or, staged, beside H.
  std::int64_t const total = _samples + samples;
  float const alpha = static_cast<float>(2.0 / static_cast<double>(total));
  float const beta = static_cast<float>(static_cast<double>(_samples) / static_cast<double>(total));
  bool const staged = detail::stages_gram_update<ExecutionSpace>(columns());
  if (staged)
  {
    if (_next_hessian.data() == nullptr)
      _next_hessian = Matrix<ExecutionSpace>(
          Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::next_hessian"), columns(),
          columns());
    detail::gram_update_into(space, alpha, inputs, beta, _hessian, _next_hessian, _precision,
                             _product_workspace);
  }

  _checked.wait();
  int worst = 0; // the first of the worst columns
  for (int column = 1; column < columns(); ++column)
    if (_column_checks(column) > _column_checks(worst))
      worst = column;
  if (double const value = _column_checks(worst); value > detail::max_column_square_sum)
  {
    Kokkos::Profiling::popRegion();
    std::ostringstream message;
    if (value == detail::poisoned_column)
      message << "calibration batch holds NaN or Inf values (input column " << worst << ")";
    else
      message << "calibration batch overflows the float Hessian: column " << worst
              << " has a sum of squares of " << value << " over the batch (at most "
              << detail::max_column_square_sum << " fits); the activations are too large";
    throw NumericalError(message.str());
  }
  std::swap(_columns, _merged_columns);
  if (staged)
    std::swap(_hessian, _next_hessian);
  else
    detail::gram_update_lower(space, alpha, inputs, beta, _hessian, _precision);
  _upper_behind = true;
  _samples = total;
  _tokens += batch_tokens;
  Kokkos::Profiling::popRegion();
}

} // namespace sgpte

#endif
