#ifndef SGPTE_SWEEP_FUSED_SWEEP_HPP
#define SGPTE_SWEEP_FUSED_SWEEP_HPP

// The fused SparseGPT / GPTQ sweep (SPEC §7): the reference's blocked Optimal-Brain-
// Surgeon column sweep, generalised to per-column bit widths. For each block of
// block_size columns:
//   1. unstructured masks: threshold at rank floor(rows · count · sparsity) of w²/d²
//      over the block (ties ≤ threshold are pruned, as the reference);
//   2. group quantizer parameters for the groups that start in the block (GPTQ);
//   3. the column loop (one kernel, see block_sweep_kernel.hpp), N:M masks chosen every M
//      columns per row by the N smallest w²/d²;
//   4. one GEMM propagating the block's errors to all later columns:
//      W[:, end:] −= E · L[end:, begin:end]ᵀ.
// Every step but the first is independent per row, so the sweep can be restricted to a range
// of rows (SweepRows): processes that share a layer's rows (sweep/row_shards.hpp) each sweep
// theirs and find step 1's threshold together, through the RowExchange.

#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/quantization/quantizer.hpp>
#include <sgpte/sweep/detail/block_sweep_kernel.hpp>
#include <sgpte/sweep/detail/block_threshold.hpp>
#include <sgpte/sweep/row_exchange.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace sgpte
{

struct SweepOptions
{
  double sparsity = 0.0; // unstructured fraction pruned per block (0: none)
  int prune_n = 0;       // N:M masks when prune_n > 0
  int prune_m = 0;
  int block_size = 128;
};

// The rows a sweep processes: all of them by default. With a block of rows and an exchange,
// the block is this process's share and the unstructured threshold is the rank among all
// processes' rows (every process calls fused_sweep with its block, collectively). Rows
// outside the block are left as they are. Group parameters per tensor (per_channel off with
// a group size) need every row and are refused with a partial block.
struct SweepRows
{
  RowBlock block{0, -1}; // count < 0: all rows
  RowExchange const *exchange = nullptr;
};

template <class ExecutionSpace>
struct SweepResult
{
  using memory_space = typename ExecutionSpace::memory_space;
  Vector<ExecutionSpace, double> row_loss; // the OBS loss Σ (w − q)² / (2 d²) per row
  // Bit c % 32 of mask(r, c / 32) is set when W(r, c) was pruned (sweep column order).
  Kokkos::View<std::uint32_t **, Kokkos::LayoutLeft, memory_space> mask;
};

namespace detail
{

// Rows per team of the block kernel: GPUs want as many as fit the team scratch (at most
// 128 threads), host backends a few rows whose block segments stay in L1.
template <class ExecutionSpace>
int sweep_rows_per_team(int block_columns)
{
  if constexpr (is_host_space_v<ExecutionSpace>)
    return 16;
  else
  {
    std::size_t const limit = Kokkos::TeamPolicy<ExecutionSpace>::scratch_size_max(0);
    int rows = 128;
    while (rows > 1 && BlockSweepKernel<ExecutionSpace>::scratch_bytes(rows, block_columns) > limit)
      rows /= 2;
    return rows;
  }
}

} // namespace detail

// weight: rows × columns, swept in place (becomes the pruned / quantized weights);
// lower: the inverse-Hessian factor in the same column order; quantization may be
// disabled (no widths). Group parameters, if any, are written into quantization.scale/zero.
// Only the rows of `sweep_rows` are swept (and have their row loss, mask and group
// parameters set); the result's views span all rows.
template <class ExecutionSpace>
SweepResult<ExecutionSpace>
fused_sweep(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
            Matrix<ExecutionSpace> const &lower, SweepOptions const &options,
            QuantizationPlan<ExecutionSpace> const &quantization, SweepRows const &sweep_rows = {})
{
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  if (static_cast<int>(lower.extent(0)) != columns || static_cast<int>(lower.extent(1)) != columns)
    throw InvalidArgument("inverse-Hessian factor does not match the weight's columns");
  RowBlock const mine = sweep_rows.block.count < 0 ? RowBlock{0, rows} : sweep_rows.block;
  if (mine.first < 0 || mine.first > rows - mine.count)
    throw InvalidArgument("the swept rows [" + std::to_string(mine.first) + ", " +
                          std::to_string(mine.first + mine.count) +
                          ") are not rows of the weight (" + std::to_string(rows) + ")");
  if (mine.count < rows && quantization.enabled() && !quantization.options.per_channel &&
      quantization.options.group_size > 0)
    throw InvalidArgument("a sweep of a share of the rows cannot find group parameters per tensor");
  Kokkos::Profiling::pushRegion("sgpte::fused_sweep");

  int const block_size = std::min(options.block_size, columns);
  SweepResult<ExecutionSpace> result;
  result.row_loss = Vector<ExecutionSpace, double>(Kokkos::view_alloc(space, "sgpte::row_loss"), rows);
  result.mask = decltype(result.mask)(Kokkos::view_alloc(space, "sgpte::mask"), rows, (columns + 31) / 32);
  Matrix<ExecutionSpace> errors(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::block_errors"),
                                rows, block_size);
  detail::BlockThreshold<ExecutionSpace> threshold(space);
  bool const unstructured = options.prune_n == 0 && options.sparsity > 0.0;
  int const group_size = quantization.options.group_size;

  detail::BlockSweepKernel<ExecutionSpace> kernel;
  kernel.weight = weight;
  kernel.lower = lower;
  kernel.errors = errors;
  kernel.loss = result.row_loss;
  kernel.mask = result.mask;
  kernel.threshold = threshold.threshold();
  kernel.row_begin = mine.first;
  kernel.row_end = mine.first + mine.count;
  kernel.rows_per_team = detail::sweep_rows_per_team<ExecutionSpace>(block_size);
  kernel.unstructured = unstructured;
  kernel.prune_n = options.prune_n;
  kernel.prune_m = options.prune_m;
  kernel.quantize = quantization.enabled();
  kernel.per_channel = quantization.options.per_channel;
  kernel.group_size = group_size;
  kernel.width_index = quantization.width_index;
  kernel.maxq = quantization.maxq;
  kernel.scale = quantization.scale;
  kernel.zero = quantization.zero;

  int const teams = (mine.count + kernel.rows_per_team - 1) / kernel.rows_per_team;
  auto const my_rows = Kokkos::make_pair(mine.first, mine.first + mine.count);
  for (int begin = 0; begin < columns; begin += block_size)
  {
    int const end = std::min(begin + block_size, columns);
    int const count = end - begin;
    if (unstructured)
    {
      auto const rank = static_cast<std::int64_t>(static_cast<double>(rows) * count * options.sparsity);
      threshold.select(space, weight, lower, begin, count, rank, mine, sweep_rows.exchange);
    }
    if (mine.count == 0)
      continue;
    if (kernel.quantize && group_size > 0)
      for (int start = (begin + group_size - 1) / group_size * group_size; start < end; start += group_size)
        find_quantization_parameters(space, weight, start, std::min(start + group_size, columns),
                                     start / group_size, quantization, mine.first, mine.count);

    kernel.begin = begin;
    kernel.count = count;
    int const team_size = detail::is_host_space_v<ExecutionSpace> ? 1 : kernel.rows_per_team;
    Kokkos::TeamPolicy<ExecutionSpace> policy(space, teams, team_size);
    policy.set_scratch_size(0, Kokkos::PerTeam(detail::BlockSweepKernel<ExecutionSpace>::scratch_bytes(
                                   kernel.rows_per_team, count)));
    Kokkos::parallel_for("sgpte::block_sweep", policy, kernel);

    if (end < columns)
    {
      auto const block_errors = Kokkos::subview(errors, my_rows, Kokkos::make_pair(0, count));
      auto const factor = Kokkos::subview(lower, Kokkos::make_pair(end, columns), Kokkos::make_pair(begin, end));
      auto const rest = Kokkos::subview(weight, my_rows, Kokkos::make_pair(end, columns));
      compat::gemm(space, "N", "T", -1.0f, block_errors, factor, 1.0f, rest);
    }
  }
  Kokkos::Profiling::popRegion();
  return result;
}

} // namespace sgpte

#endif
