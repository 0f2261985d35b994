// sgpte-opt: compress a Hugging Face OPT checkpoint and measure its perplexity.
//
//   sgpte-opt [options] MODEL_DIR --calibration CAL.bin --evaluation EVAL.bin [--output DIR]
//
// MODEL_DIR holds config.json and model.safetensors (F32, F16 or BF16). Token files are
// little-endian uint16 streams. Every decoder layer's six linear modules are compressed in
// sequence, as the reference's opt_sequential does, from --nsamples windows of --seqlen
// tokens drawn from the calibration stream with Python's random.seed(--seed); perplexity is
// measured on the evaluation stream's non-overlapping windows before and after. Defaults:
// 50 % unstructured sparsity and mixed precision within the packed bytes of uniform 4-bit
// (packed allocation on the columns' OBS sensitivity).
// The forward passes run in the checkpoint's dtype on a GPU (fp16 for an F16 checkpoint, as
// the official pipeline runs it) and in fp32 on the host; the statistics and the sweep in fp32.
// --export gptq|compressed-tensors DIR also writes the compressed model in a layout inference
// engines load (include/sgpte/export/, docs/format.md).

#include <sgpte/backends/symmetric_rank_k_update.hpp>
#include <sgpte/core/product_precision.hpp>
#include <sgpte/export/model_exporter.hpp>
#include <sgpte/io/atomic_file.hpp>
#include <sgpte/io/token_file.hpp>
#include <sgpte/opt/forward_precision.hpp>
#include <sgpte/opt/layer_bits_schedule.hpp>
#include <sgpte/opt/layer_checkpoints.hpp>
#include <sgpte/opt/memory_plan.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/perplexity.hpp>
#include <sgpte/opt/sequential_compression.hpp>
#include <sgpte/opt/token_windows.hpp>
#include <sgpte/packed/model_writer.hpp>
#include <sgpte/stats/quantization_stats.hpp>

#include <Kokkos_Core.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "../common/backend.hpp"
#include "../common/compression_cli.hpp"
#include "../common/kokkos_arguments.hpp"
#include "../common/peak_memory.hpp"
#include "openmpi_leak_suppressions.hpp"
#include "ranks.hpp"
#include "terminal_progress.hpp"

