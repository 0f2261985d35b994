// Packed models: a checkpoint whose linear weights were compressed, written layer by layer
// with PackedModelWriter, unpacks to exactly the checkpoint a driver writes with the
// dequantized weights (byte for byte); the packed bytes are the files' sizes; manifests that
// do not describe the directory are refused with errors naming the file.

#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/io/view_io.hpp>
#include <sgpte/packed/model_reader.hpp>
#include <sgpte/packed/model_writer.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/test_helpers.hpp"
#include "io/io_test_helpers.hpp"
#include "packed_test_helpers.hpp"
#include "sgpte_enable_device_types.hpp"
#include "trap_invalid_operations.hpp"

namespace
{

using sgpte::io::test::ScratchDirectory;

struct ModelLayer
{
  std::string tensor;
  std::string reference_case; // its W and X
  sgpte::io::Dtype dtype;
  std::function<void(sgpte::CompressionOptions &)> edit;
};

std::vector<ModelLayer> const model_layers = {
    {"model.decoder.layers.0.fc1.weight", "64x128_sp50_normal", sgpte::io::Dtype::F16,
     [](sgpte::CompressionOptions &o)
     { o.target_average_bits = 4.0, o.allocation = sgpte::AllocationMethod::budget; }},
    {"model.decoder.layers.0.fc2.weight", "96x256_sp50_heavy", sgpte::io::Dtype::BF16,
     [](sgpte::CompressionOptions &o) { o.sparsity = 0.0, o.prune_n = 2, o.prune_m = 4; }},
};

// A checkpoint with the layers' weights (in their dtype) and two tensors left alone.
void write_checkpoint(std::filesystem::path const &path)
{
  sgpte::io::SafetensorsWriter writer;
  writer.set_metadata("format", "pt");
  for (ModelLayer const &layer : model_layers)
  {
    sgpte::io::SafetensorsReader const input(sgpte_test::reference_dir /
                                             (layer.reference_case + ".safetensors"));
    std::vector<float> const w = input.read_as_float("W");
    writer.add_float_tensor(layer.tensor, layer.dtype, input.info("W").shape, w.data(), w.size());
  }
  std::mt19937 generator(3);
  std::vector<float> embedding(50 * 64);
  for (float &value : embedding)
    value = std::normal_distribution<float>()(generator);
  writer.add_float_tensor("model.decoder.embed_tokens.weight", sgpte::io::Dtype::F16, {50, 64},
                          embedding.data(), embedding.size());
  writer.add_float_tensor("model.decoder.layers.0.fc1.bias", sgpte::io::Dtype::F32, {64},
                          embedding.data(), 64);
  writer.write(path);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(PackedModel, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE_TEMPLATE(unpacks_to_the_dequantized_checkpoint, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  ScratchDirectory const scratch;
  auto const checkpoint_path = scratch / "model.safetensors";
  write_checkpoint(checkpoint_path);
  sgpte::io::SafetensorsReader const checkpoint(checkpoint_path);

  // What a driver writes: the checkpoint, compressed weights stored in their dtype.
  sgpte::io::SafetensorsWriter expected;
  expected.set_metadata("format", "pt");
  sgpte::packed::PackedModelWriter packed(scratch / "packed");
  std::int64_t statistics_bytes = 0;
  for (ModelLayer const &layer : model_layers)
  {
    sgpte::io::SafetensorsReader const input(sgpte_test::reference_dir /
                                             (layer.reference_case + ".safetensors"));
    sgpte::CompressionOptions options;
    sgpte::io::apply_case_metadata(options, input.metadata(), layer.reference_case);
    layer.edit(options);
    auto const weight = sgpte::io::read_matrix<ExecutionSpace>(checkpoint, layer.tensor);
    sgpte::QuantizationStats stats;
    sgpte::LayerCompressor<ExecutionSpace> compressor(space, layer.tensor, weight, &stats,
                                                      layer.dtype);
    compressor.add_batch(space, sgpte::io::read_row_major<ExecutionSpace>(input, "X"));
    auto const result = compressor.fasterprune(space, options);
    std::int64_t const bytes =
        packed.add_layer(space, layer.tensor, weight, result, options, layer.dtype);
    BOOST_TEST(bytes == result.statistics.size_after_bytes);
    statistics_bytes += stats.size_after_bytes();
    sgpte::io::add_matrix(expected, layer.tensor, weight, layer.dtype);
  }
  packed.add_remaining_tensors(checkpoint);
  std::int64_t const total = packed.finish();
  expected.add_tensor("model.decoder.embed_tokens.weight", sgpte::io::Dtype::F16, {50, 64},
                      checkpoint.bytes("model.decoder.embed_tokens.weight"));
  expected.add_tensor("model.decoder.layers.0.fc1.bias", sgpte::io::Dtype::F32, {64},
                      checkpoint.bytes("model.decoder.layers.0.fc1.bias"));
  expected.write(scratch / "expected.safetensors");

  BOOST_TEST(packed.layer_bytes() == statistics_bytes);
  std::int64_t on_disk = 0;
  for (auto const &entry : std::filesystem::recursive_directory_iterator(scratch / "packed"))
    if (entry.is_regular_file())
      on_disk += static_cast<std::int64_t>(entry.file_size());
  BOOST_TEST(total == on_disk);

  sgpte::packed::unpack_model(space, scratch / "packed", scratch / "unpacked.safetensors");
  BOOST_TEST(sgpte::io::test::read_bytes(scratch / "unpacked.safetensors") ==
             sgpte::io::test::read_bytes(scratch / "expected.safetensors"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(manifests_must_describe_the_directory, DeviceType, SGPTE_DEVICE_TYPES)
{
  using ExecutionSpace = typename DeviceType::execution_space;
  ExecutionSpace space;
  ScratchDirectory const scratch;
  auto const directory = scratch / "packed";
  auto const manifest = directory / sgpte::packed::manifest_file_name;
  auto const output = scratch / "out.safetensors";
  {
    sgpte::packed::PackedModelWriter packed(directory);
    auto const layer = sgpte_test::compress_case<ExecutionSpace>(
        sgpte_test::reference_dir / "64x128_sp50_w4asym_heavy.safetensors");
    packed.add_layer(layer.space, "layer.weight", layer.weight, layer.result, layer.options,
                     layer.dtype);
    BOOST_CHECK_THROW(packed.add_dense_tensor("layer.weight", sgpte::io::Dtype::U8, {1}, {}),
                      sgpte::InvalidArgument);
    BOOST_CHECK_THROW(packed.add_dense_tensor("../x", sgpte::io::Dtype::U8, {1}, {}),
                      sgpte::InvalidArgument);
    // Interrupted: no finish(), so no manifest.
  }
  sgpte::io::test::require_file_error([&]
                                      { sgpte::packed::unpack_model(space, directory, output); },
                                      manifest, {"missing", "interrupted"});
  {
    sgpte::packed::PackedModelWriter packed(directory);
    auto const layer = sgpte_test::compress_case<ExecutionSpace>(
        sgpte_test::reference_dir / "64x128_sp50_w4asym_heavy.safetensors");
    packed.add_layer(layer.space, "layer.weight", layer.weight, layer.result, layer.options,
                     layer.dtype);
    packed.finish();
  }
  std::string const text = sgpte::io::test::read_bytes(manifest);
  auto const replace = [&](std::string const &from, std::string const &to)
  {
    std::string edited = text;
    edited.replace(edited.find(from), from.size(), to);
    sgpte::io::test::write_bytes(manifest, edited);
  };
  replace("\"format_version\": 2", "\"format_version\": 7");
  sgpte::io::test::require_file_error([&]
                                      { sgpte::packed::unpack_model(space, directory, output); },
                                      manifest, {"version 7 is not supported"});
  replace("layers/layer.weight.safetensors", "../layer.weight.safetensors");
  sgpte::io::test::require_file_error([&]
                                      { sgpte::packed::unpack_model(space, directory, output); },
                                      manifest, {"outside the directory"});
  sgpte::io::test::write_bytes(manifest, text);
  auto const layer_file = directory / "layers" / "layer.weight.safetensors";
  std::string const layer_bytes = sgpte::io::test::read_bytes(layer_file);
  sgpte::io::test::write_bytes(layer_file, layer_bytes.substr(0, layer_bytes.size() - 1));
  sgpte::io::test::require_file_error([&]
                                      { sgpte::packed::unpack_model(space, directory, output); },
                                      layer_file, {"manifest", "records"});
  BOOST_TEST(!std::filesystem::exists(output));
}

BOOST_AUTO_TEST_SUITE_END()
