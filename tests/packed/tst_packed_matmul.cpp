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
#include <sgpte/quantization/quantizer.hpp>

#include <Kokkos_Random.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numeric>
#include <random>
#include <type_traits>

#include "core/test_helpers.hpp"
#include "packed_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

// With fast = true the layer must take the fast path of one width and no pruning
// (detail/dense_rows_matmul.hpp) where its inputs allow it (always on host backends; on GPUs
// with row-major inputs), and give the same bits when called directly.
template <class ExecutionSpace, class Layout>
void check_matmul(sgpte_test::CompressedLayer<ExecutionSpace> const &layer, int tokens,
                  unsigned seed, bool fast = false)
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
  if (fast && (sgpte::detail::is_host_space_v<ExecutionSpace> ||
               std::is_same_v<Layout, Kokkos::LayoutRight>))
  {
    Inputs const y_fast("y_fast", tokens, rows);
    BOOST_TEST_REQUIRE(sgpte::packed::detail::dense_rows_matmul(space, packed, x, y_fast),
                       "the fast path refused the layer");
    space.fence();
    auto const a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y);
    auto const b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y_fast);
    int differing = 0;
    for (int t = 0; t < tokens; ++t)
      for (int r = 0; r < rows; ++r)
        differing += a(t, r) != b(t, r) ? 1 : 0;
    BOOST_TEST(differing == 0, differing << " outputs differ from packed_matmul's");
  }
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

// The layers the fast path takes: one width of 2, 4 or 8 bits, nothing pruned; per row or
// per tensor, with groups in act-order (grouped parameters, sweep order stored).
std::vector<sgpte_test::Configuration> dense_configurations()
{
  using Options = sgpte::CompressionOptions;
  auto const uniform = [](Options &o, int bits)
  {
    o.sparsity = 0.0, o.prune_n = 0, o.prune_m = 0, o.wbits = bits;
    o.target_average_bits.reset();
    o.quantizer = {};
  };
  return {
      {"dense 4-bit", [=](Options &o) { uniform(o, 4); }},
      {"dense 2-bit", [=](Options &o) { uniform(o, 2); }},
      {"dense 8-bit", [=](Options &o) { uniform(o, 8); }},
      {"dense 4-bit, act-order, groups of 32",
       [=](Options &o)
       {
         uniform(o, 4);
         o.quantizer.act_order = true, o.quantizer.group_size = 32;
       }},
      {"dense 2-bit symmetric, groups of 64",
       [=](Options &o)
       {
         uniform(o, 2);
         o.quantizer.symmetric = true, o.quantizer.group_size = 64;
       }},
      {"dense 8-bit per tensor",
       [=](Options &o)
       {
         uniform(o, 8);
         o.quantizer.per_channel = false;
       }},
  };
}

// A synthetic rows × columns layer quantized per row at `bits`, nothing pruned, as
// fasterprune would leave it (the weights are their codes' values): larger than the reference
// cases, so that every lane of a GPU team takes several 16-byte units of a row.
template <class ExecutionSpace>
sgpte_test::CompressedLayer<ExecutionSpace> synthetic_layer(int rows, int columns, int bits)
{
  sgpte_test::CompressedLayer<ExecutionSpace> layer;
  ExecutionSpace const &space = layer.space;
  layer.options.sparsity = 0.0;
  layer.options.wbits = bits;
  layer.options.target_average_bits.reset();
  layer.weight = sgpte::Matrix<ExecutionSpace>("weight", rows, columns);
  space.fence();
  Kokkos::Random_XorShift64_Pool<ExecutionSpace> pool(static_cast<std::uint64_t>(rows + bits));
  Kokkos::fill_random(layer.weight, pool, -0.05f, 0.05f);
  Kokkos::fence();
  auto &result = layer.result;
  result.statistics.name = "synthetic";
  result.bits.assign(columns, static_cast<std::uint8_t>(bits));
  result.sweep_order.resize(columns);
  std::iota(result.sweep_order.begin(), result.sweep_order.end(), 0);
  auto &plan = result.quantization;
  plan.widths = {bits};
  plan.maxq = sgpte::packed::detail::to_device(
      space, "maxq", std::vector<float>{static_cast<float>((1 << bits) - 1)});
  plan.width_index =
      sgpte::packed::detail::to_device(space, "width_index", std::vector<std::uint8_t>(columns, 0));
  plan.scale = decltype(plan.scale)("scale", rows, 1, 1);
  plan.zero = decltype(plan.zero)("zero", rows, 1, 1);
  sgpte::find_quantization_parameters(space, layer.weight, 0, columns, 0, plan);
  result.mask = decltype(result.mask)("mask", rows, (columns + 31) / 32);
  auto const weight = layer.weight;
  auto const scale = plan.scale;
  auto const zero = plan.zero;
  auto const maxq = plan.maxq;
  Kokkos::parallel_for(
      "synthetic_layer", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows),
      KOKKOS_LAMBDA(int row) {
        for (int c = 0; c < columns; ++c)
          weight(row, c) =
              sgpte::quantize_value(weight(row, c), scale(row, 0, 0), zero(row, 0, 0), maxq(0));
      });
  space.fence();
  return layer;
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

