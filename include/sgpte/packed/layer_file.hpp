#ifndef SGPTE_PACKED_LAYER_FILE_HPP
#define SGPTE_PACKED_LAYER_FILE_HPP

// Packed layer files (docs/format.md): write_layer stores a packed layer as a safetensors
// file (atomically) and returns its size, which is always LayerLayout::file_bytes();
// read_layer validates a file completely (format and version, metadata, every tensor's dtype
// and shape against what the mask and bits imply, bit widths, sweep order, mask structure,
// quantizer parameters, values) and loads it onto the device. Every problem with a file is a
// FileError naming it.

#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/io/byte_span.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/io/safetensors_writer.hpp>
#include <sgpte/packed/detail/bit_stream.hpp>
#include <sgpte/packed/detail/device_array.hpp>
#include <sgpte/packed/detail/layer_index.hpp>
#include <sgpte/packed/detail/layout_metadata.hpp>
#include <sgpte/packed/detail/mask_stream.hpp>
#include <sgpte/packed/detail/value_encoding.hpp>
#include <sgpte/packed/format.hpp>
#include <sgpte/packed/layer_layout.hpp>
#include <sgpte/packed/packed_layer.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sgpte::packed
{

namespace detail
{

template <class Value>
std::vector<unsigned char> bytes_of(std::vector<Value> const &values)
{
  auto const *data = reinterpret_cast<unsigned char const *>(values.data());
  return {data, data + values.size() * sizeof(Value)};
}

// The first `count` bytes of a stream of words.
inline std::vector<unsigned char> stream_bytes(std::vector<std::uint32_t> const &words,
                                               std::int64_t first_word, std::uint64_t count)
{
  auto const *data = reinterpret_cast<unsigned char const *>(words.data() + first_word);
  return {data, data + count};
}

// A stored byte stream as words on the device (little-endian: the same bits), guard word
// included.
template <class ExecutionSpace>
Words<ExecutionSpace> stream_from_bytes(ExecutionSpace const &space, io::ByteSpan bytes)
{
  std::vector<std::uint32_t> words(stream_words(8 * static_cast<std::int64_t>(bytes.size)), 0);
  if (bytes.size > 0)
    std::memcpy(words.data(), bytes.data, bytes.size);
  return to_device(space, "sgpte::packed::stream", words);
}

// The zero points of one width, stored as the unsigned integers they are.
template <class Unsigned>
std::vector<unsigned char> zero_bytes(float const *zero, std::size_t count)
{
  std::vector<Unsigned> values(count);
  for (std::size_t i = 0; i < count; ++i)
    values[i] = static_cast<Unsigned>(zero[i]);
  return bytes_of(values);
}

// The size of a tensor of the layout.
inline std::uint64_t tensor_bytes(LayerLayout const &layout, std::string const &name)
{
  for (io::TensorLayout const &tensor : layout.tensors())
    if (tensor.name == name)
      return io::dtype_size(tensor.dtype) * *io::detail::checked_element_count(tensor.shape);
  return 0;
}

template <class Unsigned>
void read_zeros(io::SafetensorsReader const &reader, std::string const &name, int maxq, float *out,
                LayoutReader const &checks)
{
  std::vector<Unsigned> const values = reader.read_values<Unsigned>(name);
  for (std::size_t i = 0; i < values.size(); ++i)
  {
    if (static_cast<int>(values[i]) > maxq)
      checks.fail("tensor '" + name + "' holds zero point " + std::to_string(values[i]) +
                  ", more than " + std::to_string(maxq));
    out[i] = static_cast<float>(values[i]);
  }
}

// Kept values (of a layer that is not quantized) that are NaN or infinite.
template <class ExecutionSpace>
std::int64_t count_non_finite_values(ExecutionSpace const &space,
                                     PackedLayerView<ExecutionSpace> const &view,
                                     std::int64_t count, int bits)
{
  std::int64_t bad = 0;
  Kokkos::parallel_reduce(
      "sgpte::packed::count_non_finite_values",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(space, 0, count),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & partial) {
        float const value = decode_value(view.encoding, read_field(view.codes, 0, i * bits, bits));
        partial += compat::isfinite(value) ? 0 : 1;
      },
      bad);
  return bad;
}

} // namespace detail

