// Sequential compression of OPT models (the reference's opt_sequential): what each linear
// module is calibrated on, that every layer's inputs come from the already-compressed
// previous layer, the layer range, the per-layer schedule, the opt-350m layout, and
// bit-for-bit determinism on the shipped tiny model.

#include <sgpte/io/token_file.hpp>
#include <sgpte/opt/decoder_layer.hpp>
#include <sgpte/opt/forward_precision.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/perplexity.hpp>
#include <sgpte/opt/sequential_compression.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "opt_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte::opt::LinearModule;
using sgpte_test::RowMajorXd;
using sgpte_test::ScratchDirectory;

// Every linear weight of the checkpoint, as stored.
std::map<std::string, std::vector<float>>
linear_weights(sgpte::opt::OptCheckpoint const &checkpoint)
{
  std::map<std::string, std::vector<float>> weights;
  for (int layer = 0; layer < checkpoint.layers(); ++layer)
    for (LinearModule const module : sgpte::opt::linear_modules)
      weights[sgpte::opt::linear_weight_name(layer, module)] =
          checkpoint.read(sgpte::opt::linear_weight_name(layer, module));
  return weights;
}

sgpte::opt::TokenWindows synthetic_calibration(int windows = 6)
{
  auto const stream = sgpte_test::random_tokens(400, 40, 17);
  return sgpte::opt::calibration_windows(stream, 12, windows, 0);
}

sgpte::opt::SequentialOptions default_options()
{
  sgpte::opt::SequentialOptions options;
  options.compression.sparsity = 0.5;
  options.compression.target_average_bits = 4.0;
  return options;
}

