#ifndef SGPTE_LAYER_DETAIL_SWEEP_RANGE_HPP
#define SGPTE_LAYER_DETAIL_SWEEP_RANGE_HPP

// The fused sweep computes in float, as the reference does: the pruning score w²/d², the
// error (w − q)/d and the loss term (w − q)²/d², with d the diagonal of the inverse-Hessian
// factor. Weights of huge magnitude, or activations so large or so small that d leaves
// float's range, would overflow these to ±Inf: every score then ties at Inf (or at 0) and
// the mask silently prunes everything, or Inf − Inf turns a weight into NaN. So the range
// is checked before the sweep starts, with a margin (limit) for the growth of the weights
// under the sweep's updates and for w − q reaching 2|w|.

#include <sgpte/core/detail/column_teams.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace sgpte::detail
{

inline constexpr double sweep_float_limit = std::numeric_limits<float>::max() / 16;

// Why the sweep cannot run in float on these weights and this factor, or nothing.
// weight and lower are in sweep order; column_of(k) names the original column at k.
template <class ExecutionSpace>
std::optional<std::string>
sweep_range_problem(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
                    Matrix<ExecutionSpace> const &lower, std::vector<int> const &column_of)
{
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  // Per column: the largest |w| and d.
  Kokkos::View<float *[2], typename ExecutionSpace::memory_space> range(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::sweep_range"), columns);
  Kokkos::parallel_for(
      "sgpte::sweep_range", column_teams(space, columns),
      KOKKOS_LAMBDA(ColumnTeam<ExecutionSpace> const &team) {
        int const j = team.league_rank();
        float largest = 0.0f;
        Kokkos::parallel_reduce(
            Kokkos::TeamThreadRange(team, rows),
            [&](int i, float &partial)
            { partial = compat::fmax(partial, compat::fabs(weight(i, j))); },
            Kokkos::Max<float>(largest));
        Kokkos::single(Kokkos::PerTeam(team),
                       [&]()
                       {
                         range(j, 0) = largest;
                         range(j, 1) = lower(j, j);
                       });
      });
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), range);
  for (int k = 0; k < columns; ++k)
  {
    double const w = host(k, 0);
    double const d = host(k, 1);
    double const score = (w / d) * (w / d);
    if (w * w <= sweep_float_limit && d * d <= sweep_float_limit && score <= sweep_float_limit)
      continue;
    std::ostringstream problem;
    problem << "column " << column_of[k]
            << " is out of the float range of the sweep: weights up to |w| = " << w
            << ", inverse-Hessian factor d = " << d << ", pruning score w²/d² = " << score
            << " (w², d² and w²/d² must stay below " << sweep_float_limit
            << "); the weights or the activations are too large or too small";
    return problem.str();
  }
  return std::nullopt;
}

} // namespace sgpte::detail

#endif
