#ifndef SGPTE_EXPORT_MODEL_EXPORTER_HPP
#define SGPTE_EXPORT_MODEL_EXPORTER_HPP

// A compressed model written as a checkpoint that inference engines load (docs/format.md,
// "Exports"): DIR/model.safetensors with every compressed linear layer in the chosen layout
// (gptq.hpp, compressed_tensors.hpp) and every other tensor unchanged, DIR/config.json (the
// model's, with "quantization_config") and, for GPTQ, DIR/quantize_config.json.
//
//   sgpte::exports::require_exportable(format, options);          // before any work
//   sgpte::exports::ModelExporter exporter(format, directory, options);
//   ... per layer, right after fasterprune:
//   exporter.add_layer(space, "model.decoder.layers.0.fc1.weight", weight, result, options, dtype);
//   ... at the end:
//   exporter.add_remaining_tensors(sgpte::io::SafetensorsReader(checkpoint_file));
//   exporter.finish(model_directory / "config.json");
//
// The tensors are held in memory until finish (about the size of the export).

#include <sgpte/core/error.hpp>
#include <sgpte/export/compressed_tensors.hpp>
#include <sgpte/export/export_layer.hpp>
#include <sgpte/export/gptq.hpp>
#include <sgpte/io/atomic_file.hpp>
#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/layer/compression_options.hpp>
#include <sgpte/layer/layer_compressor.hpp>
#include <sgpte/packed/pack.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>

namespace sgpte::exports
{

enum class ExportFormat
{
  gptq,
  compressed_tensors
};

inline std::map<std::string, ExportFormat> const &export_format_names()
{
  static std::map<std::string, ExportFormat> const names = {
      {"gptq", ExportFormat::gptq}, {"compressed-tensors", ExportFormat::compressed_tensors}};
  return names;
}

// Options whose results no export can hold, refused before any work with what can be
// exported instead.
inline void require_exportable(ExportFormat format, CompressionOptions const &options)
{
  if (options.mixed_precision() && options.bit_options.size() > 1)
    throw InvalidArgument(
        "export: mixed precision gives the columns of a layer different bit widths; GPTQ and "
        "compressed-tensors store one width per layer: export a run with uniform bits "
        "(--wbits B), or keep mixed widths in sgpte's packed format (--save-packed)");
  int const bits = options.mixed_precision() ? options.bit_options.front() : options.wbits;
  if (format == ExportFormat::gptq && bits != 2 && bits != 3 && bits != 4 && bits != 8)
    throw InvalidArgument("export gptq: GPTQ stores 2, 3, 4 or 8-bit codes, the run " +
                          (bits == 0 ? std::string("does not quantize")
                                     : "quantizes to " + std::to_string(bits) + " bits") +
                          "; compressed-tensors also holds 1 to 8 bits and unquantized "
                          "sparse layers");
  if (format == ExportFormat::compressed_tensors && bits > 8)
    throw InvalidArgument("export compressed-tensors: it stores at most 8-bit codes, the run "
                          "quantizes to " +
                          std::to_string(bits) + " bits");
}

class ModelExporter
{
public:
  ModelExporter(ExportFormat format, std::filesystem::path directory,
                CompressionOptions const &options)
      : _format(format), _directory(std::move(directory)), _options(options)
  {
    require_exportable(format, options);
    std::error_code error;
    std::filesystem::create_directories(_directory, error);
    if (error)
      io::detail::throw_file_error(_directory,
                                   "cannot create the export directory: " + error.message());
  }

