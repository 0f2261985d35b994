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

namespace detail
{

// E_j(b) for every column and width, the quantizer's parameters of entry (i, k) at width w
// given by parameters(i, k, w, scale, zero); k the sweep position. Returns the errors in
// original column order.
template <class ExecutionSpace, class Parameters>
ColumnErrors obs_errors(ExecutionSpace const &space, ExpectedMask<ExecutionSpace> const &mask,
                        int widths, Vector<ExecutionSpace, float> const &maxq,
                        std::vector<int> const &sweep_order, Parameters const &parameters)
{
  Matrix<ExecutionSpace> const weight = mask.weight;
  Matrix<ExecutionSpace> const lower = mask.lower;
  using memory_space = typename ExecutionSpace::memory_space;
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  Kokkos::View<double **, Kokkos::LayoutRight, memory_space> errors(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::obs_sensitivity"), columns,
      widths);
  Kokkos::parallel_for(
      "sgpte::obs_sensitivity", column_teams(space, columns),
      KOKKOS_LAMBDA(ColumnTeam<ExecutionSpace> const &team) {
        int const j = team.league_rank();
        double const d = lower(j, j);
        for (int w = 0; w < widths; ++w)
        {
          double const sum = team_sum<double>(
              team, rows,
              [&](int i)
              {
                if (!mask.kept(i, j))
                  return 0.0;
                float scale, zero;
                parameters(i, j, w, scale, zero);
                float const x = weight(i, j);
                double const e = static_cast<double>(x) - quantize_value(x, scale, zero, maxq(w));
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

} // namespace detail

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
  int const columns = static_cast<int>(mask.weight.extent(1));
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
      find_quantization_parameters(space, mask.weight, g * group_size,
                                   std::min(columns, (g + 1) * group_size), g, estimate);
  }
  auto const scale = estimate.scale;
  auto const zero = estimate.zero;
  bool const per_channel = plan.options.per_channel;
  return detail::obs_errors(
      space, mask, static_cast<int>(plan.widths.size()), plan.maxq, sweep_order,
      KOKKOS_LAMBDA(int i, int k, int w, float &s, float &z) {
        int const p = per_channel ? i : 0;
        int const group = group_size > 0 ? k / group_size : 0;
        s = scale(p, group, w);
        z = zero(p, group, w);
      });
}

// The same errors under per-width ranges (QuantizerRange::per_width) for an allocation `bits`
// (per column, original order): column j at its own width is quantized with the range of the
// columns of that width in its row (and group); at another width, with that width's range
// widened to its own value — the range it would have if j alone moved there; a width with no
// columns in the group takes the whole row's range, as it would with j's fellow columns
// moving too. The parameters are min-max ones (no MSE search); the ranges are taken from the
// untouched weights, all of them (the quantizer sees pruned weights too).
template <class ExecutionSpace>
ColumnErrors obs_sensitivity_per_width(ExecutionSpace const &space,
                                       detail::ExpectedMask<ExecutionSpace> const &mask,
                                       QuantizationPlan<ExecutionSpace> const &plan,
                                       std::vector<int> const &sweep_order,
                                       std::vector<std::uint8_t> const &bits)
{
  using memory_space = typename ExecutionSpace::memory_space;
  Matrix<ExecutionSpace> const weight = mask.weight;
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  int const widths = static_cast<int>(plan.widths.size());
  int const group_size = plan.options.group_size;
  int const groups = group_size > 0 ? (columns + group_size - 1) / group_size : 1;
  bool const symmetric = plan.options.symmetric;
  auto const maxq = plan.maxq;

  // Each column's width (sweep order) and which widths each group holds.
  Kokkos::View<std::uint8_t *, memory_space> width_of(Kokkos::view_alloc(space, "sgpte::width_of"),
                                                      columns);
  Kokkos::View<std::uint8_t **, memory_space> present(
      Kokkos::view_alloc(space, "sgpte::width_present"), groups, widths);
  {
    auto width_host = Kokkos::create_mirror_view(width_of);
    auto present_host = Kokkos::create_mirror_view(present);
    Kokkos::deep_copy(present_host, 0);
    for (int k = 0; k < columns; ++k)
    {
      int const w =
          static_cast<int>(std::find(plan.widths.begin(), plan.widths.end(), bits[sweep_order[k]]) -
                           plan.widths.begin());
      width_host(k) = static_cast<std::uint8_t>(w);
      present_host(group_size > 0 ? k / group_size : 0, w) = 1;
    }
    Kokkos::deep_copy(space, width_of, width_host);
    Kokkos::deep_copy(space, present, present_host);
  }

  // low/high(i, g, w): the range of width w's columns in row i and group g; slot `widths`
  // holds the whole row's.
  Kokkos::View<float ***, Kokkos::LayoutRight, memory_space> low(
      Kokkos::view_alloc(space, "sgpte::width_range_low"), rows, groups, widths + 1);
  Kokkos::View<float ***, Kokkos::LayoutRight, memory_space> high(
      Kokkos::view_alloc(space, "sgpte::width_range_high"), rows, groups, widths + 1);
  Kokkos::parallel_for(
      "sgpte::width_ranges", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
      KOKKOS_LAMBDA(int i) {
        for (int k = 0; k < columns; ++k)
        {
          int const g = group_size > 0 ? k / group_size : 0;
          float const x = weight(i, k);
          int const own = width_of(k);
          low(i, g, own) = x < low(i, g, own) ? x : low(i, g, own);
          high(i, g, own) = x > high(i, g, own) ? x : high(i, g, own);
          low(i, g, widths) = x < low(i, g, widths) ? x : low(i, g, widths);
          high(i, g, widths) = x > high(i, g, widths) ? x : high(i, g, widths);
        }
      });
  return detail::obs_errors(
      space, mask, widths, plan.maxq, sweep_order,
      KOKKOS_LAMBDA(int i, int k, int w, float &s, float &z) {
        int const g = group_size > 0 ? k / group_size : 0;
        bool const held = present(g, w);
        float xmin = low(i, g, held ? w : widths);
        float xmax = high(i, g, held ? w : widths);
        if (held && width_of(k) != w)
        {
          float const x = weight(i, k);
          xmin = x < xmin ? x : xmin;
          xmax = x > xmax ? x : xmax;
        }
        adjust_range(xmin, xmax, symmetric);
        minmax_parameters(xmin, xmax, maxq(w), symmetric, s, z);
      });
}

} // namespace sgpte

#endif