// The fast path's layers (one width of 2, 4 or 8 bits, nothing pruned) on 96 × 256 and on
// 300 × 200, whose rows do not start on 16 bytes (200 columns of 2, 4 or 8 bits are not a
// multiple of 128 bits) and end inside a unit, with every register tile of tokens.
BOOST_AUTO_TEST_CASE_TEMPLATE(the_fast_path_agrees_with_the_dense_product, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  unsigned seed = 200;
  for (char const *name : {"96x256_sp50_heavy", "300x200_sp50_heavy"})
    for (auto const &configuration : dense_configurations())
      BOOST_TEST_CONTEXT(name << ", " << configuration.name)
      {
        auto const layer = sgpte_test::compress_case<ExecutionSpace>(
            sgpte_test::reference_dir / (std::string(name) + ".safetensors"), configuration.edit,
            configuration.dtype);
        for (int tokens : {1, 2, 4, 5, 8, 9, 37})
          check_matmul<ExecutionSpace, Kokkos::LayoutRight>(layer, tokens, seed++, true);
        check_matmul<ExecutionSpace, Kokkos::LayoutLeft>(layer, 1, seed++, true);
        check_matmul<ExecutionSpace, Kokkos::LayoutLeft>(layer, 5, seed++, true);
      }
}

// Rows longer than a GPU team's lanes take in one pass (32 · warps units of 16 bytes: 64 in
// one token's tile of 4 rows per lane and 2 warps, 128 in the others), aligned (4096 columns)
// and not (4500 columns: rows start 80 bits into a unit at 4 bits; 8200 columns, 32 bits
// into one, at least 129 units a row at every width, over fewer rows than one token's tile).
// Host backends walk the same 32 · warps lanes, so that they check the GPU's strides.
BOOST_AUTO_TEST_CASE_TEMPLATE(the_fast_path_agrees_on_long_rows, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  using sgpte::packed::detail::dense_rows_tile;
  // The tiles the cases above are sized for (one token: the fastest on an H200).
  BOOST_TEST(dense_rows_tile(1).rows == 4);
  BOOST_TEST(dense_rows_tile(1).warps == 2);
  BOOST_TEST(dense_rows_tile(3).rows == 2);
  BOOST_TEST(dense_rows_tile(3).warps == 4);
  BOOST_TEST(dense_rows_tile(11).warps == 4);
  unsigned seed = 300;
  for (int bits : {2, 4, 8})
    for (auto const [rows, columns] : {std::pair{9, 4096}, std::pair{37, 4500}, std::pair{3, 8200}})
      BOOST_TEST_CONTEXT(rows << " x " << columns << ", " << bits << " bits")
      {
        auto const layer = synthetic_layer<ExecutionSpace>(rows, columns, bits);
        for (int tokens : {1, 3, 11})
          check_matmul<ExecutionSpace, Kokkos::LayoutRight>(layer, tokens, seed++, true);
      }
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