  // Exports a layer right after fasterprune (weight: the weights it left); tensor_name is
  // the weight's name in the checkpoint, dtype its dtype there.
  template <class ExecutionSpace>
  void add_layer(ExecutionSpace const &space, std::string const &tensor_name,
                 Matrix<ExecutionSpace> const &weight, LayerResult<ExecutionSpace> const &result,
                 CompressionOptions const &options, io::Dtype dtype)
  {
    std::string const suffix = ".weight";
    if (tensor_name.size() <= suffix.size() ||
        tensor_name.compare(tensor_name.size() - suffix.size(), suffix.size(), suffix) != 0)
      throw InvalidArgument("export: '" + tensor_name + "' is not a module's weight (*.weight)");
    if (!_exported.insert(tensor_name).second)
      throw InvalidArgument("export: layer '" + tensor_name + "' added twice");
    ExportLayer const layer =
        export_layer(space, packed::pack_layer(space, weight, result, options, dtype), tensor_name);
    if (_bits && (*_bits != layer.bits || _dtype != dtype))
      throw InvalidArgument(
          "export: layer '" + tensor_name + "' has " + std::to_string(layer.bits) +
          "-bit codes and dtype " + std::string(io::dtype_name(dtype)) + ", the layers before it " +
          std::to_string(*_bits) + " bits and " + std::string(io::dtype_name(_dtype)) +
          ": the exported formats declare one quantization for the model");
    _bits = layer.bits;
    _dtype = dtype;
    for (std::uint8_t kept : layer.kept)
      _pruned += kept ? 0 : 1;
    _weights += static_cast<std::int64_t>(layer.kept.size());
    std::string const prefix = tensor_name.substr(0, tensor_name.size() - suffix.size());
    if (_format == ExportFormat::gptq)
      add_gptq_layer(_tensors, prefix, layer);
    else
      add_compressed_tensors_layer(_tensors, prefix, layer, compressed_tensors_settings());
  }

  // Every tensor of the checkpoint that is not an exported layer, unchanged.
  void add_remaining_tensors(io::SafetensorsReader const &checkpoint)
  {
    for (std::string const &name : checkpoint.names())
      if (!_exported.count(name))
      {
        io::TensorInfo const &info = checkpoint.info(name);
        _tensors.add_tensor(name, info.dtype, info.shape, checkpoint.bytes(name));
      }
  }

  // Writes the tensors, config.json (source_config, the model's, with the quantization
  // config added) and, for GPTQ, quantize_config.json.
  void finish(std::filesystem::path const &source_config)
  {
    if (!_bits)
      throw InvalidArgument("export: no layer was exported");
    std::ifstream in(source_config);
    std::string const text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(text, nullptr, false);
    if (!in || config.is_discarded() || !config.is_object())
      io::detail::throw_file_error(source_config, "cannot be read as a JSON object");
    nlohmann::ordered_json quantization;
    if (_format == ExportFormat::gptq)
    {
      quantization = gptq_quantization_config({*_bits, _options.quantizer.group_size,
                                               _options.quantizer.act_order,
                                               _options.quantizer.symmetric, _options.percdamp});
      io::write_file_atomically(_directory / "quantize_config.json", quantization.dump(2) + "\n");
    }
    else
      quantization = compressed_tensors_quantization_config(compressed_tensors_settings());
    config["quantization_config"] = quantization;
    _tensors.set_metadata("format", "pt");
    _tensors.write(_directory / "model.safetensors");
    io::write_file_atomically(_directory / "config.json", config.dump(2) + "\n");
  }

private:
  CompressedTensorsSettings compressed_tensors_settings() const
  {
    CompressedTensorsSettings settings;
    settings.bits = _bits.value_or(0);
    settings.group_size = _options.quantizer.group_size;
    settings.act_order = _options.quantizer.act_order;
    settings.symmetric = _options.quantizer.symmetric;
    bool const two_of_four = _options.prune_n == 2 && _options.prune_m == 4;
    bool const pruned = _options.sparsity > 0.0 || _options.prune_m > 0;
    settings.sparsity = settings.bits > 0 || !pruned ? SparsityFormat::dense
                        : two_of_four                ? SparsityFormat::sparse_24_bitmask
                                                     : SparsityFormat::sparse_bitmask;
    settings.sparsity_structure = two_of_four ? "2:4" : "unstructured";
    settings.global_sparsity =
        _weights > 0 ? static_cast<double>(_pruned) / static_cast<double>(_weights) : 0.0;
    settings.dtype = _dtype;
    return settings;
  }

  ExportFormat _format;
  std::filesystem::path _directory;
  CompressionOptions _options;
  io::SafetensorsWriter _tensors;
  std::set<std::string> _exported;
  std::optional<int> _bits; // of the layers exported so far (0: not quantized)
  io::Dtype _dtype = io::Dtype::F32;
  std::int64_t _pruned = 0, _weights = 0;
};

} // namespace sgpte::exports

#endif
