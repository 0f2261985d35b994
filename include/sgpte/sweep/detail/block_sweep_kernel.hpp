#ifndef SGPTE_SWEEP_DETAIL_BLOCK_SWEEP_KERNEL_HPP
#define SGPTE_SWEEP_DETAIL_BLOCK_SWEEP_KERNEL_HPP

// The column loop of one block of the fused sweep, as one kernel. Inside a block every
// row evolves independently: column i of row r is masked, quantized with the column's
// bit width, its error e = (w − q)/d is recorded, and the row's later columns of the
// block take e · L(j, i). So a team owns a few rows, keeps their block segment in scratch
// memory, and each row is swept by one thread: one launch per block instead of the
// reference's handful of launches per column.

#include <sgpte/core/views.hpp>
#include <sgpte/quantization/quantizer.hpp>
#include <sgpte/sweep/detail/block_threshold.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte::detail
{

template <class ExecutionSpace>
struct BlockSweepKernel
{
  using memory_space = typename ExecutionSpace::memory_space;
  using member_type = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;
  using scratch_space = typename ExecutionSpace::scratch_memory_space;
  using scratch_floats = Kokkos::View<float *, scratch_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  using scratch_flags = Kokkos::View<std::uint8_t *, scratch_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  using parameter_view = typename QuantizationPlan<ExecutionSpace>::parameter_view;

  Matrix<ExecutionSpace> weight;        // rows × columns; the block is overwritten with Q
  // L with H⁻¹ = L Lᵀ, read-only: on GPUs the read-only cache path lets the loads of a
  // row's update loop be issued ahead of the scratch-memory stores they feed.
  Kokkos::View<float const **, Kokkos::LayoutLeft, memory_space, Kokkos::MemoryTraits<Kokkos::RandomAccess>> lower;
  Matrix<ExecutionSpace> errors;        // rows × block size: e of each swept column
  Vector<ExecutionSpace, double> loss;  // per row, Σ (w − q)² / (2 d²)
  Kokkos::View<std::uint32_t **, Kokkos::LayoutLeft, memory_space> mask; // rows × words
  Kokkos::View<float, memory_space> threshold;

  int begin = 0;
  int count = 0;
  int row_begin = 0; // the rows swept, [row_begin, row_end): all, or a process's share
  int row_end = 0;
  int rows_per_team = 1;
  bool unstructured = false;
  int prune_n = 0;
  int prune_m = 0;

  bool quantize = false;
  bool per_channel = true;
  int group_size = 0;
  Vector<ExecutionSpace, std::uint8_t> width_index;
  Vector<ExecutionSpace, float> maxq;
  parameter_view scale;
  parameter_view zero;

  static std::size_t scratch_bytes(int rows_per_team, int count)
  {
    return scratch_floats::shmem_size(static_cast<std::size_t>(rows_per_team) * count) +
           scratch_flags::shmem_size(static_cast<std::size_t>(rows_per_team) * count);
  }

  // Host threads walk one row's columns contiguously; GPU threads of a warp hold
  // consecutive rows, so the same column of consecutive rows is adjacent.
  KOKKOS_INLINE_FUNCTION int slot(int r, int j) const
  {
    if constexpr (is_host_space_v<ExecutionSpace>)
      return r * count + j;
    else
      return j * rows_per_team + r;
  }

  KOKKOS_FUNCTION void operator()(member_type const &team) const
  {
    int const first_row = row_begin + team.league_rank() * rows_per_team;
    int const team_rows = row_end - first_row < rows_per_team ? row_end - first_row : rows_per_team;
    std::size_t const slots = static_cast<std::size_t>(rows_per_team) * count;
    scratch_floats w(team.team_scratch(0), slots);
    scratch_flags pruned(team.team_scratch(0), slots);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, team_rows),
                         [&](int r) { sweep_row(r, first_row + r, w, pruned); });
  }

  KOKKOS_INLINE_FUNCTION void select_n_of_m(int r, int i, scratch_floats const &w,
                                            scratch_flags const &pruned) const
  {
    int const end = i + prune_m < count ? i + prune_m : count;
    for (int n = 0; n < prune_n && n < end - i; ++n)
    {
      int smallest = -1;
      float smallest_score = 0.0f;
      for (int j = i; j < end; ++j)
      {
        if (pruned(slot(r, j)))
          continue;
        float const score = pruning_score(w(slot(r, j)), lower(begin + j, begin + j));
        if (smallest < 0 || score < smallest_score)
        {
          smallest = j;
          smallest_score = score;
        }
      }
      pruned(slot(r, smallest)) = 1;
    }
  }

  KOKKOS_INLINE_FUNCTION void sweep_row(int r, int row, scratch_floats const &w,
                                        scratch_flags const &pruned) const
  {
    float const cut = unstructured ? threshold() : 0.0f;
    for (int j = 0; j < count; ++j)
    {
      float const value = weight(row, begin + j);
      w(slot(r, j)) = value;
      pruned(slot(r, j)) =
          unstructured && pruning_score(value, lower(begin + j, begin + j)) <= cut ? 1 : 0;
    }
    int const parameter_row = per_channel ? row : 0;
    double row_loss = 0.0;
    for (int i = 0; i < count; ++i)
    {
      int const column = begin + i;
      float const d = lower(column, column);
      if (prune_n > 0 && i % prune_m == 0)
        select_n_of_m(r, i, w, pruned);
      float const value = w(slot(r, i));
      bool const is_pruned = pruned(slot(r, i)) != 0;
      float q = is_pruned ? 0.0f : value;
      if (quantize && !is_pruned)
      {
        int const width = width_index(column);
        int const group = group_size > 0 ? column / group_size : 0;
        q = quantize_value(q, scale(parameter_row, group, width), zero(parameter_row, group, width),
                           maxq(width));
      }
      float const difference = value - q;
      row_loss += static_cast<double>((difference * difference) / (d * d));
      float const e = difference / d;
      errors(row, i) = e;
      weight(row, column) = q;
      if (is_pruned)
        mask(row, column / 32) |= std::uint32_t(1) << (column % 32);
      for (int j = i + 1; j < count; ++j)
        w(slot(r, j)) -= e * lower(begin + j, column);
    }
    loss(row) += row_loss / 2.0;
  }
};

} // namespace sgpte::detail

#endif
