#ifndef SGPTE_PACKED_MODEL_WRITER_HPP
#define SGPTE_PACKED_MODEL_WRITER_HPP

// A packed model: a directory with one packed layer file per compressed weight, the tensors
// that were not compressed in one ordinary safetensors file, and a manifest (docs/format.md):
//
//   DIR/layers/<tensor name>.safetensors   packed layer (layer_file.hpp)
//   DIR/dense.safetensors                  every other tensor of the checkpoint, unchanged
//   DIR/sgpte-packed.json                  format, version, each layer's file, dtype, bytes
//
// Layers are written as they are compressed, so memory does not grow with the model; the
// manifest is written last (atomically, like every file), and a stale one is removed first:
// a directory whose writing was interrupted has no manifest and is refused by the reader.
//
//   sgpte::packed::PackedModelWriter packed(directory);
//   ... per layer, right after fasterprune, before the weights change again:
//   packed.add_layer(space, "model.decoder.layers.0.fc1.weight", weight, result, options, dtype);
//   ... at the end:
//   packed.add_remaining_tensors(sgpte::io::SafetensorsReader(checkpoint_file));
//   std::int64_t bytes = packed.finish();

#include <sgpte/core/error.hpp>
#include <sgpte/io/atomic_file.hpp>
#include <sgpte/io/byte_span.hpp>
#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/layer/layer_compressor.hpp>
#include <sgpte/packed/format.hpp>
#include <sgpte/packed/detail/layout_metadata.hpp>
#include <sgpte/packed/layer_file.hpp>
#include <sgpte/packed/pack.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>
#include <vector>

namespace sgpte::packed
{

inline constexpr char const *manifest_file_name = "sgpte-packed.json";
inline constexpr char const *dense_file_name = "dense.safetensors";
inline constexpr char const *layers_directory_name = "layers";

class PackedModelWriter
{
public:
  // Creates the directory (and DIR/layers) if needed and removes a stale manifest.
  explicit PackedModelWriter(std::filesystem::path directory) : _directory(std::move(directory))
  {
    std::error_code error;
    std::filesystem::create_directories(_directory / layers_directory_name, error);
    if (error)
      io::detail::throw_file_error(_directory,
                                   "cannot create the packed model directory: " + error.message());
    std::filesystem::remove(_directory / manifest_file_name, error);
    if (error)
      io::detail::throw_file_error(_directory / manifest_file_name,
                                   "cannot remove the stale manifest: " + error.message());
    _manifest["format"] = model_format_name;
    _manifest["format_version"] = format_version;
    _manifest["dense"] = dense_file_name;
    _manifest["layers"] = nlohmann::ordered_json::object();
  }

  // Packs a layer right after fasterprune (weight: the weights it left) and writes its file;
  // tensor_name is the weight's name in the checkpoint, dtype its dtype there. Returns the
  // file's size, which is what the layer's statistics report (an InvalidArgument otherwise:
  // the LayerCompressor was given another dtype).
  template <class ExecutionSpace>
  std::int64_t add_layer(ExecutionSpace const &space, std::string const &tensor_name,
                         Matrix<ExecutionSpace> const &weight,
                         LayerResult<ExecutionSpace> const &result,
                         CompressionOptions const &options, io::Dtype dtype)
  {
    std::int64_t const bytes =
        add_layer(tensor_name, pack_layer(space, weight, result, options, dtype), dtype);
    if (bytes != result.statistics.size_after_bytes)
      throw InvalidArgument("layer '" + result.statistics.name + "': its statistics report " +
                            std::to_string(result.statistics.size_after_bytes) +
                            " packed bytes, its file has " + std::to_string(bytes) +
                            ": give LayerCompressor the checkpoint's dtype (" +
                            std::string(io::dtype_name(dtype)) + ")");
    return bytes;
  }

