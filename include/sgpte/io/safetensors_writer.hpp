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

// The name, dtype and shape of a tensor: all that a file's layout depends on.
struct TensorLayout
{
  std::string name;
  Dtype dtype;
  std::vector<std::size_t> shape;
};

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
    std::vector<HeaderEntry> entries;
    for (auto const &[name, tensor] : _tensors)
      entries.push_back({&name, tensor.dtype, &tensor.shape, tensor.bytes.size()});
    std::string const header_text = header(_metadata, entries);
    std::uint64_t const header_length = header_text.size();

    AtomicFileWriter out(path);
    out.write(&header_length, sizeof header_length);
    out.write(header_text);
    for (auto const &entry : entries)
    {
      auto const &bytes = _tensors.at(*entry.name).bytes;
      out.write(bytes.data(), bytes.size());
    }
    out.commit();
  }

  // The size in bytes of the file write() produces for tensors of these names, dtypes and
  // shapes and this metadata, known before their data exists (a packed layer's size is
  // reported before it is written, or without writing it).
  static std::uint64_t file_size(std::map<std::string, std::string> const &metadata,
                                 std::vector<TensorLayout> const &tensors)
  {
    std::vector<HeaderEntry> entries;
    std::uint64_t data_size = 0;
    for (auto const &tensor : tensors)
    {
      auto const count = detail::checked_element_count(tensor.shape);
      auto const size = count ? detail::checked_multiply(*count, dtype_size(tensor.dtype)) : std::nullopt;
      if (!size)
        throw InvalidArgument("safetensors writer: tensor '" + tensor.name + "': shape " +
                              detail::format_shape(tensor.shape) + " is too large");
      entries.push_back({&tensor.name, tensor.dtype, &tensor.shape, *size});
      data_size += *size;
    }
    return sizeof(std::uint64_t) + header(metadata, entries).size() + data_size;
  }

private:
  struct Tensor
  {
    Dtype dtype;
    std::vector<std::size_t> shape;
    std::vector<unsigned char> bytes;
  };

  struct HeaderEntry
  {
    std::string const *name;
    Dtype dtype;
    std::vector<std::size_t> const *shape;
    std::size_t size;
  };

  // Puts the entries into the file's order (descending dtype, then name) and returns the
  // JSON header padded with spaces to a multiple of 8 bytes.
  static std::string header(std::map<std::string, std::string> const &metadata,
                            std::vector<HeaderEntry> &entries)
  {
    std::sort(entries.begin(), entries.end(), [](HeaderEntry const &a, HeaderEntry const &b)
              { return a.dtype != b.dtype ? a.dtype > b.dtype : *a.name < *b.name; });
    nlohmann::ordered_json json = nlohmann::ordered_json::object();
    if (!metadata.empty())
      json["__metadata__"] = metadata;
    std::size_t offset = 0;
    for (auto const &entry : entries)
    {
      json[*entry.name] = {{"dtype", std::string(dtype_name(entry.dtype))},
                             {"shape", *entry.shape},
                             {"data_offsets", {offset, offset + entry.size}}};
      offset += entry.size;
    }
    std::string text = json.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
  }

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
