#ifndef SGPTE_ALLOCATION_PACKED_BUDGET_HPP
#define SGPTE_ALLOCATION_PACKED_BUDGET_HPP

// The budget greedy with the budget counted in packed bytes (docs/format.md): a target of t
// bits allows at most the packed bytes of uniform ⌊t⌋-bit quantization of the same layer
// (same mask, groups and parameters) plus (t − ⌊t⌋) bits per kept weight — for a whole t,
// exactly uniform t-bit's bytes.
//
// What a width costs in that format is not only its codes: every width in use has its header
// entry, and with the MSE search or per-width ranges also a scale and a zero per parameter row
// and group (5 bytes per row without groups, as many as 40 column-bits at 0 % sparsity; with
// the shared range the narrower widths' follow from the widest's and are not stored), so on
// a narrow layer a further width can cost more than it wins.
// The allocation therefore tries every subset of the bit options (subsets of at most three
// options when there are more than six), runs the greedy of allocate_bits_by_errors within
// the subset under the largest bit sum whose packed bytes fit, and keeps the subset with the
// smallest total expected error (ties: the first in the order of the subsets' bit masks).
// A subset holding the uniform width always fits, so the result is never worse than uniform
// quantization by the errors' own measure.
//
// Kept weights are not known before the sweep chooses the masks: packed_bytes costs each
// column by the weights it is expected to keep (the layer compressor applies the sweep's mask
// rule to the untouched weights). That is exact without pruning; with sparsity the packed
// file can differ from the estimate by what the sweep's updates change in the masks (the
// statistics report the exact bytes).

#include <sgpte/allocation/bit_allocation.hpp>
#include <sgpte/core/detail/host_threads.hpp>
#include <sgpte/core/error.hpp>

