#ifndef SGPTE_IMPORTANCE_OBS_SENSITIVITY_HPP
#define SGPTE_IMPORTANCE_OBS_SENSITIVITY_HPP

// The OBS sensitivity of each column to each candidate width: the loss the sweep would add by
// quantizing column j at width b,
//   E_j(b) = Σ_i (w_ij − q_b(w_ij))² / d_j²,
// d_j the diagonal of the inverse-Hessian factor at the column's sweep position — the sweep's
// own error term (e = (w − q) / d, loss Σ e²/2, up to the constant), with the quantizer's
// parameters of width b, over the weights the sweep is expected to keep (the expected mask of
// sweep/detail/expected_mask.hpp: a pruned weight costs the same at every width). It is an
// estimate: the sweep quantizes and prunes the weights as earlier columns left them.

#include <sgpte/allocation/bit_allocation.hpp>
#include <sgpte/core/detail/column_teams.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/quantization/quantizer.hpp>
#include <sgpte/sweep/detail/expected_mask.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <vector>

namespace sgpte
{

// mask: the weights (sweep order, dead columns zeroed), the inverse-Hessian factor and the
// weights expected to be kept; plan: the candidate widths, with their parameters already found
// when there is no group size — with one, each group's parameters are found here from the
// untouched weights, as an estimate of those the sweep will find; sweep_order: the original
// column at each sweep position. Returns the errors in original column order, one option per
// plan width.
template <class ExecutionSpace>
ColumnErrors
obs_sensitivity(ExecutionSpace const &space, detail::ExpectedMask<ExecutionSpace> const &mask,
                QuantizationPlan<ExecutionSpace> const &plan, std::vector<int> const &sweep_order)
{
  Matrix<ExecutionSpace> const weight = mask.weight;
  Matrix<ExecutionSpace> const lower = mask.lower;
  using memory_space = typename ExecutionSpace::memory_space;
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  int const widths = static_cast<int>(plan.widths.size());
  int const group_size = plan.options.group_size;
  QuantizationPlan<ExecutionSpace> estimate = plan;
  if (group_size > 0)
  {
    using parameter_view = typename QuantizationPlan<ExecutionSpace>::parameter_view;
    estimate.scale =
        parameter_view(Kokkos::view_alloc(space, "sgpte::estimated_scale"), plan.scale.extent(0),
                       plan.scale.extent(1), plan.scale.extent(2));
    estimate.zero = parameter_view(Kokkos::view_alloc(space, "sgpte::estimated_zero"),
                                   plan.zero.extent(0), plan.zero.extent(1), plan.zero.extent(2));
    for (int g = 0; g < estimate.groups(); ++g)
      find_quantization_parameters(space, weight, g * group_size,
                                   std::min(columns, (g + 1) * group_size), g, estimate);
  }
  auto const scale = estimate.scale;
  auto const zero = estimate.zero;
  auto const maxq = estimate.maxq;
  bool const per_channel = plan.options.per_channel;
  Kokkos::View<double **, Kokkos::LayoutRight, memory_space> errors(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::obs_sensitivity"), columns,
      widths);
  Kokkos::parallel_for(
      "sgpte::obs_sensitivity", detail::column_teams(space, columns),
      KOKKOS_LAMBDA(detail::ColumnTeam<ExecutionSpace> const &team) {
        int const j = team.league_rank();
        int const group = group_size > 0 ? j / group_size : 0;
        double const d = lower(j, j);
        for (int w = 0; w < widths; ++w)
        {
          double const sum = detail::team_sum<double>(
              team, rows,
              [&](int i)
              {
                if (!mask.kept(i, j))
                  return 0.0;
                int const p = per_channel ? i : 0;
                float const x = weight(i, j);
                double const e = static_cast<double>(x) -
                                 quantize_value(x, scale(p, group, w), zero(p, group, w), maxq(w));
                return e * e;
              });
          Kokkos::single(Kokkos::PerTeam(team), [&]() { errors(j, w) = sum / (d * d); });
        }
      });
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), errors);
  ColumnErrors result(static_cast<std::size_t>(columns), static_cast<std::size_t>(widths));
  for (int k = 0; k < columns; ++k)
    for (int w = 0; w < widths; ++w)
      result(sweep_order[k], w) = host(k, w);
  return result;
}

} // namespace sgpte

#endif
