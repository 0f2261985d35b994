#ifndef SGPTE_CORE_DETAIL_COLUMN_TEAMS_HPP
#define SGPTE_CORE_DETAIL_COLUMN_TEAMS_HPP

// How the kernels that reduce a matrix column by column (the importance terms, the OBS
// sensitivity, the expected mask's kept weights, the sweep's range check) are launched: one
// team per column, league rank j working on column j, the team's threads sharing its rows.
// Weights and factors are column-major (core/views.hpp), so on a GPU a team's neighbouring
// threads read neighbouring addresses, and a host thread walks the column in memory order.

#include <Kokkos_Core.hpp>

namespace sgpte::detail
{

template <class ExecutionSpace>
using ColumnTeam = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;

// One team per column of a matrix of `columns` columns, of the backend's team size.
template <class ExecutionSpace>
Kokkos::TeamPolicy<ExecutionSpace> column_teams(ExecutionSpace const &space, int columns)
{
  return Kokkos::TeamPolicy<ExecutionSpace>(space, columns, Kokkos::AUTO);
}

// Σ term(i) over i in [0, count), shared out over the team's threads (Kokkos' team
// reduction, in its order for the backend); every thread of the team gets the sum. term(i)
// is a plain lambda of the kernel, e.g. [&](int i) { return w(i, j) * w(i, j); }.
template <class Sum, class Member, class Term>
KOKKOS_INLINE_FUNCTION Sum team_sum(Member const &team, int count, Term const &term)
{
  Sum sum = 0;
  Kokkos::parallel_reduce(
      Kokkos::TeamThreadRange(team, count), [&](int i, Sum &partial) { partial += term(i); }, sum);
  return sum;
}

} // namespace sgpte::detail

#endif
