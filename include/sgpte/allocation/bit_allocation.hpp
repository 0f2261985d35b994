#ifndef SGPTE_ALLOCATION_BIT_ALLOCATION_HPP
#define SGPTE_ALLOCATION_BIT_ALLOCATION_HPP

// Per-column bit widths (SPEC §5).
//   quantile: rank columns by importance (ties by column index) and cut the ranking at
//             floor(q_m · n); the target average is not enforced.
//   budget:   the greedy that minimises Σ importance_j · 4^(−b_j) under Σ b_j ≤ target · n,
//             upgrading one column to its next option at a time, best gain per added bit
//             first (ties: lower column). The seed's version rescans every column per
//             upgrade (O(n²)); this one keeps one heap per upgrade cost and is O(n log n)
//             for a fixed option list while choosing exactly the same upgrades.
//   The same greedy also minimises any per-column table of expected errors (ColumnErrors,
//   e.g. the OBS error of each width, importance/obs_sensitivity.hpp) under a bit budget
//   (ErrorBudgetGreedy: at many budgets from one run); allocation/packed_budget.hpp counts
//   that budget in packed bytes.

#include <sgpte/allocation/detail/upgrade_heaps.hpp>
#include <sgpte/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace sgpte
{

// packed: the budget greedy on a budget counted in packed bytes (allocation/packed_budget.hpp),
// per layer; model: one packed-byte budget for the whole model, shared out among the layers
// (allocation/model_budget.hpp), then within each layer as packed (a layer compressed on its
// own, without a model-wide share, is packed).
enum class AllocationMethod
{
  quantile,
  budget,
  packed,
  model
};

inline std::string to_string(AllocationMethod method)
{
  switch (method)
  {
  case AllocationMethod::quantile:
    return "quantile";
  case AllocationMethod::budget:
    return "budget";
  case AllocationMethod::packed:
    return "packed";
  case AllocationMethod::model:
    return "model";
  }
  throw InvalidArgument("unknown allocation method");
}

// What the budget greedies minimise: the five-term importance score's 4^(−b) model (SPEC §5),
// or the expected OBS error of quantizing each column at each width.
enum class Sensitivity
{
  obs,
  score
};

inline std::string to_string(Sensitivity sensitivity)
{
  return sensitivity == Sensitivity::obs ? "obs" : "score";
}

// Per column and bit option, the loss expected from quantizing the column at that option.
class ColumnErrors
{
public:
  ColumnErrors(std::size_t columns, std::size_t options)
      : _options(options), _values(columns * options, 0.0)
  {
  }

  std::size_t columns() const { return _options == 0 ? 0 : _values.size() / _options; }
  std::size_t options() const { return _options; }
  double &operator()(std::size_t column, std::size_t option)
  {
    return _values[column * _options + option];
  }
  double operator()(std::size_t column, std::size_t option) const
  {
    return _values[column * _options + option];
  }

  // SPEC §5's model of the score: importance_j · 4^(−b).
  static ColumnErrors from_importance(std::vector<double> const &importance,
                                      std::vector<int> const &bit_options)
  {
    ColumnErrors errors(importance.size(), bit_options.size());
    for (std::size_t j = 0; j < importance.size(); ++j)
      for (std::size_t o = 0; o < bit_options.size(); ++o)
        errors(j, o) = importance[j] * std::ldexp(1.0, -2 * bit_options[o]);
    return errors;
  }

private:
  std::size_t _options;
  std::vector<double> _values;
};

inline void validate_bit_options(std::vector<int> const &bit_options)
{
  if (bit_options.empty())
    throw InvalidArgument("the list of bit options is empty");
  for (std::size_t i = 0; i < bit_options.size(); ++i)
  {
    if (bit_options[i] < 1 || bit_options[i] > 16)
      throw InvalidArgument("bit options must lie in 1…16, got " + std::to_string(bit_options[i]));
    if (i > 0 && bit_options[i] <= bit_options[i - 1])
      throw InvalidArgument("bit options must be strictly increasing");
  }
}

inline void validate_quantiles(std::vector<double> const &quantiles, std::size_t option_count)
{
  if (quantiles.size() + 1 != option_count)
    throw InvalidArgument("quantile allocation needs one threshold less than bit options: " +
                          std::to_string(quantiles.size()) + " thresholds for " +
                          std::to_string(option_count) + " options");
  for (std::size_t i = 0; i < quantiles.size(); ++i)
  {
    if (!std::isfinite(quantiles[i]) || quantiles[i] <= 0.0 || quantiles[i] >= 1.0)
      throw InvalidArgument("quantile thresholds must lie strictly between 0 and 1");
    if (i > 0 && quantiles[i] <= quantiles[i - 1])
      throw InvalidArgument("quantile thresholds must be strictly increasing");
  }
}

inline void validate_target_average(double target, std::vector<int> const &bit_options)
{
  if (!std::isfinite(target) || target < bit_options.front() || target > bit_options.back())
  {
    std::ostringstream message;
    message << "target average bits " << target << " lies outside the bit options' range ["
            << bit_options.front() << ", " << bit_options.back() << "]";
    throw InvalidArgument(message.str());
  }
}

inline void validate_importance(std::vector<double> const &importance)
{
  for (double x : importance)
    if (!std::isfinite(x) || x < 0.0)
      throw InvalidArgument("importance scores must be finite and non-negative");
}

// Columns sorted by ascending importance, ties by column index.
inline std::vector<int> importance_ranking(std::vector<double> const &importance)
{
  std::vector<int> order(importance.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return importance[a] < importance[b]; });
  return order;
}

