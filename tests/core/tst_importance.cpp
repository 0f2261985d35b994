// The five importance terms (SPEC §4) against their formulas evaluated directly in double
// precision from W, X and an explicit inverse of the damped H.

#include <sgpte/layer/layer_compressor.hpp>

#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"

#include <Eigen/LU>

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

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
