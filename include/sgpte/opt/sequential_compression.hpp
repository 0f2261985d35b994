#ifndef SGPTE_OPT_SEQUENTIAL_COMPRESSION_HPP
#define SGPTE_OPT_SEQUENTIAL_COMPRESSION_HPP

// Sequential compression of an OPT model, as the reference's opt_sequential: the
// calibration windows are embedded once, then for each decoder layer in turn
//   1. one forward pass of all windows through the uncompressed layer, as far as fc2's
//      input, feeds add_batch of its linear modules (LayerCompressor, one per module), one
//      sample per window; k and v take copies of q's statistics (the same input);
//   2. the modules are compressed (fasterprune) in the reference's order, k, v, q,
//      out_proj, fc1, fc2, and stored in the checkpoint in their dtype (with several
//      processes, each sweeps a share of every module's rows and all gather the whole);
//   3. a second pass through the compressed layer produces the next layer's inputs.
// Only layers min_layer <= i < max_layer are compressed; the others are passed through, and
// nothing after max_layer runs. The forward passes run in the forward precision (as the
// official pipeline runs a model in its checkpoint's dtype), the statistics and the sweep in
// fp32. While a layer is compressed, the next one is read and copied to the device
// (DecoderLayerLoader). Device memory (memory_plan.hpp): the loader's layer buffers, the
// Hessians, one module's weight in float, the calibration activations (twice) and the layer
// workspace.