inline std::vector<std::uint8_t> allocate_bits_quantile(std::vector<double> const &importance,
                                                        std::vector<int> const &bit_options,
                                                        std::vector<double> const &quantiles)
{
  validate_bit_options(bit_options);
  validate_quantiles(quantiles, bit_options.size());
  validate_importance(importance);
  std::size_t const n = importance.size();
  std::vector<std::size_t> boundaries(quantiles.size());
  for (std::size_t m = 0; m < quantiles.size(); ++m)
    boundaries[m] = static_cast<std::size_t>(std::floor(quantiles[m] * static_cast<double>(n)));
  std::vector<std::uint8_t> bits(n);
  std::vector<int> const order = importance_ranking(importance);
  for (std::size_t rank = 0; rank < n; ++rank)
  {
    std::size_t option = 0;
    for (std::size_t boundary : boundaries)
      option += rank >= boundary ? 1 : 0;
    bits[order[rank]] = static_cast<std::uint8_t>(bit_options[option]);
  }
  return bits;
}

// Σ b_j may not exceed this. The relative slack absorbs the decimal representation of the
// target (3.3 · 10 is 32.999999999999996 in binary floating point).
inline std::int64_t bit_budget(double target, std::size_t columns)
{
  return static_cast<std::int64_t>(std::floor(target * static_cast<double>(columns) * (1.0 + 1e-12)));
}

// Gain per added bit of upgrading a column from b to b' bits.
inline double upgrade_gain(double importance, int from_bits, int to_bits)
{
  return importance * (std::ldexp(1.0, -2 * from_bits) - std::ldexp(1.0, -2 * to_bits)) /
         (to_bits - from_bits);
}

