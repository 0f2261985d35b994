#ifndef SGPTE_IO_FLOAT16_HPP
#define SGPTE_IO_FLOAT16_HPP

// Conversions between float and the 16-bit IEEE binary16 (F16) and bfloat16 (BF16) bit
// patterns checkpoints are stored in. Widening is exact (subnormals, infinities and NaN
// payloads included, except that NaNs come out quiet, as hardware conversions do); narrowing
// rounds to nearest, ties to even, overflows to infinity and keeps NaNs NaN (quiet, same
// sign). Only integer operations are used, so no floating-point exception is ever raised,
// even for signalling NaNs.

#include <cstdint>
#include <cstring>

namespace sgpte::io
{

namespace detail
{

inline std::uint32_t float_bits(float value)
{
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

inline float float_from_bits(std::uint32_t bits)
{
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Classification from the bits: std::isnan may compile to a comparison, which raises
// FE_INVALID on a signalling NaN.
inline bool is_nan(float value) { return (float_bits(value) & 0x7fffffffu) > 0x7f800000u; }
inline bool is_finite(float value) { return (float_bits(value) & 0x7f800000u) != 0x7f800000u; }

} // namespace detail

inline float float_from_f16_bits(std::uint16_t half)
{
  std::uint32_t const sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  std::uint32_t const exponent = (half >> 10) & 0x1fu;
  std::uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f && mantissa != 0) // NaN: keep the payload, make it quiet
    return detail::float_from_bits(sign | 0x7fc00000u | (mantissa << 13));
  if (exponent == 0x1f)
    return detail::float_from_bits(sign | 0x7f800000u);
  if (exponent != 0) // normal: rebias the exponent from 15 to 127
    return detail::float_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0)
    return detail::float_from_bits(sign);
  // Subnormal half, normal float: shift the leading one into the implicit-bit position.
  std::uint32_t float_exponent = 113;
  while ((mantissa & 0x400u) == 0)
  {
    mantissa <<= 1;
    --float_exponent;
  }
  return detail::float_from_bits(sign | (float_exponent << 23) | ((mantissa & 0x3ffu) << 13));
}

inline std::uint16_t f16_bits_from_float(float value)
{
  std::uint32_t const bits = detail::float_bits(value);
  auto const sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) // NaN: keep the payload's top bits, force the quiet bit
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  if (magnitude >= 0x477ff000u) // >= 65520, which rounds past the largest half (65504)
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (magnitude >= 0x38800000u) // >= 2^-14: normal half
  {
    magnitude += 0xfffu + ((magnitude >> 13) & 1u); // round to nearest, ties to even
    return static_cast<std::uint16_t>(sign | ((magnitude - 0x38000000u) >> 13));
  }
  if (magnitude <= 0x33000000u) // <= 2^-25, half of the smallest subnormal: ties to zero
    return sign;
  // Subnormal half: the result counts units of 2^-24.
  std::uint32_t const exponent = magnitude >> 23;
  std::uint32_t const significand = (magnitude & 0x7fffffu) | 0x800000u;
  std::uint32_t const shift = 126 - exponent;
  std::uint32_t result = significand >> shift;
  std::uint32_t const remainder = significand & ((1u << shift) - 1);
  std::uint32_t const halfway = 1u << (shift - 1);
  if (remainder > halfway || (remainder == halfway && (result & 1u) != 0))
    ++result;
  return static_cast<std::uint16_t>(sign | result);
}

inline float float_from_bf16_bits(std::uint16_t bfloat)
{
  std::uint32_t const bits = static_cast<std::uint32_t>(bfloat) << 16;
  bool const nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return detail::float_from_bits(nan ? bits | 0x00400000u : bits); // NaN comes out quiet
}

inline std::uint16_t bf16_bits_from_float(float value)
{
  std::uint32_t const bits = detail::float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: truncate, force the quiet bit
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  // Round to nearest, ties to even; a carry out of the mantissa correctly bumps the
  // exponent, up to infinity.
  return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

} // namespace sgpte::io

#endif
