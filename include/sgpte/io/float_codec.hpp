#ifndef SGPTE_IO_FLOAT_CODEC_HPP
#define SGPTE_IO_FLOAT_CODEC_HPP

// Converting arrays of floats to and from the raw little-endian bytes of the floating-point
// dtypes (F16, BF16, F32, F64), and checking beforehand that an array survives narrowing:
// a driver must refuse to write a checkpoint whose weights are NaN/Inf or overflow F16.

#include <sgpte/core/error.hpp>
#include <sgpte/io/dtype.hpp>
#include <sgpte/io/float16.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace sgpte::io
{

namespace detail
{

inline void require_floating_point(Dtype dtype, char const *operation)
{
  if (!is_floating_point(dtype))
    throw InvalidArgument(std::string(operation) + ": dtype " + std::string(dtype_name(dtype)) +
                          " is not a floating-point type (F16, BF16, F32 or F64)");
}

// Applies `convert(element_bytes)` to each of `count` elements of `element_size` bytes; the
// bytes may be unaligned (a foreign file's tensor offsets need not be), hence memcpy.
template <class Element, class Convert>
void decode_elements(unsigned char const *bytes, std::size_t count, float *out, Convert convert)
{
  for (std::size_t i = 0; i < count; ++i)
  {
    Element element;
    std::memcpy(&element, bytes + i * sizeof(Element), sizeof(Element));
    out[i] = convert(element);
  }
}

template <class Element, class Convert>
std::vector<unsigned char> encode_elements(float const *values, std::size_t count, Convert convert)
{
  std::vector<unsigned char> bytes(count * sizeof(Element));
  for (std::size_t i = 0; i < count; ++i)
  {
    Element const element = convert(values[i]);
    std::memcpy(bytes.data() + i * sizeof(Element), &element, sizeof(Element));
  }
  return bytes;
}

// Widening or narrowing a signalling NaN in hardware raises FE_INVALID; NaN stays NaN (quiet,
// same sign) without touching the FPU.
inline double double_from_float(float value)
{
  double const nan = std::numeric_limits<double>::quiet_NaN();
  return is_nan(value) ? (std::signbit(value) ? -nan : nan) : static_cast<double>(value);
}

inline float float_from_double(double value)
{
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bool const nan = (bits & 0x7fffffffffffffffu) > 0x7ff0000000000000u;
  float const quiet_nan = std::numeric_limits<float>::quiet_NaN();
  return nan ? (std::signbit(value) ? -quiet_nan : quiet_nan) : static_cast<float>(value);
}

// `value` as it reads back after being stored with `dtype`.
inline float round_trip(Dtype dtype, float value)
{
  switch (dtype)
  {
  case Dtype::F16:
    return float_from_f16_bits(f16_bits_from_float(value));
  case Dtype::BF16:
    return float_from_bf16_bits(bf16_bits_from_float(value));
  default:
    return value;
  }
}

} // namespace detail

// Converts `count` elements of `dtype` (F16, BF16, F32 or F64) stored at `bytes` to float.
// F64 values beyond float's range become ±infinity.
inline void decode_to_float(Dtype dtype, unsigned char const *bytes, std::size_t count, float *out)
{
  detail::require_floating_point(dtype, "decode_to_float");
  if (count == 0) // an empty tensor's `out` may be null, which memcpy must not be given
    return;
  switch (dtype)
  {
  case Dtype::F16:
    detail::decode_elements<std::uint16_t>(bytes, count, out, float_from_f16_bits);
    break;
  case Dtype::BF16:
    detail::decode_elements<std::uint16_t>(bytes, count, out, float_from_bf16_bits);
    break;
  case Dtype::F64:
    detail::decode_elements<double>(bytes, count, out, detail::float_from_double);
    break;
  default:
    std::memcpy(out, bytes, count * sizeof(float));
  }
}

// The bytes of `count` floats stored as `dtype` (F16, BF16, F32 or F64), rounded to nearest
// even. Check with check_float_encoding() first where overflow or NaN must be refused.
inline std::vector<unsigned char> encode_from_float(Dtype dtype, float const *values,
                                                    std::size_t count)
{
  detail::require_floating_point(dtype, "encode_from_float");
  switch (dtype)
  {
  case Dtype::F16:
    return detail::encode_elements<std::uint16_t>(values, count, f16_bits_from_float);
  case Dtype::BF16:
    return detail::encode_elements<std::uint16_t>(values, count, bf16_bits_from_float);
  case Dtype::F64:
    return detail::encode_elements<double>(values, count, detail::double_from_float);
  default:
    return detail::encode_elements<float>(values, count, [](float value) { return value; });
  }
}

// How many values would not be stored faithfully as a given dtype.
struct FloatEncodingCheck
{
  std::size_t non_finite = 0; // NaN or ±infinity already in the input
  std::size_t overflow = 0;   // finite input that becomes ±infinity (|x| >= 65520 for F16)

  bool ok() const { return non_finite == 0 && overflow == 0; }
};

inline FloatEncodingCheck check_float_encoding(Dtype dtype, float const *values, std::size_t count)
{
  detail::require_floating_point(dtype, "check_float_encoding");
  FloatEncodingCheck check;
  for (std::size_t i = 0; i < count; ++i)
  {
    if (!detail::is_finite(values[i]))
      ++check.non_finite;
    else if (!detail::is_finite(detail::round_trip(dtype, values[i])))
      ++check.overflow;
  }
  return check;
}

} // namespace sgpte::io

#endif