namespace detail
{

// The budget greedy: every column starts at option 0, then the best upgrade to a column's next
// option that fits the remaining bits is applied, best gain per added bit first (ties: lower
// column), until none fits. gain(column, o): the gain per bit of option o → o + 1;
// upgraded(column) is told of each upgrade, in order. Returns the option index of each column.
template <class Gain, class Upgraded = void (*)(int)>
std::vector<std::size_t> greedy_options(
    std::size_t columns, std::vector<int> const &bit_options, std::int64_t remaining,
    Gain const &gain, Upgraded const &upgraded = [](int) {})
{
  std::vector<std::size_t> option(columns, 0);
  UpgradeHeaps heaps(bit_options);
  auto offer_next_upgrade = [&](int column)
  {
    std::size_t const o = option[column];
    if (o + 1 < bit_options.size())
      heaps.push(bit_options[o + 1] - bit_options[o], {gain(column, o), column});
  };
  for (std::size_t j = 0; j < columns; ++j)
    offer_next_upgrade(static_cast<int>(j));
  while (auto const best = heaps.pop_best_fitting(remaining))
  {
    int const column = best->column;
    remaining -= bit_options[option[column] + 1] - bit_options[option[column]];
    ++option[column];
    upgraded(column);
    offer_next_upgrade(column);
  }
  return option;
}

// An error table fit for the greedy: one error per bit option, all finite.
inline void check_error_table(ColumnErrors const &errors, std::vector<int> const &bit_options)
{
  validate_bit_options(bit_options);
  if (errors.options() != bit_options.size())
    throw InvalidArgument("the error table has " + std::to_string(errors.options()) +
                          " options for " + std::to_string(bit_options.size()) + " bit options");
  for (std::size_t j = 0; j < errors.columns(); ++j)
    for (std::size_t o = 0; o < errors.options(); ++o)
      if (!std::isfinite(errors(j, o)))
        throw InvalidArgument("the expected error of column " + std::to_string(j) +
                              " is not finite");
}

inline void check_bit_sum(std::int64_t bit_sum, std::size_t columns,
                          std::vector<int> const &bit_options)
{
  if (bit_sum < static_cast<std::int64_t>(columns) * bit_options.front())
    throw InvalidArgument("a budget of " + std::to_string(bit_sum) + " bits cannot give " +
                          std::to_string(columns) + " columns " +
                          std::to_string(bit_options.front()) + " bits each");
}

inline double error_gain_per_bit(ColumnErrors const &errors, std::vector<int> const &bit_options,
                                 int column, std::size_t o)
{
  return (errors(column, o) - errors(column, o + 1)) / (bit_options[o + 1] - bit_options[o]);
}

inline std::vector<std::uint8_t> widths_of(std::vector<std::size_t> const &option,
                                           std::vector<int> const &bit_options)
{
  std::vector<std::uint8_t> bits(option.size());
  for (std::size_t j = 0; j < option.size(); ++j)
    bits[j] = static_cast<std::uint8_t>(bit_options[option[j]]);
  return bits;
}

// Σ_j errors(j, b_j) of an allocation whose widths are all among bit_options.
inline double error_at(ColumnErrors const &errors, std::vector<int> const &bit_options,
                       std::vector<std::uint8_t> const &bits)
{
  double total = 0.0;
  for (std::size_t j = 0; j < bits.size(); ++j)
    total += errors(
        j, static_cast<std::size_t>(std::find(bit_options.begin(), bit_options.end(), bits[j]) -
                                    bit_options.begin()));
  return total;
}

} // namespace detail

inline std::vector<std::uint8_t> allocate_bits_budget(std::vector<double> const &importance,
                                                      std::vector<int> const &bit_options,
                                                      double target)
{
  validate_bit_options(bit_options);
  validate_target_average(target, bit_options);
  validate_importance(importance);
  std::size_t const n = importance.size();
  std::int64_t const remaining =
      bit_budget(target, n) - static_cast<std::int64_t>(n) * bit_options.front();
  auto const option = detail::greedy_options(
      n, bit_options, remaining,
      [&](int column, std::size_t o)
      { return upgrade_gain(importance[column], bit_options[o], bit_options[o + 1]); });
  return detail::widths_of(option, bit_options);
}