// Writes the layer to `path` (replacing it atomically) and returns the file's size in bytes.
template <class ExecutionSpace>
std::int64_t write_layer(std::filesystem::path const &path,
                         PackedLayer<ExecutionSpace> const &layer)
{
  LayerLayout const &layout = layer.layout;
  std::vector<std::uint32_t> const codes = detail::to_host(layer.device.codes);
  std::vector<std::int64_t> const word_begin = detail::to_host(layer.device.word_begin);
  std::map<std::string, std::vector<unsigned char>> data;
  for (int s = 0; s < layout.streams(); ++s)
    data[layout.quantized() ? names::codes(layout.widths[s]) : names::values] =
        detail::stream_bytes(codes, word_begin[s],
                             packed_bytes(layout.kept[s], layout.stream_bits(s)));
  if (layout.quantized())
  {
    data[names::bits] = detail::bytes_of(layer.bits);
    auto const scale = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), layer.device.scale);
    auto const zero = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), layer.device.zero);
    std::size_t const grid = static_cast<std::size_t>(layout.parameter_rows()) * layout.groups();
    for (int s = 0; s < layout.streams(); ++s)
    {
      if (!layout.stores_parameters(s))
        continue;
      int const width = layout.widths[s];
      auto const *scale_data = reinterpret_cast<unsigned char const *>(&scale(s, 0, 0));
      data[names::scale(width)].assign(scale_data, scale_data + grid * sizeof(float));
      data[names::zero(width)] = zero_dtype(width) == io::Dtype::U8
                                     ? detail::zero_bytes<std::uint8_t>(&zero(s, 0, 0), grid)
                                     : detail::zero_bytes<std::uint16_t>(&zero(s, 0, 0), grid);
    }
  }
  if (layout.stores_sweep_order())
    data[names::sweep_order] = detail::bytes_of(
        std::vector<std::int32_t>(layer.sweep_order.begin(), layer.sweep_order.end()));
  if (layout.mask != MaskKind::none)
  {
    std::string const name = layout.mask == MaskKind::bitmap ? names::mask : names::nm_index;
    data[name] = detail::stream_bytes(detail::to_host(layer.mask_stream), 0,
                                      detail::tensor_bytes(layout, name));
  }

  io::SafetensorsWriter writer;
  for (auto const &[key, value] : layout.metadata())
    writer.set_metadata(key, value);
  for (io::TensorLayout const &tensor : layout.tensors())
    writer.add_tensor(tensor.name, tensor.dtype, tensor.shape, std::move(data.at(tensor.name)));
  writer.write(path);
  auto const size = static_cast<std::int64_t>(std::filesystem::file_size(path));
  if (size != layout.file_bytes())
    throw Error(path.string() + ": wrote " + std::to_string(size) + " bytes, the layout says " +
                std::to_string(layout.file_bytes()) + " (size accounting is broken)");
  return size;
}

