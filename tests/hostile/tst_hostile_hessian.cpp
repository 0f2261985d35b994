// Hostile Hessians: singular (fewer tokens than columns, no damping, a single token) and
// indefinite (which XᵀX cannot be, so through the factor API directly). SPEC §3: retry with
// ten times the damping up to a limit, report it, else a clear error naming the layer.

#include <sgpte/linalg/inverse_hessian_factor.hpp>

#include <Eigen/LU>
#include <boost/test/unit_test.hpp>

#include "hostile_layer.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte_test::MatrixXd;

sgpte::CompressionOptions undamped()
{
  sgpte::CompressionOptions options = sgpte_test::hostile_options();
  options.percdamp = 0.0;
  return options;
}

// L Lᵀ must be the inverse of the damped H.
void check_factor(MatrixXd const &lower, MatrixXd const &damped)
{
  BOOST_TEST(lower.allFinite());
  BOOST_TEST(lower.isLowerTriangular(0.0));
  MatrixXd const inverse = damped.inverse();
  BOOST_TEST((lower * lower.transpose() - inverse).norm() <= 1e-5 * inverse.norm());
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(HostileHessian, sgpte_test::TrapInvalidOperations)

// 10 tokens for 48 columns: H has rank 10 and is singular without damping.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_singular_hessian_is_recovered_by_damping_retries, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte_test::HostileLayer<ExecutionSpace> layer(sgpte_test::hostile_weights(),
                                                 sgpte_test::hostile_activations(10));
  auto const result = layer.compressor.fasterprune(layer.space, undamped());
  BOOST_TEST(result.statistics.damping_retries > 0); // reported in the statistics
  BOOST_TEST(result.statistics.percdamp > 0.0);
  BOOST_TEST(layer.weights().allFinite());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_singular_hessian_without_retries_is_an_error_naming_the_layer,
                              DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  MatrixXd const w = sgpte_test::hostile_weights();
  sgpte_test::HostileLayer<ExecutionSpace> layer(w, sgpte_test::hostile_activations(10));
  sgpte::CompressionOptions options = undamped();
  options.max_damping_retries = 0;
  sgpte_test::require_layer_error<sgpte::NumericalError>(
      [&] { layer.compressor.fasterprune(layer.space, options); }, "not positive definite");
  BOOST_TEST((layer.weights() == w));
}

// One token: H = 2 x xᵀ has rank 1; the default damping makes it positive definite.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_single_calibration_token_compresses, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte_test::HostileLayer<ExecutionSpace> layer(sgpte_test::hostile_weights(),
                                                 sgpte_test::hostile_activations(1));
  auto const result = layer.compressor.fasterprune(layer.space, sgpte_test::hostile_options());
  BOOST_TEST(result.statistics.damping_retries == 0);
  BOOST_TEST(layer.weights().allFinite());
}

// Eigenvalues 3 − 4 = −1 (once) and 3 (n − 1 times), mean diagonal 3 − 4/n: the damping
// c · mean succeeds once it exceeds 1, i.e. at c = 1 after two retries from 0.01.
BOOST_AUTO_TEST_CASE_TEMPLATE(an_indefinite_hessian_is_recovered_by_damping_retries, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  int const n = 8;
  MatrixXd const h = 3.0 * MatrixXd::Identity(n, n) - 4.0 / n * MatrixXd::Ones(n, n);
  auto const hessian = sgpte_test::to_device<ExecutionSpace>(h);
  sgpte::Matrix<ExecutionSpace> lower("lower", n, n);
  auto const report =
      sgpte::inverse_hessian_factor(space, hessian, 0.01, 4, lower, sgpte_test::hostile_layer_name);
  BOOST_TEST(report.retries == 2);
  BOOST_TEST(report.percdamp == 1.0, boost::test_tools::tolerance(1e-12));
  MatrixXd damped = h;
  damped.diagonal().array() += h.diagonal().mean();
  check_factor(sgpte_test::to_eigen(lower), damped);
}

// A negative diagonal (mean −1): more damping only makes it more negative. Every retry
// fails and the error names the layer.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_hessian_no_damping_can_fix_is_an_error_naming_the_layer, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  auto const hessian = sgpte_test::to_device<ExecutionSpace>(-MatrixXd::Identity(4, 4));
  sgpte::Matrix<ExecutionSpace> lower("lower", 4, 4);
  sgpte_test::require_layer_error<sgpte::NumericalError>(
      [&] {
        sgpte::inverse_hessian_factor(space, hessian, 0.01, 4, lower,
                                      sgpte_test::hostile_layer_name);
      },
      "not positive definite even with damping");
}

BOOST_AUTO_TEST_SUITE_END()