// The budget greedy on a table of expected errors: minimises Σ_j errors(j, b_j) under
// Σ_j b_j ≤ bit_sum, upgrading by the largest error reduction per added bit first. Every
// column gets at least the lowest option, so bit_sum must be at least n times it.
inline std::vector<std::uint8_t> allocate_bits_by_errors(ColumnErrors const &errors,
                                                         std::vector<int> const &bit_options,
                                                         std::int64_t bit_sum)
{
  detail::check_error_table(errors, bit_options);
  std::size_t const n = errors.columns();
  detail::check_bit_sum(bit_sum, n, bit_options);
  std::int64_t const remaining = bit_sum - static_cast<std::int64_t>(n) * bit_options.front();
  auto const option =
      detail::greedy_options(n, bit_options, remaining,
                             [&](int column, std::size_t o) {
                               return detail::error_gain_per_bit(errors, bit_options, column, o);
                             });
  return detail::widths_of(option, bit_options);
}

// allocate_bits_by_errors of one table at any number of bit sums (the model-wide allocation's
// ladder asks for each module's at fifty budgets): one run of the greedy without a budget,
// which applies every upgrade, serves them all. With a budget the greedy applies the same
// upgrades for as long as the best one fits — the first k of that run, where the (k+1)-th would
// exceed the budget — since until then the best fitting upgrade is the best of all. What is left
// is then less than the largest upgrade cost, and the greedy goes on among the columns' next
// upgrades that fit, best first: at most (largest cost − 1) further upgrades, each found here by
// a scan of the columns. The result is allocate_bits_by_errors' exactly.
class ErrorBudgetGreedy
{
public:
  ErrorBudgetGreedy(ColumnErrors errors, std::vector<int> bit_options)
      : _errors(std::move(errors)), _bit_options(std::move(bit_options))
  {
    detail::check_error_table(_errors, _bit_options);
    std::vector<std::size_t> upgrades(_errors.columns(), 0);
    std::int64_t spent = 0;
    detail::greedy_options(
        _errors.columns(), _bit_options, std::numeric_limits<std::int64_t>::max(),
        [&](int column, std::size_t o)
        { return detail::error_gain_per_bit(_errors, _bit_options, column, o); },
        [&](int column)
        {
          std::size_t const o = upgrades[column]++;
          spent += _bit_options[o + 1] - _bit_options[o];
          _upgraded_column.push_back(column);
          _spent_after.push_back(spent);
        });
  }

  ColumnErrors const &errors() const { return _errors; }

  std::vector<std::uint8_t> operator()(std::int64_t bit_sum) const
  {
    std::size_t const n = _errors.columns();
    detail::check_bit_sum(bit_sum, n, _bit_options);
    std::int64_t const remaining = bit_sum - static_cast<std::int64_t>(n) * _bit_options.front();
    std::size_t const applied =
        std::upper_bound(_spent_after.begin(), _spent_after.end(), remaining) -
        _spent_after.begin();
    std::vector<std::size_t> option(n, 0);
    for (std::size_t k = 0; k < applied; ++k)
      ++option[_upgraded_column[k]];
    std::int64_t left = remaining - (applied > 0 ? _spent_after[applied - 1] : 0);
    for (;;)
    {
      std::optional<detail::Upgrade> best;
      for (std::size_t j = 0; j < n; ++j)
      {
        std::size_t const o = option[j];
        if (o + 1 >= _bit_options.size() || _bit_options[o + 1] - _bit_options[o] > left)
          continue;
        detail::Upgrade const candidate{
            detail::error_gain_per_bit(_errors, _bit_options, static_cast<int>(j), o),
            static_cast<int>(j)};
        if (!best || detail::is_better_upgrade(candidate, *best))
          best = candidate;
      }
      if (!best)
        break;
      std::size_t &o = option[best->column];
      left -= _bit_options[o + 1] - _bit_options[o];
      ++o;
    }
    return detail::widths_of(option, _bit_options);
  }

private:
  ColumnErrors _errors;
  std::vector<int> _bit_options;
  std::vector<int> _upgraded_column;      // the run's upgrades, in order
  std::vector<std::int64_t> _spent_after; // bits spent by the run's first k + 1 upgrades
};

} // namespace sgpte

#endif
