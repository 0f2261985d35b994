// The inverse-Hessian factor (SPEC §3): L Lᵀ = (H + damping)⁻¹ with L lower triangular,
// every available implementation (vendor library and native) against an explicit
// inverse, and the damping retries.

#include <sgpte/backends/host/eigen_spd_inverse_factor.hpp>
#include <sgpte/linalg/inverse_hessian_factor.hpp>

#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/LU>
#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

namespace
{

// Relative error model of a Cholesky-based inverse in double, rounded to float at the
// end: float rounding (6e-8) dominates unless κ(H)·n·1e-16 exceeds it.
double factor_tolerance(sgpte_test::MatrixXd const &h)
{
  Eigen::SelfAdjointEigenSolver<sgpte_test::MatrixXd> eigen(h);
  double const condition = eigen.eigenvalues().maxCoeff() / eigen.eigenvalues().minCoeff();
  return 4 * (6e-8 + condition * h.rows() * 1.1e-16);
}

void check_factor(sgpte_test::MatrixXd const &lower, sgpte_test::MatrixXd const &damped)
{
  BOOST_TEST(lower.isLowerTriangular(0.0));
  BOOST_TEST((lower.diagonal().array() > 0).all());
  sgpte_test::MatrixXd const inverse = damped.inverse();
  sgpte_test::MatrixXd const product = lower * lower.transpose();
  double const error = (product - inverse).norm() / inverse.norm();
  BOOST_TEST(error <= factor_tolerance(damped), "relative error " << error << sgpte_test::describe(product - inverse));
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(InverseHessianFactor, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(factor_inverts_the_damped_hessian, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(11);
  for (int n : {1, 7, 64, 129})
  {
    BOOST_TEST_CONTEXT("n = " << n)
    {
      sgpte_test::MatrixXd const x = sgpte_test::random_matrix(n + 20, n, generator);
      sgpte_test::MatrixXd const h = (2.0 / (n + 20) * x.transpose() * x).cast<float>().cast<double>();
      auto const hessian = sgpte_test::to_device<ExecutionSpace>(h);
      sgpte::Matrix<ExecutionSpace> lower("lower", n, n);
      auto const report = sgpte::inverse_hessian_factor(space, hessian, 0.01, 4, lower, "test");
      BOOST_TEST(report.retries == 0);
      BOOST_TEST(report.percdamp == 0.01);
      sgpte_test::MatrixXd damped = h;
      damped.diagonal().array() += 0.01 * h.diagonal().mean();
      check_factor(sgpte_test::to_eigen(lower), damped);

      // The native implementation agrees with whichever one dispatch chose.
      sgpte::Matrix<ExecutionSpace> native("native", n, n);
      BOOST_TEST(sgpte::backends::eigen_spd_inverse_lower_factor(space, hessian, 0.01 * h.diagonal().mean(), native));
      std::string worst;
      double const scale = sgpte_test::to_eigen(native).cwiseAbs().maxCoeff();
      BOOST_TEST(sgpte_test::fraction_within(sgpte_test::to_eigen(lower), sgpte_test::to_eigen(native),
                                             factor_tolerance(damped) * scale, &worst) == 1.0,
                 worst);
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(indefinite_hessians_retry_with_more_damping, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  // Eigenvalues 2 and −0.5, mean diagonal 0.75: damping c · 0.75 succeeds once it
  // exceeds 0.5, i.e. at c = 1 after two retries from 0.01.
  sgpte_test::MatrixXd h(2, 2);
  h << 0.75, 1.25, 1.25, 0.75;
  auto const hessian = sgpte_test::to_device<ExecutionSpace>(h);
  sgpte::Matrix<ExecutionSpace> lower("lower", 2, 2);
  auto const report = sgpte::inverse_hessian_factor(space, hessian, 0.01, 4, lower, "layer.fc1");
  BOOST_TEST(report.retries == 2);
  BOOST_TEST(report.percdamp == 1.0, boost::test_tools::tolerance(1e-12));
  sgpte_test::MatrixXd damped = h;
  damped.diagonal().array() += 0.75;
  check_factor(sgpte_test::to_eigen(lower), damped);

  try
  {
    sgpte::inverse_hessian_factor(space, hessian, 0.01, 1, lower, "layer.fc1");
    BOOST_ERROR("an indefinite Hessian with too few retries must fail");
  }
  catch (sgpte::NumericalError const &error)
  {
    BOOST_TEST(std::string(error.what()).find("layer.fc1") != std::string::npos, error.what());
  }
  BOOST_CHECK_THROW(sgpte::inverse_hessian_factor(space, hessian, -1.0, 1, lower, "x"), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
