#ifndef SGPTE_PACKED_DETAIL_ROW_TEAMS_HPP
#define SGPTE_PACKED_DETAIL_ROW_TEAMS_HPP

// How the kernels that walk packed rows are launched: on GPUs a warp of 32 lanes per row
// (PackedLayerView::for_each_kept gives lane l the l-th column of each word, so a warp reads
// neighbouring fields) and a few rows per team; on host backends one row per team and a
// single lane that walks the row in order. Team thread k works on row k / lanes, lane
// k % lanes.

#include <sgpte/core/views.hpp>
#include <sgpte/packed/packed_layer_view.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte::packed::detail
{

template <class ExecutionSpace>
struct RowTeams
{
  static constexpr bool host = sgpte::detail::is_host_space_v<ExecutionSpace>;
  static constexpr int lanes = host ? 1 : 32;
  static constexpr int rows_per_team = host ? 1 : 4;
  static constexpr int team_size = lanes * rows_per_team;

  static int teams(int rows) { return (rows + rows_per_team - 1) / rows_per_team; }

  // `copies` teams per group of rows (e.g. one per tile of tokens).
  static Kokkos::TeamPolicy<ExecutionSpace> policy(ExecutionSpace const &space, int rows,
                                                   int copies = 1)
  {
    return Kokkos::TeamPolicy<ExecutionSpace>(space, teams(rows) * copies, team_size);
  }
};

// Calls visit(row, part, field index, column) for every kept weight, rows in parallel;
// visit is a device functor (e.g. a KOKKOS_LAMBDA).
template <class ExecutionSpace, class Visit>
void for_each_kept_weight(ExecutionSpace const &space, char const *label,
                          PackedLayerView<ExecutionSpace> const &view, Visit const &visit)
{
  using Teams = RowTeams<ExecutionSpace>;
  using Member = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;
  int const lanes = Teams::lanes, rows_per_team = Teams::rows_per_team;
  int const rows = view.rows;
  Kokkos::parallel_for(
      label, Teams::policy(space, rows), KOKKOS_LAMBDA(Member const &team) {
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows_per_team * lanes),
                             [&](int k)
                             {
                               int const row = team.league_rank() * rows_per_team + k / lanes;
                               if (row < rows)
                                 view.for_each_kept(
                                     row, k % lanes, lanes,
                                     [&](RowStream const &part, int index, int column)
                                     { visit(row, part, index, column); });
                             });
      });
}

} // namespace sgpte::packed::detail

#endif