#include <sgpte/calibration/calibration_statistics.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/product_precision.hpp>
#include <sgpte/layer/compression_options.hpp>
#include <sgpte/layer/layer_compressor.hpp>
#include <sgpte/opt/decoder_layer.hpp>
#include <sgpte/opt/decoder_layer_loader.hpp>
#include <sgpte/opt/forward_precision.hpp>
#include <sgpte/opt/layer_bits_schedule.hpp>
#include <sgpte/opt/model_allocation.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/opt_weights.hpp>
#include <sgpte/opt/perplexity.hpp>
#include <sgpte/opt/progress.hpp>
#include <sgpte/opt/tensor_names.hpp>
#include <sgpte/opt/token_windows.hpp>
#include <sgpte/stats/quantization_stats.hpp>
#include <sgpte/sweep/row_exchange.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sgpte::opt
{

struct SequentialOptions
{
  CompressionOptions compression; // for every compressed layer
  LayerBitsSchedule layer_bits;   // when given: each layer's target average bits
  int min_layer = 0;              // compress layers min_layer <= i < max_layer
  std::optional<int> max_layer;   // default: the number of layers
  // Layers min_layer <= i < restored_until were compressed by an interrupted run and are
  // restored in the checkpoint (layer_checkpoints.hpp): they are only passed through.
  int restored_until = 0;
  ForwardOptions forward;
  // The calibration statistics' product (CalibrationStatistics::set_product_precision).
  ProductPrecision statistics_precision = ProductPrecision::fp32;
  // With AllocationMethod::model: how many candidates per bit the pre-pass offers per module
  // (LayerCompressor::packed_candidates).
  int model_steps_per_bit = 8;
  // With AllocationMethod::model: the calibration windows (the first ones) on which the loss's
  // sensitivity to each module's compression error is measured: model_probe_windows, but no
  // more than model_probe_tokens tokens (at least one window). Each probe costs two passes
  // through the rest of the model: at 2048-token windows the token bound keeps it to 4
  // windows, as many tokens as 16 windows of small-opt's 512 (README, "What the tables say").
  int model_probe_windows = 16;
  std::size_t model_probe_tokens = 8192;
  // With AllocationMethod::model: the pre-pass's result when it is known (that of the
  // interrupted run a resumed one continues: the pre-pass needs the dense layers, which the
  // restored ones no longer are); empty: the pre-pass computes it.
  ModelAllocationBytes model_allocation;
  // With AllocationMethod::model: called with the pre-pass's result once it is computed (e.g.
  // to keep it for a resume: LayerCheckpoints::save_model_allocation).
  std::function<void(ModelAllocationBytes const &)> model_allocation_done;

  int end_layer(int layers) const { return max_layer.value_or(layers); }

  std::size_t probe_windows(TokenWindows const &calibration) const
  {
    std::size_t const within_tokens =
        std::max<std::size_t>(1, model_probe_tokens / static_cast<std::size_t>(calibration.seqlen));
    return std::min(
        {calibration.count(), static_cast<std::size_t>(model_probe_windows), within_tokens});
  }

  CompressionOptions for_layer(int layer) const
  {
    CompressionOptions options = compression;
    if (auto const bits = layer_bits.bits_for(layer))
      options.target_average_bits = *bits;
    return options;
  }

  // Throws InvalidArgument, before any work, for a layer range outside the model, a
  // schedule that does not fit, or options invalid for some compressed layer.
  void validate(int layers) const
  {
    int const end = end_layer(layers);
    if (min_layer < 0 || min_layer >= end || end > layers)
      throw InvalidArgument("the compressed layers must satisfy 0 <= min layer < max layer <= " +
                            std::to_string(layers) + " (the model's layers), got min " +
                            std::to_string(min_layer) + ", max " + std::to_string(end));
    if (!layer_bits.empty())
    {
      if (compression.wbits > 0)
        throw InvalidArgument(
            "choose either uniform wbits or a per-layer schedule of target bits, not both");
      if (compression.allocation == AllocationMethod::quantile)
        throw InvalidArgument(
            "a per-layer schedule of target bits needs a budget allocation, packed "
            "or budget (the quantile method does not enforce a target)");
      layer_bits.check_layers(layers, min_layer, end);
    }
    if (compression.allocation == AllocationMethod::model && compression.mixed_precision())
    {
      if (restored_until > min_layer && model_allocation.empty())
        throw InvalidArgument("the model allocation of an interrupted run is needed to resume it "
                              "(its pre-pass needs the dense layers)");
      if (!model_allocation.empty() &&
          model_allocation.size() != static_cast<std::size_t>(end - min_layer))
        throw InvalidArgument("the model allocation holds " +
                              std::to_string(model_allocation.size()) + " layers, not the " +
                              std::to_string(end - min_layer) + " compressed ones");
    }
    if (model_steps_per_bit < 1 || model_probe_windows < 1 || model_probe_tokens < 1)
      throw InvalidArgument(
          "model allocation needs at least one step per bit, one probe window and one probe token");
    for (int layer = min_layer; layer < end; ++layer)
    {
      try
      {
        for_layer(layer).validate();
      }
      catch (InvalidArgument const &error)
      {
        throw InvalidArgument("layer " + std::to_string(layer) + ": " + error.what());
      }
    }
  }
};

// Called with each module right after fasterprune, before anything else changes its weights:
// the weight's name and dtype in the checkpoint, the weights left, the result and the options
// (e.g. to pack the module: packed/model_writer.hpp).
template <class ExecutionSpace>
using CompressedModuleSink =
    std::function<void(std::string const &tensor_name, io::Dtype dtype, Matrix<ExecutionSpace> const &weight,
                       LayerResult<ExecutionSpace> const &result, CompressionOptions const &options)>;

// Called, once a layer's calibration forward is done, with each statistics that its modules
// are compressed with (q's, which k and v copy; out_proj's; fc1's; fc2's), before they are
// used: e.g. to merge them with the statistics of the calibration windows that other
// processes hold (distributed/mpi_reduction.hpp).
template <class ExecutionSpace>
using StatisticsReduction = std::function<void(ExecutionSpace const &space,
                                               CalibrationStatistics<ExecutionSpace> &statistics)>;

// The name of a module in the statistics, e.g. "layers.3.self_attn.k_proj".
inline std::string statistics_name(int layer, LinearModule module)
{
  return "layers." + std::to_string(layer) + "." + module_path(module);
}

namespace detail
{

// The layer's six weights in float, column-major, for LayerCompressor, over one buffer: the
// modules are compressed one after another, each decoded from its stored bytes just before
// (DecoderLayerLoader::decode_weight), so that one module's room serves them all.
// A module's weight or error in host memory, column-major as Matrix (unmanaged).
template <class Value = float>
using HostColumnMajor = Kokkos::View<Value **, Kokkos::LayoutLeft, Kokkos::HostSpace,
                                     Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

template <class ExecutionSpace>
class ModuleWeights
{
public:
  ModuleWeights(ExecutionSpace const &space, OptCheckpoint const &checkpoint)
  {
    std::size_t largest = 0;
    for (LinearModule const module : linear_modules)
    {
      auto const &shape = checkpoint.info(linear_weight_name(0, module)).shape;
      largest = std::max(largest, shape[0] * shape[1]);
    }
    _buffer = Vector<ExecutionSpace, float>(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::module_weight"),
        largest);
    for (LinearModule const module : linear_modules)
    {
      auto const &shape = checkpoint.info(linear_weight_name(0, module)).shape;
      _weights[module_index(module)] = Matrix<ExecutionSpace>(_buffer.data(), shape[0], shape[1]);
    }
  }

  Matrix<ExecutionSpace> const &operator[](LinearModule module) const
  {
    return _weights[module_index(module)];
  }
  std::size_t largest() const { return _buffer.extent(0); } // values of the largest module

private:
  Vector<ExecutionSpace, float> _buffer;
  std::array<Matrix<ExecutionSpace>, linear_modules.size()> _weights; // unmanaged, over _buffer
};

// The calibration windows embedded (the decoder's first input) and a buffer of their shape
// for a layer's outputs: what the pre-pass and the compression each start from.
template <class Value, class ExecutionSpace>
std::pair<Activations<ExecutionSpace, Value>, Activations<ExecutionSpace, Value>>
embedded_calibration(ExecutionSpace const &space, OptCheckpoint &checkpoint,
                     TokenWindows const &calibration)
{
  auto const edges = load_edge_weights<Value>(space, checkpoint);
  auto const ids = windows_on_device(space, calibration, 0, calibration.count());
  Activations<ExecutionSpace, Value> inputs =
      embed_windows(space, checkpoint.config(), edges, ids, calibration.seqlen);
  Activations<ExecutionSpace, Value> outputs(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::hidden"),
      inputs.extent(0), inputs.extent(1));
  return {inputs, outputs};
}

// The model-wide allocation's probes: for each module (layer, module) of `modules` (in layer
// order), the mean next-token loss on the first probe windows of the calibration
// (SequentialOptions::probe_windows) with the module's weight at W + ΔW and at W − ΔW (ΔW:
// its `errors`, column-major; the rest of the model as the checkpoint holds it), averaged over
// the two signs, less the loss of the model as it is: the second-order term of the loss along
// ΔW (the mean of the two cancels the first-order one). A perturbation in layer ℓ changes
// nothing before it, so the probe windows' hidden states go once through the model, and the
// perturbed passes of layer ℓ's modules start from its input, side by side: each later layer
// is loaded once for all of them (as many as fit in the device memory the calibration
// activations held, `activation_windows` windows' worth), and the weight ± ΔW is put on the
// device only. Uses the pre-pass's workspace and loader; device memory besides the states: the
// head's chunk and two module-sized float buffers (W ± ΔW and ΔW; the Hessians, released by
// then, held more).
template <class Value, class ExecutionSpace>
std::vector<double>
probe_added_losses(ExecutionSpace const &space, OptCheckpoint const &checkpoint,
                   TokenWindows const &calibration, SequentialOptions const &options,
                   LayerWorkspace<ExecutionSpace, Value> const &workspace,
                   DecoderLayerLoader<ExecutionSpace, Value> &loader,
                   ModuleWeights<ExecutionSpace> const &module_weights,
                   std::vector<std::pair<int, LinearModule>> const &modules,
                   std::vector<std::vector<float>> const &errors, std::size_t activation_windows,
                   int progress_step, ProgressCallback const &progress)
{
  using Hidden = Activations<ExecutionSpace, Value>;
  io::OptConfig const &config = checkpoint.config();
  int const layers = checkpoint.layers();
  int const seqlen = calibration.seqlen;
  std::size_t const windows = options.probe_windows(calibration);
  TokenWindows const probe{seqlen, std::vector<int>(calibration.ids.begin(),
                                                    calibration.ids.begin() + windows * seqlen)};
  auto const edges = load_edge_weights<Value>(space, checkpoint);
  auto const ids = windows_on_device(space, probe, 0, windows);
  ModelHead<ExecutionSpace, Value> const head(
      space, config, edges,
      std::min(
          ModelHead<ExecutionSpace, Value>::tokens_within(config, options.forward.workspace_bytes),
          windows * seqlen));
  auto const hidden_buffer = [&]
  {
    return Hidden(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::probe_hidden"),
        windows * seqlen, config.hidden_size);
  };
  // The dense model's hidden states at the input of layer `at`, a buffer for a layer's
  // output, and the perturbed passes' states.
  Hidden dense = embed_windows(space, config, edges, ids, seqlen);
  int at = 0;
  Hidden output = hidden_buffer();
  std::size_t const passes_at_once =
      std::clamp<std::size_t>(activation_windows / windows, 3, 2 * linear_modules.size() + 2) - 2;
  std::vector<Hidden> states(passes_at_once);
  for (auto &state : states)
    state = hidden_buffer();
  auto const mean_loss = [&](Hidden const &hidden)
  {
    std::vector<double> window_losses;
    append_window_losses(space, head, hidden, ids, seqlen, window_losses);
    return perplexity_of(std::move(window_losses), 0.0).mean_nll;
  };
  // Each layer on the way staged while the one before computes, up to `layer` itself, which
  // the caller loads next (the model's end: nothing).
  auto const advance_dense_to = [&](int layer)
  {
    for (; at < layer; ++at)
    {
      auto const &weights =
          loader.load(space, at, at + 1 < layers ? std::optional<int>(at + 1) : std::nullopt);
      decoder_layer_forward(space, config, weights, workspace, dense, output);
      loader.prefetch();
      std::swap(dense, output);
    }
  };

  ModuleWeights<ExecutionSpace> const perturbed(space, checkpoint);
  Vector<ExecutionSpace, float> delta(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::probe_delta"),
      perturbed.largest());
  std::vector<double> loss(modules.size(), 0.0);
  // The module whose ΔW is in `delta` and whose original weight is decoded (a module's two
  // passes are usually in one group, one after the other).
  std::optional<std::size_t> module_in_delta;
  // A pass: module m of `modules` at W + sign ΔW.
  std::vector<std::pair<std::size_t, float>> passes;
  for (std::size_t m = 0; m < modules.size(); ++m)
    for (float const sign : {1.0f, -1.0f})
      passes.push_back({m, sign});
  for (std::size_t first = 0; first < passes.size();)
  {
    // The passes of one layer, as many as there are states.
    int const layer = modules[passes[first].first].first;
    std::size_t last = first;
    while (last < passes.size() && last - first < states.size() &&
           modules[passes[last].first].first == layer)
      ++last;
    report(progress, "allocate", progress_step, progress_step,
           "sensitivities of layer " + std::to_string(layer + 1));
    advance_dense_to(layer);
    auto const &weights = loader.load(
        space, layer, layer + 1 < layers ? std::optional<int>(layer + 1) : std::nullopt);
    for (std::size_t p = first; p < last; ++p)
    {
      std::size_t const m = passes[p].first;
      float const sign = passes[p].second;
      LinearModule const module = modules[m].second;
      Matrix<ExecutionSpace> const original = module_weights[module];
      Matrix<ExecutionSpace> const weight = perturbed[module];
      int const rows = static_cast<int>(weight.extent(0));
      int const columns = static_cast<int>(weight.extent(1));
      Matrix<ExecutionSpace> const d(delta.data(), rows, columns);
      if (module_in_delta != m)
      {
        loader.decode_weight(space, module, original);
        Kokkos::deep_copy(space, d, HostColumnMajor<float const>(errors[m].data(), rows, columns));
        module_in_delta = m;
      }
      Kokkos::parallel_for(
          "sgpte::opt::probe_perturbation",
          Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>(space, {0, 0}, {rows, columns}),
          KOKKOS_LAMBDA(int i, int j) { weight(i, j) = original(i, j) + sign * d(i, j); });
      io::FloatEncodingCheck const check = loader.put_weight(space, module, weight);
      if (check.non_finite > 0 || check.overflow > 0)
        throw NumericalError(
            "tensor '" + linear_weight_name(layer, module) +
            "' perturbed by its compression error for the model allocation's probe "
            "has values that are not finite or overflow its dtype");
      decoder_layer_forward(space, config, weights, workspace, dense, states[p - first]);
      loader.put_weight(space, module, original);
      if (p == first)
        loader.prefetch();
    }
    for (int later = layer + 1; later < layers; ++later)
    {
      auto const &next = loader.load(
          space, later, later + 1 < layers ? std::optional<int>(later + 1) : std::nullopt);
      for (std::size_t p = first; p < last; ++p)
      {
        decoder_layer_forward(space, config, next, workspace, states[p - first], output);
        std::swap(states[p - first], output);
        if (p == first)
          loader.prefetch();
      }
    }
    for (std::size_t p = first; p < last; ++p)
      loss[passes[p].first] += 0.5 * mean_loss(states[p - first]);
    first = last;
  }
  advance_dense_to(layers);
  double const unperturbed = mean_loss(dense);
  std::vector<double> added(modules.size());
  for (std::size_t m = 0; m < modules.size(); ++m)
    added[m] = loss[m] - unperturbed;
  return added;
}

// The model-wide allocation's pre-pass (AllocationMethod::model):
//   1. the calibration windows go once through the dense model (the layers as the checkpoint
//      holds them); each compressed layer's modules get their calibration statistics as in the
//      compression and offer the packed allocation's results at a ladder of byte budgets
//      (LayerCompressor::packed_candidates: errors in the OBS sensitivity's units, the
//      module's expected increase of its output squared error over the calibration tokens);
//      each module is also compressed uniformly at ⌊target⌋ bits (fasterprune with the
//      layer's other options), its error ΔW kept with its energy Σ_rows Δw H Δwᵀ;
//   2. the errors of different modules do not weigh alike in the loss (their plain sum, or the
//      sum of errors relative to each module's output energy, gave allocations worse than
//      uniform on tiny-opt), so each module's errors are scaled by the loss's measured
//      sensitivity to its compression error: the mean next-token loss on the first
//      calibration windows with W + ΔW and with W − ΔW (the rest of the model dense; the mean
//      of the two cancels the loss's first-order term), less the dense loss, per unit of ΔW's
//      energy (probe_added_losses);
//   3. allocate_model_bytes shares out the sum of the layers' packed budgets (each layer's own
//      target, as the per-layer packed allocation counts it) among all modules, never worse by
//      its estimate than every module at the per-layer packed allocation.
// Returns the packed bytes each module's allocation is then given beyond uniform ⌊target⌋ bits.
// Costs one calibration forward through the dense model with the statistics, a
// factorisation, the ladder's greedies (host) and one uniform fasterprune per module, then per
// module 2 passes of the probe windows from its layer to the head; the compression errors are
// held in host memory (one float per weight) until then.
template <class Value, class ExecutionSpace>
ModelAllocationBytes model_allocation_prepass(
    ExecutionSpace const &space, OptCheckpoint &checkpoint, TokenWindows const &calibration,
    SequentialOptions const &options, LayerWorkspace<ExecutionSpace, Value> const &workspace,
    DecoderLayerLoader<ExecutionSpace, Value> &loader,
    ModuleWeights<ExecutionSpace> const &module_weights, ProgressCallback const &progress,
    StatisticsReduction<ExecutionSpace> const &reduce)
{
  io::OptConfig const &config = checkpoint.config();
  int const layers = checkpoint.layers();
  int const end = options.end_layer(layers);
  int const seqlen = calibration.seqlen;
  auto activations = embedded_calibration<Value>(space, checkpoint, calibration);
  auto &inputs = activations.first;
  auto &outputs = activations.second;
  std::vector<std::vector<AllocationCandidate>> curves;
  std::vector<std::size_t> reference;
  std::vector<std::int64_t> uniform_bytes;
  std::int64_t budget = 0;
  std::vector<double> noise_energy;
  std::vector<std::vector<float>> noise;
  std::vector<std::pair<int, LinearModule>> noise_module;
  int const steps = end;
  for (int layer = 0; layer < end; ++layer)
  {
    std::string const where =
        "layer " + std::to_string(layer + 1) + "/" + std::to_string(layers);
    // The main loop starts again at layer 0: staged after the last one.
    auto const &weights = loader.load(space, layer, layer + 1 < end ? layer + 1 : 0);
    if (layer >= options.min_layer)
    {
      report(progress, "allocate", layer, steps, where + ": statistics and candidates");
      std::vector<LayerCompressor<ExecutionSpace>> compressors;
      compressors.reserve(linear_modules.size());
      for (LinearModule const module : linear_modules)
      {
        auto const dtype = checkpoint.info(linear_weight_name(layer, module)).dtype;
        compressors.emplace_back(space, statistics_name(layer, module), module_weights[module],
                                 nullptr, dtype);
        compressors.back().statistics().set_product_precision(options.statistics_precision);
      }
      decoder_layer_capture(space, config, weights, workspace, inputs,
                            [&](LinearModule module, Activations<ExecutionSpace, Value> const &input)
                            {
                              if (module != LinearModule::k_proj && module != LinearModule::v_proj)
                                compressors[module_index(module)].add_batch(
                                    space, input, input.extent(0) / seqlen);
                            });
      loader.prefetch();
      if (reduce)
        for (LinearModule const module : linear_modules)
          if (module != LinearModule::k_proj && module != LinearModule::v_proj)
            reduce(space, compressors[module_index(module)].statistics());
      for (LinearModule const module : {LinearModule::k_proj, LinearModule::v_proj})
        compressors[module_index(module)].copy_statistics_from(
            space, compressors[module_index(LinearModule::q_proj)]);
      CompressionOptions const layer_options = options.for_layer(layer);
      for (LinearModule const module : linear_modules)
      {
        auto &compressor = compressors[module_index(module)];
        loader.decode_weight(space, module, module_weights[module]);
        PackedCandidates offer =
            compressor.packed_candidates(space, layer_options, options.model_steps_per_bit);
        {
          // The error of uniform ⌊target⌋-bit compression of this module (fasterprune with the
          // layer's other options), ΔW = compressed − original (column-major, as the weight),
          // and its energy, for the measured sensitivity below. The subtraction runs on the
          // host (the original decoded where the compressed weight was) to take no further
          // device memory.
          Matrix<ExecutionSpace> const &weight = module_weights[module];
          std::size_t const rows = weight.extent(0), columns = weight.extent(1);
          loader.decode_weight(space, module, weight);
          CompressionOptions uniform = layer_options;
          uniform.target_average_bits.reset();
          uniform.packed_extra_bytes.reset();
          uniform.wbits =
              static_cast<int>(std::floor(*layer_options.target_average_bits * (1.0 + 1e-12)));
          compressor.fasterprune(space, uniform);
          std::vector<float> error(rows * columns), original(rows * columns);
          HostColumnMajor<> const host_error(error.data(), rows, columns);
          Kokkos::deep_copy(space, host_error, weight);
          loader.decode_weight(space, module, weight);
          Kokkos::deep_copy(space, HostColumnMajor<>(original.data(), rows, columns), weight);
          space.fence();
          for (std::size_t k = 0; k < error.size(); ++k)
            error[k] -= original[k];
          Kokkos::deep_copy(space, weight, host_error);
          noise_energy.push_back(
              sgpte::detail::row_quadratic_form(space, weight, compressor.statistics().hessian(space)));
          noise_module.push_back({layer, module});
          noise.push_back(std::move(error));
        }
        compressor.free();
        curves.push_back(std::move(offer.candidates));
        reference.push_back(offer.reference);
        uniform_bytes.push_back(offer.uniform_bytes);
        budget += offer.budget_bytes;
      }
    }
    else
    {
      loader.prefetch();
    }
    decoder_layer_forward(space, config, weights, workspace, inputs, outputs);
    std::swap(inputs, outputs);
  }
  activations = {}; // the probes need the device memory of the calibration activations
  std::vector<double> const added_loss = probe_added_losses<Value>(
      space, checkpoint, calibration, options, workspace, loader, module_weights, noise_module,
      noise, 2 * calibration.count(), end, progress);
  for (std::size_t m = 0; m < curves.size(); ++m)
  {
    double const sensitivity = std::max(added_loss[m], 1e-12) / std::max(noise_energy[m], 1e-300);
    for (auto &c : curves[m])
      c.error *= sensitivity;
  }
  report(progress, "allocate", steps, steps, "sharing out the model's packed bytes");
  ModelAllocation const allocation = allocate_model_bytes(curves, budget, reference);
  ModelAllocationBytes extra(static_cast<std::size_t>(end - options.min_layer));
  for (std::size_t m = 0; m < curves.size(); ++m)
    extra[m / linear_modules.size()][m % linear_modules.size()] =
        curves[m][allocation.choice[m]].bytes - uniform_bytes[m];
  return extra;
}

template <class Value, class ExecutionSpace>
void compress_sequential_in(ExecutionSpace const &space, OptCheckpoint &checkpoint,
                            TokenWindows const &calibration, SequentialOptions const &options,
                            QuantizationStats &stats, ProgressCallback const &progress,
                            CompressedModuleSink<ExecutionSpace> const &sink,
                            std::function<void(int layer)> const &layer_done,
                            StatisticsReduction<ExecutionSpace> const &reduce,
                            RowExchange const *rows)
{
  io::OptConfig const &config = checkpoint.config();
  int const layers = checkpoint.layers();
  int const end = options.end_layer(layers);
  int const seqlen = calibration.seqlen;

  using Workspace = LayerWorkspace<ExecutionSpace, Value>;
  Workspace const workspace(
      space, config, seqlen,
      std::min(static_cast<int>(calibration.count()),
               Workspace::windows_within(config, seqlen, options.forward.workspace_bytes)));
  DecoderLayerLoader<ExecutionSpace, Value> loader(space, checkpoint,
                                                   options.forward.overlap_loading);
  ModuleWeights<ExecutionSpace> const module_weights(space, checkpoint);
  ModelAllocationBytes extra_bytes;
  if (options.compression.mixed_precision() &&
      options.compression.allocation == AllocationMethod::model)
  {
    extra_bytes = options.model_allocation;
    if (extra_bytes.empty())
    {
      extra_bytes =
          model_allocation_prepass<Value>(space, checkpoint, calibration, options, workspace,
                                          loader, module_weights, progress, reduce);
      if (options.model_allocation_done)
        options.model_allocation_done(extra_bytes);
    }
  }
  // After the pre-pass, whose activations are gone.
  auto activations = embedded_calibration<Value>(space, checkpoint, calibration);
  auto &inputs = activations.first;
  auto &outputs = activations.second;

  int const steps = (end - options.min_layer) * static_cast<int>(linear_modules.size() + 2);
  int step = 0;
  for (int layer = 0; layer < end; ++layer)
  {
    std::string const where = "layer " + std::to_string(layer + 1) + "/" + std::to_string(layers);
    auto const &weights =
        loader.load(space, layer, layer + 1 < end ? std::optional<int>(layer + 1) : std::nullopt);
    if (layer < options.min_layer || layer < options.restored_until)
    {
      report(progress, "compress", step, steps, where + ": forward (not compressed)");
      if (layer >= options.min_layer)
        step += static_cast<int>(linear_modules.size() + 2);
      decoder_layer_forward(space, config, weights, workspace, inputs, outputs);
      loader.prefetch();
      std::swap(inputs, outputs);
      continue;
    }
    std::vector<LayerCompressor<ExecutionSpace>> compressors;
    compressors.reserve(linear_modules.size());
    for (LinearModule const module : linear_modules)
    {
      auto const dtype = checkpoint.info(linear_weight_name(layer, module)).dtype;
      compressors.emplace_back(space, statistics_name(layer, module), module_weights[module],
                               &stats, dtype);
      compressors.back().statistics().set_product_precision(options.statistics_precision);
    }
    report(progress, "compress", step, steps, where + ": calibration forward");
    // Each window counts as one calibration sample, as each of the reference's forward
    // calls (one window) is one add_batch sample: H = (2/nsamples) Σ XᵀX as there. q, k
    // and v see the same input: q's statistics are accumulated, k and v get copies.
    decoder_layer_capture(space, config, weights, workspace, inputs,
                          [&](LinearModule module, Activations<ExecutionSpace, Value> const &input)
                          {
                            if (module != LinearModule::k_proj && module != LinearModule::v_proj)
                              compressors[module_index(module)].add_batch(space, input,
                                                                          input.extent(0) / seqlen);
                          });
    // The host has waited for every batch's check: the next layer's copy now runs beside
    // the compression.
    loader.prefetch();
    if (reduce)
      for (LinearModule const module : linear_modules)
        if (module != LinearModule::k_proj && module != LinearModule::v_proj)
          reduce(space, compressors[module_index(module)].statistics());
    for (LinearModule const module : {LinearModule::k_proj, LinearModule::v_proj})
      compressors[module_index(module)].copy_statistics_from(
          space, compressors[module_index(LinearModule::q_proj)]);
    ++step;
    for (LinearModule const module : linear_modules)
    {
      report(progress, "compress", step, steps, where + ": fasterprune " + module_path(module));
      CompressionOptions layer_options = options.for_layer(layer);
      if (!extra_bytes.empty())
        layer_options.packed_extra_bytes =
            extra_bytes[static_cast<std::size_t>(layer - options.min_layer)][module_index(module)];
      auto &compressor = compressors[module_index(module)];
      loader.decode_weight(space, module, module_weights[module]);
      auto const result = compressor.fasterprune(space, layer_options, rows);
      compressor.free();
      std::string const tensor_name = linear_weight_name(layer, module);
      if (sink)
        sink(tensor_name, checkpoint.info(tensor_name).dtype, module_weights[module], result,
             layer_options);
      loader.store_weight(space, checkpoint, module, module_weights[module]);
      ++step;
    }
    if (layer_done)
      layer_done(layer);
    report(progress, "compress", step, steps, where + ": forward through the compressed layer");
    decoder_layer_forward(space, config, weights, workspace, inputs, outputs);
    std::swap(inputs, outputs);
    ++step;
  }
  report(progress, "compress", steps, steps, "done");
}

} // namespace detail

// Compresses the checkpoint's layers in place (OptCheckpoint::replace_stored) and adds each
// module's statistics to `stats`; layer_done(i) is called once layer i is compressed and
// stored in the checkpoint (e.g. to save a LayerCheckpoints); `reduce` (when given) is applied
// to each layer's statistics before they are used (StatisticsReduction); `rows` (when given)
// shares the rows of every module's sweep among processes (LayerCompressor::fasterprune),
// each of which must then call compress_sequential alike. The forward passes run in
// options.forward.precision_for<ExecutionSpace>(checkpoint).
template <class ExecutionSpace>
void compress_sequential(ExecutionSpace const &space, OptCheckpoint &checkpoint,
                         TokenWindows const &calibration, SequentialOptions const &options,
                         QuantizationStats &stats, ProgressCallback const &progress = {},
                         CompressedModuleSink<ExecutionSpace> const &sink = {},
                         std::function<void(int layer)> const &layer_done = {},
                         StatisticsReduction<ExecutionSpace> const &reduce = {},
                         RowExchange const *rows = nullptr)
{
  options.validate(checkpoint.layers());
  require_window_fits(checkpoint.config(), calibration.seqlen);
  with_forward_value_type(options.forward.precision_for<ExecutionSpace>(checkpoint),
                          [&](auto value)
                          {
                            detail::compress_sequential_in<decltype(value)>(
                                space, checkpoint, calibration, options, stats, progress, sink,
                                layer_done, reduce, rows);
                          });
}

} // namespace sgpte::opt

#endif
