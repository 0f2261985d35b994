#ifndef SGPTE_IO_SAFETENSORS_WRITER_HPP
#define SGPTE_IO_SAFETENSORS_WRITER_HPP

// Writing safetensors files in the standard layout, readable by Python's `safetensors`:
// an 8-byte little-endian header length, the compact JSON header ("__metadata__" first when
// there is metadata, then one entry per tensor) padded with spaces to a multiple of 8 bytes,
// then the tensors' bytes, contiguous. Tensors are ordered by descending dtype, then by
// name, exactly as the reference implementation orders them; with the 8-byte header padding
// this keeps every tensor aligned to its element size.
//
// Tensors are checked when added (sgpte::InvalidArgument); write() replaces the target
// atomically (see atomic_file.hpp) and throws sgpte::FileError naming it on failure.

#include <sgpte/core/error.hpp>
#include <sgpte/io/atomic_file.hpp>
#include <sgpte/io/byte_span.hpp>
#include <sgpte/io/detail/shape.hpp>
#include <sgpte/io/detail/utf8.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/float_codec.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sgpte::io
{

class SafetensorsWriter
{
public:
  // Stores the string pair in "__metadata__" (e.g. {"format": "pt"}).
  void set_metadata(std::string key, std::string value)
  {
    require_utf8(key, "metadata key");
    require_utf8(value, "metadata value of '" + key + "'");
    _metadata[std::move(key)] = std::move(value);
  }

  // Adds a tensor from its raw little-endian bytes, which must be exactly the shape's size.
  void add_tensor(std::string name, Dtype dtype, std::vector<std::size_t> shape,
                  std::vector<unsigned char> bytes)
  {
    require_new_name(name);
    auto const element_count = detail::checked_element_count(shape);
    auto const expected_size =
        element_count ? detail::checked_multiply(*element_count, dtype_size(dtype)) : std::nullopt;
    if (expected_size != bytes.size())
      throw InvalidArgument(
          "safetensors writer: tensor '" + name + "': " + std::to_string(bytes.size()) +
          " bytes do not match shape " + detail::format_shape(shape) + " of " +
          std::string(dtype_name(dtype)) +
          (expected_size ? " (" + std::to_string(*expected_size) + " bytes)" : " (too large)"));
    _tensors.emplace(std::move(name), Tensor{dtype, std::move(shape), std::move(bytes)});
  }

  // Copies the bytes (e.g. a tensor passed through unchanged from a SafetensorsReader).
  void add_tensor(std::string name, Dtype dtype, std::vector<std::size_t> shape, ByteSpan bytes)
  {
    add_tensor(std::move(name), dtype, std::move(shape),
               std::vector<unsigned char>(bytes.data, bytes.data + bytes.size));
  }

  // Stores `count` floats as `dtype` (F16, BF16, F32 or F64), rounding to nearest even.
  // Narrowing silently produces ±infinity on overflow: callers that must not write
  // non-finite values check check_float_encoding() first.
  void add_float_tensor(std::string name, Dtype dtype, std::vector<std::size_t> shape,
                        float const *values, std::size_t count)
  {
    add_tensor(std::move(name), dtype, std::move(shape), encode_from_float(dtype, values, count));
  }

  // Stores `count` values of type T as dtype_of<T>() (e.g. U8 codes, I32 indices).
  template <class T>
  void add_values(std::string name, std::vector<std::size_t> shape, T const *values,
                  std::size_t count)
  {
    auto const *bytes = reinterpret_cast<unsigned char const *>(values);
    add_tensor(std::move(name), dtype_of<T>(), std::move(shape),
               ByteSpan{bytes, count * sizeof(T)});
  }

  void write(std::filesystem::path const &path) const
  {
    // _tensors is ordered by name; a stable sort by dtype keeps that order among equals.
    std::vector<std::pair<std::string const *, Tensor const *>> ordered;
    for (auto const &[name, tensor] : _tensors)
      ordered.emplace_back(&name, &tensor);
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](auto const &a, auto const &b)
                     { return a.second->dtype > b.second->dtype; });

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!_metadata.empty())
      header["__metadata__"] = _metadata;
    std::size_t offset = 0;
    for (auto const &[name, tensor] : ordered)
    {
      header[*name] = {{"dtype", std::string(dtype_name(tensor->dtype))},
                       {"shape", tensor->shape},
                       {"data_offsets", {offset, offset + tensor->bytes.size()}}};
      offset += tensor->bytes.size();
    }
    std::string header_text = header.dump();
    header_text.append((8 - header_text.size() % 8) % 8, ' ');
    std::uint64_t const header_length = header_text.size();

    AtomicFileWriter out(path);
    out.write(&header_length, sizeof header_length);
    out.write(header_text);
    for (auto const &entry : ordered)
      out.write(entry.second->bytes.data(), entry.second->bytes.size());
    out.commit();
  }

private:
  struct Tensor
  {
    Dtype dtype;
    std::vector<std::size_t> shape;
    std::vector<unsigned char> bytes;
  };

  static void require_utf8(std::string const &text, std::string const &what)
  {
    if (detail::find_invalid_utf8(text))
      throw InvalidArgument("safetensors writer: " + what + " is not valid UTF-8");
  }

  void require_new_name(std::string const &name) const
  {
    require_utf8(name, "tensor name '" + name + "'");
    if (name == "__metadata__")
      throw InvalidArgument("safetensors writer: '__metadata__' is reserved, not a tensor name");
    if (_tensors.count(name) != 0)
      throw InvalidArgument("safetensors writer: tensor '" + name + "' added twice");
  }

  std::map<std::string, std::string> _metadata;
  std::map<std::string, Tensor> _tensors;
};

} // namespace sgpte::io

#endif
