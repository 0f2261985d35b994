#ifndef SGPTE_PACKED_LAYER_LAYOUT_HPP
#define SGPTE_PACKED_LAYER_LAYOUT_HPP

// What a packed layer file holds, without the data: shape, the bit widths in use and how
// many kept weights each has, the quantizer's parameter grid, the mask kind. Its tensors
// and metadata, hence the exact size of the file, follow from it, so fasterprune reports
// the bytes the writer will write without packing anything, and a reader checks a file's
// tensors against the layout its mask and bits imply.

#include <sgpte/core/error.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/layer/compression_options.hpp>
#include <sgpte/packed/format.hpp>
#include <sgpte/quantization/quantizer.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

namespace sgpte::packed
{

struct LayerLayout
{
  int rows = 0;
  int columns = 0;
  std::vector<int> widths;                // bit widths in use, ascending; empty: not quantized
  std::vector<std::int64_t> kept;         // kept weights per width; one entry when not quantized
  io::Dtype value_dtype = io::Dtype::F32; // the kept values' dtype when not quantized
  bool per_channel = true;
  int group_size = 0;
  bool act_order = false;
  MaskKind mask = MaskKind::none;
  int prune_n = 0;
  int prune_m = 0;
  // The narrower widths' scales and zeros follow from the widest width's (narrower_parameters),
  // which alone are stored.
  bool parameters_from_widest = false;

  bool quantized() const { return !widths.empty(); }
  int parameter_rows() const { return per_channel ? rows : 1; }
  int groups() const { return group_size > 0 ? (columns + group_size - 1) / group_size : 1; }
  std::int64_t kept_total() const
  {
    return std::accumulate(kept.begin(), kept.end(), std::int64_t(0));
  }

  // Groups and N:M groups follow the sweep order; without them the order changes nothing
  // in the stored values and is not stored.
  bool stores_sweep_order() const
  {
    return act_order && ((quantized() && group_size > 0) || mask == MaskKind::n_of_m);
  }

  // Bits of one stored element of stream s (a width's codes, or the kept values).
  int stream_bits(int s) const
  {
    return quantized() ? widths[s] : 8 * static_cast<int>(io::dtype_size(value_dtype));
  }
  int streams() const { return quantized() ? static_cast<int>(widths.size()) : 1; }
  // Whether the file holds stream s's scales and zeros (every width's, or the widest's).
  bool stores_parameters(int s) const
  {
    return !parameters_from_widest || s + 1 == static_cast<int>(widths.size());
  }

  std::map<std::string, std::string> metadata() const
  {
    std::map<std::string, std::string> data = {{keys::format, layer_format_name},
                                               {keys::version, std::to_string(format_version)},
                                               {keys::rows, std::to_string(rows)},
                                               {keys::columns, std::to_string(columns)},
                                               {keys::encoding, quantized() ? "codes" : "values"},
                                               {keys::act_order, act_order ? "1" : "0"},
                                               {keys::mask, to_string(mask)}};
    if (quantized())
    {
      std::string list;
      for (int width : widths)
        list += (list.empty() ? "" : ",") + std::to_string(width);
      data[keys::widths] = list;
      data[keys::parameters] = per_channel ? "per_row" : "per_tensor";
      data[keys::group_size] = std::to_string(group_size);
      if (parameters_from_widest)
        data[keys::parameters_from] = parameters_from_widest_value;
    }
    if (mask == MaskKind::n_of_m)
    {
      data[keys::prune_n] = std::to_string(prune_n);
      data[keys::prune_m] = std::to_string(prune_m);
    }
    return data;
  }

