// Hostile calibration activations: NaN/Inf, all zeros, a constant column, and magnitudes
// from 1e-26 to 1e30. Each has the outcome of the table in README.md.

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

#include "hostile_layer.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte_test::compress;
using sgpte_test::Compressed;
using sgpte_test::MatrixXd;

// `bad_batch` must be refused with an error naming the layer and `fragment`, and leave no
// trace: after it the layer compresses exactly as with the clean batch alone.
template <class ExecutionSpace>
void require_batch_refused(MatrixXd const &bad_batch, std::string const &fragment)
{
  MatrixXd const w = sgpte_test::hostile_weights();
  MatrixXd const x = sgpte_test::hostile_activations();
  sgpte_test::HostileLayer<ExecutionSpace> layer(w, x);
  sgpte_test::require_layer_error<sgpte::NumericalError>(
      [&]
      {
        layer.compressor.add_batch(layer.space,
                                   sgpte_test::to_device_row_major<ExecutionSpace>(bad_batch));
      },
      fragment);
  layer.compressor.fasterprune(layer.space, sgpte_test::hostile_options());
  BOOST_TEST((layer.weights() == compress<ExecutionSpace>(w, x).weights));
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(HostileActivations, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(nan_and_inf_activations_are_refused_and_change_nothing, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  for (double bad : sgpte_test::non_finite_values())
  {
    BOOST_TEST_CONTEXT("bad value " << bad)
    {
      MatrixXd poisoned = sgpte_test::hostile_activations();
      poisoned(5, 9) = bad;
      require_batch_refused<ExecutionSpace>(poisoned, "NaN or Inf");
    }
  }
}

// |x| around 1e19 and beyond: Σx² over the batch no longer fits the float Hessian.
BOOST_AUTO_TEST_CASE_TEMPLATE(activations_that_overflow_the_float_hessian_are_refused, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd const x = sgpte_test::hostile_activations();
  require_batch_refused<ExecutionSpace>(1e30 * x, "overflows the float Hessian");
  MatrixXd one_column = x;
  one_column.col(17) *= 1e19;
  require_batch_refused<ExecutionSpace>(one_column, "column 17 has a sum of squares");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(all_zero_activations_make_every_column_dead, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd const w = sgpte_test::hostile_weights();
  Compressed<ExecutionSpace> const out = compress<ExecutionSpace>(w, MatrixXd::Zero(64, w.cols()));
  BOOST_TEST(out.result.statistics.dead_columns == w.cols());
  BOOST_TEST(out.weights.isZero(0.0)); // SPEC §3: W[:, j] = 0 for every dead column
  for (double importance : out.result.importance.importance)
    BOOST_TEST(importance == 0.0);
  BOOST_TEST(std::isfinite(out.result.statistics.loss));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_constant_activation_column_has_zero_stability, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd x = sgpte_test::hostile_activations();
  x.col(4).setConstant(2.5);  // identical in every token: variance 0
  x.col(11).setConstant(0.0); // and a dead column next to it
  Compressed<ExecutionSpace> const out = compress<ExecutionSpace>(sgpte_test::hostile_weights(), x);
  BOOST_TEST(out.result.importance.terms[4][4] == 0.0);
  BOOST_TEST(out.result.importance.importance[4] > 0.0);
  BOOST_TEST(out.result.statistics.dead_columns == 1);
  BOOST_TEST(out.weights.allFinite());
}

// Activations scaled by an exact power of two: H scales by its square and the inverse-
// Hessian factor by its inverse, so masks, bit widths and compressed weights are the same
// bit for bit, and the OBS loss scales by the square. Shown here from 2^-40 (about 1e-12)
// to 2^50 (about 1e15).
BOOST_AUTO_TEST_CASE_TEMPLATE(extreme_but_representable_activations_give_identical_results,
                              DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd const w = sgpte_test::hostile_weights();
  MatrixXd const x = sgpte_test::hostile_activations();
  Compressed<ExecutionSpace> const reference = compress<ExecutionSpace>(w, x);
  for (int exponent : {-40, 40, 50})
  {
    BOOST_TEST_CONTEXT("activations × 2^" << exponent)
    {
      Compressed<ExecutionSpace> const scaled =
          compress<ExecutionSpace>(w, std::ldexp(1.0, exponent) * x);
      BOOST_TEST((scaled.weights == reference.weights));
      BOOST_TEST(scaled.result.bits == reference.result.bits, boost::test_tools::per_element());
      BOOST_TEST(scaled.result.statistics.loss ==
                     std::ldexp(reference.result.statistics.loss, 2 * exponent),
                 boost::test_tools::tolerance(1e-12));
    }
  }
}

// |x| around 1e-20: the squares are subnormal, H is tiny and the inverse-Hessian factor d
// so large that d² leaves float's range.
BOOST_AUTO_TEST_CASE_TEMPLATE(activations_too_small_for_the_float_sweep_are_refused, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd const w = sgpte_test::hostile_weights();
  sgpte_test::HostileLayer<ExecutionSpace> layer(w, std::ldexp(1.0, -68) *
                                                        sgpte_test::hostile_activations());
  sgpte_test::require_layer_error<sgpte::NumericalError>(
      [&] { layer.compressor.fasterprune(layer.space, sgpte_test::hostile_options()); },
      "out of the float range");
  BOOST_TEST((layer.weights() == w)); // refused before the sweep touched a weight
}

// |x| below about 1e-24: every square underflows to 0 in float, so H = 0 and every column is
// dead (SPEC §3), as in the reference; the layer's output was below float's resolution.
BOOST_AUTO_TEST_CASE_TEMPLATE(activations_whose_squares_underflow_are_dead_columns, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd const w = sgpte_test::hostile_weights();
  Compressed<ExecutionSpace> const out =
      compress<ExecutionSpace>(w, std::ldexp(1.0, -90) * sgpte_test::hostile_activations());
  BOOST_TEST(out.result.statistics.dead_columns == w.cols());
  BOOST_TEST(out.weights.isZero(0.0));
}

BOOST_AUTO_TEST_SUITE_END()