template <class ExecutionSpace>
std::map<std::string, std::vector<float>>
compressed_weights(std::filesystem::path const &model, sgpte::opt::TokenWindows const &calibration,
                   std::vector<sgpte::opt::SequentialOptions> const &runs,
                   sgpte::QuantizationStats *stats = nullptr)
{
  sgpte::opt::OptCheckpoint checkpoint(model);
  sgpte::QuantizationStats local;
  for (auto const &options : runs)
    sgpte::opt::compress_sequential(ExecutionSpace(), checkpoint, calibration, options,
                                    stats ? *stats : local);
  return linear_weights(checkpoint);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(SequentialCompression, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(modules_are_calibrated_on_what_the_reference_hooks_see, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  for (nlohmann::json const &changes :
       {nlohmann::json::object(), sgpte_test::opt_350m_style_changes()})
  {
    ScratchDirectory directory;
    auto const model =
        sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(changes), 21);
    sgpte::opt::OptCheckpoint const checkpoint(directory.path());
    auto const &config = checkpoint.config();
    auto const windows = synthetic_calibration(3);
    auto const edges = sgpte::opt::load_edge_weights<float>(space, checkpoint);
    auto const ids = sgpte::opt::windows_on_device(space, windows, 0, windows.count());
    auto const input = sgpte::opt::embed_windows(space, config, edges, ids, windows.seqlen);
    // One window per chunk: the capture must see every chunk, in order.
    sgpte::opt::LayerWorkspace<ExecutionSpace> const workspace(space, config, windows.seqlen, 1);
    std::map<LinearModule, RowMajorXd> seen;
    std::vector<LinearModule> order;
    sgpte::opt::DecoderLayerLoader<ExecutionSpace, float> loader(space, checkpoint);
    sgpte::opt::decoder_layer_capture(space, config, loader.load(space, 0), workspace, input,
                                      [&](LinearModule module, auto const &x)
                                      {
                                        RowMajorXd const chunk = sgpte_test::to_host(x);
                                        RowMajorXd &all = seen[module];
                                        all.conservativeResize(all.rows() + chunk.rows(),
                                                               chunk.cols());
                                        all.bottomRows(chunk.rows()) = chunk;
                                        order.push_back(module);
                                      });
    BOOST_TEST_REQUIRE(order.size() == 6u * windows.count());
    BOOST_TEST((order[0] == LinearModule::k_proj && order[1] == LinearModule::v_proj &&
                order[2] == LinearModule::q_proj && order[3] == LinearModule::out_proj &&
                order[4] == LinearModule::fc1 && order[5] == LinearModule::fc2));

    sgpte_test::ReferenceOpt const reference(model);
    RowMajorXd const embedded = sgpte_test::to_host(input);
    for (std::size_t w = 0; w < windows.count(); ++w)
    {
      sgpte_test::ModuleInputs expected;
      reference.decoder_layer(
          sgpte_test::window_rows(embedded, static_cast<int>(w), windows.seqlen), 0, &expected);
      for (auto const &[module, want] : expected)
      {
        double const error = sgpte_test::max_abs_difference(
            sgpte_test::window_rows(seen[module], static_cast<int>(w), windows.seqlen), want);
        BOOST_TEST(error <= 1e-5 * (1.0 + want.cwiseAbs().maxCoeff()),
                   sgpte::opt::module_path(module) << ", window " << w << ": max error " << error);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(each_layer_is_calibrated_on_the_compressed_previous_layer, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 23);
  auto const calibration = synthetic_calibration();
  auto const all = default_options();
  auto first = all, second = all;
  first.max_layer = 1;
  second.min_layer = 1;
  auto const together = compressed_weights<ExecutionSpace>(directory.path(), calibration, {all});
  // Layer 0 compressed first; the second run passes the calibration through the compressed
  // layer 0 (from the checkpoint's replacements) before compressing layer 1.
  auto const in_two_runs =
      compressed_weights<ExecutionSpace>(directory.path(), calibration, {first, second});
  BOOST_TEST((together == in_two_runs));
  // Calibrating layer 1 on the outputs of the uncompressed layer 0 gives other weights.
  auto const on_dense_inputs =
      compressed_weights<ExecutionSpace>(directory.path(), calibration, {second});
  std::string const fc1 = sgpte::opt::linear_weight_name(1, LinearModule::fc1);
  BOOST_TEST((on_dense_inputs.at(fc1) != together.at(fc1)));
}

// The reference adds one sample per window (one forward call each); how many windows a
// chunk of the forward pass holds must not change the Hessian's scale (the OBS loss is
// proportional to it) nor, beyond rounding, the result.
BOOST_AUTO_TEST_CASE_TEMPLATE(each_window_is_one_calibration_sample_whatever_the_chunking,
                              DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 24);
  auto const calibration = synthetic_calibration();
  auto one_window_chunks = default_options();
  one_window_chunks.forward.workspace_bytes = 1;
  sgpte::QuantizationStats whole, chunked;
  compressed_weights<ExecutionSpace>(directory.path(), calibration, {default_options()}, &whole);
  compressed_weights<ExecutionSpace>(directory.path(), calibration, {one_window_chunks}, &chunked);
  BOOST_TEST_REQUIRE(whole.layers().size() == chunked.layers().size());
  for (std::size_t i = 0; i < whole.layers().size(); ++i)
    BOOST_TEST(std::abs(chunked.layers()[i].loss / whole.layers()[i].loss - 1.0) < 1e-3,
               whole.layers()[i].name);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(only_the_selected_layers_are_compressed, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(),
                                  sgpte_test::opt_config_json({{"num_hidden_layers", 3}}), 25);
  auto options = default_options();
  options.min_layer = 1;
  options.max_layer = 2;
  sgpte::QuantizationStats stats;
  sgpte::opt::OptCheckpoint checkpoint(directory.path());
  sgpte::opt::compress_sequential(ExecutionSpace(), checkpoint, synthetic_calibration(), options,
                                  stats);
  for (int layer = 0; layer < 3; ++layer)
    for (LinearModule const module : sgpte::opt::linear_modules)
      BOOST_TEST(checkpoint.replaced(sgpte::opt::linear_weight_name(layer, module)) ==
                 (layer == 1));
  std::vector<std::string> const expected = {"layers.1.self_attn.k_proj",
                                             "layers.1.self_attn.v_proj",
                                             "layers.1.self_attn.q_proj",
                                             "layers.1.self_attn.out_proj",
                                             "layers.1.fc1",
                                             "layers.1.fc2"};
  BOOST_TEST_REQUIRE(stats.layers().size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
  {
    BOOST_TEST(stats.layers()[i].name == expected[i]);
    BOOST_TEST(std::abs(stats.layers()[i].sparsity - 0.5) < 0.02, stats.layers()[i].name);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_per_layer_schedule_sets_each_layers_average_bits, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 27);
  auto options = default_options();
  options.compression.allocation = sgpte::AllocationMethod::budget;
  options.layer_bits = sgpte::opt::LayerBitsSchedule::parse("0:3,1:5.5");
  sgpte::QuantizationStats stats;
  sgpte::opt::OptCheckpoint checkpoint(directory.path());
  sgpte::opt::compress_sequential(ExecutionSpace(), checkpoint, synthetic_calibration(), options,
                                  stats);
  BOOST_TEST_REQUIRE(stats.layers().size() == 12u);
  for (auto const &layer : stats.layers())
  {
    double const target = layer.name.rfind("layers.0.", 0) == 0 ? 3.0 : 5.5;
    BOOST_TEST(*layer.target_average_bits == target, layer.name);
    // Budget allocation: at most the target, within the largest step (2 bits) per column.
    BOOST_TEST(layer.average_bits <= target + 1e-12, layer.name);
    BOOST_TEST(layer.average_bits >= target - 2.0 / layer.columns, layer.name);
  }
}

// The model-wide allocation (issue 19): the whole model within the packed bytes of the
// per-layer packed allocation's budgets (uniform 3-bit's without pruning, where the kept
// weights are known), the widths moved between modules; the checkpoint's weights untouched by
// the pre-pass's compressions and probes (the same results twice, and with the allocation given
// instead of computed, also with pruning); and a resumed run, which cannot repeat the pre-pass,
// given its result: the same weights as the run that computed it.
BOOST_AUTO_TEST_CASE_TEMPLATE(the_model_allocation_keeps_the_model_within_uniform_bytes, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 31);
  auto options = default_options();
  options.compression.sparsity = 0.0;
  options.compression.target_average_bits = 3.0;
  sgpte::opt::ModelAllocationBytes computed;
  options.model_allocation_done = [&](sgpte::opt::ModelAllocationBytes const &allocation)
  { computed = allocation; };
  auto run = [&](sgpte::AllocationMethod method, int wbits = 0,
                 sgpte::opt::ModelAllocationBytes const &given = {})
  {
    auto o = options;
    o.compression.allocation = method;
    o.model_allocation = given;
    if (wbits > 0)
    {
      o.compression.target_average_bits.reset();
      o.compression.wbits = wbits;
    }
    sgpte::QuantizationStats stats;
    auto const weights = compressed_weights<ExecutionSpace>(directory.path(), synthetic_calibration(), {o}, &stats);
    std::int64_t bytes = 0;
    for (auto const &layer : stats.layers())
      bytes += layer.size_after_bytes;
    return std::make_pair(bytes, weights);
  };
  auto const uniform = run(sgpte::AllocationMethod::packed, 3);
  auto const model = run(sgpte::AllocationMethod::model);
  BOOST_TEST(model.first <= uniform.first);
  BOOST_TEST(model.first >= 0.98 * uniform.first);
  BOOST_TEST((run(sgpte::AllocationMethod::model).second == model.second));
  BOOST_TEST_REQUIRE(computed.size() == 2u);
  bool moved = false;
  for (auto const &layer : computed)
    for (std::int64_t const extra : layer)
      moved = moved || extra != 0;
  BOOST_TEST(moved);
  auto const given = computed;
  computed.clear();
  BOOST_TEST((run(sgpte::AllocationMethod::model, 0, given).second == model.second));
  BOOST_TEST(computed.empty()); // no pre-pass

  auto resumed = options;
  resumed.compression.allocation = sgpte::AllocationMethod::model;
  resumed.restored_until = 1;
  BOOST_CHECK_THROW(resumed.validate(2), sgpte::InvalidArgument);
  resumed.model_allocation = given;
  BOOST_CHECK_NO_THROW(resumed.validate(2));
  resumed.model_allocation.pop_back();
  BOOST_CHECK_THROW(resumed.validate(2), sgpte::InvalidArgument);

  // With pruning: the pre-pass's pruned and quantized modules leave the checkpoint as it was
  // here too.
  options.compression.sparsity = 0.5;
  computed.clear();
  auto const pruned = run(sgpte::AllocationMethod::model);
  BOOST_TEST_REQUIRE(computed.size() == 2u);
  auto const given_pruned = computed;
  BOOST_TEST((run(sgpte::AllocationMethod::model, 0, given_pruned).second == pruned.second));
}

// The model allocation's probes (probe_added_losses): each module's added loss, its passes
// started from its layer's input beside the others of its layer, is the whole model's loss as
// evaluate_perplexity measures it with the weight replaced in the checkpoint, the mean of
// W + ΔW and W − ΔW less the model's own — with room for one pass at a time, for four and for
// all of a layer's. fp32 forward passes of the same windows: the losses (about ln 40) agree
// to float rounding, a few 1e-7; the added losses here are 1e-3 or more, so 1e-5 tells a
// missing or misplaced perturbation apart.
BOOST_AUTO_TEST_CASE_TEMPLATE(the_probes_measure_the_whole_models_loss, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 37);
  sgpte::opt::OptCheckpoint checkpoint(directory.path());
  auto const calibration = synthetic_calibration(6);
  sgpte::opt::SequentialOptions options;
  options.model_probe_windows = 4;
  options.forward.precision = sgpte::opt::ForwardPrecision::fp32;
  std::vector<std::pair<int, LinearModule>> const modules = {{0, LinearModule::q_proj},
                                                             {0, LinearModule::fc1},
                                                             {1, LinearModule::k_proj},
                                                             {1, LinearModule::out_proj},
                                                             {1, LinearModule::fc2}};
  std::mt19937 generator(3);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::vector<std::vector<float>> errors;
  for (auto const &[layer, module] : modules)
  {
    errors.emplace_back(checkpoint.read(sgpte::opt::linear_weight_name(layer, module)).size());
    for (float &error : errors.back())
      error = noise(generator);
  }

  sgpte::opt::TokenWindows const probe{
      calibration.seqlen,
      std::vector<int>(calibration.ids.begin(), calibration.ids.begin() + 4 * calibration.seqlen)};
  auto const loss = [&]
  { return sgpte::opt::evaluate_perplexity(space, checkpoint, probe, options.forward).mean_nll; };
  double const unperturbed = loss();
  std::vector<double> expected;
  for (std::size_t m = 0; m < modules.size(); ++m)
  {
    std::string const name = sgpte::opt::linear_weight_name(modules[m].first, modules[m].second);
    std::vector<float> const original = checkpoint.read(name);
    double sum = 0.0;
    for (float const sign : {1.0f, -1.0f})
    {
      // The errors are column-major, the checkpoint's values row-major.
      std::vector<float> perturbed = original;
      std::size_t const rows = checkpoint.info(name).shape[0], columns = perturbed.size() / rows;
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < columns; ++j)
          perturbed[i * columns + j] += sign * errors[m][j * rows + i];
      checkpoint.replace(name, perturbed);
      sum += 0.5 * loss();
    }
    checkpoint.restore(name);
    expected.push_back(sum - unperturbed);
    BOOST_TEST(std::abs(expected.back()) > 1e-3, name);
  }

  auto const &config = checkpoint.config();
  sgpte::opt::LayerWorkspace<ExecutionSpace, float> const workspace(space, config,
                                                                    calibration.seqlen, 6);
  for (std::size_t const activation_windows : {12, 24, 1000})
  {
    sgpte::opt::DecoderLayerLoader<ExecutionSpace, float> loader(space, checkpoint);
    sgpte::opt::detail::ModuleWeights<ExecutionSpace> const weights(space, checkpoint);
    std::vector<double> const added = sgpte::opt::detail::probe_added_losses<float>(
        space, checkpoint, calibration, options, workspace, loader, weights, modules, errors,
        activation_windows, 0, {});
    for (std::size_t m = 0; m < modules.size(); ++m)
      BOOST_TEST(std::abs(added[m] - expected[m]) <= 1e-5,
                 "module " << m << ", room for " << activation_windows << " windows: " << added[m]
                           << " against " << expected[m]);
  }
}

BOOST_AUTO_TEST_CASE(the_probe_windows_stay_within_the_token_cap)
{
  auto const windows_of =
      [](int seqlen, std::size_t count, int probe_windows, std::size_t probe_tokens)
  {
    sgpte::opt::SequentialOptions options;
    options.model_probe_windows = probe_windows;
    options.model_probe_tokens = probe_tokens;
    sgpte::opt::TokenWindows const calibration{seqlen, std::vector<int>(seqlen * count, 0)};
    return options.probe_windows(calibration);
  };
  BOOST_TEST(windows_of(256, 128, 16, 8192) == 16u);  // tiny-opt: the window count binds
  BOOST_TEST(windows_of(2048, 128, 16, 8192) == 4u);  // OPT at 2048 tokens: the token cap
  BOOST_TEST(windows_of(2048, 128, 16, 10000) == 4u); // whole windows only, below the cap
  BOOST_TEST(windows_of(12, 6, 16, 8192) == 6u);      // never more than the calibration has
  BOOST_TEST(windows_of(12, 6, 4, 30) == 2u);
  BOOST_TEST(windows_of(12, 6, 4, 5) == 1u); // a window longer than the cap: still one
  BOOST_TEST(sgpte::opt::SequentialOptions{}.model_probe_tokens == 8192u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(opt_350m_style_half_precision_models_compress_and_evaluate,
                              DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  ScratchDirectory input, output;
  sgpte_test::write_synthetic_opt(input.path(),
                                  sgpte_test::opt_config_json(sgpte_test::opt_350m_style_changes()),
                                  29, sgpte::io::Dtype::F16);
  sgpte::opt::OptCheckpoint checkpoint(input.path());
  auto const evaluation = sgpte::opt::evaluation_windows(sgpte_test::random_tokens(60, 40, 31), 12);
  double const dense = sgpte::opt::evaluate_perplexity(space, checkpoint, evaluation).perplexity;
  sgpte::QuantizationStats stats;
  sgpte::opt::compress_sequential(space, checkpoint, synthetic_calibration(), default_options(),
                                  stats);
  checkpoint.write(output.path());
  sgpte::opt::OptCheckpoint const written(output.path());
  double const compressed = sgpte::opt::evaluate_perplexity(space, written, evaluation).perplexity;
  BOOST_TEST(std::isfinite(dense));
  BOOST_TEST(std::isfinite(compressed));
  BOOST_TEST(compressed != dense);
  for (int layer = 0; layer < 2; ++layer)
    for (LinearModule const module : sgpte::opt::linear_modules)
    {
      std::string const name = sgpte::opt::linear_weight_name(layer, module);
      BOOST_TEST((written.info(name).dtype == sgpte::io::Dtype::F16), name);
      auto const values = written.read(name);
      auto const zeros = std::count(values.begin(), values.end(), 0.0f);
      BOOST_TEST(std::abs(double(zeros) / values.size() - 0.5) < 0.05, name);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(compressing_the_tiny_model_is_deterministic, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  auto const stream =
      sgpte::io::read_token_file(sgpte_test::models_dir / "data" / "calibration.bin", 256);
  auto const calibration = sgpte::opt::calibration_windows(stream, 256, 4, 0);
  sgpte::QuantizationStats first_stats, second_stats;
  auto const first = compressed_weights<ExecutionSpace>(sgpte_test::tiny_opt_dir, calibration,
                                                        {default_options()}, &first_stats);
  auto const second = compressed_weights<ExecutionSpace>(sgpte_test::tiny_opt_dir, calibration,
                                                         {default_options()}, &second_stats);
  BOOST_TEST((first == second));
  BOOST_TEST_REQUIRE(first_stats.layers().size() == second_stats.layers().size());
  for (std::size_t i = 0; i < first_stats.layers().size(); ++i)
  {
    BOOST_TEST(first_stats.layers()[i].loss == second_stats.layers()[i].loss);
    BOOST_TEST((first_stats.layers()[i].bit_histogram == second_stats.layers()[i].bit_histogram));
  }
  auto const other_seed = compressed_weights<ExecutionSpace>(
      sgpte_test::tiny_opt_dir, sgpte::opt::calibration_windows(stream, 256, 4, 1),
      {default_options()});
  BOOST_TEST((other_seed != first));
}

// Loading each layer after the last (what a memory cap chooses) instead of copying the next
// one beside the current one's work changes where bytes wait, not what is computed: the
// results are identical, in fp32 and in a half-precision forward pass.
BOOST_AUTO_TEST_CASE_TEMPLATE(overlapped_loading_does_not_change_the_results, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(),
                                  sgpte_test::opt_config_json({{"num_hidden_layers", 3}}), 37,
                                  sgpte::io::Dtype::F16);
  for (auto const precision :
       {sgpte::opt::ForwardPrecision::fp32, sgpte::opt::ForwardPrecision::fp16})
  {
    auto overlapped = default_options(), sequential = default_options();
    overlapped.forward.precision = sequential.forward.precision = precision;
    sequential.forward.overlap_loading = false;
    auto const a =
        compressed_weights<ExecutionSpace>(directory.path(), synthetic_calibration(), {overlapped});
    auto const b =
        compressed_weights<ExecutionSpace>(directory.path(), synthetic_calibration(), {sequential});
    BOOST_TEST((a == b), sgpte::opt::forward_precision_name(precision));
  }
}

// A half-precision forward pass calibrates on activations rounded to fp16 at every stage,
// as the official pipeline does with an fp16 model: the compressed weights differ from the
// fp32 pass's by the effect of that rounding, which moves some of the borderline choices
// (a mask decision, a rounding direction) and nothing else: most weights agree.
BOOST_AUTO_TEST_CASE_TEMPLATE(half_precision_calibration_compresses_like_fp32, DeviceType,
                              SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ScratchDirectory directory;
  sgpte_test::write_synthetic_opt(directory.path(), sgpte_test::opt_config_json(), 39,
                                  sgpte::io::Dtype::F16);
  auto fp32 = default_options(), fp16 = default_options();
  fp32.forward.precision = sgpte::opt::ForwardPrecision::fp32;
  fp16.forward.precision = sgpte::opt::ForwardPrecision::fp16;
  auto const a =
      compressed_weights<ExecutionSpace>(directory.path(), synthetic_calibration(), {fp32});
  auto const b =
      compressed_weights<ExecutionSpace>(directory.path(), synthetic_calibration(), {fp16});
  std::size_t equal = 0, total = 0;
  for (auto const &[name, values] : a)
    for (std::size_t i = 0; i < values.size(); ++i, ++total)
      equal += values[i] == b.at(name)[i] ? 1 : 0;
  BOOST_TEST_MESSAGE("fp16 calibration: " << equal << " of " << total << " weights as with fp32");
  BOOST_TEST(equal < total);
  BOOST_TEST(double(equal) / double(total) > 0.9);
}

BOOST_AUTO_TEST_SUITE_END()
