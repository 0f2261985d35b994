#ifndef SGPTE_CALIBRATION_DETAIL_COLUMN_STATISTICS_HPP
#define SGPTE_CALIBRATION_DETAIL_COLUMN_STATISTICS_HPP

// The per-column half of the calibration statistics (CalibrationStatistics): each batch's
// sums per input column, its check for NaN, Inf and overflow, and the running mean |x|, mean
// and M2 merged with Chan et al.'s update, for batches of float, float16 or bfloat16.

#include <sgpte/backends/completion_event.hpp>
#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <limits>

namespace sgpte::detail
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
      x[u] = first + u < end ? to_float(inputs(first + u, column)) : 0.0f;
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
    return first_batch ? static_cast<double>(to_float(inputs(0, column))) : mean(column);
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
// (a probe since retired: `git show 8af60cd:tools/device/reduction_probe.cpp`).
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

} // namespace sgpte::detail

#endif