#include <algorithm>
#include <bitset>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace sgpte
{

namespace detail
{

// The subsets of n options the packed allocation tries, as bit masks in increasing order.
inline std::vector<unsigned> option_subsets(std::size_t n)
{
  constexpr std::size_t all_subsets_up_to = 6;
  constexpr std::size_t largest_subset_beyond = 3;
  std::vector<unsigned> subsets;
  for (unsigned mask = 1; mask < (1u << n); ++mask)
    if (n <= all_subsets_up_to || std::bitset<32>(mask).count() <= largest_subset_beyond)
      subsets.push_back(mask);
  return subsets;
}

} // namespace detail

struct PackedAllocation
{
  std::vector<std::uint8_t> bits; // per column; empty when no allocation fits
  double error = 0.0;             // Σ_j errors(j, b_j)
  std::int64_t bytes = 0;         // packed_bytes(bits)
};

// The packed budget of a target of t bits: the packed bytes of uniform ⌊t⌋-bit quantization
// plus (t − ⌊t⌋) bits per kept weight.
template <class PackedBytes>
std::int64_t packed_budget_bytes(double target, std::size_t columns, double kept_per_column,
                                 PackedBytes const &packed_bytes)
{
  int const whole = static_cast<int>(std::floor(target * (1.0 + 1e-12)));
  return packed_bytes(std::vector<std::uint8_t>(columns, static_cast<std::uint8_t>(whole))) +
         static_cast<std::int64_t>(
             std::floor((target - whole) * kept_per_column * static_cast<double>(columns) / 8.0));
}

// Re-estimates the errors for an allocation (per column, original order): with per-width
// quantizer ranges a column's error at a width depends on which columns share that width
// (importance/obs_sensitivity.hpp's obs_sensitivity_per_width). Empty: the errors are fixed.
using ErrorRefinement = std::function<ColumnErrors(std::vector<std::uint8_t> const &)>;
// How many times an allocation is redone on the errors re-estimated for the previous one.
constexpr int error_refinement_rounds = 2;

// The greedies allocate_bits_packed_within runs, one per subset of the bit options it tries
// (detail::option_subsets), each on the errors of its subset's widths. For allocations at many
// budgets (the model-wide allocation's ladder) each subset's greedy runs once without a budget
// and serves them all (ErrorBudgetGreedy); for one budget, where that run would cost more than
// the few budgeted ones, each runs at the bit sums tried.
class PackedSubsetGreedies
{
public:
  enum class Budgets
  {
    one,
    many
  };

  // A subset of the bit options, its widths' errors and the greedy on them.
  class Subset
  {
  public:
    Subset(std::vector<std::size_t> index, std::vector<int> options, ColumnErrors errors)
        : _index(std::move(index)), _options(std::move(options)), _errors(std::move(errors))
    {
    }

    std::vector<std::size_t> const &index() const { return _index; } // of each width in the options
    std::vector<int> const &options() const { return _options; }     // its widths
    ColumnErrors const &errors() const { return _greedy ? _greedy->errors() : _errors; }

    // allocate_bits_by_errors(errors(), options(), bit_sum)
    std::vector<std::uint8_t> allocate(std::int64_t bit_sum) const
    {
      return _greedy ? (*_greedy)(bit_sum) : allocate_bits_by_errors(_errors, _options, bit_sum);
    }

    // Budgets::many: the greedy's one run without a budget, which then holds the errors.
    void run_unbudgeted() { _greedy.emplace(std::move(_errors), _options); }

  private:
    std::vector<std::size_t> _index;
    std::vector<int> _options;
    ColumnErrors _errors; // moved into _greedy when it runs
    std::optional<ErrorBudgetGreedy> _greedy;
  };

  PackedSubsetGreedies(ColumnErrors const &errors, std::vector<int> const &bit_options,
                       Budgets budgets)
      : _columns(errors.columns())
  {
    detail::check_error_table(errors, bit_options);
    for (unsigned const subset : detail::option_subsets(bit_options.size()))
    {
      std::vector<std::size_t> index;
      std::vector<int> options;
      for (std::size_t o = 0; o < bit_options.size(); ++o)
        if (subset & (1u << o))
        {
          options.push_back(bit_options[o]);
          index.push_back(o);
        }
      ColumnErrors subset_errors = restricted(errors, index);
      _subsets.emplace_back(std::move(index), std::move(options), std::move(subset_errors));
    }
    // The runs are independent host work (no Kokkos call), each writing only its own subset.
    if (budgets == Budgets::many)
      detail::for_each_on_host_threads(_subsets.size(),
                                       [&](std::size_t s) { _subsets[s].run_unbudgeted(); });
  }

  std::size_t columns() const { return _columns; }
  std::vector<Subset> const &subsets() const { return _subsets; }

  // The columns of `all` (one per bit option) at the given options.
  static ColumnErrors restricted(ColumnErrors const &all, std::vector<std::size_t> const &index)
  {
    ColumnErrors sub(all.columns(), index.size());
    for (std::size_t j = 0; j < all.columns(); ++j)
      for (std::size_t o = 0; o < index.size(); ++o)
        sub(j, o) = all(j, index[o]);
    return sub;
  }

private:
  std::size_t _columns;
  std::vector<Subset> _subsets;
};

// The allocation of smallest expected error within budget_bytes (see above); `target` (in the
// bit options' range) is where each subset's search for a bit sum starts. With a refinement,
// each subset of several widths is allocated again on the errors re-estimated for its
// allocation (`error_refinement_rounds` times) and the subsets are compared by the re-estimated
// errors of their final allocations.
template <class PackedBytes>
PackedAllocation allocate_bits_packed_within(PackedSubsetGreedies const &greedies, double target,
                                             std::int64_t budget_bytes, double kept_per_column,
                                             PackedBytes const &packed_bytes,
                                             ErrorRefinement const &refine = {})
{
  std::size_t const n = greedies.columns();
  auto const n64 = static_cast<std::int64_t>(n);
  PackedAllocation best;
  best.error = std::numeric_limits<double>::infinity();
  for (PackedSubsetGreedies::Subset const &subset : greedies.subsets())
  {
    std::vector<int> const &options = subset.options();
    // Start from the nominal bit sum (or every column at the subset's widest) and lower it by
    // the estimated excess until the packed bytes fit.
    std::int64_t bytes = 0;
    auto const fitting = [&](auto const &allocate_at)
    {
      std::int64_t bit_sum = std::min(bit_budget(target, n), n64 * options.back());
      while (bit_sum >= n64 * options.front())
      {
        std::vector<std::uint8_t> bits = allocate_at(bit_sum);
        bytes = packed_bytes(bits);
        std::int64_t const excess = bytes - budget_bytes;
        if (excess <= 0)
          return bits;
        bit_sum -= std::max<std::int64_t>(
            1, static_cast<std::int64_t>(std::ceil(8.0 * excess / kept_per_column)));
      }
      return std::vector<std::uint8_t>{};
    };
    std::vector<std::uint8_t> bits =
        fitting([&](std::int64_t bit_sum) { return subset.allocate(bit_sum); });
    if (bits.empty())
      continue;
    // With a refinement: the errors re-estimated for `bits` (kept from the last round when
    // that round left `bits` as they were, so that refine runs once per allocation).
    std::optional<ColumnErrors> refined;
    if (refine && options.size() > 1)
    {
      for (int round = 0; round < error_refinement_rounds; ++round)
      {
        refined = PackedSubsetGreedies::restricted(refine(bits), subset.index());
        std::vector<std::uint8_t> next =
            fitting([&](std::int64_t bit_sum)
                    { return allocate_bits_by_errors(*refined, options, bit_sum); });
        if (next.empty() || next == bits)
          break;
        bits = std::move(next);
        refined.reset();
      }
      if (!refined)
        refined = PackedSubsetGreedies::restricted(refine(bits), subset.index());
      bytes = packed_bytes(bits);
    }
    double const total = detail::error_at(refined ? *refined : subset.errors(), options, bits);
    if (total < best.error)
    {
      best.error = total;
      best.bits = std::move(bits);
      best.bytes = bytes;
    }
  }
  return best;
}

// As above, for one budget.
template <class PackedBytes>
PackedAllocation
allocate_bits_packed_within(ColumnErrors const &errors, std::vector<int> const &bit_options,
                            double target, std::int64_t budget_bytes, double kept_per_column,
                            PackedBytes const &packed_bytes, ErrorRefinement const &refine = {})
{
  return allocate_bits_packed_within(
      PackedSubsetGreedies(errors, bit_options, PackedSubsetGreedies::Budgets::one), target,
      budget_bytes, kept_per_column, packed_bytes, refine);
}

// errors: per column and option (ColumnErrors); packed_bytes(bits): the packed size of the
// layer with these widths per column; kept_per_column: the mean kept weights per column, the
// code bits one bit per column costs, by which an excess of bytes is turned into bits to give
// back. budget_bytes (when given) replaces the target's packed budget (the model-wide
// allocation's share of this layer, allocation/model_budget.hpp); when no allocation fits it,
// every column gets the lowest option. refine: as for allocate_bits_packed_within.
template <class PackedBytes>
std::vector<std::uint8_t>
allocate_bits_packed(ColumnErrors const &errors, std::vector<int> const &bit_options, double target,
                     double kept_per_column, PackedBytes const &packed_bytes,
                     std::optional<std::int64_t> budget_bytes = std::nullopt,
                     ErrorRefinement const &refine = {})
{
  validate_bit_options(bit_options);
  validate_target_average(target, bit_options);
  if (!(kept_per_column > 0.0))
    throw InvalidArgument("the packed budget needs a positive number of kept weights per column");
  std::size_t const n = errors.columns();
  bool const given = budget_bytes.has_value();
  std::int64_t const budget =
      given ? *budget_bytes : packed_budget_bytes(target, n, kept_per_column, packed_bytes);
  PackedAllocation best =
      allocate_bits_packed_within(errors, bit_options, given ? bit_options.back() : target, budget,
                                  kept_per_column, packed_bytes, refine);
  if (best.bits.empty() && given)
    return std::vector<std::uint8_t>(n, static_cast<std::uint8_t>(bit_options.front()));
  if (best.bits.empty())
  {
    std::ostringstream message;
    message << "no allocation of the bit options fits the packed bytes of a " << target
            << "-bit target (" << budget << " bytes)";
    throw InvalidArgument(message.str());
  }
  return std::move(best.bits);
}

} // namespace sgpte

#endif
