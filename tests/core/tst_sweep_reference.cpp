// The blocked, fused sweep of the library against the unblocked Eigen reference of
// reference_sweep.hpp, over shapes that are not multiples of the block size, dead
// columns, and every option family.

#include <sgpte/layer/layer_compressor.hpp>

#include "reference_sweep.hpp"
#include "sgpte_enable_device_types.hpp"
#include "test_helpers.hpp"

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <vector>

namespace
{

struct Shape
{
  int rows;
  int columns;
  int block_size;
  int tokens;
  std::vector<int> dead_columns;
};

struct Configuration
{
  std::string name;
  std::function<void(sgpte::CompressionOptions &)> apply;
};

std::vector<Configuration> configurations()
{
  using sgpte::AllocationMethod;
  using O = sgpte::CompressionOptions;
  return {
      {"50% unstructured", [](O &o) { o.sparsity = 0.5; }},
      {"30% unstructured", [](O &o) { o.sparsity = 0.3; }},
      {"2:4", [](O &o) { o.prune_n = 2, o.prune_m = 4; }},
      {"4:8", [](O &o) { o.prune_n = 4, o.prune_m = 8; }},
      {"4-bit asym per-channel", [](O &o) { o.wbits = 4; }},
      {"3-bit sym per-channel", [](O &o) { o.wbits = 3, o.quantizer.symmetric = true; }},
      {"8-bit asym per-tensor", [](O &o) { o.wbits = 8, o.quantizer.per_channel = false; }},
      {"50% + 4-bit", [](O &o) { o.sparsity = 0.5, o.wbits = 4; }},
      {"2:4 + 3-bit sym",
       [](O &o) { o.prune_n = 2, o.prune_m = 4, o.wbits = 3, o.quantizer.symmetric = true; }},
      {"4-bit groups of 16", [](O &o) { o.wbits = 4, o.quantizer.group_size = 16; }},
      {"4-bit act-order", [](O &o) { o.wbits = 4, o.quantizer.act_order = true; }},
      {"3-bit act-order groups of 16, 50%",
       [](O &o) {
         o.wbits = 3, o.quantizer.act_order = true, o.quantizer.group_size = 16, o.sparsity = 0.5;
       }},
      {"4-bit MSE", [](O &o) { o.wbits = 4, o.quantizer.mse = true; }},
      {"mixed 4.0 quantile",
       [](O &o) { o.target_average_bits = 4.0, o.allocation = AllocationMethod::quantile; }},
      {"mixed 3.5 budget + 50%", [](O &o)
       { o.target_average_bits = 3.5, o.allocation = AllocationMethod::budget, o.sparsity = 0.5; }},
      {"mixed 3.0 packed, per-width ranges", [](O &o)
       { o.target_average_bits = 3.0, o.quantizer.range = sgpte::QuantizerRange::per_width; }},
      {"mixed 3.5 budget, per-width ranges, act-order groups of 16, 50%",
       [](O &o)
       {
         o.target_average_bits = 3.5, o.allocation = AllocationMethod::budget, o.sparsity = 0.5;
         o.quantizer.range = sgpte::QuantizerRange::per_width, o.quantizer.act_order = true;
         o.quantizer.group_size = 16;
       }},
      {"mixed 3.0 budget + 2:4 act-order",
       [](O &o)
       {
         o.target_average_bits = 3.0, o.allocation = AllocationMethod::budget, o.prune_n = 2, o.prune_m = 4;
         o.quantizer.act_order = true;
       }},
  };
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(SweepReference, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(blocked_sweep_matches_unblocked_reference, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  std::vector<Shape> const shapes = {
      {24, 80, 32, 96, {5}},       // 2.5 blocks, one dead column
      {40, 72, 128, 64, {0, 71}}, // one partial block, rank-deficient H, dead first/last
      {33, 96, 16, 200, {}},       // many small blocks
  };
  std::mt19937 generator(20240611);
  for (Shape const &shape : shapes)
  {
    for (Configuration const &configuration : configurations())
    {
      BOOST_TEST_CONTEXT(shape.rows << "x" << shape.columns << " block " << shape.block_size << ", "
                                    << configuration.name)
      {
        sgpte::CompressionOptions options;
        options.block_size = shape.block_size;
        configuration.apply(options);
        if (options.quantizer.group_size > 0 && options.block_size % options.quantizer.group_size != 0)
          continue;
        sgpte_test::MatrixXd const w = sgpte_test::random_matrix(shape.rows, shape.columns, generator, 0.1);
        sgpte_test::MatrixXd x = sgpte_test::random_activations(shape.tokens, shape.columns, generator, true);
        for (int dead : shape.dead_columns)
          x.col(dead).setZero();

        auto weight = sgpte_test::to_device<ExecutionSpace>(w);
        sgpte::LayerCompressor<ExecutionSpace> layer(space, "reference", weight);
        layer.add_batch(space, sgpte_test::to_device_row_major<ExecutionSpace>(x));
        sgpte_test::MatrixXd const hessian =
            sgpte_test::to_eigen(layer.statistics().hessian(space));
        auto const result = layer.fasterprune(space, options);

        std::vector<int> const bits(result.bits.begin(), result.bits.end());
        auto const reference = sgpte_test::reference_fasterprune(w, hessian, options, bits);
        sgpte_test::MatrixXd const ours = sgpte_test::to_eigen(weight);
        auto const mask = sgpte_test::mask_matrix(result.mask, shape.columns);

        double const mask_agreement =
            static_cast<double>((mask.array() == reference.pruned.array()).count()) / mask.size();
        BOOST_TEST(mask_agreement >= 0.999);

        // Float against double: entries agree to float rounding except where a rounding
        // decision (a code at a .5 tie, a mask at the threshold) flips and carries the
        // difference along the rest of that row.
        double const our_error = ((ours - w) * x.transpose()).norm();
        double const reference_error = ((reference.weight - w) * x.transpose()).norm();
        std::string worst;
        double const tolerance = 1e-4 * w.cwiseAbs().maxCoeff();
        double const within = sgpte_test::fraction_within(ours, reference.weight, tolerance, &worst);
        BOOST_TEST(within >= (options.quantizes() ? 0.99 : 0.999), worst);



        BOOST_TEST(std::abs(our_error - reference_error) <= 0.01 * reference_error);
        BOOST_TEST(std::abs(result.statistics.loss - reference.loss) <= 0.01 * reference.loss);
        for (int dead : shape.dead_columns)
          BOOST_TEST(ours.col(dead).isZero(0.0));
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
