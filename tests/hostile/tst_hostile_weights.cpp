// Hostile weights: NaN/Inf, all zeros, magnitudes from 1e-30 to 1e30, and a dynamic range
// of 45 orders of magnitude inside one layer. Each has the outcome of the table in README.md.

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

#include "hostile_layer.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte_test::MatrixXd;

using sgpte_test::Compressed;

// The weights w calibrated on the usual activations, compressed.
template <class ExecutionSpace>
Compressed<ExecutionSpace> compress(MatrixXd const &w, sgpte::CompressionOptions const &options)
{
  return sgpte_test::compress<ExecutionSpace>(w, sgpte_test::hostile_activations(), options);
}

sgpte::CompressionOptions quantization_only()
{
  sgpte::CompressionOptions options = sgpte_test::hostile_options();
  options.sparsity = 0.0;
  return options;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(HostileWeights, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(nan_and_inf_weights_are_refused_before_any_work, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  for (double bad : sgpte_test::non_finite_values())
  {
    BOOST_TEST_CONTEXT("bad value " << bad)
    {
      MatrixXd w = sgpte_test::hostile_weights();
      w(3, 20) = bad;
      sgpte_test::HostileLayer<ExecutionSpace> layer(w, sgpte_test::hostile_activations());
      sgpte_test::require_layer_error<sgpte::NumericalError>(
          [&] { layer.compressor.fasterprune(layer.space, sgpte_test::hostile_options()); },
          "NaN or Inf");
      MatrixXd after = layer.weights();
      after(3, 20) = 0.0; // NaN compares unequal to itself
      w(3, 20) = 0.0;
      BOOST_TEST((after == w));
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(all_zero_weights_stay_zero, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  // Every row quantizes over quant.py's [−1, 1] fallback range; every pruning score is 0.
  Compressed<ExecutionSpace> const out =
      compress<ExecutionSpace>(MatrixXd::Zero(12, 48), sgpte_test::hostile_options());
  BOOST_TEST(out.weights.isZero(0.0));
  BOOST_TEST(out.result.statistics.loss == 0.0);
}

// Weights scaled by an exact power of two: the quantizer's grids and the sweep's errors
// scale with them, so the compressed weights are the scaled ones bit for bit, with the same
// masks and bit widths. Shown from about 1e-30 (quantization only: the pruning scores w²/d²
// would underflow, see below) to 1e15.
BOOST_AUTO_TEST_CASE_TEMPLATE(extreme_but_representable_weights_scale_exactly, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd const w = sgpte_test::hostile_weights();
  struct Case
  {
    int exponent;
    sgpte::CompressionOptions options;
  };
  for (Case const &c : {Case{50, sgpte_test::hostile_options()},
                        Case{-60, sgpte_test::hostile_options()}, Case{-100, quantization_only()}})
  {
    BOOST_TEST_CONTEXT("weights × 2^" << c.exponent)
    {
      Compressed<ExecutionSpace> const reference = compress<ExecutionSpace>(w, c.options);
      Compressed<ExecutionSpace> const scaled =
          compress<ExecutionSpace>(std::ldexp(1.0, c.exponent) * w, c.options);
      BOOST_TEST((scaled.weights == std::ldexp(1.0, c.exponent) * reference.weights));
      BOOST_TEST(scaled.result.bits == reference.result.bits, boost::test_tools::per_element());
      BOOST_TEST((sgpte_test::mask_matrix(scaled.result.mask, 48) ==
                  sgpte_test::mask_matrix(reference.result.mask, 48)));
    }
  }
}

// Weights around 1e-30 with pruning: w² underflows, every pruning score ties at 0, and
// the reference's rule "prune what is ≤ the threshold" prunes the whole layer. Its outputs
// were below float's resolution of the other layers' anyway; nothing non-finite appears.
BOOST_AUTO_TEST_CASE_TEMPLATE(weights_whose_squares_underflow_are_pruned_entirely, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  Compressed<ExecutionSpace> const out = compress<ExecutionSpace>(
      1e-30 * sgpte_test::hostile_weights(), sgpte_test::hostile_options());
  BOOST_TEST(out.weights.isZero(0.0));
  BOOST_TEST(out.result.statistics.sparsity == 1.0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(weights_out_of_the_float_range_are_refused_before_the_sweep,
                              DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd one_huge = sgpte_test::hostile_weights();
  one_huge(4, 30) = 1e20f; // w² = 1e40 > FLT_MAX
  for (MatrixXd const &w : {MatrixXd(1e30 * sgpte_test::hostile_weights()), one_huge})
  {
    sgpte_test::HostileLayer<ExecutionSpace> layer(w, sgpte_test::hostile_activations());
    sgpte_test::require_layer_error<sgpte::NumericalError>(
        [&] { layer.compressor.fasterprune(layer.space, sgpte_test::hostile_options()); },
        "out of the float range");
    BOOST_TEST((layer.weights() == sgpte_test::round_to_float(w)));
  }
}

// Magnitudes spread log-uniformly over 1e-30 … 1e15 within every row: the smallest
// entries' scores underflow to 0 and are pruned first, as they should; the mask keeps the
// reference's count and everything stays finite.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_dynamic_range_of_45_orders_of_magnitude_compresses, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  std::mt19937 generator(17);
  std::uniform_real_distribution<double> exponent(-30.0, 15.0);
  MatrixXd w(12, 48);
  for (int j = 0; j < w.cols(); ++j)
    for (int i = 0; i < w.rows(); ++i)
      w(i, j) = ((i + j) % 2 ? -1.0 : 1.0) * std::pow(10.0, exponent(generator));
  Compressed<ExecutionSpace> const out =
      compress<ExecutionSpace>(sgpte_test::round_to_float(w), sgpte_test::hostile_options());
  BOOST_TEST(out.weights.allFinite());
  // Per block of 16 columns: floor(12 · 16 · 0.5) + 1 = 97 entries ≤ the threshold.
  BOOST_TEST(out.result.statistics.sparsity == 3.0 * 97 / (12 * 48));
  BOOST_TEST(std::isfinite(out.result.statistics.loss));
}

BOOST_AUTO_TEST_SUITE_END()
