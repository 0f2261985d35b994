// The OPT forward pass against an independent double-precision implementation of
// transformers' OPTForCausalLM on synthetic checkpoints of every architecture variant, and
// against the logits and hidden states transformers itself produced for the shipped tiny-opt.

#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/opt/detail/device_copy.hpp>
#include <sgpte/opt/detail/linear.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <iostream>
#include <random>
#include <typeinfo>
#include <vector>

#include "opt_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte_test::RowMajorXd;

// Runs three random windows of `seqlen` tokens through the library, its activations and
// weights in Value, and through the double-precision reference, and requires every stage
// within `bound` of the stage's largest magnitude. In half precision every activation the
// library keeps must also be a Value (it reads back unchanged through Value), and some
// stage must differ from the reference (the pass really rounds).
template <class ExecutionSpace, class Value = float>
void check_against_reference(nlohmann::json const &changes, sgpte::io::Dtype dtype, int seqlen,
                             std::string const &label, double bound = 1e-5)
{
  sgpte_test::ScratchDirectory directory;
  auto const model = sgpte_test::write_synthetic_opt(
      directory.path(), sgpte_test::opt_config_json(changes), 11, dtype);
  sgpte::opt::OptCheckpoint const checkpoint(directory.path());
  int const windows = 3;
  auto const stream = sgpte_test::random_tokens(static_cast<std::size_t>(windows * seqlen), 40, 5);
  auto const batch = sgpte::opt::evaluation_windows(stream, seqlen);
  auto const ours = sgpte_test::library_forward<ExecutionSpace, Value>(checkpoint, batch);
  sgpte_test::ReferenceOpt const reference(model);
  double worst = 0.0;
  auto const check =
      [&](RowMajorXd const &actual, RowMajorXd const &want, std::string const &stage, bool stored)
  {
    double const error = sgpte_test::max_abs_difference(actual, want) / want.cwiseAbs().maxCoeff();
    worst = std::max(worst, error);
    BOOST_TEST(error <= bound,
               label << ": " << stage << ": max error " << error << " of the largest magnitude");
    if (sgpte::is_half_v<Value> && stored)
      BOOST_TEST((actual.unaryExpr(
                      [](double x) {
                        return double(sgpte::rounded_to<Value>(static_cast<float>(x)));
                      }) == actual),
                 label << ": " << stage << " holds values that are not " << typeid(Value).name());
  };
  for (int w = 0; w < windows; ++w)
  {
    std::vector<int> const ids(batch.ids.begin() + w * seqlen,
                               batch.ids.begin() + (w + 1) * seqlen);
    auto const expected = reference.forward(ids);
    for (std::size_t stage = 0; stage < expected.hidden_states.size(); ++stage)
      check(sgpte_test::window_rows(ours.hidden_states[stage], w, seqlen),
            expected.hidden_states[stage],
            "window " + std::to_string(w) + ", hidden state " + std::to_string(stage), true);
    check(sgpte_test::window_rows(ours.final_hidden, w, seqlen), expected.final_hidden,
          "final hidden state", true);
    check(sgpte_test::window_rows(ours.logits, w, seqlen), expected.logits, "logits", false);
  }
  if (sgpte::is_half_v<Value>)
    BOOST_TEST(worst > 0.0, label << ": no rounding at all");
  BOOST_TEST_MESSAGE(label << ": largest error relative to the stage's magnitude " << worst);
}

} // namespace

// count values spread over [−2, 2], exact in Value, on the device.
template <class Value, class ExecutionSpace>
Kokkos::View<Value *, typename ExecutionSpace::memory_space>
random_values(ExecutionSpace const &space, std::size_t count, unsigned seed)
{
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<Value> values(count);
  for (Value &value : values)
    value = sgpte::from_float<Value>(uniform(generator));
  return sgpte::opt::detail::copy_to_device(space, values.data(), count, "random values");
}

// The same as a rows × columns matrix.
template <class Value, class ExecutionSpace>
sgpte::opt::Activations<ExecutionSpace, Value> random_rows(ExecutionSpace const &space,
                                                            std::size_t rows, std::size_t columns,
                                                            unsigned seed)
{
  auto const values = random_values<Value>(space, rows * columns, seed);
  sgpte::opt::Activations<ExecutionSpace, Value> const matrix("random rows", rows, columns);
  Kokkos::deep_copy(space, matrix,
                    Kokkos::View<Value **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space,
                                 Kokkos::MemoryTraits<Kokkos::Unmanaged>>(values.data(), rows,
                                                                          columns));
  space.fence(); // before values go
  return matrix;
}

