#ifndef SGPTE_IMPORTANCE_IMPORTANCE_SCORE_HPP
#define SGPTE_IMPORTANCE_IMPORTANCE_SCORE_HPP

// The activation-aware importance of each input column (SPEC §4): five terms, each
// divided by its mean over the layer's live columns, combined with user weights.
//   activation  mean |x_j|
//   hessian     1 / [H⁻¹]_jj of the damped H (the OBS sensitivity)
//   weight      mean_i |W_ij|
//   output      ‖W[:, j]‖₂ · sqrt(mean x_j²)   (RMS contribution of column j to y)
//   stability   var(x_j)
// Dead columns (H_jj = 0) get importance 0 and are left out of the means.

#include <sgpte/calibration/calibration_statistics.hpp>
#include <sgpte/core/detail/column_teams.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace sgpte
{

struct ImportanceWeights
{
  double activation = 0.25;
  double hessian = 0.25;
  double weight = 0.15;
  double output = 0.25;
  double stability = 0.10;

  std::array<double, 5> as_array() const
  {
    return {activation, hessian, weight, output, stability};
  }

  void validate() const
  {
    double sum = 0.0;
    for (double w : as_array())
    {
      if (!std::isfinite(w) || w < 0.0)
        throw InvalidArgument("importance weights must be finite and non-negative");
      sum += w;
    }
    if (sum <= 0.0)
      throw InvalidArgument("at least one importance weight must be positive");
  }
};

inline constexpr std::array<char const *, 5> importance_term_names = {
    "activation", "hessian", "weight", "output", "stability"};

// Per column (original column order): the five normalised terms and the combined score.
struct ImportanceScores
{
  std::array<std::vector<double>, 5> terms;
  std::vector<double> importance;
};

// Raw (unnormalised) terms per column on the host, in the column order of the inputs.
// weight: rows × columns after dead columns were zeroed; lower: the inverse-Hessian factor
// L of the damped H in the same column order; column_of: for each position of weight and
// lower, the column of the calibration statistics it holds (the act-order permutation).
template <class ExecutionSpace>
std::array<std::vector<double>, 5>
raw_importance_terms(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
                     Matrix<ExecutionSpace> const &lower,
                     CalibrationStatistics<ExecutionSpace> const &statistics,
                     Vector<ExecutionSpace, int> const &column_of)
{
  using memory_space = typename ExecutionSpace::memory_space;
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  double const tokens = static_cast<double>(statistics.tokens());
  auto const mean_abs = statistics.column_mean_abs();
  auto const mean = statistics.column_mean();
  auto const m2 = statistics.column_m2();
  Kokkos::View<double **, Kokkos::LayoutLeft, memory_space> terms(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::importance_terms"), columns,
      5);
  Kokkos::parallel_for(
      "sgpte::importance_terms", detail::column_teams(space, columns),
      KOKKOS_LAMBDA(detail::ColumnTeam<ExecutionSpace> const &team) {
        int const j = team.league_rank();
        double const abs_sum =
            detail::team_sum<double>(team, rows, [&](int i) { return compat::fabs(weight(i, j)); });
        auto const weight_squared = [&](int i)
        {
          double const w = weight(i, j);
          return w * w;
        };
        double const square_sum = detail::team_sum<double>(team, rows, weight_squared);
        // [H⁻¹]_jj = Σ_k L(j, k)² since H⁻¹ = L Lᵀ.
        auto const lower_squared = [&](int k)
        {
          double const l = lower(j, k);
          return l * l;
        };
        double const inverse_diagonal = detail::team_sum<double>(team, j + 1, lower_squared);
        Kokkos::single(Kokkos::PerTeam(team),
                       [&]()
                       {
                         int const c = column_of(j);
                         double const variance = m2(c) / tokens;
                         double const mean_square = variance + mean(c) * mean(c);
                         terms(j, 0) = mean_abs(c);
                         terms(j, 1) = 1.0 / inverse_diagonal;
                         terms(j, 2) = abs_sum / rows;
                         terms(j, 3) = compat::sqrt(square_sum) * compat::sqrt(mean_square);
                         terms(j, 4) = variance;
                       });
      });
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), terms);
  std::array<std::vector<double>, 5> result;
  for (int t = 0; t < 5; ++t)
  {
    result[t].resize(columns);
    for (int j = 0; j < columns; ++j)
      result[t][j] = host(j, t);
  }
  return result;
}

// Normalises each raw term by its mean over the live columns and combines them.
// raw and dead are in the same column order; the result is in that order too.
inline ImportanceScores combine_importance_terms(std::array<std::vector<double>, 5> raw,
                                                 std::vector<bool> const &dead,
                                                 ImportanceWeights const &weights)
{
  weights.validate();
  std::size_t const columns = dead.size();
  auto const w = weights.as_array();
  double weight_sum = 0.0;
  for (double x : w)
    weight_sum += x;
  std::size_t live = 0;
  for (bool d : dead)
    live += d ? 0 : 1;

  ImportanceScores scores;
  scores.importance.assign(columns, 0.0);
  for (int t = 0; t < 5; ++t)
  {
    std::vector<double> &term = raw[t];
    double sum = 0.0;
    for (std::size_t j = 0; j < columns; ++j)
      sum += dead[j] ? 0.0 : term[j];
    double const term_mean = live > 0 ? sum / static_cast<double>(live) : 0.0;
    for (std::size_t j = 0; j < columns; ++j)
    {
      // A term whose mean is 0 carries no information and contributes 0.
      term[j] = (dead[j] || term_mean == 0.0) ? 0.0 : term[j] / term_mean;
      scores.importance[j] += w[t] * term[j] / weight_sum;
    }
    scores.terms[t] = std::move(term);
  }
  return scores;
}

} // namespace sgpte

#endif
