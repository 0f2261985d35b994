// Bit allocation (SPEC §5): the O(n log n) budget greedy against the plain O(n²) greedy
// on thousands of random cases (on the importance score and on tables of errors), the budget
// bounds, the exact quantile tier counts, and the packed-byte budget against the packed
// layout's own byte count.

#include <sgpte/allocation/bit_allocation.hpp>
#include <sgpte/allocation/packed_budget.hpp>
#include <sgpte/packed/layer_layout.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "trap_invalid_operations.hpp"

namespace
{

// The seed's greedy, written plainly: rescan every column for each upgrade.
// gain(j, from, to): the gain per added bit of upgrading column j from `from` to `to` bits.
template <class Gain>
std::vector<std::uint8_t> naive_greedy(std::size_t n, std::vector<int> const &options,
                                       std::int64_t bit_sum, Gain const &gain)
{
  std::vector<std::size_t> level(n, 0);
  std::int64_t remaining = bit_sum - static_cast<std::int64_t>(n) * options.front();
  for (;;)
  {
    int best = -1;
    double best_gain = 0.0;
    for (std::size_t j = 0; j < n; ++j)
    {
      if (level[j] + 1 >= options.size())
        continue;
      int const from = options[level[j]], to = options[level[j] + 1];
      if (to - from > remaining)
        continue;
      double const g = gain(j, level[j]);
      if (best < 0 || g > best_gain)
      {
        best = static_cast<int>(j);
        best_gain = g;
      }
    }
    if (best < 0)
      break;
    remaining -= options[level[best] + 1] - options[level[best]];
    ++level[best];
  }
  std::vector<std::uint8_t> bits(n);
  for (std::size_t j = 0; j < n; ++j)
    bits[j] = static_cast<std::uint8_t>(options[level[j]]);
  return bits;
}

std::vector<std::uint8_t> naive_budget(std::vector<double> const &importance,
                                       std::vector<int> const &options, double target)
{
  return naive_greedy(importance.size(), options, sgpte::bit_budget(target, importance.size()),
                      [&](std::size_t j, std::size_t o)
                      {
                        int const from = options[o], to = options[o + 1];
                        return importance[j] * (std::pow(4.0, -from) - std::pow(4.0, -to)) /
                               (to - from);
                      });
}

double total_error(sgpte::ColumnErrors const &errors, std::vector<int> const &options,
                   std::vector<std::uint8_t> const &bits)
{
  double total = 0.0;
  for (std::size_t j = 0; j < bits.size(); ++j)
    total += errors(j, std::find(options.begin(), options.end(), bits[j]) - options.begin());
  return total;
}

// Errors falling with the width at a random rate per column, the shape of quantization errors.
sgpte::ColumnErrors random_errors(std::size_t n, std::vector<int> const &options,
                                  std::mt19937 &generator)
{
  std::lognormal_distribution<double> scale(0.0, 1.5);
  std::uniform_real_distribution<double> rate(2.0, 5.0);
  sgpte::ColumnErrors errors(n, options.size());
  for (std::size_t j = 0; j < n; ++j)
  {
    double const s = scale(generator), r = rate(generator);
    for (std::size_t o = 0; o < options.size(); ++o)
      errors(j, o) = s * std::pow(r, -options[o]);
  }
  return errors;
}

// The packed layout's byte count (a packed_bytes function) of a layer of `rows` rows with
// `kept` weights kept per column, quantized per channel in groups of group_size (0: none).
auto layout_bytes(int rows, std::vector<std::int64_t> kept, int group_size)
{
  sgpte::CompressionOptions layer;
  layer.target_average_bits = 3; // any target: the layout only asks whether the layer quantizes
  layer.quantizer.group_size = group_size;
  return [rows, kept = std::move(kept), layer](std::vector<std::uint8_t> const &bits)
  {
    return sgpte::packed::make_layer_layout(rows, bits, kept, layer, sgpte::io::Dtype::F16)
        .file_bytes();
  };
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(BitAllocation, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(budget_equals_the_plain_greedy)
{
  std::mt19937 generator(2024);
  std::vector<std::vector<int>> const option_lists = {{2, 3, 4, 6, 8}, {2, 4, 8}, {1, 2, 3, 4, 5, 6, 7, 8},
                                                      {3, 4}, {4}, {2, 3, 5, 8, 16}};
  int cases = 0;
  for (int trial = 0; trial < 3000; ++trial)
  {
    auto const &options = option_lists[trial % option_lists.size()];
    std::size_t const n = 1 + generator() % 150;
    std::vector<double> importance(n);
    std::uniform_real_distribution<double> uniform(0.0, 3.0);
    std::lognormal_distribution<double> heavy(0.0, 1.5);
    for (std::size_t j = 0; j < n; ++j)
    {
      // Ties (repeated values, zeros of dead columns) exercise the tie-breaking.
      switch (trial % 3)
      {
      case 0: importance[j] = uniform(generator); break;
      case 1: importance[j] = heavy(generator); break;
      default: importance[j] = static_cast<double>(generator() % 4); break;
      }
    }
    std::uniform_real_distribution<double> target_distribution(options.front(), options.back());
    double const target = trial % 10 == 0 ? options.back() : target_distribution(generator);
    BOOST_TEST_CONTEXT("trial " << trial << " n " << n << " target " << target)
    {
      auto const bits = sgpte::allocate_bits_budget(importance, options, target);
      BOOST_TEST((bits == naive_budget(importance, options, target)));
      std::int64_t sum = 0;
      int largest_step = 0;
      for (std::size_t o = 1; o < options.size(); ++o)
        largest_step = std::max(largest_step, options[o] - options[o - 1]);
      for (auto b : bits)
        sum += b;
      double const average = static_cast<double>(sum) / n;
      BOOST_TEST(sum <= sgpte::bit_budget(target, n));
      BOOST_TEST(average <= target + 1e-12);
      BOOST_TEST(average >= target - static_cast<double>(largest_step) / n - 1e-12);
    }
    ++cases;
  }
  BOOST_TEST(cases == 3000);
}

BOOST_AUTO_TEST_CASE(budget_prefers_important_columns)
{
  std::vector<double> const importance = {1.0, 100.0, 1.0, 1.0};
  auto const bits = sgpte::allocate_bits_budget(importance, {2, 3, 4, 6, 8}, 3.0);
  BOOST_TEST(bits[1] > bits[0]);
  BOOST_CHECK_THROW(sgpte::allocate_bits_budget(importance, {2, 4}, 1.5), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_budget(importance, {2, 4}, 4.5), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_budget(importance, {4, 2}, 3.0), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_budget(importance, {0, 2}, 1.0), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_budget(importance, {2, 17}, 3.0), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_budget({1.0, -1.0}, {2, 4}, 3.0), sgpte::InvalidArgument);
  // 3.3 · 10 is 32.999… in binary: the budget is still 33 bits.
  BOOST_TEST(sgpte::bit_budget(3.3, 10) == 33);
}

BOOST_AUTO_TEST_CASE(error_budget_equals_the_plain_greedy)
{
  std::mt19937 generator(7);
  std::vector<std::vector<int>> const option_lists = {
      {2, 3, 4, 6, 8}, {2, 4, 8}, {3, 4}, {1, 2, 3, 4, 5, 6, 7, 8}};
  for (int trial = 0; trial < 1000; ++trial)
  {
    auto const &options = option_lists[trial % option_lists.size()];
    std::size_t const n = 1 + generator() % 120;
    sgpte::ColumnErrors errors = random_errors(n, options, generator);
    if (trial % 5 == 0) // ties, and errors that do not fall with every width
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t o = 0; o < options.size(); ++o)
          errors(j, o) = static_cast<double>(generator() % 3);
    std::int64_t const bit_sum = static_cast<std::int64_t>(n) * options.front() +
                                 generator() % (n * (options.back() - options.front()) + 1);
    BOOST_TEST_CONTEXT("trial " << trial << " n " << n << " bits " << bit_sum)
    {
      auto const bits = sgpte::allocate_bits_by_errors(errors, options, bit_sum);
      auto const expected =
          naive_greedy(n, options, bit_sum,
                       [&](std::size_t j, std::size_t o) {
                         return (errors(j, o) - errors(j, o + 1)) / (options[o + 1] - options[o]);
                       });
      BOOST_TEST((bits == expected));
    }
  }
  sgpte::ColumnErrors errors(4, 2);
  BOOST_CHECK_THROW(sgpte::allocate_bits_by_errors(errors, {2, 4}, 7), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_by_errors(errors, {2, 4, 8}, 12), sgpte::InvalidArgument);
  errors(3, 1) = std::numeric_limits<double>::infinity();
  BOOST_CHECK_THROW(sgpte::allocate_bits_by_errors(errors, {2, 4}, 12), sgpte::InvalidArgument);
}

// One run of the greedy without a budget, read at every bit sum, against the greedy run for
// that bit sum: the same widths, including where ties and errors that do not fall with every
// width make the order of upgrades delicate, and where upgrades cost up to 6 bits.
BOOST_AUTO_TEST_CASE(one_greedy_run_serves_every_bit_sum)
{
  std::mt19937 generator(13);
  std::vector<std::vector<int>> const option_lists = {
      {2, 3, 4, 6, 8}, {2, 8}, {3, 4}, {1, 2, 3, 4, 5, 6, 7, 8}, {2, 4, 8}};
  for (int trial = 0; trial < 200; ++trial)
  {
    auto const &options = option_lists[trial % option_lists.size()];
    std::size_t const n = 1 + generator() % 40;
    sgpte::ColumnErrors errors = random_errors(n, options, generator);
    if (trial % 4 == 0)
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t o = 0; o < options.size(); ++o)
          errors(j, o) = static_cast<double>(generator() % 3);
    sgpte::ErrorBudgetGreedy const greedy(errors, options);
    auto const lowest = static_cast<std::int64_t>(n) * options.front();
    auto const highest = static_cast<std::int64_t>(n) * options.back();
    for (std::int64_t bit_sum = lowest; bit_sum <= highest + 3; ++bit_sum)
      BOOST_TEST_CONTEXT("trial " << trial << " n " << n << " bits " << bit_sum)
      {
        BOOST_TEST((greedy(bit_sum) == sgpte::allocate_bits_by_errors(errors, options, bit_sum)));
      }
    BOOST_CHECK_THROW(greedy(lowest - 1), sgpte::InvalidArgument);
  }
  sgpte::ColumnErrors errors(4, 2);
  errors(3, 1) = std::numeric_limits<double>::infinity();
  BOOST_CHECK_THROW(sgpte::ErrorBudgetGreedy(errors, {2, 4}), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::ErrorBudgetGreedy(sgpte::ColumnErrors(4, 2), {2, 4, 8}),
                    sgpte::InvalidArgument);
}

// The model-wide allocation's ladder (every subset's greedy run once, without a budget, on
// the host's threads) against the packed allocation of each of its budgets on its own (the
// budgeted greedies): the same widths, bytes and errors at every rung, with fixed errors and
// with errors re-estimated for each allocation (as per-width ranges do).
BOOST_AUTO_TEST_CASE(a_ladder_of_budgets_reads_the_single_budget_allocations)
{
  std::mt19937 generator(17);
  std::vector<int> const options = {2, 3, 4, 6, 8};
  for (int trial = 0; trial < 12; ++trial)
  {
    int const rows = 8 + static_cast<int>(generator() % 64);
    std::size_t const n = 16 + generator() % 200;
    std::vector<std::int64_t> kept(n);
    for (auto &k : kept)
      k = 1 + static_cast<std::int64_t>(generator() % rows);
    double const mean_kept =
        static_cast<double>(std::accumulate(kept.begin(), kept.end(), std::int64_t(0))) / n;
    auto const bytes = layout_bytes(rows, kept, trial % 3 == 0 ? 32 : 0);
    sgpte::ColumnErrors const errors = random_errors(n, options, generator);
    // Errors that grow with the share of columns at the same width, a function of the
    // allocation as the re-estimates are.
    sgpte::ErrorRefinement const crowding = [&](std::vector<std::uint8_t> const &bits)
    {
      sgpte::ColumnErrors refined = errors;
      for (std::size_t o = 0; o < options.size(); ++o)
      {
        auto const sharing = std::count(bits.begin(), bits.end(), options[o]);
        for (std::size_t j = 0; j < n; ++j)
          refined(j, o) *= 1.0 + static_cast<double>(sharing) / static_cast<double>(n);
      }
      return refined;
    };
    sgpte::PackedSubsetGreedies const ladder(errors, options,
                                             sgpte::PackedSubsetGreedies::Budgets::many);
    for (bool const refine : {false, true})
      for (double target = 2.0; target <= 8.0; target += 0.25)
        BOOST_TEST_CONTEXT("trial " << trial << " columns " << n << " target " << target
                                    << (refine ? " re-estimated" : ""))
        {
          std::int64_t const budget = sgpte::packed_budget_bytes(target, n, mean_kept, bytes);
          sgpte::ErrorRefinement const refinement = refine ? crowding : sgpte::ErrorRefinement{};
          auto const read = sgpte::allocate_bits_packed_within(ladder, target, budget, mean_kept,
                                                               bytes, refinement);
          auto const own = sgpte::allocate_bits_packed_within(errors, options, target, budget,
                                                              mean_kept, bytes, refinement);
          BOOST_TEST(!own.bits.empty());
          BOOST_TEST((read.bits == own.bits));
          BOOST_TEST(read.bytes == own.bytes);
          BOOST_TEST(read.error == own.error);
        }
  }

  // Errors that the re-estimate leaves as they were: one re-estimate per subset of several
  // widths (26 of the 31), whose first round already confirms the allocation.
  std::size_t const n = 40;
  sgpte::ColumnErrors const errors = random_errors(n, options, generator);
  int calls = 0;
  sgpte::ErrorRefinement const unchanged = [&](std::vector<std::uint8_t> const &)
  {
    ++calls;
    return errors;
  };
  auto const bytes = layout_bytes(16, std::vector<std::int64_t>(n, 16), 0);
  auto const widest = sgpte::packed_budget_bytes(8.0, n, 16.0, bytes);
  auto const refined =
      sgpte::allocate_bits_packed_within(errors, options, 8.0, widest, 16.0, bytes, unchanged);
  BOOST_TEST(!refined.bits.empty());
  BOOST_TEST(calls == 26);
}

// The packed budget against packed::LayerLayout's byte count of the result: never more than
// uniform quantization at the target (exact without pruning), never a larger total error
// than uniform, and where a width's scales and zeros cost more than it wins, one width only.
BOOST_AUTO_TEST_CASE(packed_budget_stays_within_uniform_bytes)
{
  std::mt19937 generator(11);
  std::vector<int> const options = {2, 3, 4, 6, 8};
  for (int trial = 0; trial < 60; ++trial)
  {
    int const rows = 8 + static_cast<int>(generator() % 64);
    std::size_t const n = 16 + generator() % 300;
    int const target = 3 + trial % 2;
    auto const bytes =
        layout_bytes(rows, std::vector<std::int64_t>(n, rows), trial % 3 == 0 ? 32 : 0);
    sgpte::ColumnErrors const errors = random_errors(n, options, generator);
    BOOST_TEST_CONTEXT("trial " << trial << " rows " << rows << " columns " << n)
    {
      auto const bits = sgpte::allocate_bits_packed(errors, options, target, rows, bytes);
      std::vector<std::uint8_t> const uniform(n, static_cast<std::uint8_t>(target));
      BOOST_TEST(bytes(bits) <= bytes(uniform));
      BOOST_TEST(total_error(errors, options, bits) <= total_error(errors, options, uniform));
    }
  }

  // Two columns far more sensitive than the rest: with widths free of charge they get 8 bits;
  // when each width in use costs more than the whole layer's codes, every column gets 4.
  std::size_t const n = 64;
  sgpte::ColumnErrors errors(n, options.size());
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t o = 0; o < options.size(); ++o)
      errors(j, o) = (j < 2 ? 1e6 : 1.0) * std::pow(4.0, -options[o]);
  auto const widths_in_use = [](std::vector<std::uint8_t> const &bits)
  { return std::set<int>(bits.begin(), bits.end()).size(); };
  auto const codes_only = [](std::vector<std::uint8_t> const &bits)
  { return static_cast<std::int64_t>(std::accumulate(bits.begin(), bits.end(), 0) * 16 / 8); };
  auto const free_widths = sgpte::allocate_bits_packed(errors, options, 4.0, 16.0, codes_only);
  BOOST_TEST(free_widths[0] == 8);
  BOOST_TEST(free_widths[1] == 8);
  BOOST_TEST(codes_only(free_widths) <= codes_only(std::vector<std::uint8_t>(n, 4)));
  auto const costly_widths = [&](std::vector<std::uint8_t> const &bits)
  { return codes_only(bits) + 1000 * static_cast<std::int64_t>(widths_in_use(bits)); };
  auto const costly = sgpte::allocate_bits_packed(errors, options, 4.0, 16.0, costly_widths);
  BOOST_TEST((costly == std::vector<std::uint8_t>(n, 4)));
  BOOST_CHECK_THROW(sgpte::allocate_bits_packed(errors, options, 1.5, 16.0, costly_widths),
                    sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_packed(errors, {2, 4}, 3.0, 16.0, costly_widths),
                    sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_packed(errors, options, 4.0, 0.0, costly_widths),
                    sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_CASE(quantile_tiers_have_exact_sizes)
{
  std::mt19937 generator(99);
  std::vector<int> const options = {2, 3, 4, 6, 8};
  std::vector<double> const quantiles = {0.2, 0.4, 0.6, 0.8};
  for (std::size_t n : {1u, 2u, 5u, 7u, 10u, 99u, 768u, 3072u})
  {
    std::vector<double> importance(n);
    for (auto &x : importance)
      x = static_cast<double>(generator() % 50); // many ties
    auto const bits = sgpte::allocate_bits_quantile(importance, options, quantiles);
    std::vector<std::size_t> boundaries = {0};
    for (double q : quantiles)
      boundaries.push_back(static_cast<std::size_t>(std::floor(q * n)));
    boundaries.push_back(n);
    auto const order = sgpte::importance_ranking(importance);
    for (std::size_t tier = 0; tier < options.size(); ++tier)
    {
      std::size_t count = 0;
      for (auto b : bits)
        count += b == options[tier] ? 1 : 0;
      BOOST_TEST(count == boundaries[tier + 1] - boundaries[tier], "n " << n << " tier " << tier);
      for (std::size_t rank = boundaries[tier]; rank < boundaries[tier + 1]; ++rank)
        BOOST_TEST(bits[order[rank]] == options[tier]);
    }
    // Ties go by column index: the ranking is a stable sort.
    for (std::size_t r = 1; r < n; ++r)
      BOOST_TEST((importance[order[r - 1]] < importance[order[r]] ||
                  (importance[order[r - 1]] == importance[order[r]] && order[r - 1] < order[r])));
  }
  BOOST_CHECK_THROW(sgpte::allocate_bits_quantile({1.0}, options, {0.5}), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_quantile({1.0}, {2, 4}, {1.5}), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_bits_quantile({1.0}, {2, 4, 8}, {0.6, 0.4}), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
