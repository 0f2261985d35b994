#ifndef SGPTE_EXPORT_GPTQ_HPP
#define SGPTE_EXPORT_GPTQ_HPP

// A layer in the GPTQ checkpoint layout (AutoGPTQ's QuantLinear, which transformers' GPTQ
// integration and vLLM's gptq loaders read), for a linear module `prefix` with weight
// W (out × in):
//
//   prefix.qweight  I32 [in·bits/32, out]   codes of column o of Wᵀ packed along the input
//                                           dimension as one bit stream (detail/int32_packing)
//   prefix.qzeros   I32 [groups, out·bits/32] zero points minus one, packed along the output
//                                           dimension the same way ("v1" checkpoint format)
//   prefix.scales   F16 [groups, out]
//   prefix.g_idx    I32 [in]                group of each input column
//
// with W[o, c] = scales[g, o] · (code − (qzeros[g, o] + 1)), g = g_idx[c]. docs/format.md
// says why the v1 convention, and what it cannot hold (a zero point of 0).

#include <sgpte/core/error.hpp>
#include <sgpte/export/detail/int32_packing.hpp>
#include <sgpte/export/export_layer.hpp>
#include <sgpte/io/float_codec.hpp>
#include <sgpte/io/safetensors_writer.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sgpte::exports
{

// The quantizer settings a GPTQ checkpoint declares once for the model.
struct GptqSettings
{
  int bits = 0;
  int group_size = 0; // 0: none (GPTQ's −1)
  bool act_order = false;
  bool symmetric = false;
  double damp_percent = 0.01;
};

// config.json's "quantization_config" (quantize_config.json holds the same keys).
inline nlohmann::ordered_json gptq_quantization_config(GptqSettings const &settings)
{
  return {{"bits", settings.bits},
          {"group_size", settings.group_size > 0 ? settings.group_size : -1},
          {"damp_percent", settings.damp_percent},
          {"desc_act", settings.act_order},
          {"static_groups", false},
          {"sym", settings.symmetric},
          {"true_sequential", true},
          {"checkpoint_format", "gptq"},
          {"quant_method", "gptq"}};
}

// Adds the four tensors of `layer` under `prefix` (the module's name, without ".weight").
inline void add_gptq_layer(io::SafetensorsWriter &writer, std::string const &prefix,
                           ExportLayer const &layer)
{
  std::string const where = "GPTQ export of '" + prefix + "': ";
  int const bits = layer.bits;
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    throw InvalidArgument(where +
                          (bits == 0 ? std::string("the layer is not quantized")
                                     : std::to_string(bits) + "-bit codes") +
                          "; GPTQ stores 2, 3, 4 or 8 bits (compressed-tensors also 1 to 8 "
                          "bits and sparse unquantized layers)");
  if ((static_cast<std::int64_t>(layer.columns) * bits) % 32 != 0 ||
      (static_cast<std::int64_t>(layer.rows) * bits) % 32 != 0)
    throw InvalidArgument(where + "a " + std::to_string(layer.rows) + " x " +
                          std::to_string(layer.columns) + " weight at " + std::to_string(bits) +
                          " bits does not fill whole int32 words along both dimensions");
  int const rows = layer.rows, columns = layer.columns, groups = layer.groups();
  using detail::FieldPacking;
  using detail::pack_fields;

  std::int64_t const input_words = static_cast<std::int64_t>(columns) * bits / 32;
  std::vector<std::int32_t> qweight(static_cast<std::size_t>(input_words) * rows);
  for (int o = 0; o < rows; ++o)
  {
    auto const words =
        pack_fields(columns, bits, FieldPacking::stream,
                    [&](std::int64_t c) { return layer.codes[layer.at(o, static_cast<int>(c))]; });
    for (std::int64_t k = 0; k < input_words; ++k)
      qweight[static_cast<std::size_t>(k * rows + o)] = static_cast<std::int32_t>(words[k]);
  }

  std::int64_t const output_words = static_cast<std::int64_t>(rows) * bits / 32;
  std::vector<std::int32_t> qzeros(static_cast<std::size_t>(groups * output_words));
  std::vector<float> scales(static_cast<std::size_t>(groups) * rows);
  for (int g = 0; g < groups; ++g)
  {
    auto const words = pack_fields(
        rows, bits, FieldPacking::stream,
        [&](std::int64_t o)
        {
          std::uint8_t const zero = layer.zero[static_cast<std::size_t>(o * groups + g)];
          if (zero == 0)
            throw InvalidArgument(where + "row " + std::to_string(o) +
                                  " has zero point 0, which GPTQ's stored "
                                  "zero − 1 cannot hold; quantize symmetrically (--sym) or export "
                                  "compressed-tensors, which stores zero points as they are");
          return static_cast<std::uint32_t>(zero - 1);
        });
    for (std::int64_t k = 0; k < output_words; ++k)
      qzeros[static_cast<std::size_t>(g * output_words + k)] = static_cast<std::int32_t>(words[k]);
    for (int o = 0; o < rows; ++o)
    {
      float const scale = layer.scale[static_cast<std::size_t>(o) * groups + g];
      float const half = io::detail::round_trip(io::Dtype::F16, scale);
      if (!(half > 0.0f && half <= 65504.0f))
        throw InvalidArgument(where + "row " + std::to_string(o) + " has scale " +
                              std::to_string(scale) + ", which float16 cannot hold");
      scales[static_cast<std::size_t>(g) * rows + o] = scale;
    }
  }

  auto const size = [](std::int64_t n) { return static_cast<std::size_t>(n); };
  writer.add_values(prefix + ".qweight", {size(input_words), size(rows)}, qweight.data(),
                    qweight.size());
  writer.add_values(prefix + ".qzeros", {size(groups), size(output_words)}, qzeros.data(),
                    qzeros.size());
  writer.add_float_tensor(prefix + ".scales", io::Dtype::F16, {size(groups), size(rows)},
                          scales.data(), scales.size());
  std::vector<std::int32_t> const g_idx(layer.group_of.begin(), layer.group_of.end());
  writer.add_values(prefix + ".g_idx", {size(columns)}, g_idx.data(), g_idx.size());
}

} // namespace sgpte::exports

#endif
