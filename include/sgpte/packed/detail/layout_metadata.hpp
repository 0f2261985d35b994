#ifndef SGPTE_PACKED_DETAIL_LAYOUT_METADATA_HPP
#define SGPTE_PACKED_DETAIL_LAYOUT_METADATA_HPP

// Reading a layer file's layout back from its "__metadata__" (the inverse of
// LayerLayout::metadata) and checking its tensors against what the layout implies. Every
// problem is a FileError that names the file.

#include <sgpte/core/number_parsing.hpp>
#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/shape.hpp>
#include <sgpte/io/safetensors_reader.hpp>
#include <sgpte/packed/format.hpp>
#include <sgpte/packed/layer_layout.hpp>

#include <set>
#include <string>
#include <vector>

namespace sgpte::packed::detail
{

class LayoutReader
{
public:
  explicit LayoutReader(io::SafetensorsReader const &reader) : _reader(reader) {}

  [[noreturn]] void fail(std::string const &problem) const
  {
    io::detail::throw_file_error(_reader.path(), problem);
  }

  // The layout but its kept counts (they follow from the mask).
  LayerLayout layout() const
  {
    auto const format = _reader.metadata().find(keys::format);
    if (format == _reader.metadata().end() || format->second != layer_format_name)
      fail("not a packed layer: " + named(keys::format) + " is " +
           (format == _reader.metadata().end() ? "missing" : "'" + format->second + "'") +
           ", expected '" + layer_format_name + "'");
    int const version = number(keys::version);
    if (version < oldest_format_version || version > format_version)
      fail("packed format version " + std::to_string(version) +
           " is not supported (this build reads versions " + std::to_string(oldest_format_version) +
           " to " + std::to_string(format_version) + ")");
    LayerLayout layout;
    layout.rows = number(keys::rows, 1);
    layout.columns = number(keys::columns, 1);
    layout.act_order = parse_flag<FileError>(value(keys::act_order), what(keys::act_order));
    std::string const &encoding = value(keys::encoding);
    if (encoding == "codes")
    {
      layout.widths = parse_list<int, FileError>(value(keys::widths), what(keys::widths));
      for (std::size_t i = 0; i < layout.widths.size(); ++i)
        if (layout.widths[i] < 1 || layout.widths[i] > max_code_bits ||
            (i > 0 && layout.widths[i] <= layout.widths[i - 1]))
          fail(named(keys::widths) + " is '" + value(keys::widths) +
               "': bit widths out of range (they must ascend within 1…" +
               std::to_string(max_code_bits) + ")");
      std::string const &parameters = value(keys::parameters);
      if (parameters != "per_row" && parameters != "per_tensor")
        fail(named(keys::parameters) + " is '" + parameters +
             "', expected 'per_row' or 'per_tensor'");
      layout.per_channel = parameters == "per_row";
      layout.group_size = number(keys::group_size, 0);
      if (auto const from = _reader.metadata().find(keys::parameters_from);
          from != _reader.metadata().end())
      {
        if (version < 2 || from->second != parameters_from_widest_value || layout.widths.size() < 2)
          fail(named(keys::parameters_from) + " is '" + from->second + "', but only '" +
               parameters_from_widest_value +
               "' is defined, for layers of several widths, from format version 2");
        layout.parameters_from_widest = true;
      }
    }
    else if (encoding == "values")
    {
      if (!_reader.contains(names::values))
        fail(std::string("has no tensor '") + names::values + "'");
      layout.value_dtype = _reader.info(names::values).dtype;
      if (layout.value_dtype != io::Dtype::F16 && layout.value_dtype != io::Dtype::BF16 &&
          layout.value_dtype != io::Dtype::F32)
        fail(std::string("tensor '") + names::values + "' has dtype " +
             std::string(io::dtype_name(layout.value_dtype)) + ", expected F16, BF16 or F32");
    }
    else
      fail(named(keys::encoding) + " is '" + encoding + "', expected 'codes' or 'values'");
    auto const mask = parse_mask_kind(value(keys::mask));
    if (!mask)
      fail(named(keys::mask) + " is '" + value(keys::mask) +
           "', expected 'none', 'bitmap' or 'n:m'");
    layout.mask = *mask;
    if (layout.mask == MaskKind::n_of_m)
    {
      layout.prune_m = number(keys::prune_m, 2);
      layout.prune_n = number(keys::prune_n, 1);
      if (layout.prune_n >= layout.prune_m || layout.prune_m > (1 << max_code_bits))
        fail("N:M pruning " + std::to_string(layout.prune_n) + ":" +
             std::to_string(layout.prune_m) +
             " needs 0 < N < M <= " + std::to_string(1 << max_code_bits));
    }
    return layout;
  }

  // The tensor must exist with this dtype and shape; `hint` explains a wrong size.
  void require(io::TensorLayout const &expected, std::string const &hint = "") const
  {
    if (!_reader.contains(expected.name))
      fail("has no tensor '" + expected.name + "'");
    io::TensorInfo const &info = _reader.info(expected.name);
    if (info.dtype != expected.dtype || info.shape != expected.shape)
      fail("tensor '" + expected.name + "' is " + describe(info.dtype, info.shape) + ", expected " +
           describe(expected.dtype, expected.shape) + (hint.empty() ? "" : " (" + hint + ")"));
  }

  // Every tensor of the layout, and no other.
  void require_exactly(LayerLayout const &layout) const
  {
    std::set<std::string> expected;
    for (io::TensorLayout const &tensor : layout.tensors())
    {
      require(tensor, size_hint(layout, tensor.name));
      expected.insert(tensor.name);
    }
    for (std::string const &name : _reader.names())
      if (!expected.count(name))
        fail("has an unexpected tensor '" + name + "' for this layout");
  }

private:
  static std::string named(char const *key) { return std::string("metadata '") + key + "'"; }
  std::string what(char const *key) const { return _reader.path().string() + ": " + named(key); }

  std::string const &value(char const *key) const
  {
    auto const found = _reader.metadata().find(key);
    if (found == _reader.metadata().end())
      fail(std::string("metadata has no '") + key + "'");
    return found->second;
  }

  int number(char const *key, int minimum = 0) const
  {
    int const parsed = parse_number<int, FileError>(value(key), what(key));
    if (parsed < minimum)
      fail(named(key) + " is " + std::to_string(parsed) + ", expected at least " +
           std::to_string(minimum));
    return parsed;
  }

  static std::string describe(io::Dtype dtype, std::vector<std::size_t> const &shape)
  {
    return std::string(io::dtype_name(dtype)) + " " + io::detail::format_shape(shape);
  }

  // Why a stream or mask tensor has the size it must have.
  static std::string size_hint(LayerLayout const &layout, std::string const &name)
  {
    for (int s = 0; s < layout.streams(); ++s)
    {
      bool const codes = layout.quantized() && name == names::codes(layout.widths[s]);
      if (codes || (!layout.quantized() && name == names::values))
        return "the mask and bits keep " + std::to_string(layout.kept[s]) + " weights of " +
               std::to_string(layout.stream_bits(s)) + " bits: mask/code count mismatch";
    }
    if (name == names::nm_index)
      return "the N:M groups keep " + std::to_string(layout.kept_total()) + " weights";
    return "";
  }

  io::SafetensorsReader const &_reader;
};

} // namespace sgpte::packed::detail

#endif
