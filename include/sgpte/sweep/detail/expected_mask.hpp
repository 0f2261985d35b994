#ifndef SGPTE_SWEEP_DETAIL_EXPECTED_MASK_HPP
#define SGPTE_SWEEP_DETAIL_EXPECTED_MASK_HPP

// The unstructured mask the sweep is expected to choose, known before it runs: the sweep's own
// rule (per block, prune w²/d² at or below the value of rank floor(numel · sparsity)) applied to
// the untouched weights. The sweep applies it to the weights as earlier blocks' updates left
// them, so past the first block this is an estimate. Mixed precision uses it to cost each
// column by the weights it will keep and to leave the pruned ones out of the OBS sensitivity.

#include <sgpte/core/detail/column_teams.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/sweep/detail/block_threshold.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sgpte::detail
{

// Per block of block_size columns of weight (sweep order), its pruning threshold on the device.
template <class ExecutionSpace>
Vector<ExecutionSpace, float>
expected_mask_thresholds(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
                         Matrix<ExecutionSpace> const &lower, double sparsity, int block_size)
{
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  int const blocks = (columns + block_size - 1) / block_size;
  Vector<ExecutionSpace, float> thresholds(Kokkos::view_alloc(space, "sgpte::expected_thresholds"),
                                           blocks);
  BlockThreshold<ExecutionSpace> threshold(space);
  for (int b = 0; b < blocks; ++b)
  {
    int const begin = b * block_size;
    int const count = std::min(block_size, columns - begin);
    threshold.select(space, weight, lower, begin, count,
                     static_cast<std::int64_t>(static_cast<double>(rows) * count * sparsity));
    Kokkos::deep_copy(space, Kokkos::subview(thresholds, b), threshold.threshold());
  }
  return thresholds;
}

// Whether weight(r, j) is expected to be kept: above its block's threshold (no thresholds:
// nothing is pruned).
template <class ExecutionSpace>
struct ExpectedMask
{
  Matrix<ExecutionSpace> weight;
  Matrix<ExecutionSpace> lower;
  Vector<ExecutionSpace, float> thresholds;
  int block_size = 1;

  KOKKOS_INLINE_FUNCTION bool kept(int r, int j) const
  {
    return thresholds.extent(0) == 0 ||
           pruning_score(weight(r, j), lower(j, j)) > thresholds(j / block_size);
  }
};

// Expected kept weights per column, in original column order (sweep_order: the original
// column at each sweep position).
template <class ExecutionSpace>
std::vector<std::int64_t> expected_kept_per_column(ExecutionSpace const &space,
                                                   ExpectedMask<ExecutionSpace> const &mask,
                                                   std::vector<int> const &sweep_order)
{
  int const rows = static_cast<int>(mask.weight.extent(0));
  int const columns = static_cast<int>(mask.weight.extent(1));
  Vector<ExecutionSpace, std::int64_t> kept(Kokkos::view_alloc(space, "sgpte::expected_kept"),
                                            columns);
  Kokkos::parallel_for(
      "sgpte::expected_kept", column_teams(space, columns),
      KOKKOS_LAMBDA(ColumnTeam<ExecutionSpace> const &team) {
        int const j = team.league_rank();
        std::int64_t const count =
            team_sum<std::int64_t>(team, rows, [&](int r) { return mask.kept(r, j) ? 1 : 0; });
        Kokkos::single(Kokkos::PerTeam(team), [&]() { kept(j) = count; });
      });
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), kept);
  std::vector<std::int64_t> result(columns);
  for (int k = 0; k < columns; ++k)
    result[sweep_order[k]] = host(k);
  return result;
}

} // namespace sgpte::detail

#endif
