// The OPT forward pass against an independent double-precision implementation of
// transformers' OPTForCausalLM on synthetic checkpoints of every architecture variant, and
// against the logits and hidden states transformers itself produced for the shipped tiny-opt.

#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>

#include <boost/test/unit_test.hpp>

#include <iostream>

#include "opt_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte_test::RowMajorXd;

// Runs `windows` random windows through the library and the reference and returns the
// largest absolute difference of each stage, relative to the stage's largest magnitude.
template <class ExecutionSpace>
void check_against_reference(nlohmann::json const &changes, sgpte::io::Dtype dtype, int seqlen,
                             std::string const &label)
{
  sgpte_test::ScratchDirectory directory;
  auto const model = sgpte_test::write_synthetic_opt(
      directory.path(), sgpte_test::opt_config_json(changes), 11, dtype);
  sgpte::opt::OptCheckpoint const checkpoint(directory.path());
  int const windows = 3;
  auto const stream = sgpte_test::random_tokens(static_cast<std::size_t>(windows * seqlen), 40, 5);
  auto const batch = sgpte::opt::evaluation_windows(stream, seqlen);
  auto const ours = sgpte_test::library_forward<ExecutionSpace>(checkpoint, batch);
  sgpte_test::ReferenceOpt const reference(model);
  double worst = 0.0;
  for (int w = 0; w < windows; ++w)
  {
    std::vector<int> const ids(batch.ids.begin() + w * seqlen,
                               batch.ids.begin() + (w + 1) * seqlen);
    auto const expected = reference.forward(ids);
    for (std::size_t stage = 0; stage < expected.hidden_states.size(); ++stage)
    {
      auto const &want = expected.hidden_states[stage];
      double const error = sgpte_test::max_abs_difference(
          sgpte_test::window_rows(ours.hidden_states[stage], w, seqlen), want);
      worst = std::max(worst, error / want.cwiseAbs().maxCoeff());
      BOOST_TEST(error <= 1e-5 * want.cwiseAbs().maxCoeff(), label << ": window " << w
                                                                   << ", hidden state " << stage
                                                                   << ": max error " << error);
    }
    double const final_error = sgpte_test::max_abs_difference(
        sgpte_test::window_rows(ours.final_hidden, w, seqlen), expected.final_hidden);
    BOOST_TEST(final_error <= 1e-5 * expected.final_hidden.cwiseAbs().maxCoeff(),
               label << ": final hidden state: max error " << final_error);
    double const logit_error = sgpte_test::max_abs_difference(
        sgpte_test::window_rows(ours.logits, w, seqlen), expected.logits);
    worst = std::max(worst, logit_error / expected.logits.cwiseAbs().maxCoeff());
    BOOST_TEST(logit_error <= 1e-5 * expected.logits.cwiseAbs().maxCoeff(),
               label << ": logits: max error " << logit_error);
  }
  BOOST_TEST_MESSAGE(label << ": largest error relative to the stage's magnitude " << worst);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(OptForward, sgpte_test::TrapInvalidOperations)

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
