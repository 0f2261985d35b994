// sgpte-unpack: a packed checkpoint back to an ordinary safetensors file of dense,
// dequantized weights (docs/format.md).
//
//   sgpte-unpack [options] PACKED OUTPUT.safetensors
//
// PACKED is a packed model directory (sgpte-opt --save-packed): OUTPUT is then the model's
// checkpoint with every packed layer dequantized in its dtype, byte for byte what the
// compressing run wrote as its dequantized checkpoint. Or PACKED is a packed layer file
// (sgpte-layer --save-packed): OUTPUT then holds the layer's weights as one float32 tensor
// (named W_out by default, as in sgpte-layer's output).

#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/packed/layer_file.hpp>
#include <sgpte/packed/model_reader.hpp>

#include <Kokkos_Core.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "../common/backend.hpp"
#include "../common/kokkos_arguments.hpp"

namespace
{

struct Arguments
{
  std::string packed;
  std::string output;
  std::string tensor_name = "W_out";
  std::string backend = "default";
};

template <class ExecutionSpace>
void unpack(ExecutionSpace const &space, Arguments const &arguments)
{
  if (sgpte::packed::is_packed_model(arguments.packed))
  {
    sgpte::packed::unpack_model(space, arguments.packed, arguments.output);
    std::cout << "Unpacked model " << arguments.packed << " into " << arguments.output << "\n";
    return;
  }
  if (std::filesystem::is_directory(arguments.packed))
    throw sgpte::FileError(arguments.packed + ": is a directory without " +
                           sgpte::packed::manifest_file_name +
                           " (not a packed model, or its writing was interrupted)");
  auto const layer = sgpte::packed::read_layer(space, arguments.packed);
  std::vector<float> const values = sgpte::packed::unpack_to_host(space, layer);
  sgpte::io::SafetensorsWriter writer;
  writer.add_float_tensor(
      arguments.tensor_name, sgpte::io::Dtype::F32,
      {static_cast<std::size_t>(layer.rows()), static_cast<std::size_t>(layer.columns())},
      values.data(), values.size());
  writer.write(arguments.output);
  std::cout << "Unpacked layer " << arguments.packed << " (" << layer.rows() << " x "
            << layer.columns() << ", " << layer.file_bytes() << " bytes) into " << arguments.output
            << "\n";
}

} // namespace

int main(int argc, char *argv[])
{
  sgpte::drivers::KokkosArguments command_line(argc, argv);
  CLI::App app{
      "Unpack a packed checkpoint into an ordinary safetensors file of dequantized weights.",
      "sgpte-unpack"};
  app.footer(sgpte::drivers::KokkosArguments::help_footer);
  Arguments arguments;
  app.add_option("PACKED", arguments.packed, "packed model directory or packed layer file")
      ->required()
      ->check(CLI::ExistingPath);
  app.add_option("OUTPUT", arguments.output, "safetensors file to write")->required();
  app.add_option("--name", arguments.tensor_name,
                 "Tensor name for the weights of a packed layer file")
      ->capture_default_str();
  app.add_option("--backend", arguments.backend, "Kokkos execution space to run on")
      ->check(CLI::IsMember(sgpte::drivers::enabled_backends()))
      ->capture_default_str();
  CLI11_PARSE(app, command_line.program_argc(), command_line.program_argv());
  auto const kokkos = command_line.initialize_kokkos();
  try
  {
    sgpte::drivers::with_backend(arguments.backend,
                                 [&](auto const &space) { unpack(space, arguments); });
  }
  catch (sgpte::Error const &error)
  {
    std::cerr << "sgpte-unpack: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
