// The five importance terms (SPEC §4) against their formulas evaluated directly in double
// precision from W, X and an explicit inverse of the damped H; the OBS sensitivity against
// its formula with quant.py's quantizers (reference_sweep.hpp).

#include <sgpte/importance/obs_sensitivity.hpp>
#include <sgpte/layer/layer_compressor.hpp>

#include <Eigen/LU>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <numeric>
#include <random>

#include "reference_sweep.hpp"
#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

// Weights and an inverse-Hessian factor (positive diagonal) as the device holds them (float
// values), and a shuffled sweep order, for the OBS sensitivity tests.
struct SensitivityProblem
{
  sgpte_test::MatrixXd w;
  sgpte_test::MatrixXd lower;
  std::vector<int> sweep_order;

  SensitivityProblem(int rows, int columns, unsigned seed) : sweep_order(columns)
  {
    std::mt19937 generator(seed);
    w = sgpte_test::round_to_float(sgpte_test::random_matrix(rows, columns, generator));
    lower = sgpte_test::random_matrix(columns, columns, generator);
    for (int j = 0; j < columns; ++j)
      lower(j, j) = 0.5 + std::abs(lower(j, j));
    lower = sgpte_test::round_to_float(lower);
    std::iota(sweep_order.begin(), sweep_order.end(), 0);
    std::shuffle(sweep_order.begin(), sweep_order.end(), generator);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(Importance, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(terms_equal_their_formulas, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(5);
  int const rows = 12, columns = 30, tokens = 90;
  sgpte_test::MatrixXd const w = sgpte_test::random_matrix(rows, columns, generator);
  sgpte_test::MatrixXd x = sgpte_test::random_activations(tokens, columns, generator, true);
  x.col(0).array() += 3.0; // non-zero mean
  x.col(7).setZero();      // dead column
  for (bool act_order : {false, true})
  {
    BOOST_TEST_CONTEXT("act-order " << act_order)
    {
      auto weight = sgpte_test::to_device<ExecutionSpace>(w);
      sgpte::LayerCompressor<ExecutionSpace> layer(space, "importance", weight);
      layer.add_batch(space, sgpte_test::to_device_row_major<ExecutionSpace>(x));
      sgpte::CompressionOptions options;
      options.wbits = 4;
      options.quantizer.act_order = act_order;
      options.importance_weights = {0.1, 0.2, 0.3, 0.25, 0.15};
      auto const result = layer.fasterprune(space, options);

      sgpte_test::MatrixXd h = 2.0 * x.transpose() * x; // one add_batch call: one sample
      h(7, 7) = 1.0;
      sgpte_test::MatrixXd w_live = w;
      w_live.col(7).setZero();
      h.diagonal().array() += 0.01 * h.diagonal().mean();
      sgpte_test::MatrixXd const inverse = h.inverse();

      std::array<std::vector<double>, 5> raw;
      for (auto &term : raw)
        term.resize(columns);
      for (int j = 0; j < columns; ++j)
      {
        double const mean = x.col(j).mean();
        double const variance = (x.col(j).array() - mean).square().mean();
        raw[0][j] = x.col(j).cwiseAbs().mean();
        raw[1][j] = 1.0 / inverse(j, j);
        raw[2][j] = w_live.col(j).cwiseAbs().mean();
        raw[3][j] = w_live.col(j).norm() * std::sqrt(x.col(j).squaredNorm() / tokens);
        raw[4][j] = variance;
      }
      double const weights[5] = {0.1, 0.2, 0.3, 0.25, 0.15};
      std::vector<double> expected(columns, 0.0);
      for (int t = 0; t < 5; ++t)
      {
        double mean = 0.0;
        for (int j = 0; j < columns; ++j)
          mean += j == 7 ? 0.0 : raw[t][j] / (columns - 1);
        for (int j = 0; j < columns; ++j)
        {
          double const normalised = j == 7 ? 0.0 : raw[t][j] / mean;
          // float inputs and Hessian: relative accuracy about 1e-5 on each term.
          BOOST_TEST(result.importance.terms[t][j] == normalised, boost::test_tools::tolerance(2e-4));
          expected[j] += weights[t] * normalised;
        }
      }
      for (int j = 0; j < columns; ++j)
        BOOST_TEST(result.importance.importance[j] == expected[j], boost::test_tools::tolerance(2e-4));
      BOOST_TEST(result.importance.importance[7] == 0.0);
    }
  }
}

// E_j(b) = Σ_i (w_ij − q_b(w_ij))² / d_j² over the expected kept weights, with quant.py's
// quantizer of each width, per row and per tensor, without and with groups (whose parameters
// obs_sensitivity finds itself), and the expected mask against a plain sort per block.
BOOST_AUTO_TEST_CASE_TEMPLATE(obs_sensitivity_equals_its_formula, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  int const rows = 10, columns = 24;
  SensitivityProblem problem(rows, columns, 17);
  sgpte_test::MatrixXd &w = problem.w;
  sgpte_test::MatrixXd const &lower = problem.lower;
  std::vector<int> const &sweep_order = problem.sweep_order;
  w.col(5).setZero(); // a dead column: no error at any width
  std::vector<int> const widths = {2, 3, 4, 8};
  int const block_size = 16;
  for (double sparsity : {0.0, 0.5})
  {
    // The expected mask: per block of 16 columns, w²/d² (in float, as the sweep computes it)
    // above the value of rank floor(numel · sparsity) is kept.
    sgpte_test::MaskMatrix kept = sgpte_test::MaskMatrix::Constant(rows, columns, true);
    for (int begin = 0; sparsity > 0.0 && begin < columns; begin += block_size)
    {
      int const count = std::min(block_size, columns - begin);
      std::vector<float> scores;
      auto const score = [&](int i, int k)
      {
        float const x = static_cast<float>(w(i, k)), d = static_cast<float>(lower(k, k));
        return (x * x) / (d * d);
      };
      for (int k = begin; k < begin + count; ++k)
        for (int i = 0; i < rows; ++i)
          scores.push_back(score(i, k));
      std::sort(scores.begin(), scores.end());
      float const threshold =
          scores[static_cast<std::size_t>(static_cast<double>(rows) * count * sparsity)];
      for (int k = begin; k < begin + count; ++k)
        for (int i = 0; i < rows; ++i)
          kept(i, k) = score(i, k) > threshold;
    }
    for (bool per_channel : {true, false})
      for (int group_size : {0, 8})
      {
        BOOST_TEST_CONTEXT("sparsity " << sparsity << " per channel " << per_channel
                                       << " group size " << group_size)
        {
          int const groups = group_size > 0 ? columns / group_size : 1;
          sgpte::QuantizerOptions options;
          options.per_channel = per_channel;
          options.group_size = group_size;
          auto const plan = sgpte_test::make_plan<ExecutionSpace>(widths, options,
                                                                  per_channel ? rows : 1, groups);
          sgpte::detail::ExpectedMask<ExecutionSpace> mask{
              sgpte_test::to_device<ExecutionSpace>(w),
              sgpte_test::to_device<ExecutionSpace>(lower),
              {},
              block_size};
          if (group_size == 0)
            sgpte::find_quantization_parameters(space, mask.weight, 0, columns, 0, plan);
          if (sparsity > 0.0)
            mask.thresholds = sgpte::detail::expected_mask_thresholds(
                space, mask.weight, mask.lower, sparsity, block_size);
          auto const errors = sgpte::obs_sensitivity(space, mask, plan, sweep_order);
          auto const kept_per_column =
              sgpte::detail::expected_kept_per_column(space, mask, sweep_order);
          BOOST_TEST(errors.columns() == static_cast<std::size_t>(columns));
          BOOST_TEST(errors.options() == widths.size());
          for (int g = 0; g < groups; ++g)
          {
            int const begin = g * (group_size > 0 ? group_size : columns);
            int const end = group_size > 0 ? begin + group_size : columns;
            auto const quantizers = sgpte_test::reference_quantizers(w, begin, end, plan.options);
            for (int k = begin; k < end; ++k)
              for (std::size_t o = 0; o < widths.size(); ++o)
              {
                double expected = 0.0;
                std::int64_t kept_count = 0;
                for (int i = 0; i < rows; ++i)
                {
                  if (!kept(i, k))
                    continue;
                  double const e = w(i, k) - quantizers[per_channel ? i : 0][widths[o]](w(i, k));
                  expected += e * e;
                  ++kept_count;
                }
                BOOST_TEST(kept_per_column[sweep_order[k]] == kept_count);
                expected /= lower(k, k) * lower(k, k);
                BOOST_TEST(errors(sweep_order[k], o) == expected,
                           boost::test_tools::tolerance(1e-9));
              }
          }
          BOOST_TEST(errors(sweep_order[5], 0) == 0.0);
        }
      }
  }
}

// The per-width estimate (QuantizerRange::per_width): column k at its own width b is quantized
// with the range of the columns of width b in its row and group; at another width held in
// the group, with that width's columns and k; at a width the group does not hold, with the
// whole group's range — each built here as quant.py's quantizer of a matrix holding only
// those columns (reference_sweep.hpp).
BOOST_AUTO_TEST_CASE_TEMPLATE(obs_sensitivity_per_width_equals_its_formula, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  int const rows = 10, columns = 24;
  SensitivityProblem problem(rows, columns, 29);
  sgpte_test::MatrixXd &w = problem.w;
  sgpte_test::MatrixXd const &lower = problem.lower;
  std::vector<int> const &sweep_order = problem.sweep_order;
  w.col(3) *= 8.0; // an outlier column: per-width ranges keep it out of the others' grid
  std::vector<int> const widths = {2, 3, 4, 8};
  // Widths per original column: 2, 3 and 4 in turn, 8 for the outlier only (absent from
  // every group but the outlier's).
  std::vector<std::uint8_t> bits(columns);
  for (int j = 0; j < columns; ++j)
    bits[j] = static_cast<std::uint8_t>(j == 3 ? 8 : widths[j % 3]);
  for (int group_size : {0, 8})
  {
    BOOST_TEST_CONTEXT("group size " << group_size)
    {
      int const groups = group_size > 0 ? columns / group_size : 1;
      sgpte::QuantizerOptions options;
      options.group_size = group_size;
      options.range = sgpte::QuantizerRange::per_width;
      auto const plan = sgpte_test::make_plan<ExecutionSpace>(widths, options, rows, groups);
      sgpte::detail::ExpectedMask<ExecutionSpace> mask{sgpte_test::to_device<ExecutionSpace>(w),
                                                       sgpte_test::to_device<ExecutionSpace>(lower),
                                                       {},
                                                       16};
      auto const errors = sgpte::obs_sensitivity_per_width(space, mask, plan, sweep_order, bits);
      for (int g = 0; g < groups; ++g)
      {
        int const begin = g * (group_size > 0 ? group_size : columns);
        int const end = group_size > 0 ? begin + group_size : columns;
        for (int k = begin; k < end; ++k)
          for (std::size_t o = 0; o < widths.size(); ++o)
          {
            int const b = widths[o];
            bool held = false;
            sgpte_test::MatrixXd only = w;
            for (int c = begin; c < end; ++c)
            {
              held = held || bits[sweep_order[c]] == b;
              if (bits[sweep_order[c]] != b && c != k)
                only.col(c).setZero();
            }
            auto const quantizers =
                sgpte_test::reference_quantizers(held ? only : w, begin, end, plan.options);
            double expected = 0.0;
            for (int i = 0; i < rows; ++i)
            {
              double const e = w(i, k) - quantizers[i][b](w(i, k));
              expected += e * e;
            }
            expected /= lower(k, k) * lower(k, k);
            BOOST_TEST_CONTEXT("sweep position " << k << ", width " << b)
            BOOST_TEST(errors(sweep_order[k], o) == expected, boost::test_tools::tolerance(1e-9));
          }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(zero_mean_terms_contribute_nothing)
{
  std::array<std::vector<double>, 5> raw = {std::vector<double>{1, 2, 3}, {0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {0, 0, 0}};
  auto const scores = sgpte::combine_importance_terms(raw, {false, false, false}, sgpte::ImportanceWeights{});
  for (int j = 0; j < 3; ++j)
    BOOST_TEST(scores.terms[1][j] == 0.0);
  BOOST_TEST(scores.importance[2] == (0.25 * 1.5 + 0.15 + 0.25), boost::test_tools::tolerance(1e-12));
  BOOST_CHECK_THROW(sgpte::combine_importance_terms(raw, {false, false, false}, {0, 0, 0, 0, 0}),
                    sgpte::InvalidArgument);
  BOOST_CHECK_THROW(sgpte::combine_importance_terms(raw, {false, false, false}, {-1, 1, 0, 0, 0}),
                    sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
