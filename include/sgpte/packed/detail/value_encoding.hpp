#ifndef SGPTE_PACKED_DETAIL_VALUE_ENCODING_HPP
#define SGPTE_PACKED_DETAIL_VALUE_ENCODING_HPP

// What a packed stream's fields are: integer codes, or kept weights in their checkpoint
// dtype. The 16-bit dtypes widen to float exactly as io/float16.hpp does (tested against it
// for every bit pattern), here as device code so that kernels decode in registers.

#include <sgpte/io/dtype.hpp>
#include <sgpte/sweep/detail/block_threshold.hpp> // float bit casts for device code

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte::packed::detail
{

enum class ValueEncoding
{
  codes,
  f16,
  bf16,
  f32
};

inline ValueEncoding value_encoding(io::Dtype dtype)
{
  return dtype == io::Dtype::F16
             ? ValueEncoding::f16
             : (dtype == io::Dtype::BF16 ? ValueEncoding::bf16 : ValueEncoding::f32);
}

KOKKOS_INLINE_FUNCTION float float_from_f16(std::uint32_t half)
{
  std::uint32_t const sign = (half & 0x8000u) << 16;
  std::uint32_t const exponent = (half >> 10) & 0x1fu;
  std::uint32_t const mantissa = half & 0x3ffu;
  if (exponent == 0) // zero or subnormal: mantissa · 2^-24, exact in float
  {
    float const magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-08f;
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) // infinity, or NaN made quiet
    return sgpte::detail::bits_to_float(sign | 0x7f800000u | (mantissa << 13) |
                                        (mantissa != 0 ? 0x00400000u : 0u));
  return sgpte::detail::bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

KOKKOS_INLINE_FUNCTION float float_from_bf16(std::uint32_t bfloat)
{
  std::uint32_t const bits = bfloat << 16;
  return sgpte::detail::bits_to_float((bits & 0x7fffffffu) > 0x7f800000u ? bits | 0x00400000u
                                                                         : bits);
}

KOKKOS_INLINE_FUNCTION float decode_value(ValueEncoding encoding, std::uint32_t field)
{
  switch (encoding)
  {
  case ValueEncoding::f16:
    return float_from_f16(field);
  case ValueEncoding::bf16:
    return float_from_bf16(field);
  default:
    return sgpte::detail::bits_to_float(field);
  }
}

} // namespace sgpte::packed::detail

#endif
