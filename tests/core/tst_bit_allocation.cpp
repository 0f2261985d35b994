// Bit allocation (SPEC §5): the O(n log n) budget greedy against the plain O(n²) greedy
// on thousands of random cases, the budget bounds, and the exact quantile tier counts.

#include <sgpte/allocation/bit_allocation.hpp>

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <vector>

namespace
{

// The seed's greedy, written plainly: rescan every column for each upgrade.
std::vector<std::uint8_t> naive_budget(std::vector<double> const &importance, std::vector<int> const &options,
                                       double target)
{
  std::size_t const n = importance.size();
  std::vector<std::size_t> level(n, 0);
  std::int64_t remaining = sgpte::bit_budget(target, n) - static_cast<std::int64_t>(n) * options.front();
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
      double const gain = importance[j] * (std::pow(4.0, -from) - std::pow(4.0, -to)) / (to - from);
      if (best < 0 || gain > best_gain)
      {
        best = static_cast<int>(j);
        best_gain = gain;
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
