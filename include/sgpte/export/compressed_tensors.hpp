#ifndef SGPTE_EXPORT_COMPRESSED_TENSORS_HPP
#define SGPTE_EXPORT_COMPRESSED_TENSORS_HPP

// A layer in llm-compressor's compressed-tensors layout (the compressed_tensors package's
// compressors, which vLLM and transformers' compressed-tensors integration read), for a
// linear module `prefix` with weight W (out × in):
//
// quantized ("pack-quantized"; pruned weights are codes equal to their zero point, so 0):
//   prefix.weight_packed      I32 [out, ⌈in / (32/bits)⌉]  codes, whole fields per word
//                                                          (detail/int32_packing.hpp)
//   prefix.weight_scale       checkpoint dtype [out, groups]
//   prefix.weight_zero_point  I32 [⌈out / (32/bits)⌉, groups]  asymmetric only, packed
//                                                          along the output dimension
//   prefix.weight_g_idx       I32 [in]                     act-order with groups only
//   prefix.weight_shape       I64 [2]                      out, in
// The format's codes are signed, q ∈ [−2^(b−1), 2^(b−1) − 1], stored plus 2^(b−1): the
// stored field is sgpte's unsigned code, and W = scale · (q − zero_point) = scale · (code − z)
// with z sgpte's zero point (symmetric: z = 2^(b−1), zero_point 0, not stored).
//
// pruned only:
//   "sparse-24-bitmask": prefix.shape I64 [2, 1], prefix.compressed [out, in/2] (the kept
//     values, row-major), prefix.bitmask U8 [out, ⌈in/8⌉] (bit c % 8 of byte c / 8: kept)
//   "sparse-bitmask": prefix.shape I64 [2], prefix.compressed [kept] (row-major),
//     prefix.bitmask as above, prefix.row_offsets I64 [out] (first value of each row)
//   "dense": prefix.weight, the weights themselves