// Reads and validates a packed layer file and loads it onto the device of `space`.
template <class ExecutionSpace>
PackedLayer<ExecutionSpace> read_layer(ExecutionSpace const &space,
                                       std::filesystem::path const &path)
{
  io::SafetensorsReader const reader(path);
  detail::LayoutReader const checks(reader);
  PackedLayer<ExecutionSpace> layer;
  layer.layout = checks.layout();
  LayerLayout &layout = layer.layout;
  int const columns = layout.columns;

  if (layout.quantized())
  {
    checks.require({names::bits, io::Dtype::U8, {static_cast<std::size_t>(columns)}});
    layer.bits = reader.read_values<std::uint8_t>(names::bits);
    std::vector<bool> used(layout.widths.size(), false);
    for (int c = 0; c < columns; ++c)
    {
      auto const found = std::find(layout.widths.begin(), layout.widths.end(), layer.bits[c]);
      if (found == layout.widths.end())
        checks.fail(
            "column " + std::to_string(c) + " has bit width " + std::to_string(layer.bits[c]) +
            ", out of range: not one of the widths in use (metadata '" + keys::widths + "')");
      used[found - layout.widths.begin()] = true;
    }
    for (std::size_t s = 0; s < used.size(); ++s)
      if (!used[s])
        checks.fail("bit width " + std::to_string(layout.widths[s]) + " is listed in metadata '" +
                    keys::widths + "' but no column uses it");
  }
  if (layout.stores_sweep_order())
  {
    checks.require({names::sweep_order, io::Dtype::I32, {static_cast<std::size_t>(columns)}});
    std::vector<std::int32_t> const order = reader.read_values<std::int32_t>(names::sweep_order);
    std::vector<bool> seen(columns, false);
    for (std::int32_t c : order)
    {
      if (c < 0 || c >= columns || seen[c])
        checks.fail(std::string("tensor '") + names::sweep_order +
                    "' is not a permutation of the columns");
      seen[c] = true;
    }
    layer.sweep_order.assign(order.begin(), order.end());
  }

  detail::KeepMatrix<ExecutionSpace> keep;
  if (layout.mask != MaskKind::none)
  {
    io::TensorLayout mask = {
        names::mask,
        io::Dtype::U8,
        {static_cast<std::size_t>(layout.rows), static_cast<std::size_t>((columns + 7) / 8)}};
    if (layout.mask == MaskKind::n_of_m)
    {
      detail::NmGroups const nm(layout);
      mask = {names::nm_index,
              io::Dtype::U8,
              {packed_bytes(layout.rows * nm.kept_per_row, nm.position_bits)}};
    }
    checks.require(mask, "fixed by the shape and the mask kind");
    layer.mask_stream = detail::stream_from_bytes(space, reader.bytes(mask.name));
    std::int64_t invalid = 0;
    if (layout.mask == MaskKind::bitmap)
      keep = detail::decode_bitmap(space, layout, layer.mask_stream, invalid);
    else
      keep = detail::decode_nm_positions(space, layout, layer.mask_stream,
                                         detail::sweep_columns(space, layout, layer.sweep_order),
                                         invalid);
    if (invalid > 0)
      checks.fail("tensor '" + mask.name + "' is malformed in " + std::to_string(invalid) +
                  (layout.mask == MaskKind::bitmap
                       ? " rows (bits set past the last column)"
                       : " groups (positions out of range or not ascending)"));
  }
  detail::build_index(space, layer, keep);
  checks.require_exactly(layout);

  // The streams, each from its first word.
  std::vector<std::int64_t> const word_begin = detail::to_host(layer.device.word_begin);
  std::vector<std::uint32_t> words(layer.device.codes.extent(0), 0);
  for (int s = 0; s < layout.streams(); ++s)
  {
    io::ByteSpan const bytes = reader.bytes(layout.quantized() ? names::codes(layout.widths[s])
                                                               : std::string(names::values));
    if (bytes.size > 0)
      std::memcpy(words.data() + word_begin[s], bytes.data, bytes.size);
  }
  layer.device.codes = detail::to_device(space, "sgpte::packed::codes", words);

  if (layout.quantized())
  {
    using ParameterView = typename PackedLayerView<ExecutionSpace>::ParameterView;
    int const streams = layout.streams(), parameter_rows = layout.parameter_rows(),
              groups = layout.groups();
    typename ParameterView::HostMirror scale("sgpte::packed::scale", streams, parameter_rows,
                                             groups);
    typename ParameterView::HostMirror zero("sgpte::packed::zero", streams, parameter_rows, groups);
    // The stored widths' parameters (the widest's alone when the others follow from it),
    // then the derived ones.
    std::size_t const grid = static_cast<std::size_t>(parameter_rows) * groups;
    for (int s = 0; s < streams; ++s)
    {
      if (!layout.stores_parameters(s))
        continue;
      int const width = layout.widths[s];
      int const maxq = (1 << width) - 1;
      if (zero_dtype(width) == io::Dtype::U8)
        detail::read_zeros<std::uint8_t>(reader, names::zero(width), maxq, &zero(s, 0, 0), checks);
      else
        detail::read_zeros<std::uint16_t>(reader, names::zero(width), maxq, &zero(s, 0, 0), checks);
      std::vector<float> const values = reader.read_values<float>(names::scale(width));
      std::memcpy(&scale(s, 0, 0), values.data(), values.size() * sizeof(float));
    }
    if (layout.parameters_from_widest)
    {
      int const widest = streams - 1;
      float const widest_maxq = static_cast<float>((1 << layout.widths[widest]) - 1);
      for (int s = 0; s < widest; ++s)
        for (std::size_t i = 0; i < grid; ++i)
          narrower_parameters((&scale(widest, 0, 0))[i], (&zero(widest, 0, 0))[i], widest_maxq,
                              static_cast<float>((1 << layout.widths[s]) - 1), (&scale(s, 0, 0))[i],
                              (&zero(s, 0, 0))[i]);
    }
    // Each scale with its zero point: every code in [0, maxq] must dequantize to a finite
    // weight, scale · (code − zero) computed in float as unpack does (a finite scale near
    // FLT_MAX is not enough). Derived scales are checked too: they are larger.
    for (int s = 0; s < streams; ++s)
    {
      int const width = layout.widths[s];
      int const maxq = (1 << width) - 1;
      std::string const stored =
          names::scale(layout.widths[layout.stores_parameters(s) ? s : streams - 1]);
      std::string const derived =
          layout.stores_parameters(s) ? "" : " (for " + std::to_string(width) + " bits)";
      for (std::size_t i = 0; i < grid; ++i)
      {
        float const value = (&scale(s, 0, 0))[i];
        float const zero_point = (&zero(s, 0, 0))[i];
        float const farthest = std::max(zero_point, static_cast<float>(maxq) - zero_point);
        if (!std::isfinite(value) || !(value > 0.0f))
          checks.fail("tensor '" + stored + "' holds " + std::to_string(value) + derived +
                      ", but scales must be finite and positive");
        if (!std::isfinite(value * farthest))
          checks.fail("tensor '" + stored + "' holds " + std::to_string(value) + derived +
                      ", with which codes " + std::to_string(static_cast<int>(farthest)) +
                      " away from the zero point dequantize beyond the float range");
      }
    }
    layer.device.scale =
        Kokkos::create_mirror_view_and_copy(typename ExecutionSpace::memory_space(), scale);
    layer.device.zero =
        Kokkos::create_mirror_view_and_copy(typename ExecutionSpace::memory_space(), zero);
  }
  else if (std::int64_t const bad = detail::count_non_finite_values(
               space, layer.device, layout.kept[0], layout.stream_bits(0));
           bad > 0)
    checks.fail(std::string("tensor '") + names::values + "' holds " + std::to_string(bad) +
                " NaN or infinite values");
  return layer;
}

} // namespace sgpte::packed

#endif
