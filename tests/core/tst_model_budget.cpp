// The model-wide allocation (allocation/model_budget.hpp): the budget is met in bytes (never
// exceeded, and exactly where the candidates allow it), the result is never worse than the
// reference by the candidates' own errors, and hand-made curves whose best allocation is
// known: convex curves with equal byte steps, where the greedy is optimal (checked against
// every combination), and two modules where the bytes must move from the flat one to the
// steep one.

#include <sgpte/allocation/model_budget.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/layer/compression_options.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "trap_invalid_operations.hpp"

namespace
{

using Curves = std::vector<std::vector<sgpte::AllocationCandidate>>;

// The best choice by brute force: every combination of candidates within the budget.
double best_by_enumeration(Curves const &curves, std::int64_t budget)
{
  std::vector<std::size_t> choice(curves.size(), 0);
  double best = std::numeric_limits<double>::infinity();
  for (;;)
  {
    std::int64_t bytes = 0;
    double error = 0.0;
    for (std::size_t m = 0; m < curves.size(); ++m)
    {
      bytes += curves[m][choice[m]].bytes;
      error += curves[m][choice[m]].error;
    }
    if (bytes <= budget)
      best = std::min(best, error);
    std::size_t m = 0;
    while (m < curves.size() && ++choice[m] == curves[m].size())
      choice[m++] = 0;
    if (m == curves.size())
      return best;
  }
}

// Widths 2…8 of a module of `weights` weights with a 5-byte-per-row overhead: bytes rise by
// weights/8 per bit; error scale · 4^(−b) (convex, decreasing).
std::vector<sgpte::AllocationCandidate> width_curve(std::int64_t weights, double scale)
{
  std::vector<sgpte::AllocationCandidate> curve;
  for (int bits = 2; bits <= 8; ++bits)
    curve.push_back({weights * bits / 8 + 640, scale * std::ldexp(1.0, -2 * bits)});
  return curve;
}

} // namespace

BOOST_AUTO_TEST_CASE(bytes_move_from_the_flat_module_to_the_steep_one)
{
  // Two equal modules at 3 bits each (index 1); the first's errors are 100 times the second's:
  // the best use of the same bytes is 4 bits for the first and 2 for the second.
  Curves const curves = {width_curve(16384, 100.0), width_curve(16384, 1.0)};
  std::int64_t const budget = curves[0][1].bytes + curves[1][1].bytes;
  auto const result = sgpte::allocate_model_bytes(curves, budget, {1, 1});
  BOOST_TEST(result.choice[0] == 2u);
  BOOST_TEST(result.choice[1] == 0u);
  BOOST_TEST(result.bytes == budget); // equal steps: met exactly
  BOOST_TEST(result.bytes == curves[0][2].bytes + curves[1][0].bytes);
  BOOST_TEST(result.error == curves[0][2].error + curves[1][0].error);
  BOOST_TEST(result.error < curves[0][1].error + curves[1][1].error);
}

BOOST_AUTO_TEST_CASE(equal_modules_stay_uniform)
{
  Curves const curves(6, width_curve(4096, 1.0));
  std::int64_t budget = 0;
  for (auto const &curve : curves)
    budget += curve[2].bytes; // uniform 4-bit
  auto const result = sgpte::allocate_model_bytes(curves, budget, std::vector<std::size_t>(6, 2));
  for (std::size_t const c : result.choice)
    BOOST_TEST(c == 2u);
  BOOST_TEST(result.bytes == budget);
}

BOOST_AUTO_TEST_CASE(convex_curves_with_equal_steps_are_allocated_optimally)
{
  std::mt19937_64 random(19);
  std::uniform_real_distribution<double> scale(0.01, 100.0);
  for (int trial = 0; trial < 300; ++trial)
  {
    BOOST_TEST_CONTEXT("trial " << trial)
    {
      std::size_t const modules = 2 + trial % 3;
      Curves curves;
      for (std::size_t m = 0; m < modules; ++m)
        curves.push_back(width_curve(1024, scale(random)));
      std::int64_t reference_bytes = 0;
      for (auto const &curve : curves)
        reference_bytes += curve[1].bytes; // uniform 3-bit
      std::int64_t const budget =
          reference_bytes + static_cast<std::int64_t>(trial % 5) * 128 - 256;
      if (budget < 0)
        continue;
      double const best = best_by_enumeration(curves, budget);
      if (!std::isfinite(best))
      {
        BOOST_CHECK_THROW(sgpte::allocate_model_bytes(curves, budget), sgpte::InvalidArgument);
        continue;
      }
      auto const result = sgpte::allocate_model_bytes(curves, budget);
      BOOST_TEST(result.bytes <= budget);
      BOOST_TEST(result.error <= best * (1.0 + 1e-12));
    }
  }
}

BOOST_AUTO_TEST_CASE(random_curves_meet_the_budget_and_never_lose_to_the_reference)
{
  std::mt19937_64 random(23);
  std::uniform_int_distribution<std::int64_t> bytes(100, 5000);
  std::uniform_real_distribution<double> error(0.0, 10.0);
  for (int trial = 0; trial < 500; ++trial)
  {
    BOOST_TEST_CONTEXT("trial " << trial)
    {
      std::size_t const modules = 1 + trial % 4;
      Curves curves(modules);
      std::vector<std::size_t> reference;
      std::int64_t budget = 0;
      for (auto &curve : curves)
      {
        std::size_t const count = 1 + random() % 6;
        for (std::size_t c = 0; c < count; ++c)
          curve.push_back({bytes(random), error(random)});
        reference.push_back(random() % count);
        budget += curve[reference.back()].bytes;
      }
      double reference_error = 0.0;
      for (std::size_t m = 0; m < modules; ++m)
        reference_error += curves[m][reference[m]].error;
      auto const result = sgpte::allocate_model_bytes(curves, budget, reference);
      BOOST_TEST(result.bytes <= budget);
      BOOST_TEST(result.error <= reference_error);
      std::int64_t total = 0;
      double total_error = 0.0;
      for (std::size_t m = 0; m < modules; ++m)
      {
        total += curves[m][result.choice[m]].bytes;
        total_error += curves[m][result.choice[m]].error;
      }
      BOOST_TEST(total == result.bytes);
      BOOST_TEST(total_error == result.error);
      BOOST_TEST(result.error >= best_by_enumeration(curves, budget) * (1.0 - 1e-12));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_budget_below_the_smallest_allocation_is_refused)
{
  Curves const curves = {width_curve(1024, 1.0)};
  BOOST_CHECK_THROW(sgpte::allocate_model_bytes(curves, curves[0][0].bytes - 1),
                    sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::allocate_model_bytes({{}}, 100), sgpte::InvalidArgument);
}

// The importance score is no error to weigh across modules.
BOOST_AUTO_TEST_CASE(the_model_allocation_needs_the_obs_sensitivity)
{
  sgpte::CompressionOptions options;
  options.target_average_bits = 3.0;
  options.allocation = sgpte::AllocationMethod::model;
  BOOST_CHECK_NO_THROW(options.validate());
  options.sensitivity = sgpte::Sensitivity::score;
  BOOST_CHECK_THROW(options.validate(), sgpte::InvalidArgument);
}