// The fused residual sum and layer norm against the two passes it replaces (linear, then
// layer_norm on the stored sum), with and without the norm's affine parameters: equal bit for
// bit, since the fused pass normalises the row as stored, with the same arithmetic.
template <class ExecutionSpace, class Value>
void check_fused_layer_norm(bool affine)
{
  using namespace sgpte::opt::detail;
  using Rows = sgpte::opt::Activations<ExecutionSpace, Value>;
  ExecutionSpace const space;
  std::size_t const tokens = 37, in = 24, out = 40;
  sgpte::opt::LinearWeights<ExecutionSpace, Value> const weights{
      random_rows<Value>(space, out, in, 1), random_values<float>(space, out, 2)};
  sgpte::opt::LayerNormWeights<ExecutionSpace> norm;
  if (affine)
    norm = {random_values<float>(space, out, 3), random_values<float>(space, out, 4)};
  auto const input = random_rows<Value>(space, tokens, in, 5);
  auto const residual = random_rows<Value>(space, tokens, out, 6);
  Rows const sum("sum", tokens, out), normed("normed", tokens, out);
  Rows const fused_sum("fused sum", tokens, out), fused_normed("fused normed", tokens, out);
  linear(space, weights, input, sum, LinearEpilogue{}, residual);
  layer_norm(space, norm, sum, normed);
  linear_then_layer_norm(space, weights, input, fused_sum, LinearEpilogue{}, residual, norm,
                         fused_normed);
  auto const bits = [](Rows const &rows)
  {
    auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rows);
    std::vector<float> values(host.size());
    for (std::size_t i = 0; i < host.size(); ++i)
      values[i] = sgpte::to_float(host.data()[i]);
    return values;
  };
  BOOST_TEST(bits(fused_sum) == bits(sum), boost::test_tools::per_element());
  BOOST_TEST(bits(fused_normed) == bits(normed), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_SUITE(OptForward, sgpte_test::TrapInvalidOperations)

// The forward pass in half precision (float16 or bfloat16) on a checkpoint stored in that
// type: each activation rounded with a relative error of at most u (2⁻¹¹ for float16, 2⁻⁸
// for bfloat16), products and reductions in fp32. Through two layers of O(1) activations,
// each stage's error stays within a few u of its largest magnitude (seen on Serial: at most
// 2.9 u); the bound, 32 u, leaves room for other summation orders and is still far below
// what a wrong scaling, mask or offset causes (O(1)).
BOOST_AUTO_TEST_CASE_TEMPLATE(half_precision_forward_passes_are_within_their_rounding, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  using sgpte::bfloat16;
  using sgpte::float16;
  using sgpte::io::Dtype;
  double const f16 = 32 * std::ldexp(1.0, -11), bf16 = 32 * std::ldexp(1.0, -8);
  check_against_reference<ExecutionSpace, float16>({}, Dtype::F16, 12, "fp16, pre-LN, tied", f16);
  check_against_reference<ExecutionSpace, float16>(
      sgpte_test::opt_350m_style_changes(), Dtype::F16, 12,
      "fp16, post-LN, project_in/out, untied lm_head", f16);
  check_against_reference<ExecutionSpace, float16>({}, Dtype::F16, 1, "fp16, windows of 1 token",
                                                   f16);
  check_against_reference<ExecutionSpace, bfloat16>(
      {}, Dtype::BF16, 7, "bf16, windows shorter than the positions", bf16);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(fused_layer_norm_equals_the_separate_passes, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  for (bool const affine : {true, false})
  {
    check_fused_layer_norm<ExecutionSpace, float>(affine);
    check_fused_layer_norm<ExecutionSpace, sgpte::float16>(affine);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(pre_layer_norm_model_matches_the_reference, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  check_against_reference<ExecutionSpace>({}, sgpte::io::Dtype::F32, 12,
                                          "pre-LN, tied, full windows");
  check_against_reference<ExecutionSpace>({}, sgpte::io::Dtype::F32, 7,
                                          "pre-LN, tied, windows shorter than the positions");
  // Fewer tokens than the attention's causal query blocks: some blocks are empty.
  check_against_reference<ExecutionSpace>({}, sgpte::io::Dtype::F32, 3,
                                          "pre-LN, tied, windows of 3 tokens");
  check_against_reference<ExecutionSpace>({}, sgpte::io::Dtype::F32, 1,
                                          "pre-LN, tied, windows of 1 token");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(opt_350m_style_model_matches_the_reference, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  check_against_reference<ExecutionSpace>(sgpte_test::opt_350m_style_changes(),
                                          sgpte::io::Dtype::F32, 12,
                                          "post-LN, project_in/out, untied lm_head");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(variants_without_biases_or_affine_norms_match_the_reference,
                              DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  check_against_reference<ExecutionSpace>(
      {{"enable_bias", false}, {"layer_norm_elementwise_affine", false}}, sgpte::io::Dtype::F32, 12,
      "no biases, no affine norms");
  check_against_reference<ExecutionSpace>({{"_remove_final_layer_norm", true}},
                                          sgpte::io::Dtype::F32, 12,
                                          "pre-LN without final layer norm");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(half_precision_checkpoints_compute_with_the_stored_values, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  check_against_reference<ExecutionSpace>({}, sgpte::io::Dtype::F16, 12, "F16 checkpoint");
  check_against_reference<ExecutionSpace>(sgpte_test::opt_350m_style_changes(),
                                          sgpte::io::Dtype::BF16, 12,
                                          "BF16 checkpoint, opt-350m style");
}

// transformers' own activations of tiny-opt (tests/data/opt/README.md) for two windows of
// the evaluation stream. Both sides compute in float32 with different summation orders, so
// each stage differs by rounding accumulated through the layers: dot products of 128-512
// terms and layer norms (which divide by the standard deviation) each add a few units of
// float's 2^-24, relative to the magnitudes involved. Seen: 0 for the embeddings, then at
// most 2e-6 of each stage's largest magnitude (logits: 4.0e-5 at |logit| <= 24.3). The
// bound, 1e-5 of the largest magnitude, leaves a factor of five for other BLAS and hardware
// and is still far below any real deviation (a wrong position offset, scaling or mask
// changes logits by O(1)).
BOOST_AUTO_TEST_CASE_TEMPLATE(tiny_opt_matches_transformers, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  sgpte::io::SafetensorsReader const reference(sgpte_test::tiny_opt_reference);
  auto const input_ids = reference.read_values<std::int64_t>("input_ids");
  int const seqlen = static_cast<int>(reference.info("input_ids").shape[1]);
  sgpte::opt::TokenWindows const windows{seqlen,
                                         std::vector<int>(input_ids.begin(), input_ids.end())};
  sgpte::opt::OptCheckpoint const checkpoint(sgpte_test::tiny_opt_dir);
  auto const ours = sgpte_test::library_forward<ExecutionSpace>(checkpoint, windows);

  auto const expected = [&](std::string const &name)
  {
    auto const values = reference.read_as_float(name);
    auto const &shape = reference.info(name).shape;
    return RowMajorXd(
        Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> const>(
            values.data(), shape[0] * shape[1], shape[2])
            .cast<double>());
  };
  auto const check = [&](RowMajorXd const &actual, std::string const &name)
  {
    RowMajorXd const want = expected(name);
    double const error = sgpte_test::max_abs_difference(actual, want);
    double const magnitude = want.cwiseAbs().maxCoeff();
    BOOST_TEST_MESSAGE("tiny-opt vs transformers, " << name << ": max abs error " << error
                                                    << " (largest magnitude " << magnitude << ")");
    BOOST_TEST(error <= 1e-5 * magnitude, name << ": max abs error " << error);
  };
  check(ours.hidden_states[0], "hidden_states.embeddings");
  for (int layer = 0; layer < checkpoint.layers(); ++layer)
    check(ours.hidden_states[layer + 1], "hidden_states.layer." + std::to_string(layer));
  check(ours.final_hidden, "hidden_states.final_layer_norm");
  check(ours.logits, "logits");
}

BOOST_AUTO_TEST_SUITE_END()
