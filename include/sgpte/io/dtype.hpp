#ifndef SGPTE_IO_DTYPE_HPP
#define SGPTE_IO_DTYPE_HPP

// The element types a safetensors file can hold (the subset sgpte reads and writes), with
// their on-disk names and sizes. Values are stored little-endian.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace sgpte::io
{

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "sgpte's file formats are little-endian and are read by reinterpreting bytes");
static_assert(sizeof(bool) == 1, "BOOL tensors are read and written as C++ bool");

// Declared in the order of the reference implementation's dtype enum: writers sort tensors
// by descending dtype (then name) as it does, so that their output is byte-identical.
enum class Dtype
{
  BOOL,
  U8,
  I8,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64
};

namespace detail
{

struct DtypeDescription
{
  Dtype dtype;
  std::string_view name;
  std::size_t size;
};

inline constexpr std::array<DtypeDescription, 12> dtype_descriptions = {{
    {Dtype::BOOL, "BOOL", 1},
    {Dtype::U8, "U8", 1},
    {Dtype::I8, "I8", 1},
    {Dtype::I16, "I16", 2},
    {Dtype::U16, "U16", 2},
    {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},
    {Dtype::I32, "I32", 4},
    {Dtype::U32, "U32", 4},
    {Dtype::F32, "F32", 4},
    {Dtype::F64, "F64", 8},
    {Dtype::I64, "I64", 8},
}};

constexpr DtypeDescription const &describe(Dtype dtype)
{
  return dtype_descriptions[static_cast<std::size_t>(dtype)];
}

} // namespace detail

// The name used in safetensors headers, e.g. "BF16".
constexpr std::string_view dtype_name(Dtype dtype) { return detail::describe(dtype).name; }

// Bytes per element.
constexpr std::size_t dtype_size(Dtype dtype) { return detail::describe(dtype).size; }

constexpr bool is_floating_point(Dtype dtype)
{
  return dtype == Dtype::F16 || dtype == Dtype::BF16 || dtype == Dtype::F32 || dtype == Dtype::F64;
}

// "BOOL, U8, ..., I64": the names parse_dtype() accepts, for messages.
inline std::string supported_dtype_names()
{
  std::string names;
  for (auto const &description : detail::dtype_descriptions)
    names += (names.empty() ? "" : ", ") + std::string(description.name);
  return names;
}

// The dtype named `name` in a safetensors header, or nothing if sgpte does not support it.
inline std::optional<Dtype> parse_dtype(std::string_view name)
{
  for (auto const &description : detail::dtype_descriptions)
    if (description.name == name)
      return description.dtype;
  return std::nullopt;
}

// The dtype whose elements are C++ values of type T (for typed reads and writes).
template <class T>
constexpr Dtype dtype_of()
{
  if constexpr (std::is_same_v<T, bool>)
    return Dtype::BOOL;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return Dtype::U8;
  else if constexpr (std::is_same_v<T, std::int8_t>)
    return Dtype::I8;
  else if constexpr (std::is_same_v<T, std::uint16_t>)
    return Dtype::U16;
  else if constexpr (std::is_same_v<T, std::int16_t>)
    return Dtype::I16;
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return Dtype::U32;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return Dtype::I32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return Dtype::I64;
  else if constexpr (std::is_same_v<T, float>)
    return Dtype::F32;
  else if constexpr (std::is_same_v<T, double>)
    return Dtype::F64;
  else
    static_assert(sizeof(T) == 0, "no safetensors dtype stores this C++ type");
}

} // namespace sgpte::io

#endif
