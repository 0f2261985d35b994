#ifndef SGPTE_SWEEP_ROW_SHARDS_HPP
#define SGPTE_SWEEP_ROW_SHARDS_HPP

// The fused sweep with a layer's rows shared among processes (RowExchange): each process
// sweeps its contiguous block of rows (row_block), the unstructured threshold of each column
// block comes from the processes' summed histograms (detail::BlockThreshold), and the swept
// rows are then gathered, so that every process ends with the whole result: the weights, the
// mask, the row losses and the group quantizer parameters. Everything per row — N:M masks, the
// quantizer, the error feedback — is the computation one process does over all rows, and the
// threshold is found exactly, so the result is a single process's, bit for bit, wherever
// the backend's GEMM gives a row the same result whatever the number of rows around it (the
// host BLAS on sgpte's CI does). Group parameters per tensor need every row: there each
// process sweeps all rows, as alone. The rows travel through host memory.

#include <sgpte/core/error.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/quantization/quantizer.hpp>
#include <sgpte/sweep/fused_sweep.hpp>
#include <sgpte/sweep/row_exchange.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

namespace sgpte
{

// The rows of `view` (first index; a contiguous view of rank 1 to 3, column-major) that each
// process holds in its block (row_block) become every process's. Collective. The blocks travel
// column-major (each column of a block is one run of bytes), so staging them is a copy of runs.
template <class View, class ExecutionSpace>
void gather_row_blocks(ExecutionSpace const &space, View const &view, RowExchange const &exchange)
{
  using value_type = typename View::non_const_value_type;
  static_assert(std::is_trivially_copyable_v<value_type>, "rows travel as bytes");
  static_assert(View::rank == 1 || std::is_same_v<typename View::array_layout, Kokkos::LayoutLeft>,
                "column-major views");
  int const rows = static_cast<int>(view.extent(0));
  if (rows == 0 || view.size() == 0)
    return;
  if (view.span() != view.size())
    throw InvalidArgument("gather_row_blocks needs a contiguous view");
  std::size_t const per_row = view.size() / static_cast<std::size_t>(rows);
  std::vector<int> const counts = row_counts(rows, exchange.size());
  int const rank = exchange.rank();
  space.fence();
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
  value_type *const entries = host.data(); // (row, rest) at row + rows · rest
  std::unique_ptr<value_type[]> const staged(new value_type[view.size()]); // uninitialised
  // Process p's block: its rows' entries column by column, from the offset of the blocks before.
  auto copy_block = [&](int process, bool to_staged)
  {
    RowBlock const block = row_block(rows, process, exchange.size());
    value_type *const first = staged.get() + static_cast<std::size_t>(block.first) * per_row;
    for (std::size_t rest = 0; rest < per_row; ++rest)
    {
      value_type *const column = entries + block.first + static_cast<std::size_t>(rows) * rest;
      value_type *const run = first + static_cast<std::size_t>(block.count) * rest;
      if (to_staged)
        std::memcpy(run, column, sizeof(value_type) * static_cast<std::size_t>(block.count));
      else
        std::memcpy(column, run, sizeof(value_type) * static_cast<std::size_t>(block.count));
    }
  };
  copy_block(rank, true);
  exchange.gather_rows(reinterpret_cast<std::byte *>(staged.get()), per_row * sizeof(value_type),
                       counts);
  for (int process = 0; process < exchange.size(); ++process)
    if (process != rank)
      copy_block(process, false);
  Kokkos::deep_copy(space, view, host);
  space.fence();
}

// fused_sweep over the processes of `exchange` (or alone where it is null or of one process):
// collective; every process passes the same weight, factor, options and plan, and ends with
// the whole result (weight swept, result and the plan's group parameters), a single process's.
template <class ExecutionSpace>
SweepResult<ExecutionSpace>
sharded_fused_sweep(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
                    Matrix<ExecutionSpace> const &lower, SweepOptions const &options,
                    QuantizationPlan<ExecutionSpace> const &quantization,
                    RowExchange const *exchange)
{
  bool const groups = quantization.enabled() && quantization.options.group_size > 0;
  if (exchange == nullptr || exchange->size() == 1 || (groups && !quantization.options.per_channel))
    return fused_sweep(space, weight, lower, options, quantization);
  int const rows = static_cast<int>(weight.extent(0));
  SweepRows const mine{row_block(rows, exchange->rank(), exchange->size()), exchange};
  SweepResult<ExecutionSpace> result =
      fused_sweep(space, weight, lower, options, quantization, mine);
  Kokkos::Profiling::pushRegion("sgpte::gather_swept_rows");
  gather_row_blocks(space, weight, *exchange);
  gather_row_blocks(space, result.mask, *exchange);
  gather_row_blocks(space, result.row_loss, *exchange);
  if (groups)
  {
    gather_row_blocks(space, quantization.scale, *exchange);
    gather_row_blocks(space, quantization.zero, *exchange);
  }
  Kokkos::Profiling::popRegion();
  return result;
}

} // namespace sgpte

#endif