#include <sgpte/core/error.hpp>
#include <sgpte/export/detail/int32_packing.hpp>
#include <sgpte/export/export_layer.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/float_codec.hpp>
#include <sgpte/io/safetensors_writer.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sgpte::exports
{

enum class SparsityFormat
{
  dense,             // nothing pruned, or pruned weights stored as zeros (quantized layers)
  sparse_24_bitmask, // 2 of every 4 consecutive input columns kept
  sparse_bitmask     // any other pattern
};

inline char const *sparsity_format_name(SparsityFormat format)
{
  switch (format)
  {
  case SparsityFormat::sparse_24_bitmask:
    return "sparse-24-bitmask";
  case SparsityFormat::sparse_bitmask:
    return "sparse-bitmask";
  default:
    return "dense";
  }
}

// What the model's quantization_config declares once for every layer.
struct CompressedTensorsSettings
{
  int bits = 0; // 0: not quantized
  int group_size = 0;
  bool act_order = false;
  bool symmetric = false;
  SparsityFormat sparsity = SparsityFormat::dense;
  std::string sparsity_structure = "unstructured"; // or "2:4"
  double global_sparsity = 0.0;                    // fraction of the exported weights pruned
  io::Dtype dtype = io::Dtype::F16;                // of scales and kept values
};

namespace detail
{

inline std::size_t size(std::int64_t n) { return static_cast<std::size_t>(n); }

// bit c % 8 of byte (row, c / 8) set where the weight was kept (numpy.packbits, "little").
inline std::vector<std::uint8_t> kept_bitmask(ExportLayer const &layer)
{
  std::size_t const row_bytes = size((layer.columns + 7) / 8);
  std::vector<std::uint8_t> bitmask(size(layer.rows) * row_bytes, 0);
  for (int row = 0; row < layer.rows; ++row)
    for (int column = 0; column < layer.columns; ++column)
      if (layer.kept[layer.at(row, column)])
        bitmask[size(row) * row_bytes + size(column / 8)] |=
            static_cast<std::uint8_t>(1u << (column % 8));
  return bitmask;
}

inline bool keeps_2_of_4_columns(ExportLayer const &layer)
{
  if (layer.columns % 4 != 0)
    return false;
  for (int row = 0; row < layer.rows; ++row)
    for (int first = 0; first < layer.columns; first += 4)
    {
      int count = 0;
      for (int column = first; column < first + 4; ++column)
        count += layer.kept[layer.at(row, column)];
      if (count != 2)
        return false;
    }
  return true;
}

inline void add_quantized(io::SafetensorsWriter &writer, std::string const &prefix,
                          ExportLayer const &layer, CompressedTensorsSettings const &settings,
                          std::string const &where)
{
  int const bits = layer.bits, rows = layer.rows, columns = layer.columns, groups = layer.groups();
  int const per_word = 32 / bits;
  std::int64_t const input_words = packed_words(columns, bits, FieldPacking::whole_fields);
  std::vector<std::int32_t> weight(size(rows * input_words));
  for (int o = 0; o < rows; ++o)
  {
    auto const words =
        pack_fields(columns, bits, FieldPacking::whole_fields,
                    [&](std::int64_t c) { return layer.codes[layer.at(o, static_cast<int>(c))]; });
    for (std::int64_t k = 0; k < input_words; ++k)
      weight[size(o * input_words + k)] = static_cast<std::int32_t>(words[size(k)]);
  }
  writer.add_values(prefix + ".weight_packed", {size(rows), size(input_words)}, weight.data(),
                    weight.size());

  std::vector<float> scale(layer.scale);
  for (std::size_t i = 0; i < scale.size(); ++i)
  {
    float const stored = io::detail::round_trip(settings.dtype, scale[i]);
    if (!(stored > 0.0f && io::detail::is_finite(stored)))
      throw InvalidArgument(where + "scale " + std::to_string(scale[i]) + " of row " +
                            std::to_string(i / size(groups)) + " is not a positive finite " +
                            std::string(io::dtype_name(settings.dtype)));
  }
  writer.add_float_tensor(prefix + ".weight_scale", settings.dtype, {size(rows), size(groups)},
                          scale.data(), scale.size());

  std::uint8_t const symmetric_zero = static_cast<std::uint8_t>(1u << (bits - 1));
  if (settings.symmetric)
  {
    for (std::uint8_t zero : layer.zero)
      if (zero != symmetric_zero)
        throw InvalidArgument(where + "a zero point is " + std::to_string(zero) +
                              ", not the symmetric " + std::to_string(symmetric_zero));
  }
  else
  {
    std::int64_t const output_words = (rows + per_word - 1) / per_word;
    std::vector<std::int32_t> zero_point(size(output_words * groups));
    for (int g = 0; g < groups; ++g)
    {
      auto const words =
          pack_fields(rows, bits, FieldPacking::whole_fields,
                      [&](std::int64_t o) { return layer.zero[size(o * groups + g)]; });
      for (std::int64_t k = 0; k < output_words; ++k)
        zero_point[size(k * groups + g)] = static_cast<std::int32_t>(words[size(k)]);
    }
    writer.add_values(prefix + ".weight_zero_point", {size(output_words), size(groups)},
                      zero_point.data(), zero_point.size());
  }
  if (settings.act_order && settings.group_size > 0)
  {
    std::vector<std::int32_t> const g_idx(layer.group_of.begin(), layer.group_of.end());
    writer.add_values(prefix + ".weight_g_idx", {size(columns)}, g_idx.data(), g_idx.size());
  }
  std::int64_t const shape[] = {rows, columns};
  writer.add_values(prefix + ".weight_shape", {2}, shape, 2);
}

inline void add_pruned(io::SafetensorsWriter &writer, std::string const &prefix,
                       ExportLayer const &layer, CompressedTensorsSettings const &settings,
                       std::string const &where)
{
  std::vector<std::size_t> const dense_shape = {size(layer.rows), size(layer.columns)};
  if (settings.sparsity == SparsityFormat::dense)
  {
    writer.add_float_tensor(prefix + ".weight", settings.dtype, dense_shape, layer.values.data(),
                            layer.values.size());
    return;
  }
  if (settings.sparsity == SparsityFormat::sparse_24_bitmask && !keeps_2_of_4_columns(layer))
    throw InvalidArgument(where + "the layer does not keep 2 of every 4 consecutive input "
                                  "columns (N:M groups follow the sweep order with act-order)");
  std::vector<float> kept_values;
  std::vector<std::int64_t> row_offsets;
  for (int row = 0; row < layer.rows; ++row)
  {
    row_offsets.push_back(static_cast<std::int64_t>(kept_values.size()));
    for (int column = 0; column < layer.columns; ++column)
      if (layer.kept[layer.at(row, column)])
        kept_values.push_back(layer.values[layer.at(row, column)]);
  }
  std::int64_t const shape[] = {layer.rows, layer.columns};
  auto const bitmask = kept_bitmask(layer);
  writer.add_values(prefix + ".bitmask", {size(layer.rows), size((layer.columns + 7) / 8)},
                    bitmask.data(), bitmask.size());
  if (settings.sparsity == SparsityFormat::sparse_24_bitmask)
  {
    writer.add_values(prefix + ".shape", {2, 1}, shape, 2);
    writer.add_float_tensor(prefix + ".compressed", settings.dtype,
                            {size(layer.rows), size(layer.columns / 2)}, kept_values.data(),
                            kept_values.size());
    return;
  }
  writer.add_values(prefix + ".shape", {2}, shape, 2);
  writer.add_float_tensor(prefix + ".compressed", settings.dtype, {kept_values.size()},
                          kept_values.data(), kept_values.size());
  writer.add_values(prefix + ".row_offsets", {size(layer.rows)}, row_offsets.data(),
                    row_offsets.size());
}

} // namespace detail

// config.json's "quantization_config".
inline nlohmann::ordered_json
compressed_tensors_quantization_config(CompressedTensorsSettings const &settings)
{
  nlohmann::ordered_json config = {{"quant_method", "compressed-tensors"}};
  if (settings.bits > 0)
  {
    bool const grouped = settings.group_size > 0;
    nlohmann::ordered_json weights = {
        {"num_bits", settings.bits},
        {"type", "int"},
        {"symmetric", settings.symmetric},
        {"strategy", grouped ? "group" : "channel"},
        {"group_size", grouped ? nlohmann::ordered_json(settings.group_size) : nullptr},
        {"actorder", settings.act_order && grouped ? nlohmann::ordered_json("group") : nullptr},
        {"block_structure", nullptr},
        {"dynamic", false},
        {"observer", "minmax"},
        {"observer_kwargs", nlohmann::ordered_json::object()}};
    config["config_groups"] = {{"group_0",
                                {{"targets", {"Linear"}},
                                 {"weights", weights},
                                 {"input_activations", nullptr},
                                 {"output_activations", nullptr}}}};
    config["format"] = "pack-quantized";
    config["quantization_status"] = "compressed";
    config["kv_cache_scheme"] = nullptr;
  }
  else
    config["format"] = sparsity_format_name(settings.sparsity);
  config["ignore"] = {"lm_head"};
  if (settings.global_sparsity > 0.0)
    config["sparsity_config"] = {{"format", sparsity_format_name(settings.sparsity)},
                                 {"global_sparsity", settings.global_sparsity},
                                 {"sparsity_structure", settings.sparsity_structure},
                                 {"targets", {"Linear"}},
                                 {"ignore", {"lm_head"}},
                                 {"registry_requires_subclass", false}};
  return config;
}

// Adds the tensors of `layer` under `prefix` (the module's name, without ".weight").
inline void add_compressed_tensors_layer(io::SafetensorsWriter &writer, std::string const &prefix,
                                         ExportLayer const &layer,
                                         CompressedTensorsSettings const &settings)
{
  std::string const where = "compressed-tensors export of '" + prefix + "': ";
  if (layer.quantized())
    detail::add_quantized(writer, prefix, layer, settings, where);
  else
    detail::add_pruned(writer, prefix, layer, settings, where);
}

} // namespace sgpte::exports

#endif