namespace
{

struct Arguments
{
  std::string model;
  std::string calibration;
  std::string evaluation;
  std::string output;
  std::string save_packed;
  std::vector<std::string> export_format_and_directory; // --export FORMAT DIR
  std::string stats_json;
  std::string layer_bits;
  std::string backend = "default";
  std::string statistics_precision = "fp32";
  std::string forward_precision; // empty: the checkpoint's dtype on a GPU, fp32 on the host
  int nsamples = 128;
  int seqlen = 0; // 0: max_position_embeddings
  std::int64_t seed = 0;
  int min_layer = 0;
  int max_layer = -1; // -1: all layers
  bool dense_only = false;
  bool skip_dense_evaluation = false;
  bool resume = false;
  std::size_t workspace_mb = sgpte::opt::ForwardOptions().workspace_bytes >> 20;
  std::size_t batch_mb = sgpte::opt::ForwardOptions().batch_bytes >> 20;
  std::size_t max_device_memory_mb = 0; // 0: what the device has
};

// Everything checked and loaded before the long work starts.
struct Plan
{
  sgpte::opt::SequentialOptions sequential;
  std::optional<sgpte::opt::TokenWindows> calibration;
  std::optional<sgpte::opt::TokenWindows> evaluation;
  sgpte::opt::MemoryPlan memory; // of the compression
  std::string allocation_note;   // why the default allocation gave way, if it did
};

// make(), an InvalidArgument it throws prefixed with what it is about (an option, a file).
template <class Make>
auto about(std::string const &what, Make const &make)
{
  try
  {
    return make();
  }
  catch (sgpte::InvalidArgument const &error)
  {
    throw sgpte::InvalidArgument(what + ": " + error.what());
  }
}

// SIGINT and SIGTERM end the run at once (exit status 128 + signal) with a note on how to
// continue it: every output is written atomically, so nothing half-written remains, and the
// completed layers are checkpointed in --output. Installed explicitly, also where the
// signal was inherited as ignored (background jobs of scripts), so that the behaviour is one.
char interrupt_note[512] = "sgpte-opt: interrupted\n";

extern "C" void on_interrupt(int signal)
{
  ssize_t const written = write(STDERR_FILENO, interrupt_note, std::strlen(interrupt_note));
  (void)written;
  _exit(128 + signal);
}

void install_interrupt_handler(Arguments const &arguments)
{
  if (!arguments.output.empty())
    std::snprintf(interrupt_note, sizeof interrupt_note,
                  "sgpte-opt: interrupted; the layers completed so far are kept in %s/%s: "
                  "run the same command with --resume to continue\n",
                  arguments.output.c_str(), sgpte::opt::LayerCheckpoints::directory_name);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

// The memory the run may use on the backend: what it has (when known), at most the cap of
// --max-device-memory-mb.
template <class ExecutionSpace>
std::optional<std::uint64_t> usable_memory(Arguments const &arguments)
{
  auto available = sgpte::opt::available_memory<ExecutionSpace>();
  if (arguments.max_device_memory_mb > 0)
  {
    std::uint64_t const cap = static_cast<std::uint64_t>(arguments.max_device_memory_mb) << 20;
    available = available ? std::min(*available, cap) : cap;
  }
  return available;
}

// Memory: what sequential compression needs, against what the run may use (when known).
// Where the next layer's copy beside the current one (a second layer of stored bytes) does
// not fit, the layers are loaded one after the other: the same results, less overlap.
// `windows`: the calibration windows this process holds (all of them, unless shared out
// among processes).
sgpte::opt::MemoryPlan require_memory(Arguments const &arguments,
                                      sgpte::opt::OptCheckpoint const &checkpoint, int seqlen,
                                      int windows, std::optional<std::uint64_t> available,
                                      char const *backend, sgpte::opt::ForwardOptions &forward)
{
  auto const plan = [&]
  {
    return sgpte::opt::sequential_memory_plan(checkpoint, seqlen, windows, forward,
                                              *forward.precision);
  };
  if (!available || plan().total() <= *available)
    return plan();
  forward.overlap_loading = false;
  if (plan().total() <= *available)
    return plan();
  throw sgpte::InvalidArgument(
      std::string("not enough memory on ") + backend + ": compressing with --nsamples " +
      std::to_string(arguments.nsamples) +
      (windows != arguments.nsamples ? " (" + std::to_string(windows) + " in this process)"
                                     : std::string()) +
      " of " + std::to_string(seqlen) + " tokens needs " + plan().describe() + ", " +
      sgpte::opt::MemoryPlan::gib(*available) + " available" +
      (arguments.max_device_memory_mb > 0 ? " (at most --max-device-memory-mb " +
                                                std::to_string(arguments.max_device_memory_mb) + ")"
                                          : std::string()) +
      "; lower --nsamples or --workspace-mb, or use a larger device");
}

// --export FORMAT DIR: a known format, and a run whose every layer it can hold. Every linear
// layer must be in it (loaders take all of them as quantized), so the run covers all layers
// in one go (no --min-layer/--max-layer, no --resume, which restores layers without their
// quantization grid).
sgpte::exports::ExportFormat export_format(Arguments const &arguments)
{
  std::string const &name = arguments.export_format_and_directory.front();
  auto const &names = sgpte::exports::export_format_names();
  auto const found = names.find(name);
  if (found == names.end())
    throw sgpte::InvalidArgument("--export: unknown format '" + name +
                                 "'; choose gptq or compressed-tensors");
  return found->second;
}

void require_exportable_run(Arguments const &arguments, Plan const &plan, int layers)
{
  auto const format = export_format(arguments);
  if (!plan.calibration)
    throw sgpte::InvalidArgument("--export needs a compression run, not --dense-only");
  if (arguments.resume)
    throw sgpte::InvalidArgument("--export cannot continue an interrupted run (--resume): the "
                                 "restored layers' quantization grids are not kept; run again "
                                 "without --resume");
  if (plan.sequential.min_layer != 0 || plan.sequential.end_layer(layers) != layers)
    throw sgpte::InvalidArgument("--export needs every layer compressed (no --min-layer or "
                                 "--max-layer): loaders take every linear layer as quantized");
  std::filesystem::path const directory = arguments.export_format_and_directory.back();
  std::error_code error;
  for (auto const &[option, other] :
       {std::pair{"the model directory", arguments.model}, std::pair{"--output", arguments.output}})
    if (!other.empty() && std::filesystem::equivalent(directory, other, error))
      throw sgpte::InvalidArgument("--export " + directory.string() + " is " + option +
                                   ", whose config.json and model.safetensors it would replace; "
                                   "choose another directory");
  sgpte::exports::require_exportable(format, plan.sequential.compression);
}

Plan make_plan(Arguments const &arguments, sgpte::drivers::CompressionCli const &cli,
               sgpte::opt::OptCheckpoint const &checkpoint, std::optional<std::uint64_t> available,
               char const *backend, sgpte::opt::ForwardPrecision precision,
               sgpte::drivers::Ranks const &ranks)
{
  auto const &config = checkpoint.config();
  int const seqlen =
      arguments.seqlen > 0 ? arguments.seqlen : static_cast<int>(config.max_position_embeddings);
  about("--seqlen", [&] { sgpte::opt::require_window_fits(config, seqlen); });
  Plan plan;
  plan.sequential.forward.workspace_bytes = arguments.workspace_mb << 20;
  plan.sequential.forward.batch_bytes = arguments.batch_mb << 20;
  plan.sequential.forward.precision = precision;
  plan.sequential.statistics_precision =
      sgpte::product_precision_names().at(arguments.statistics_precision);
  auto const vocab = static_cast<std::size_t>(config.vocab_size);
  if (!arguments.dense_only)
  {
    if (arguments.calibration.empty())
      throw sgpte::InvalidArgument(
          "--calibration FILE is required to compress (or give --dense-only)");
    plan.sequential.compression = cli.options();
    if (!cli.allocation_given() &&
        plan.sequential.compression.allocation == sgpte::AllocationMethod::packed)
      plan.allocation_note = " (the default, model, needs --sensitivity obs)";
    if (!arguments.layer_bits.empty())
      plan.sequential.layer_bits =
          about("--layer-bits",
                [&] { return sgpte::opt::LayerBitsSchedule::parse(arguments.layer_bits); });
    plan.sequential.min_layer = arguments.min_layer;
    if (arguments.max_layer >= 0)
      plan.sequential.max_layer = arguments.max_layer;
    plan.sequential.validate(checkpoint.layers());
    if (arguments.nsamples <= 0)
      throw sgpte::InvalidArgument("--nsamples must be positive, got " +
                                   std::to_string(arguments.nsamples));
    if (arguments.nsamples < ranks.size())
      throw sgpte::InvalidArgument("--nsamples " + std::to_string(arguments.nsamples) +
                                   " gives fewer calibration windows than the " +
                                   std::to_string(ranks.size()) + " processes");
    // The model allocation's pre-pass measures every module on this process's windows alone;
    // processes with other windows would allocate other widths. The default gives way to the
    // per-layer packed allocation, which needs only the merged statistics.
    if (ranks.size() > 1 &&
        plan.sequential.compression.allocation == sgpte::AllocationMethod::model)
    {
      if (cli.allocation_given())
        throw sgpte::InvalidArgument("--bit-allocation model runs in one process only, got " +
                                     std::to_string(ranks.size()) + " processes");
      plan.sequential.compression.allocation = sgpte::AllocationMethod::packed;
      plan.allocation_note = " (the default, model, runs in one process only)";
    }
    int const largest_share = (arguments.nsamples + ranks.size() - 1) / ranks.size();
    plan.memory = require_memory(arguments, checkpoint, seqlen, largest_share, available, backend,
                                 plan.sequential.forward);
    auto const tokens = sgpte::io::read_token_file(arguments.calibration, vocab);
    plan.calibration = about(arguments.calibration,
                             [&] {
                               return sgpte::opt::calibration_windows(
                                   tokens, seqlen, arguments.nsamples, arguments.seed);
                             });
  }
  if (!arguments.evaluation.empty())
  {
    auto const tokens = sgpte::io::read_token_file(arguments.evaluation, vocab);
    plan.evaluation =
        about(arguments.evaluation, [&] { return sgpte::opt::evaluation_windows(tokens, seqlen); });
    if (plan.evaluation->count() < static_cast<std::size_t>(ranks.size()))
      throw sgpte::InvalidArgument(arguments.evaluation + ": " +
                                   std::to_string(plan.evaluation->count()) + " windows of " +
                                   std::to_string(seqlen) + " tokens, fewer than the " +
                                   std::to_string(ranks.size()) + " processes");
  }
  if (arguments.resume && (arguments.output.empty() || arguments.dense_only))
    throw sgpte::InvalidArgument("--resume continues a compression run into --output DIR: give "
                                 "the same --output (and options) as the interrupted run");
  if (arguments.dense_only && !arguments.save_packed.empty())
    throw sgpte::InvalidArgument("--save-packed needs a compression run, not --dense-only");
  if (!arguments.export_format_and_directory.empty())
    require_exportable_run(arguments, plan, checkpoint.layers());
  if (arguments.dense_only && arguments.evaluation.empty())
    throw sgpte::InvalidArgument(
        "--dense-only needs --evaluation FILE: there is nothing else to do");
  return plan;
}

void prepare_output(Arguments const &arguments)
{
  if (arguments.output.empty())
    return;
  std::error_code error;
  std::filesystem::create_directories(arguments.output, error);
  if (error)
    throw sgpte::FileError(arguments.output +
                           ": cannot create the output directory: " + error.message());
  if (std::filesystem::equivalent(arguments.output, arguments.model, error))
    throw sgpte::InvalidArgument("--output " + arguments.output +
                                 " is the model directory itself; "
                                 "choose another directory");
}

template <class... Numbers>
std::string format(char const *pattern, Numbers... numbers)
{
  char text[160];
  std::snprintf(text, sizeof text, pattern, numbers...);
  return text;
}

struct Results
{
  sgpte::QuantizationStats stats;
  double compression_seconds = 0.0;
  std::optional<sgpte::opt::PerplexityResult> dense, compressed;
  std::int64_t packed_bytes = 0; // the packed model directory, every file in it
  std::uint64_t peak_device_bytes = 0;
};

void print_plan(Arguments const &arguments, Plan const &plan, sgpte::io::OptConfig const &config,
                char const *backend, int ranks)
{
  std::cout << "sgpte-opt: " << arguments.model << ": " << config.num_hidden_layers
            << " layers, hidden " << config.hidden_size << ", " << config.num_attention_heads
            << " heads, ffn " << config.ffn_dim << ", vocabulary " << config.vocab_size
            << " (Kokkos " << sgpte::compat::version_string() << ", " << backend << ")\n"
            << "forward passes in "
            << sgpte::opt::forward_precision_name(*plan.sequential.forward.precision)
            << (plan.calibration && !plan.sequential.forward.overlap_loading
                    ? ", each layer loaded after the last (memory)"
                    : "")
            << "\n";
  if (ranks > 1)
    std::cout << ranks
              << " processes (MPI), each with a share of the windows; memory per process\n";
  if (plan.calibration)
    std::cout << "calibration: " << plan.calibration->count() << " windows of "
              << plan.calibration->seqlen << " tokens from " << arguments.calibration << " (seed "
              << arguments.seed
              << ")\ndevice memory for the compression: " << plan.memory.describe() << "\n";
  if (plan.calibration && plan.sequential.compression.mixed_precision())
    std::cout << "bit allocation: " << sgpte::to_string(plan.sequential.compression.allocation)
              << plan.allocation_note << "\n";
  if (plan.evaluation)
    std::cout << "evaluation: " << plan.evaluation->count() << " windows of "
              << plan.evaluation->seqlen << " tokens from " << arguments.evaluation << "\n";
  std::cout << std::flush;
}

// The statistics summary, then dense and compressed perplexity side by side.
void print_results(Arguments const &arguments, Plan const &plan, Results const &results)
{
  if (plan.calibration)
  {
    results.stats.print_summary(std::cout);
    std::cout << format("Compression: %.2f s", results.compression_seconds);
    if (!arguments.output.empty())
      std::cout << "; compressed checkpoint written to " << arguments.output;
    std::cout << "\n";
    if (!arguments.export_format_and_directory.empty())
      std::cout << "Exported (" << arguments.export_format_and_directory.front() << ") to "
                << arguments.export_format_and_directory.back() << "\n";
    if (!arguments.save_packed.empty())
      std::cout << "Packed model written to " << arguments.save_packed << ": "
                << results.packed_bytes << " bytes (layers " << results.stats.size_after_bytes()
                << " as reported above, the other tensors and the manifest the rest)\n";
    std::cout << "Peak device memory (Kokkos allocations): "
              << sgpte::opt::MemoryPlan::gib(results.peak_device_bytes) << "\n";
  }
  if (!plan.evaluation)
    return;
  std::cout << "\nPerplexity on " << arguments.evaluation << " (" << plan.evaluation->count()
            << " windows of " << plan.evaluation->seqlen << " tokens):\n";
  if (results.dense)
    std::cout << format("  dense       %10.4f   (%.2f s)\n", results.dense->perplexity,
                        results.dense->seconds);
  if (results.compressed)
  {
    std::cout << format("  compressed  %10.4f   (%.2f s)", results.compressed->perplexity,
                        results.compressed->seconds);
    if (results.dense)
      std::cout << format("   %+.2f %%",
                          100.0 *
                              (results.compressed->perplexity / results.dense->perplexity - 1.0));
    std::cout << "\n";
  }
}

// QuantizationStats::to_json with the run's inputs and perplexities added.
void write_statistics(Arguments const &arguments, Plan const &plan, Results const &results,
                      int ranks)
{
  nlohmann::json json = results.stats.to_json();
  json["model"] = arguments.model;
  json["ranks"] = ranks; // processes sharing the windows (mpirun -np)
  json["compression_seconds"] = results.compression_seconds;
  json["forward_precision"] =
      sgpte::opt::forward_precision_name(*plan.sequential.forward.precision);
  json["peak_device_memory_bytes"] = results.peak_device_bytes;
  if (!arguments.save_packed.empty())
    json["packed_model"] = {{"directory", arguments.save_packed}, {"bytes", results.packed_bytes}};
  if (plan.calibration)
    json["calibration"] = {{"file", arguments.calibration},
                           {"nsamples", plan.calibration->count()},
                           {"seqlen", plan.calibration->seqlen},
                           {"seed", arguments.seed}};
  if (plan.evaluation)
  {
    nlohmann::json perplexity = {{"file", arguments.evaluation},
                                 {"windows", plan.evaluation->count()},
                                 {"seqlen", plan.evaluation->seqlen}};
    for (auto const &[key, result] :
         {std::pair{"dense", &results.dense}, std::pair{"compressed", &results.compressed}})
      if (*result)
        perplexity[key] = {{"perplexity", (*result)->perplexity}, {"seconds", (*result)->seconds}};
    json["perplexity"] = perplexity;
  }
  sgpte::io::write_file_atomically(arguments.stats_json, json.dump(2) + "\n");
}

// What the compressed weights depend on, for LayerCheckpoints: a checkpoint of a run with
// another model, data, options or backend is refused by --resume.
std::string run_fingerprint(Arguments const &arguments, Plan const &plan,
                            sgpte::opt::OptCheckpoint const &checkpoint, char const *backend,
                            int ranks)
{
  auto const identity = [](std::filesystem::path const &file)
  {
    return nlohmann::json{{"path", std::filesystem::weakly_canonical(file).string()},
                          {"bytes", std::filesystem::file_size(file)}};
  };
  sgpte::CompressionOptions const &o = plan.sequential.compression;
  nlohmann::json importance = o.importance_weights.as_array();
  nlohmann::json json = {
      {"weights", identity(checkpoint.weights_path())},
      {"calibration", identity(arguments.calibration)},
      {"seed", arguments.seed},
      {"nsamples", plan.calibration->count()},
      {"seqlen", plan.calibration->seqlen},
      {"layers", {plan.sequential.min_layer, plan.sequential.end_layer(checkpoint.layers())}},
      {"layer_bits", arguments.layer_bits},
      {"sparsity", o.sparsity},
      {"prune", {o.prune_n, o.prune_m}},
      {"block_size", o.block_size},
      {"percdamp", o.percdamp},
      {"max_damping_retries", o.max_damping_retries},
      {"wbits", o.wbits},
      {"target_average_bits", o.target_average_bits ? *o.target_average_bits : -1.0},
      {"allocation", static_cast<int>(o.allocation)},
      {"sensitivity", sgpte::to_string(o.sensitivity)},
      {"bit_options", o.bit_options},
      {"quantiles", o.quantiles},
      {"importance_weights", importance},
      {"quantizer",
       {o.quantizer.symmetric, o.quantizer.per_channel, o.quantizer.mse, o.quantizer.norm,
        o.quantizer.grid, o.quantizer.max_shrink, o.quantizer.group_size, o.quantizer.act_order,
        sgpte::to_string(o.quantizer.range)}},
      {"statistics_precision", arguments.statistics_precision},
      {"forward_precision", sgpte::opt::forward_precision_name(*plan.sequential.forward.precision)},
      {"backend", backend},
      {"ranks", ranks}, // the statistics' rounding depends on how the windows are shared out
      {"kokkos", sgpte::compat::version_string()},
      // Mixed layers' narrower widths follow the widest's from version 2 on: another result.
      {"packed_format", sgpte::packed::format_version}};
  return json.dump();
}

// With several processes (Ranks): each runs the forward passes of its share of the windows
// and sweeps its share of every module's rows (all then hold every compressed module),
// process 0 prints and writes.
template <class ExecutionSpace>
void run(ExecutionSpace const &space, Arguments const &arguments,
         sgpte::drivers::CompressionCli const &cli, sgpte::drivers::Ranks const &ranks)
{
  if (sgpte::product_precision_names().at(arguments.statistics_precision) ==
          sgpte::ProductPrecision::tf32 &&
      !sgpte::backends::supports_tf32_products<ExecutionSpace>)
    throw sgpte::InvalidArgument(
        std::string("--statistics-precision tf32 needs the Cuda backend with "
                    "cuBLAS, not ") +
        ExecutionSpace::name());
  sgpte::opt::OptCheckpoint checkpoint(arguments.model);
  auto const precision =
      arguments.forward_precision.empty()
          ? sgpte::opt::ForwardOptions().precision_for<ExecutionSpace>(checkpoint)
          : sgpte::opt::forward_precision_names().at(arguments.forward_precision);
  Plan plan = make_plan(arguments, cli, checkpoint, usable_memory<ExecutionSpace>(arguments),
                        ExecutionSpace::name(), precision, ranks);
  sgpte::drivers::PeakMemory::track(ExecutionSpace::memory_space::name());
  if (ranks.leads())
  {
    prepare_output(arguments);
    print_plan(arguments, plan, checkpoint.config(), ExecutionSpace::name(), ranks.size());
  }
  install_interrupt_handler(arguments);

  sgpte::drivers::TerminalProgress progress(ranks.leads());
  auto const evaluate = [&]
  {
    return ranks.merge(
        sgpte::opt::evaluate_perplexity(space, checkpoint, ranks.share(*plan.evaluation),
                                        plan.sequential.forward, progress.callback()));
  };
  Results results;
  if (plan.evaluation && !arguments.skip_dense_evaluation)
    results.dense = evaluate();
  if (plan.calibration)
  {
    Kokkos::Timer timer;
    // Per-layer checkpoints in the output directory: a run interrupted after layer i can be
    // continued from layer i + 1 with --resume.
    std::optional<sgpte::opt::LayerCheckpoints> checkpoints;
    std::function<void(int)> layer_done;
    if (!arguments.output.empty())
    {
      checkpoints.emplace(arguments.output, run_fingerprint(arguments, plan, checkpoint,
                                                            ExecutionSpace::name(), ranks.size()));
      bool const model_allocation =
          plan.sequential.compression.mixed_precision() &&
          plan.sequential.compression.allocation == sgpte::AllocationMethod::model;
      if (arguments.resume)
      {
        plan.sequential.restored_until =
            checkpoints->restore(checkpoint, plan.sequential.min_layer,
                                 plan.sequential.end_layer(checkpoint.layers()), results.stats);
        if (model_allocation && plan.sequential.restored_until > plan.sequential.min_layer)
          plan.sequential.model_allocation = checkpoints->restore_model_allocation();
        if (ranks.leads())
          std::cout << "resuming: layers " << plan.sequential.min_layer << " to "
                    << plan.sequential.restored_until - 1 << " restored from "
                    << checkpoints->directory().string() << "\n"
                    << std::flush;
      }
      else if (ranks.leads())
        checkpoints->clear();
      if (model_allocation && ranks.leads())
        plan.sequential.model_allocation_done =
            [&](sgpte::opt::ModelAllocationBytes const &allocation)
        { checkpoints->save_model_allocation(allocation); };
      if (ranks.leads())
        layer_done = [&, modules = sgpte::opt::linear_modules.size()](int layer)
        {
          auto const &layers = results.stats.layers();
          checkpoints->save(checkpoint, layer,
                            {layers.end() - static_cast<std::ptrdiff_t>(modules), layers.end()});
        };
    }
    std::optional<sgpte::packed::PackedModelWriter> packed;
    std::optional<sgpte::exports::ModelExporter> exporter;
    if (!arguments.export_format_and_directory.empty() && ranks.leads())
      exporter.emplace(export_format(arguments), arguments.export_format_and_directory.back(),
                       plan.sequential.compression);
    sgpte::opt::CompressedModuleSink<ExecutionSpace> sink;
    if (exporter || (!arguments.save_packed.empty() && ranks.leads()))
      sink = [&](std::string const &name, sgpte::io::Dtype dtype,
                 sgpte::Matrix<ExecutionSpace> const &weight,
                 sgpte::LayerResult<ExecutionSpace> const &result,
                 sgpte::CompressionOptions const &options)
      {
        if (packed)
          packed->add_layer(space, checkpoint.stored_name(name), weight, result, options, dtype);
        if (exporter)
          exporter->add_layer(space, checkpoint.stored_name(name), weight, result, options, dtype);
      };
    if (!arguments.save_packed.empty() && ranks.leads())
    {
      packed.emplace(arguments.save_packed);
      for (int layer = plan.sequential.min_layer; layer < plan.sequential.restored_until; ++layer)
        for (auto const module : sgpte::opt::linear_modules) // packed by the interrupted run
        {
          std::string const name = sgpte::opt::linear_weight_name(layer, module);
          packed->adopt_layer(checkpoint.stored_name(name), checkpoint.info(name).dtype);
        }
    }
    sgpte::opt::compress_sequential(space, checkpoint, ranks.share(*plan.calibration),
                                    plan.sequential, results.stats, progress.callback(), sink,
                                    layer_done, ranks.statistics_reduction<ExecutionSpace>(),
                                    ranks.row_exchange());
    if (packed)
    {
      for (auto const &shard : checkpoint.original_weights())
        packed->add_remaining_tensors(shard);
      results.packed_bytes = packed->finish();
    }
    if (exporter)
    {
      for (auto const &shard : checkpoint.original_weights())
        exporter->add_remaining_tensors(shard);
      exporter->finish(std::filesystem::path(arguments.model) / "config.json");
    }
    results.compression_seconds = timer.seconds();
    results.peak_device_bytes = sgpte::drivers::PeakMemory::peak_bytes();
    if (!arguments.output.empty() && ranks.leads())
    {
      checkpoint.write(arguments.output);
      checkpoints->clear(); // the complete checkpoint supersedes them
    }
    if (plan.evaluation)
      results.compressed = evaluate();
  }
  progress.clear();
  if (!ranks.leads())
    return;
  print_results(arguments, plan, results);
  if (!arguments.stats_json.empty())
    write_statistics(arguments, plan, results, ranks.size());
}

} // namespace

int main(int argc, char *argv[])
{
  sgpte::drivers::Ranks const ranks(argc, argv); // first: MPI may take its arguments out
  sgpte::drivers::KokkosArguments command_line(argc, argv);
  CLI::App app{
      "Compress an OPT checkpoint (SparseGPT pruning fused with mixed-precision GPTQ, layer by "
      "layer as the reference's opt_sequential) and measure its perplexity. Defaults: 50 % "
      "unstructured sparsity, mixed precision at a 4.0-bit target with the model-wide "
      "allocation (the whole model at most the packed bytes of uniform 4-bit, shared out among "
      "the modules by the loss's measured sensitivity to each and within each module by the "
      "columns' OBS sensitivity; with several processes, or --sensitivity score, each layer "
      "within its own bytes: packed); --wbits B sets uniform bits instead (0: no quantization), "
      "--prunen/--prunem N:M pruning instead of --sparsity.",
      "sgpte-opt"};
  app.footer(sgpte::drivers::KokkosArguments::help_footer);
  Arguments arguments;
  app.add_option("MODEL_DIR", arguments.model,
                 "Hugging Face OPT checkpoint: config.json and model.safetensors")
      ->required()
      ->check(CLI::ExistingDirectory);
  auto *data = app.add_option_group("Data");
  data->add_option("--calibration", arguments.calibration,
                   "Calibration tokens (little-endian uint16 file)")
      ->check(CLI::ExistingFile);
  data->add_option("--evaluation", arguments.evaluation,
                   "Evaluation tokens (little-endian uint16 file)")
      ->check(CLI::ExistingFile);
  data->add_option("--nsamples", arguments.nsamples, "Calibration windows")->capture_default_str();
  data->add_option("--seqlen", arguments.seqlen,
                   "Tokens per window (default: max_position_embeddings)");
  data->add_option("--seed", arguments.seed,
                   "Seed of the calibration windows (Python's random.seed)")
      ->capture_default_str();
  auto *layers = app.add_option_group("Layers");
  layers->add_option(
      "--layer-bits", arguments.layer_bits,
      "Per-layer target average bits, e.g. 0-5:3.5,6-11:4.5 (needs --bit-allocation "
      "packed, model or budget; with model, the sum of the layers' budgets is shared "
      "out)");
  layers->add_option("--min-layer", arguments.min_layer, "Compress layers i with min <= i < max")
      ->capture_default_str();
  layers->add_option("--max-layer", arguments.max_layer, "See --min-layer (default: all layers)");
  auto *device = app.add_option_group("Device");
  device
      ->add_option("--workspace-mb", arguments.workspace_mb,
                   "Scratch memory of a layer's intermediates and of a chunk of logits")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  device
      ->add_option("--batch-mb", arguments.batch_mb,
                   "Evaluation: hidden states of a batch of windows (each layer is loaded once "
                   "per batch)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  device
      ->add_option("--forward-precision", arguments.forward_precision,
                   "Precision of the forward passes' activations and weights: fp32, fp16 or bf16 "
                   "(products accumulate in fp32; the statistics and the sweep stay fp32). "
                   "Default: the checkpoint's dtype on Cuda, fp32 on host backends")
      ->check(CLI::IsMember(sgpte::opt::forward_precision_names()));
  device
      ->add_option("--max-device-memory-mb", arguments.max_device_memory_mb,
                   "Use at most this much of the device's memory (default: what it has free); "
                   "the model itself stays in host memory either way")
      ->check(CLI::PositiveNumber);
  device->add_option("--backend", arguments.backend, "Kokkos execution space to run on")
      ->check(CLI::IsMember(sgpte::drivers::enabled_backends()))
      ->capture_default_str();
  device
      ->add_option(
          "--statistics-precision", arguments.statistics_precision,
          "Arithmetic of the calibration statistics' product XᵀX: fp32 (the reference's), or "
          "tf32 on the tensor cores, faster and less accurate (Cuda only)")
      ->check(CLI::IsMember(sgpte::product_precision_names()))
      ->capture_default_str();
  auto *run_group = app.add_option_group("Run");
  run_group->add_option("--output", arguments.output,
                        "Write the compressed checkpoint into this directory");
  run_group->add_flag("--resume", arguments.resume,
                      "Continue an interrupted run from the last layer it completed (its "
                      "checkpoints in --output DIR); the result is identical to an "
                      "uninterrupted run's");
  run_group->add_option("--save-packed", arguments.save_packed,
                        "Also write the compressed model packed (docs/format.md) into this "
                        "directory; sgpte-unpack turns it back into a checkpoint");
  run_group
      ->add_option("--export", arguments.export_format_and_directory,
                   "Also write the compressed model as a checkpoint inference engines load: "
                   "--export gptq DIR or --export compressed-tensors DIR (docs/format.md); "
                   "one bit width per layer")
      ->expected(2)
      ->type_name("FORMAT DIR");
  run_group->add_option("--stats-json", arguments.stats_json,
                        "Write statistics and perplexities as JSON");
  auto *dense_only =
      run_group->add_flag("--dense-only", arguments.dense_only, "Only evaluate the dense model");
  run_group
      ->add_flag("--skip-dense-eval", arguments.skip_dense_evaluation,
                 "Do not evaluate the dense model (only the compressed one)")
      ->excludes(dense_only);
  sgpte::CompressionOptions defaults;
  defaults.sparsity = 0.5;
  defaults.target_average_bits = 4.0;
  defaults.allocation = sgpte::AllocationMethod::model;
  sgpte::drivers::CompressionCli cli(app, defaults);
  CLI11_PARSE(app, command_line.program_argc(), command_line.program_argv());
  auto const kokkos = command_line.initialize_kokkos();
  try
  {
    sgpte::drivers::with_backend(arguments.backend,
                                 [&](auto const &space) { run(space, arguments, cli, ranks); });
  }
  catch (sgpte::Error const &error)
  {
    std::cerr << "sgpte-opt: error: " << error.what() << "\n";
    ranks.end_all_after_error(1);
    return 1;
  }
  return 0;
}
