#ifndef SGPTE_IO_SAFETENSORS_READER_HPP
#define SGPTE_IO_SAFETENSORS_READER_HPP

// Reading safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of UTF-8 JSON mapping tensor names to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section
// that follows the header) plus an optional "__metadata__" string-to-string map, then the
// data section.
//
// The file is mapped read-only and the whole header is validated when it is opened: header
// length, UTF-8, JSON syntax, duplicate names, dtypes, shapes (overflow included), offsets
// (inside the data section, consistent with shape and dtype, no two tensors overlapping).
// Every problem throws sgpte::FileError naming the file, and the tensor where there is one.
// Gaps between tensors, trailing bytes and unknown keys inside a tensor entry are accepted:
// they cannot make a read return wrong values.

#include <sgpte/core/error.hpp>
#include <sgpte/io/byte_span.hpp>
#include <sgpte/io/detail/file_error.hpp>
#include <sgpte/io/detail/mapped_file.hpp>
#include <sgpte/io/detail/shape.hpp>
#include <sgpte/io/detail/strict_json.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/float_codec.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sgpte::io
{

// Files whose header claims more are rejected before anything is parsed (the limit of the
// reference implementation).
inline constexpr std::uint64_t max_safetensors_header_length = 100'000'000;

struct TensorInfo
{
  Dtype dtype;
  std::vector<std::size_t> shape;
  std::size_t element_count;
  std::size_t data_begin; // byte offsets relative to the start of the data section
  std::size_t data_end;

  std::size_t byte_size() const { return data_end - data_begin; }
};

class SafetensorsReader
{
public:
  explicit SafetensorsReader(std::filesystem::path const &path) : _file(path)
  {
    std::string_view const header = locate_header();
    nlohmann::json const document = detail::parse_strict_json(path, header, "header");
    if (!document.is_object())
      fail(std::string("header is not a JSON object but ") + document.type_name());
    std::size_t const data_size = _file.size() - _header_size;
    for (auto const &[name, value] : document.items())
    {
      if (name == "__metadata__")
        parse_metadata(value);
      else
        _tensors.emplace(name, parse_tensor(name, value, data_size));
    }
    reject_overlaps();
  }

  std::filesystem::path const &path() const { return _file.path(); }

  // Tensor names in lexicographic order (as Python's safe_open(...).keys()).
  std::vector<std::string> names() const
  {
    std::vector<std::string> result;
    result.reserve(_tensors.size());
    for (auto const &entry : _tensors)
      result.push_back(entry.first);
    return result;
  }

  bool contains(std::string const &name) const { return _tensors.count(name) != 0; }

  TensorInfo const &info(std::string const &name) const
  {
    auto const found = _tensors.find(name);
    if (found == _tensors.end())
      fail("no tensor named '" + name + "'");
    return found->second;
  }

  // The tensor's raw little-endian bytes, valid as long as the reader lives. They need not
  // be aligned for the element type.
  ByteSpan bytes(std::string const &name) const
  {
    TensorInfo const &tensor = info(name);
    return {_file.data() + _header_size + tensor.data_begin, tensor.byte_size()};
  }

  std::map<std::string, std::string> const &metadata() const { return _metadata; }

  // Converts a F16/BF16/F32/F64 tensor to float; `count` must be its number of elements.
  void read_as_float(std::string const &name, float *out, std::size_t count) const
  {
    TensorInfo const &tensor = info(name);
    if (!is_floating_point(tensor.dtype))
      fail("tensor '" + name + "' has dtype " + std::string(dtype_name(tensor.dtype)) +
           ", expected a floating-point dtype (F16, BF16, F32 or F64)");
    if (count != tensor.element_count)
      throw InvalidArgument(path().string() + ": tensor '" + name + "' has " +
                            std::to_string(tensor.element_count) +
                            " elements, the caller asked for " + std::to_string(count));
    decode_to_float(tensor.dtype, bytes(name).data, count, out);
  }

  std::vector<float> read_as_float(std::string const &name) const
  {
    std::vector<float> values(info(name).element_count);
    read_as_float(name, values.data(), values.size());
    return values;
  }

  // The elements of a tensor whose dtype is exactly dtype_of<T>() (no conversion).
  template <class T>
  std::vector<T> read_values(std::string const &name) const
  {
    TensorInfo const &tensor = info(name);
    if (tensor.dtype != dtype_of<T>())
      fail("tensor '" + name + "' has dtype " + std::string(dtype_name(tensor.dtype)) +
           ", expected " + std::string(dtype_name(dtype_of<T>())));
    std::vector<T> values(tensor.element_count);
    unsigned char const *const data = bytes(name).data;
    if constexpr (std::is_same_v<T, bool>) // std::vector<bool> is packed; and any non-zero byte is
                                           // true
      std::transform(data, data + tensor.element_count, values.begin(),
                     [](unsigned char byte) { return byte != 0; });
    else if (tensor.byte_size() > 0) // an empty vector's data() may be null, which memcpy
                                     // must not be given
      std::memcpy(values.data(), data, tensor.byte_size());
    return values;
  }

private:
  [[noreturn]] void fail(std::string const &problem) const
  {
    detail::throw_file_error(_file.path(), problem);
  }

  std::string_view locate_header()
  {
    if (_file.size() < 8)
      fail("file is " + std::to_string(_file.size()) +
           " bytes long, too short for the 8-byte header length (truncated?)");
    std::uint64_t header_length;
    std::memcpy(&header_length, _file.data(), sizeof header_length);
    if (header_length < 2)
      fail("header length " + std::to_string(header_length) +
           " is too small for a JSON object (at least 2 bytes)");
    if (header_length > max_safetensors_header_length)
      fail("header length " + std::to_string(header_length) + " exceeds the limit of " +
           std::to_string(max_safetensors_header_length) + " bytes");
    if (header_length > _file.size() - 8)
      fail("header length " + std::to_string(header_length) + " extends past the end of the " +
           std::to_string(_file.size()) + "-byte file (truncated?)");
    _header_size = 8 + static_cast<std::size_t>(header_length);
    return {reinterpret_cast<char const *>(_file.data()) + 8, _header_size - 8};
  }

  void parse_metadata(nlohmann::json const &value)
  {
    if (!value.is_object())
      fail(std::string("header: __metadata__ is not a JSON object but ") + value.type_name());
    for (auto const &[key, text] : value.items())
    {
      if (!text.is_string())
        fail("header: __metadata__ value of '" + key + "' is not a string but " + text.type_name());
      _metadata.emplace(key, text.get<std::string>());
    }
  }

  // The non-negative integers of the JSON array entry[key].
  std::vector<std::size_t> unsigned_list(nlohmann::json const &entry, char const *key,
                                         std::string const &tensor) const
  {
    auto const found = entry.find(key);
    if (found == entry.end())
      fail("tensor '" + tensor + "': missing '" + key + "'");
    bool valid = found->is_array();
    std::vector<std::size_t> result;
    for (std::size_t i = 0; valid && i < found->size(); ++i)
    {
      // Only non-negative integer literals parse as unsigned: -1, 2.0 and 1e3 do not.
      valid = (*found)[i].is_number_unsigned();
      if (valid)
        result.push_back((*found)[i].get<std::size_t>());
    }
    if (!valid)
      fail("tensor '" + tensor + "': " + key + " " + found->dump() +
           " is not a list of non-negative integers");
    return result;
  }

  TensorInfo parse_tensor(std::string const &name, nlohmann::json const &entry,
                          std::size_t data_size) const
  {
    std::string const where = "tensor '" + name + "': ";
    if (!entry.is_object())
      fail(where + "entry is not a JSON object but " + entry.type_name());
    auto const dtype_entry = entry.find("dtype");
    if (dtype_entry == entry.end())
      fail(where + "missing 'dtype'");
    if (!dtype_entry->is_string())
      fail(where + "dtype " + dtype_entry->dump() + " is not a string");
    auto const dtype = parse_dtype(dtype_entry->get<std::string>());
    if (!dtype)
      fail(where + "unsupported dtype '" + dtype_entry->get<std::string>() +
           "' (supported: " + supported_dtype_names() + ")");

    TensorInfo tensor{*dtype, unsigned_list(entry, "shape", name), 0, 0, 0};
    std::string const described =
        detail::format_shape(tensor.shape) + " of " + std::string(dtype_name(tensor.dtype));
    auto const element_count = detail::checked_element_count(tensor.shape);
    auto const byte_size = element_count
                               ? detail::checked_multiply(*element_count, dtype_size(tensor.dtype))
                               : std::nullopt;
    if (!byte_size)
      fail(where + "shape " + described + " is too large: its byte size overflows 64 bits");
    tensor.element_count = *element_count;

    std::vector<std::size_t> const offsets = unsigned_list(entry, "data_offsets", name);
    std::string const offsets_text = entry.at("data_offsets").dump();
    if (offsets.size() != 2)
      fail(where + "data_offsets " + offsets_text + " must have exactly two entries [begin, end]");
    tensor.data_begin = offsets[0];
    tensor.data_end = offsets[1];
    if (tensor.data_begin > tensor.data_end)
      fail(where + "data_offsets " + offsets_text + " end before they begin");
    if (tensor.data_end > data_size)
      fail(where + "data_offsets " + offsets_text + " extend past the end of the " +
           std::to_string(data_size) + "-byte data section (truncated?)");
    if (tensor.byte_size() != *byte_size)
      fail(where + "data_offsets " + offsets_text + " do not match shape " + described + " (" +
           std::to_string(*byte_size) + " bytes)");
    return tensor;
  }

  void reject_overlaps() const
  {
    std::vector<std::pair<std::string const *, TensorInfo const *>> by_offset;
    for (auto const &[name, tensor] : _tensors)
      if (tensor.byte_size() > 0)
        by_offset.emplace_back(&name, &tensor);
    std::sort(by_offset.begin(), by_offset.end(),
              [](auto const &a, auto const &b)
              { return a.second->data_begin < b.second->data_begin; });
    // After sorting, the first overlap is always between neighbours.
    auto const offsets_text = [](TensorInfo const &tensor) {
      return "[" + std::to_string(tensor.data_begin) + ", " + std::to_string(tensor.data_end) + "]";
    };
    for (std::size_t i = 1; i < by_offset.size(); ++i)
    {
      auto const &[previous_name, previous] = by_offset[i - 1];
      auto const &[name, tensor] = by_offset[i];
      if (tensor->data_begin < previous->data_end)
        fail("tensors '" + *previous_name + "' (data_offsets " + offsets_text(*previous) +
             ") and '" + *name + "' (data_offsets " + offsets_text(*tensor) + ") overlap");
    }
  }

  detail::MappedFile _file;
  std::size_t _header_size = 0; // 8 + header length: where the data section starts
  std::map<std::string, TensorInfo> _tensors;
  std::map<std::string, std::string> _metadata;
};

} // namespace sgpte::io

#endif
