// strided_batched_gemm on every backend (cuBLAS' strided batch on CUDA, one Kokkos Kernels
// gemm per product elsewhere) against per-product Eigen references in double, on the
// operand shapes of multi-head attention: heads as row blocks of a features × tokens
// matrix with a leading dimension larger than the head, results at a fixed stride.

#include <sgpte/backends/strided_batched_gemm.hpp>

#include <boost/test/unit_test.hpp>

#include <random>
#include <tuple>
#include <utility>

#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"
#include "trap_invalid_operations.hpp"

BOOST_FIXTURE_TEST_SUITE(StridedBatchedGemm, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(head_batches_match_per_head_products, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::mt19937 generator(5);
  int const heads = 3, head_dim = 8, tokens = 37, offset = 5;
  int const features = heads * head_dim;
  // Keys and queries: features × (offset + tokens), a window starting at column `offset`.
  sgpte_test::MatrixXd const keys = sgpte_test::random_matrix(features, offset + tokens, generator);
  sgpte_test::MatrixXd const queries =
      sgpte_test::random_matrix(features, offset + tokens, generator);
  sgpte_test::MatrixXd const initial = sgpte_test::random_matrix(tokens, heads * tokens, generator);
  auto const k_t = sgpte_test::to_device<ExecutionSpace>(keys);
  auto const q_t = sgpte_test::to_device<ExecutionSpace>(queries);
  auto const scores = sgpte_test::to_device<ExecutionSpace>(initial);
  sgpte::Matrix<ExecutionSpace> context("context", features, offset + tokens);
  auto const window = std::make_pair(offset, offset + tokens);
  auto const rows = [&](int head)
  { return std::make_pair(head * head_dim, (head + 1) * head_dim); };
  auto const head_scores = [&](int head)
  {
    return Kokkos::subview(scores, Kokkos::ALL(),
                           std::make_pair(head * tokens, (head + 1) * tokens));
  };

  float const alpha = 0.5f, beta = 0.25f;
  sgpte::backends::strided_batched_gemm(
      space, "T", "N", alpha,
      [&](int head)
      {
        return std::make_tuple(Kokkos::subview(k_t, rows(head), window),
                               Kokkos::subview(q_t, rows(head), window), head_scores(head));
      },
      heads, beta);
  sgpte::backends::strided_batched_gemm(
      space, "N", "N", 1.0f,
      [&](int head)
      {
        return std::make_tuple(Kokkos::subview(k_t, rows(head), window), head_scores(head),
                               Kokkos::subview(context, rows(head), window));
      },
      heads, 0.0f);
  space.fence();

  auto const got_scores = sgpte_test::to_eigen(scores);
  auto const got_context = sgpte_test::to_eigen(context);
  for (int head = 0; head < heads; ++head)
  {
    BOOST_TEST_CONTEXT("head " << head)
    {
      auto const k = keys.block(head * head_dim, offset, head_dim, tokens);
      auto const q = queries.block(head * head_dim, offset, head_dim, tokens);
      sgpte_test::MatrixXd const c0 = initial.middleCols(head * tokens, tokens);
      sgpte_test::MatrixXd const expected = alpha * k.transpose() * q + beta * c0;
      sgpte_test::MatrixXd const magnitude =
          std::abs(alpha) * k.cwiseAbs().transpose() * q.cwiseAbs() +
          std::abs(beta) * c0.cwiseAbs();
      sgpte_test::MatrixXd const got = got_scores.middleCols(head * tokens, tokens);
      std::string worst;
      BOOST_TEST(sgpte_test::fraction_within(
                     got, expected, sgpte_test::product_error_bound(head_dim, magnitude.maxCoeff()),
                     &worst) == 1.0,
                 worst);

      // The second batch reads the first one's (float) results: its reference does too.
      sgpte_test::MatrixXd const context_expected = k * got;
      sgpte_test::MatrixXd const context_magnitude = k.cwiseAbs() * got.cwiseAbs();
      BOOST_TEST(sgpte_test::fraction_within(
                     got_context.block(head * head_dim, offset, head_dim, tokens), context_expected,
                     sgpte_test::product_error_bound(tokens, context_magnitude.maxCoeff()),
                     &worst) == 1.0,
                 worst);
    }
  }
  // Columns outside the window are untouched.
  BOOST_TEST(got_context.leftCols(offset).isZero(0.0));
}

BOOST_AUTO_TEST_SUITE_END()
