// The packed matmul agrees with the dense product of the unpacked weights to float rounding.
// Error model: a float sum of n products computed in any order (one thread per row, or 32
// lanes and a sum of their partials) is within γ_n Σ |w x| of the exact sum, γ_n = n u /
// (1 − n u), u = 2^-24, n = columns + 1 (the products' roundings count once more). So the
// packed result is within γ_n Σ|w x| of the exact product (computed in double from the
// same float weights and inputs), and within 2 γ_n Σ|w x| of a float GEMM's.

#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/packed/pack.hpp>
#include <sgpte/packed/packed_matmul.hpp>
#include <sgpte/packed/unpack.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

#include "core/test_helpers.hpp"
#include "packed_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

template <class ExecutionSpace, class Layout>
void check_matmul(sgpte_test::CompressedLayer<ExecutionSpace> const &layer, int tokens,
                  unsigned seed)
{
  ExecutionSpace const &space = layer.space;
  auto const packed =
      sgpte::packed::pack_layer(space, layer.weight, layer.result, layer.options, layer.dtype);
  sgpte::Matrix<ExecutionSpace> const weight = sgpte::packed::unpack(space, packed);
  int const rows = packed.rows(), columns = packed.columns();
  std::mt19937 generator(seed);
  sgpte_test::MatrixXd const x_values = sgpte_test::random_matrix(tokens, columns, generator);
  using Inputs = Kokkos::View<float **, Layout, typename ExecutionSpace::memory_space>;
  Inputs const x("x", tokens, columns);
  Inputs const y("y", tokens, rows);
  {
    auto host = Kokkos::create_mirror_view(x);
    for (int t = 0; t < tokens; ++t)
      for (int c = 0; c < columns; ++c)
        host(t, c) = static_cast<float>(x_values(t, c));
    Kokkos::deep_copy(x, host);
  }
  sgpte::packed::packed_matmul(space, packed, x, y);
  // The dense float product through Kokkos Kernels (BLAS): column-major operands.
  sgpte::Matrix<ExecutionSpace> const x_dense("x_dense", tokens, columns);
  sgpte::Matrix<ExecutionSpace> const y_dense("y_dense", tokens, rows);
  Kokkos::deep_copy(x_dense, x);
  sgpte::compat::gemm(space, "N", "T", 1.0f, x_dense, weight, 0.0f, y_dense);
  space.fence();

  sgpte_test::MatrixXd const w = sgpte_test::to_eigen(weight);
  sgpte_test::MatrixXd const exact = x_values * w.transpose();
  sgpte_test::MatrixXd const magnitude = x_values.cwiseAbs() * w.cwiseAbs().transpose();
  sgpte_test::MatrixXd const packed_y = sgpte_test::to_eigen(y);
  sgpte_test::MatrixXd const dense_y = sgpte_test::to_eigen(y_dense);
  double const u = std::ldexp(1.0, -24);
  double const n = columns + 1.0;
  double const gamma = n * u / (1.0 - n * u);
  int exact_violations = 0, dense_violations = 0;
  double worst = 0.0;
  for (int t = 0; t < tokens; ++t)
    for (int r = 0; r < rows; ++r)
    {
      double const bound = gamma * magnitude(t, r);
      exact_violations += std::abs(packed_y(t, r) - exact(t, r)) > bound ? 1 : 0;
      dense_violations += std::abs(packed_y(t, r) - dense_y(t, r)) > 2.0 * bound ? 1 : 0;
      if (magnitude(t, r) > 0.0)
        worst = std::max(worst, std::abs(packed_y(t, r) - exact(t, r)) / magnitude(t, r));
    }
  BOOST_TEST(exact_violations == 0,
             exact_violations << " outputs outside γ_n Σ|w x| of the exact product");
  BOOST_TEST(dense_violations == 0,
             dense_violations << " outputs outside 2 γ_n Σ|w x| of the dense GEMM");
  BOOST_TEST_MESSAGE(tokens << " tokens: largest |error| / Σ|w x| = " << worst
                            << " (γ_n = " << gamma << ")");
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(PackedMatmul, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(agrees_with_the_dense_product, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  unsigned seed = 1;
  sgpte_test::for_each_configuration<ExecutionSpace>(
      [&](auto const &layer)
      {
        // Token counts for each register tile (1, 4, 8, 16) and several tiles of 16.
        for (int tokens : {1, 3, 8, 16, 37})
          check_matmul<ExecutionSpace, Kokkos::LayoutRight>(layer, tokens, seed++);
        check_matmul<ExecutionSpace, Kokkos::LayoutLeft>(layer, 5, seed++);
      });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(every_reference_case_agrees, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  unsigned seed = 100;
  for (auto const &file : sgpte_test::reference_case_files())
    BOOST_TEST_CONTEXT(file.filename().string())
    {
      check_matmul<ExecutionSpace, Kokkos::LayoutRight>(
          sgpte_test::compress_case<ExecutionSpace>(file), 16, seed++);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(shapes_must_match, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  auto const layer = sgpte_test::compress_case<ExecutionSpace>(
      sgpte_test::reference_dir / "64x128_sp50_w4asym_heavy.safetensors");
  auto const packed = sgpte::packed::pack_layer(layer.space, layer.weight, layer.result,
                                                layer.options, layer.dtype);
  sgpte::Matrix<ExecutionSpace> const x("x", 2, 64), y("y", 2, 64);
  BOOST_CHECK_THROW(sgpte::packed::packed_matmul(layer.space, packed, x, y),
                    sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
