#ifndef SGPTE_OPT_OPT_CHECKPOINT_HPP
#define SGPTE_OPT_OPT_CHECKPOINT_HPP

// A Hugging Face OPT checkpoint directory (config.json + model.safetensors, or its shards
// with model.safetensors.index.json, in F32, F16 or BF16), opened and validated as a whole
// before any work starts: every tensor the model needs must be present, floating-point and of
// the shape config.json implies, else one FileError names the file, the tensor and the
// problem. The weights stay memory-mapped and are read one tensor at a time, so a caller
// holds at most what it asks for.
//
// Compressed weights replace tensors in memory (stored in the tensor's own dtype, exactly
// as they will be written, so that a later forward pass sees the written values); write()
// then produces a checkpoint directory any OPT runtime loads.

#include <sgpte/core/error.hpp>
#include <sgpte/io/atomic_file.hpp>
#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/mapped_file.hpp>
#include <sgpte/io/detail/shape.hpp>
#include <sgpte/io/float_codec.hpp>
#include <sgpte/io/opt_config.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_shards.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/opt/tensor_names.hpp>

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace sgpte::opt
{

class OptCheckpoint
{
public:
  static constexpr char const *config_file_name = "config.json";
  static constexpr char const *weights_file_name = "model.safetensors";

  explicit OptCheckpoint(std::filesystem::path directory)
      : _directory(std::move(directory)), _config(io::read_opt_config(open_config_path())),
        _config_text(read_text(_directory / config_file_name)), _weights(open_weights())
  {
    _without_model_prefix = lacks_model_prefix();
    for (ExpectedTensor const &tensor : expected_edge_tensors(_config))
      validate(tensor);
    for (int layer = 0; layer < layers(); ++layer)
      for (ExpectedTensor const &tensor : expected_layer_tensors(_config, layer))
        validate(tensor);
  }

  // model.safetensors, or the index of its shards.
  std::filesystem::path const &weights_path() const { return _weights.source(); }
  // The weights files as read (replacements are not applied to them).
  std::vector<io::SafetensorsReader> const &original_weights() const { return _weights.shards(); }
  // The name under which the tensor of the canonical name is stored in the file.
  std::string stored_name(std::string const &canonical) const { return file_name(canonical); }
  io::OptConfig const &config() const { return _config; }
  int layers() const { return static_cast<int>(_config.num_hidden_layers); }

  // Tensor of the canonical name (see tensor_names.hpp), as stored in the file.
  io::TensorInfo const &info(std::string const &name) const
  {
    return _weights.info(file_name(name));
  }

  // The tensor's values as float, row-major: the replacement if there is one, else the file's.
  std::vector<float> read(std::string const &name) const
  {
    io::TensorInfo const &tensor = info(name);
    std::vector<float> values(tensor.element_count);
    auto const replacement = _replaced.find(name);
    if (replacement != _replaced.end())
      io::decode_to_float(tensor.dtype, replacement->second.data(), values.size(), values.data());
    else
      _weights.reader(file_name(name)).read_as_float(file_name(name), values.data(), values.size());
    return values;
  }

  // The tensor's bytes in its dtype: the replacement if there is one, else the file's; valid
  // until the tensor is replaced again.
  io::ByteSpan bytes(std::string const &name) const
  {
    auto const replacement = _replaced.find(name);
    if (replacement != _replaced.end())
      return {replacement->second.data(), replacement->second.size()};
    return _weights.bytes(file_name(name));
  }

  // Replaces a tensor's values (row-major, its full size), stored in the tensor's dtype.
  // Refuses NaN, infinity and values the dtype cannot hold (F16 overflow): such a checkpoint
  // would load but compute garbage.
  void replace(std::string const &name, std::vector<float> const &values)
  {
    io::TensorInfo const &tensor = info(name);
    if (values.size() != tensor.element_count)
      throw InvalidArgument("replacing tensor '" + name + "': " + std::to_string(values.size()) +
                            " values given, the tensor has " +
                            std::to_string(tensor.element_count));
    replace_stored(name, io::encode_from_float(tensor.dtype, values.data(), values.size()),
                   io::check_float_encoding(tensor.dtype, values.data(), values.size()));
  }

  // Replaces a tensor by bytes already in its dtype (its full size), encoded from values of
  // which `check` counted the NaN, infinite and overflowing ones: refused as replace() refuses
  // them.
  void replace_stored(std::string const &name, std::vector<unsigned char> bytes,
                      io::FloatEncodingCheck const &check)
  {
    io::TensorInfo const &tensor = info(name);
    if (bytes.size() != tensor.byte_size())
      throw InvalidArgument("replacing tensor '" + name + "': " + std::to_string(bytes.size()) +
                            " bytes given, the tensor has " + std::to_string(tensor.byte_size()));
    if (check.non_finite > 0)
      throw NumericalError("tensor '" + name + "': refusing to store " +
                           std::to_string(check.non_finite) + " NaN or infinite values");
    if (check.overflow > 0)
      throw NumericalError("tensor '" + name + "': refusing to store " +
                           std::to_string(check.overflow) + " values that overflow " +
                           std::string(io::dtype_name(tensor.dtype)));
    _replaced[name] = std::move(bytes);
  }

  bool replaced(std::string const &name) const { return _replaced.count(name) != 0; }

  // Drops a tensor's replacement: it reads as the file's again.
  void restore(std::string const &name) { _replaced.erase(name); }

  // Writes config.json (a byte copy) and model.safetensors (every tensor of the input, sharded
  // or not, in its dtype, replacements applied, metadata {"format": "pt"}) into `directory`,
  // creating it if needed. Each file is replaced atomically; model.safetensors is assembled
  // in memory first.
  void write(std::filesystem::path const &directory) const
  {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error)
      io::detail::throw_file_error(directory,
                                   "cannot create the output directory: " + error.message());
    io::SafetensorsWriter writer;
    writer.set_metadata("format", "pt");
    for (std::string const &stored : _weights.names())
    {
      io::TensorInfo const &tensor = _weights.info(stored);
      auto const replacement = _replaced.find(canonical_name(stored));
      if (replacement != _replaced.end())
        writer.add_tensor(stored, tensor.dtype, tensor.shape, replacement->second);
      else
        writer.add_tensor(stored, tensor.dtype, tensor.shape, _weights.bytes(stored));
    }
    writer.write(directory / weights_file_name);
    io::write_file_atomically(directory / config_file_name, _config_text);
  }

private:
  std::filesystem::path open_config_path() const
  {
    if (!std::filesystem::is_directory(_directory))
      io::detail::throw_file_error(_directory, "not a checkpoint directory (expected " +
                                                   std::string(config_file_name) + " and " +
                                                   weights_file_name + " inside)");
    return _directory / config_file_name;
  }

  static std::string read_text(std::filesystem::path const &path)
  {
    io::detail::MappedFile const file(path);
    return {reinterpret_cast<char const *>(file.data()), file.size()};
  }

  io::SafetensorsShards open_weights() const
  {
    return io::SafetensorsShards(_directory / weights_file_name);
  }

  // Checkpoints saved from OPTModel lack the "model." prefix of OPTForCausalLM's names.
  bool lacks_model_prefix() const
  {
    std::string const bare = std::string(names::embed_tokens).substr(model_prefix.size());
    return !_weights.contains(names::embed_tokens) && _weights.contains(bare);
  }

  std::string file_name(std::string const &canonical) const
  {
    if (_without_model_prefix && canonical.rfind(model_prefix, 0) == 0)
      return canonical.substr(model_prefix.size());
    return canonical;
  }

  std::string canonical_name(std::string const &stored) const
  {
    if (_without_model_prefix && stored.rfind("decoder.", 0) == 0)
      return std::string(model_prefix) + stored;
    return stored;
  }

  void validate(ExpectedTensor const &expected) const
  {
    std::string const stored = file_name(expected.name);
    auto const fail = [&](std::string const &problem)
    {
      auto const &file =
          _weights.contains(stored) ? _weights.reader(stored).path() : weights_path();
      io::detail::throw_file_error(file, "tensor '" + stored + "' " + problem);
    };
    if (!_weights.contains(stored))
      fail("is missing (required by " + (_directory / config_file_name).string() + ")");
    io::TensorInfo const &tensor = _weights.info(stored);
    if (tensor.dtype != io::Dtype::F32 && tensor.dtype != io::Dtype::F16 &&
        tensor.dtype != io::Dtype::BF16)
      fail("has dtype " + std::string(io::dtype_name(tensor.dtype)) +
           "; OPT weights must be F32, F16 or BF16");
    if (tensor.shape != expected.shape)
      fail("has shape " + io::detail::format_shape(tensor.shape) + " but " +
           (_directory / config_file_name).string() + " implies " +
           io::detail::format_shape(expected.shape));
  }

  static constexpr std::string_view model_prefix = "model.";

  std::filesystem::path _directory;
  io::OptConfig _config;
  std::string _config_text;
  io::SafetensorsShards _weights;
  bool _without_model_prefix = false;
  std::map<std::string, std::vector<unsigned char>> _replaced; // canonical name -> bytes
};

} // namespace sgpte::opt

#endif
