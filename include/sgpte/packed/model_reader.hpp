#ifndef SGPTE_PACKED_MODEL_READER_HPP
#define SGPTE_PACKED_MODEL_READER_HPP

// Reading a packed model directory (model_writer.hpp): its manifest, validated, and
// unpack_model, which turns it back into an ordinary checkpoint: the dense tensors byte for
// byte, each packed layer dequantized and stored in its checkpoint dtype, exactly as the
// compressing program stored the dequantized weights (io/float_codec.hpp rounding), and the
// checkpoint's metadata.

#include <sgpte/core/error.hpp>
#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/mapped_file.hpp>
#include <sgpte/io/detail/strict_json.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/float_codec.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/packed/format.hpp>
#include <sgpte/packed/layer_file.hpp>
#include <sgpte/packed/model_writer.hpp>
#include <sgpte/packed/unpack.hpp>

#include <Kokkos_Core.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sgpte::packed
{

struct ModelManifest
{
  struct Layer
  {
    std::string tensor;         // the weight's name in the checkpoint
    std::filesystem::path file; // its packed layer file
    io::Dtype dtype;            // its dtype in the checkpoint
    std::int64_t bytes;         // the file's size
  };

  std::filesystem::path dense; // the dense tensors' file
  std::vector<Layer> layers;
};

inline bool is_packed_model(std::filesystem::path const &directory)
{
  return std::filesystem::is_directory(directory) &&
         std::filesystem::exists(directory / manifest_file_name);
}

// The manifest of a packed model directory; each layer file must exist with the size it
// records (a replaced or truncated file is caught before anything is unpacked).
inline ModelManifest read_manifest(std::filesystem::path const &directory)
{
  auto const path = directory / manifest_file_name;
  if (!std::filesystem::exists(path))
    io::detail::throw_file_error(
        path, "is missing: not a packed model directory, or its writing was interrupted");
  io::detail::MappedFile const file(path);
  nlohmann::json const json = io::detail::parse_strict_json(
      path, std::string_view(reinterpret_cast<char const *>(file.data()), file.size()), "JSON");
  auto const fail = [&](std::string const &problem)
  { io::detail::throw_file_error(path, problem); };
  auto const text = [&](nlohmann::json const &object, char const *key) -> std::string
  {
    if (!object.is_object() || !object.contains(key) || !object[key].is_string())
      fail(std::string("'") + key + "' is missing or not a string");
    return object[key].get<std::string>();
  };
  // A file inside the directory: relative, no "..".
  auto const inside = [&](std::string const &name) -> std::filesystem::path
  {
    std::filesystem::path const relative(name);
    for (auto const &part : relative)
      if (part == "..")
        fail("file '" + name + "' lies outside the directory");
    if (name.empty() || relative.is_absolute())
      fail("file '" + name + "' lies outside the directory");
    return directory / relative;
  };
  if (text(json, "format") != model_format_name)
    fail("'format' is '" + text(json, "format") + "', expected '" + model_format_name + "'");
  if (!json.contains("format_version") || !json["format_version"].is_number_integer() ||
      json["format_version"].get<std::int64_t>() < oldest_format_version ||
      json["format_version"].get<std::int64_t>() > format_version)
    fail("packed format version " +
         (json.contains("format_version") ? json["format_version"].dump() : "(none)") +
         " is not supported (this build reads versions " + std::to_string(oldest_format_version) +
         " to " + std::to_string(format_version) + ")");
  ModelManifest manifest;
  manifest.dense = inside(text(json, "dense"));
  if (!json.contains("layers") || !json["layers"].is_object())
    fail("'layers' is missing or not an object");
  for (auto const &[tensor, entry] : json["layers"].items())
  {
    ModelManifest::Layer layer{tensor, inside(text(entry, "file")), io::Dtype::F32, 0};
    auto const dtype = io::parse_dtype(text(entry, "dtype"));
    if (!dtype || !io::is_floating_point(*dtype))
      fail("layer '" + tensor + "': dtype '" + text(entry, "dtype") +
           "' is not a floating-point dtype");
    layer.dtype = *dtype;
    if (!entry.contains("bytes") || !entry["bytes"].is_number_unsigned())
      fail("layer '" + tensor + "': 'bytes' is missing or not a size");
    layer.bytes = entry["bytes"].get<std::int64_t>();
    std::error_code error;
    auto const size = std::filesystem::file_size(layer.file, error);
    if (error || static_cast<std::int64_t>(size) != layer.bytes)
      io::detail::throw_file_error(
          layer.file, error ? "cannot read its size: " + error.message()
                            : "has " + std::to_string(size) + " bytes, the manifest " +
                                  path.string() + " records " + std::to_string(layer.bytes));
    manifest.layers.push_back(std::move(layer));
  }
  return manifest;
}

// Host copy, row-major, of a packed layer's dense weights.
template <class ExecutionSpace>
std::vector<float> unpack_to_host(ExecutionSpace const &space,
                                  PackedLayer<ExecutionSpace> const &layer)
{
  Kokkos::View<float **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space> rows(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::rows"), layer.rows(),
      layer.columns());
  unpack(space, layer, rows);
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), rows);
  return std::vector<float>(host.data(), host.data() + host.size());
}

// Writes the ordinary checkpoint of a packed model directory to `output` (atomically).
template <class ExecutionSpace>
void unpack_model(ExecutionSpace const &space, std::filesystem::path const &directory,
                  std::filesystem::path const &output)
{
  ModelManifest const manifest = read_manifest(directory);
  io::SafetensorsReader const dense(manifest.dense);
  io::SafetensorsWriter writer;
  for (auto const &[key, value] : dense.metadata())
    writer.set_metadata(key, value);
  for (std::string const &name : dense.names())
  {
    io::TensorInfo const &info = dense.info(name);
    writer.add_tensor(name, info.dtype, info.shape, dense.bytes(name));
  }
  for (ModelManifest::Layer const &entry : manifest.layers)
  {
    if (dense.contains(entry.tensor))
      io::detail::throw_file_error(manifest.dense, "holds tensor '" + entry.tensor +
                                                       "', which is also a packed layer");
    PackedLayer<ExecutionSpace> const layer = read_layer(space, entry.file);
    std::vector<float> const values = unpack_to_host(space, layer);
    if (io::FloatEncodingCheck const check =
            io::check_float_encoding(entry.dtype, values.data(), values.size());
        !check.ok())
      io::detail::throw_file_error(
          entry.file, "its weights overflow " + std::string(io::dtype_name(entry.dtype)) + " in " +
                          std::to_string(check.overflow) + " places");
    writer.add_float_tensor(
        entry.tensor, entry.dtype,
        {static_cast<std::size_t>(layer.rows()), static_cast<std::size_t>(layer.columns())},
        values.data(), values.size());
  }
  writer.write(output);
}

} // namespace sgpte::packed

#endif