  // Writes an already packed layer; returns its file's size.
  template <class ExecutionSpace>
  std::int64_t add_layer(std::string const &tensor_name, PackedLayer<ExecutionSpace> const &layer,
                         io::Dtype dtype)
  {
    require_new_name(tensor_name);
    if (!io::is_floating_point(dtype))
      throw InvalidArgument("packed model: layer '" + tensor_name +
                            "' must have a floating-point dtype");
    std::string const file =
        std::string(layers_directory_name) + "/" + tensor_name + ".safetensors";
    std::int64_t const bytes = write_layer(_directory / file, layer);
    _manifest["layers"][tensor_name] = {
        {"file", file}, {"dtype", std::string(io::dtype_name(dtype))}, {"bytes", bytes}};
    _layer_bytes += bytes;
    return bytes;
  }

  // A layer file an interrupted run already wrote into the directory (sgpte-opt --resume):
  // checked to be a readable packed layer, then listed like one just written.
  void adopt_layer(std::string const &tensor_name, io::Dtype dtype)
  {
    require_new_name(tensor_name);
    std::string const file =
        std::string(layers_directory_name) + "/" + tensor_name + ".safetensors";
    if (!std::filesystem::exists(_directory / file))
      io::detail::throw_file_error(_directory / file,
                                   "is missing: the interrupted run did not write its packed layers "
                                   "here (resume with the same --save-packed)");
    io::SafetensorsReader const reader(_directory / file);
    detail::LayoutReader(reader).layout(); // throws for a file that is not a packed layer
    auto const bytes = static_cast<std::int64_t>(std::filesystem::file_size(_directory / file));
    _manifest["layers"][tensor_name] = {
        {"file", file}, {"dtype", std::string(io::dtype_name(dtype))}, {"bytes", bytes}};
    _layer_bytes += bytes;
  }

  // A tensor kept as it is in the checkpoint (embeddings, norms, biases, layers left alone).
  void add_dense_tensor(std::string const &name, io::Dtype dtype, std::vector<std::size_t> shape,
                        io::ByteSpan bytes)
  {
    require_new_name(name);
    _dense.add_tensor(name, dtype, std::move(shape), bytes);
  }

  // Every tensor of the checkpoint that was not added yet; its metadata too.
  void add_remaining_tensors(io::SafetensorsReader const &checkpoint)
  {
    for (auto const &[key, value] : checkpoint.metadata())
      _dense.set_metadata(key, value);
    for (std::string const &name : checkpoint.names())
      if (!_names.count(name))
      {
        io::TensorInfo const &info = checkpoint.info(name);
        add_dense_tensor(name, info.dtype, info.shape, checkpoint.bytes(name));
      }
  }

  std::int64_t layer_bytes() const { return _layer_bytes; }

  // Writes the dense tensors and the manifest; returns the total size of the packed model
  // (every file in it, the manifest included).
  std::int64_t finish()
  {
    auto const dense = _directory / dense_file_name;
    _dense.write(dense);
    auto const dense_bytes = static_cast<std::int64_t>(std::filesystem::file_size(dense));
    _manifest["bytes"] = {{"layers", _layer_bytes}, {"dense", dense_bytes}};
    std::string const text = _manifest.dump(2) + "\n";
    io::write_file_atomically(_directory / manifest_file_name, text);
    return _layer_bytes + dense_bytes + static_cast<std::int64_t>(text.size());
  }

private:
  // Names become file names: one path component, not hidden, unique.
  void require_new_name(std::string const &name)
  {
    if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos)
      throw InvalidArgument("packed model: tensor name '" + name +
                            "' cannot name a file (empty, starts with '.', or contains '/')");
    if (!_names.insert(name).second)
      throw InvalidArgument("packed model: tensor '" + name + "' added twice");
  }

  std::filesystem::path _directory;
  nlohmann::ordered_json _manifest;
  io::SafetensorsWriter _dense;
  std::set<std::string> _names;
  std::int64_t _layer_bytes = 0;
};

} // namespace sgpte::packed

#endif
