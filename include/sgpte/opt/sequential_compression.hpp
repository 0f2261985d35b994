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
  // sensitivity to each module's compression error is measured.
  int model_probe_windows = 16;
  // With AllocationMethod::model: the pre-pass's result when it is known (that of the
  // interrupted run a resumed one continues: the pre-pass needs the dense layers, which the
  // restored ones no longer are); empty: the pre-pass computes it.
  ModelAllocationBytes model_allocation;
  // With AllocationMethod::model: called with the pre-pass's result once it is computed (e.g.
  // to keep it for a resume: LayerCheckpoints::save_model_allocation).
  std::function<void(ModelAllocationBytes const &)> model_allocation_done;

  int end_layer(int layers) const { return max_layer.value_or(layers); }

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
    if (model_steps_per_bit < 1 || model_probe_windows < 1)
      throw InvalidArgument("model allocation needs at least one step per bit and one probe window");
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
//      model_probe_windows calibration windows with W + ΔW and with W − ΔW (the rest of the
//      model dense; the mean of the two cancels the loss's first-order term), less the dense
//      loss, per unit of ΔW's energy;
//   3. allocate_model_bytes shares out the sum of the layers' packed budgets (each layer's own
//      target, as the per-layer packed allocation counts it) among all modules, never worse by
//      its estimate than every module at the per-layer packed allocation.
// Returns the packed bytes each module's allocation is then given beyond uniform ⌊target⌋ bits.
// Costs one calibration forward through the dense
// model with the statistics, a factorisation, the ladder's greedies (host) and one uniform
// fasterprune per module, then 2 forward passes of the whole model on the probe windows per
// module (plus one dense); the compression errors are held in host memory (one float per
// weight) until then.
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
          // layer's other options) and its energy, for the measured sensitivity below.
          std::string const name = linear_weight_name(layer, module);
          Matrix<ExecutionSpace> const &weight = module_weights[module];
          std::size_t const rows = weight.extent(0), columns = weight.extent(1);
          loader.decode_weight(space, module, weight);
          CompressionOptions uniform = layer_options;
          uniform.target_average_bits.reset();
          uniform.packed_extra_bytes.reset();
          uniform.wbits =
              static_cast<int>(std::floor(*layer_options.target_average_bits * (1.0 + 1e-12)));
          compressor.fasterprune(space, uniform);
          std::vector<float> const original = checkpoint.read(name);
          auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), weight);
          std::vector<float> error(rows * columns);
          for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < columns; ++j)
            {
              error[i * columns + j] = host(i, j) - original[i * columns + j];
              host(i, j) = error[i * columns + j];
            }
          Kokkos::deep_copy(space, weight, host);
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
  {
    // The loss's sensitivity to each module's output noise: the module's rounding error at
    // ⌊target⌋ bits added and subtracted (the mean of the two cancels the loss's first-order
    // term), the rest of the model dense, on the first calibration windows; per unit of the
    // noise's energy in the OBS errors' units.
    std::size_t const windows =
        std::min<std::size_t>(calibration.count(), static_cast<std::size_t>(options.model_probe_windows));
    TokenWindows const probe{seqlen, std::vector<int>(calibration.ids.begin(),
                                                      calibration.ids.begin() + windows * seqlen)};
    OptCheckpoint &model = checkpoint;
    double const dense = evaluate_perplexity(space, model, probe, options.forward).mean_nll;
    for (std::size_t m = 0; m < curves.size(); ++m)
    {
      auto const [layer, module] = noise_module[m];
      report(progress, "allocate", end, steps,
             "sensitivity of layer " + std::to_string(layer + 1) + " " + module_path(module));
      std::string const name = linear_weight_name(layer, module);
      std::vector<float> const original = model.read(name);
      std::vector<float> const &error = noise[m];
      bool const replaced = model.replaced(name);
      io::ByteSpan const stored = model.bytes(name);
      std::vector<unsigned char> const saved(stored.data, stored.data + stored.size);
      double loss = 0.0;
      for (float const sign : {1.0f, -1.0f})
      {
        std::vector<float> perturbed(original.size());
        for (std::size_t i = 0; i < original.size(); ++i)
          perturbed[i] = original[i] + sign * error[i];
        model.replace(name, perturbed);
        loss += 0.5 * evaluate_perplexity(space, model, probe, options.forward).mean_nll;
      }
      if (replaced)
        model.replace_stored(name, saved, {});
      else
        model.restore(name);
      double const sensitivity =
          std::max(loss - dense, 1e-12) / std::max(noise_energy[m], 1e-300);
      for (auto &c : curves[m])
        c.error *= sensitivity;
    }
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