  std::vector<io::TensorLayout> tensors() const
  {
    auto const size = [](auto count) { return static_cast<std::size_t>(count); };
    std::vector<io::TensorLayout> list;
    if (quantized())
    {
      list.push_back({names::bits, io::Dtype::U8, {size(columns)}});
      for (std::size_t s = 0; s < widths.size(); ++s)
      {
        int const width = widths[s];
        std::vector<std::size_t> const grid = {size(parameter_rows()), size(groups())};
        list.push_back({names::codes(width), io::Dtype::U8, {size(packed_bytes(kept[s], width))}});
        if (stores_parameters(static_cast<int>(s)))
        {
          list.push_back({names::scale(width), io::Dtype::F32, grid});
          list.push_back({names::zero(width), zero_dtype(width), grid});
        }
      }
    }
    else
      list.push_back({names::values, value_dtype, {size(kept_total())}});
    if (stores_sweep_order())
      list.push_back({names::sweep_order, io::Dtype::I32, {size(columns)}});
    if (mask == MaskKind::bitmap)
      list.push_back({names::mask, io::Dtype::U8, {size(rows), size((columns + 7) / 8)}});
    else if (mask == MaskKind::n_of_m)
      list.push_back({names::nm_index,
                      io::Dtype::U8,
                      {size(packed_bytes(kept_total(), position_bits(prune_m)))}});
    return list;
  }

  // The exact size of the packed layer file: length field, header and data.
  std::int64_t file_bytes() const
  {
    return static_cast<std::int64_t>(io::SafetensorsWriter::file_size(metadata(), tensors()));
  }
};

// Kept values are stored in the checkpoint's dtype; F64 weights hold float values (the
// library computes in float), so F32 stores them without loss.
inline io::Dtype value_dtype_for(io::Dtype checkpoint_dtype)
{
  if (!io::is_floating_point(checkpoint_dtype))
    throw InvalidArgument("packed layers store floating-point weights, not " +
                          std::string(io::dtype_name(checkpoint_dtype)));
  return checkpoint_dtype == io::Dtype::F64 ? io::Dtype::F32 : checkpoint_dtype;
}

// The layout of a layer compressed with `options`: bits per column (0: not quantized), kept
// weights per column, and the dtype of the checkpoint the layer comes from.
inline LayerLayout make_layer_layout(int rows, std::vector<std::uint8_t> const &bits,
                                     std::vector<std::int64_t> const &kept_per_column,
                                     CompressionOptions const &options, io::Dtype checkpoint_dtype)
{
  LayerLayout layout;
  layout.rows = rows;
  layout.columns = static_cast<int>(bits.size());
  if (kept_per_column.size() != bits.size())
    throw InvalidArgument("packed layout: " + std::to_string(kept_per_column.size()) +
                          " kept counts for " + std::to_string(bits.size()) + " columns");
  if (options.quantizes())
  {
    for (std::uint8_t width : bits)
      if (width < 1 || width > max_code_bits)
        throw InvalidArgument("packed layout: a quantized layer needs bit widths in 1…" +
                              std::to_string(max_code_bits) + " for every column, got " +
                              std::to_string(width));
    layout.widths.assign(bits.begin(), bits.end());
    std::sort(layout.widths.begin(), layout.widths.end());
    layout.widths.erase(std::unique(layout.widths.begin(), layout.widths.end()),
                        layout.widths.end());
    layout.kept.assign(layout.widths.size(), 0);
    for (std::size_t j = 0; j < bits.size(); ++j)
      layout.kept[std::lower_bound(layout.widths.begin(), layout.widths.end(), bits[j]) -
                  layout.widths.begin()] += kept_per_column[j];
    layout.per_channel = options.quantizer.per_channel;
    layout.group_size = options.quantizer.group_size;
    layout.parameters_from_widest =
        parameters_follow_widest(options.quantizer, layout.widths.size());
  }
  else
  {
    layout.kept = {
        std::accumulate(kept_per_column.begin(), kept_per_column.end(), std::int64_t(0))};
    layout.value_dtype = value_dtype_for(checkpoint_dtype);
  }
  layout.act_order = options.quantizer.act_order;
  if (options.prune_n > 0)
  {
    layout.mask = MaskKind::n_of_m;
    layout.prune_n = options.prune_n;
    layout.prune_m = options.prune_m;
  }
  else if (options.sparsity > 0.0)
    layout.mask = MaskKind::bitmap;
  return layout;
}

} // namespace sgpte::packed

#endif
