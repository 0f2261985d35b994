// sgpte-layer: compress one linear layer stored as a safetensors file.
//
//   sgpte-layer [options] INPUT.safetensors OUTPUT.safetensors
//
// INPUT holds W (rows × columns) and the calibration inputs X (tokens × columns), the
// layout of the reference cases in tests/data/reference. OUTPUT receives W_out (float32,
// rows × columns) and bits (uint8, one per input column; 0 = not quantized). With
// --config-from-metadata the pruning and quantizer settings come from INPUT's metadata
// (keys sparsity, prunen, prunem, blocksize, percdamp, wbits, sym, perchannel), options
// given explicitly still taking precedence. --save-packed FILE also writes the layer packed
// (docs/format.md); the size the statistics report is that file's.

#include <sgpte/io/atomic_file.hpp>
#include <sgpte/io/view_io.hpp>
#include <sgpte/layer/layer_compressor.hpp>
#include <sgpte/packed/layer_file.hpp>
#include <sgpte/packed/pack.hpp>

#include "../common/backend.hpp"
#include "../common/compression_cli.hpp"
#include "../common/kokkos_arguments.hpp"

#include <Kokkos_Core.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <string>

namespace
{

struct Arguments
{
  std::string input;
  std::string output;
  std::string stats_json;
  std::string save_packed;
  std::string backend = "default";
  bool config_from_metadata = false;
};

template <class ExecutionSpace>
void compress_layer(ExecutionSpace const &space, Arguments const &arguments, sgpte::drivers::CompressionCli &cli)
{
  sgpte::io::SafetensorsReader const input(arguments.input);
  if (arguments.config_from_metadata)
    for (std::string const &note : cli.apply_metadata(input.metadata(), arguments.input))
      std::cerr << "sgpte-layer: warning: " << note << "\n";
  sgpte::CompressionOptions const options = cli.options();

  auto const weight = sgpte::io::read_matrix<ExecutionSpace>(input, "W");
  auto const inputs = sgpte::io::read_row_major<ExecutionSpace>(input, "X");
  if (inputs.extent(1) != weight.extent(1))
    throw sgpte::FileError(arguments.input + ": X has " + std::to_string(inputs.extent(1)) + " columns but W has " +
                           std::to_string(weight.extent(1)));

  sgpte::QuantizationStats stats;
  sgpte::io::Dtype const dtype = input.info("W").dtype;
  sgpte::LayerCompressor<ExecutionSpace> layer(space, std::filesystem::path(arguments.input).stem().string(),
                                               weight, &stats, dtype);
  layer.add_batch(space, inputs);
  auto const result = layer.fasterprune(space, options);
  layer.free();
  if (!arguments.save_packed.empty())
  {
    std::int64_t const bytes = sgpte::packed::write_layer(
        arguments.save_packed, sgpte::packed::pack_layer(space, weight, result, options, dtype));
    std::cout << "Packed layer written to " << arguments.save_packed << " (" << bytes << " bytes)\n";
  }

  sgpte::io::SafetensorsWriter writer;
  sgpte::io::add_matrix(writer, "W_out", weight, sgpte::io::Dtype::F32);
  writer.add_values("bits", {result.bits.size()}, result.bits.data(), result.bits.size());
  writer.set_metadata("source", std::filesystem::path(arguments.input).filename().string());
  writer.set_metadata("statistics", sgpte::QuantizationStats::layer_json(result.statistics).dump());
  writer.write(arguments.output);

  stats.print_summary(std::cout);
  if (!arguments.stats_json.empty())
    sgpte::io::write_file_atomically(arguments.stats_json, stats.to_json().dump(2) + "\n");
}

} // namespace

int main(int argc, char *argv[])
{
  sgpte::drivers::KokkosArguments command_line(argc, argv);
  CLI::App app{"Compress one linear layer: SparseGPT pruning fused with mixed-precision GPTQ.", "sgpte-layer"};
  app.footer(sgpte::drivers::KokkosArguments::help_footer);
  Arguments arguments;
  app.add_option("INPUT", arguments.input, "safetensors file with W (rows x columns) and X (tokens x columns)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("OUTPUT", arguments.output, "safetensors file to write W_out and bits to")->required();
  app.add_flag("--config-from-metadata", arguments.config_from_metadata,
               "Take sparsity, N:M, block size, damping and quantizer settings from INPUT's metadata");
  app.add_option("--stats-json", arguments.stats_json, "Also write the statistics as JSON to this file");
  app.add_option("--save-packed", arguments.save_packed,
                 "Also write the layer packed to this file: bit-packed codes, scales and zeros, mask "
                 "(docs/format.md; sgpte-unpack reads it)");
  app.add_option("--backend", arguments.backend, "Kokkos execution space to run on")
      ->check(CLI::IsMember(sgpte::drivers::enabled_backends()))
      ->capture_default_str();
  sgpte::drivers::CompressionCli cli(app, sgpte::CompressionOptions{});
  CLI11_PARSE(app, command_line.program_argc(), command_line.program_argv());
  auto const kokkos = command_line.initialize_kokkos();
  try
  {
    sgpte::drivers::with_backend(arguments.backend, [&](auto const &space) { compress_layer(space, arguments, cli); });
  }
  catch (sgpte::Error const &error)
  {
    std::cerr << "sgpte-layer: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
