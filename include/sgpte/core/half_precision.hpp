#ifndef SGPTE_CORE_HALF_PRECISION_HPP
#define SGPTE_CORE_HALF_PRECISION_HPP

// The 16-bit floating-point formats checkpoints are stored in and the half-precision forward
// pass computes with: IEEE binary16 (F16) and bfloat16 (BF16), held as their bit patterns in
// `float16` and `bfloat16`, so that views of them exist on every backend (Kokkos 3.4's half_t
// is float on the host) and their memory is what cuBLAS reads as CUDA_R_16F / CUDA_R_16BF.
//
// Widening is exact (subnormals, infinities and NaN payloads included, except that NaNs come
// out quiet, as hardware conversions do); narrowing rounds to nearest, ties to even, overflows
// to infinity and keeps NaNs NaN (quiet, same sign). On the host only integer operations are
// used, so no floating-point exception is ever raised, even for signalling NaNs; GPU code uses
// the hardware conversions, which round the same way.

#include <sgpte/core/float_bits.hpp>
#include <sgpte/core/host_device.hpp>

#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace sgpte
{

struct float16
{
  std::uint16_t bits;
};

struct bfloat16
{
  std::uint16_t bits;
};

// The activation types of the forward pass: float, float16 or bfloat16.
template <class T>
inline constexpr bool is_half_v =
    std::is_same<T, float16>::value || std::is_same<T, bfloat16>::value;

SGPTE_HOST_DEVICE float float_from_f16_bits(std::uint16_t half)
{
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(half));
#else
  std::uint32_t const sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  std::uint32_t const exponent = (half >> 10) & 0x1fu;
  std::uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f && mantissa != 0) // NaN: keep the payload, make it quiet
    return detail::bits_to_float(sign | 0x7fc00000u | (mantissa << 13));
  if (exponent == 0x1f)
    return detail::bits_to_float(sign | 0x7f800000u);
  if (exponent != 0) // normal: rebias the exponent from 15 to 127
    return detail::bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0)
    return detail::bits_to_float(sign);
  // Subnormal half, normal float: shift the leading one into the implicit-bit position.
  std::uint32_t float_exponent = 113;
  while ((mantissa & 0x400u) == 0)
  {
    mantissa <<= 1;
    --float_exponent;
  }
  return detail::bits_to_float(sign | (float_exponent << 23) | ((mantissa & 0x3ffu) << 13));
#endif
}

SGPTE_HOST_DEVICE std::uint16_t f16_bits_from_float(float value)
{
#if defined(__CUDA_ARCH__)
  return __half_as_ushort(__float2half_rn(value));
#else
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
#endif
}

SGPTE_HOST_DEVICE float float_from_bf16_bits(std::uint16_t bfloat)
{
  std::uint32_t const bits = static_cast<std::uint32_t>(bfloat) << 16;
  bool const nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return detail::bits_to_float(nan ? bits | 0x00400000u : bits); // NaN comes out quiet
}

SGPTE_HOST_DEVICE std::uint16_t bf16_bits_from_float(float value)
{
  std::uint32_t const bits = detail::float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: truncate, force the quiet bit
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  // Round to nearest, ties to even; a carry out of the mantissa correctly bumps the
  // exponent, up to infinity.
  return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

SGPTE_HOST_DEVICE float to_float(float value) { return value; }
SGPTE_HOST_DEVICE float to_float(float16 value) { return float_from_f16_bits(value.bits); }
SGPTE_HOST_DEVICE float to_float(bfloat16 value) { return float_from_bf16_bits(value.bits); }

// `value` rounded to T (float, float16 or bfloat16).
template <class T>
SGPTE_HOST_DEVICE T from_float(float value)
{
  if constexpr (std::is_same<T, float16>::value)
    return float16{f16_bits_from_float(value)};
  else if constexpr (std::is_same<T, bfloat16>::value)
    return bfloat16{bf16_bits_from_float(value)};
  else
  {
    static_assert(std::is_same<T, float>::value, "from_float<T>: T is float, float16 or bfloat16");
    return value;
  }
}

// `value` as it reads back once stored in T.
template <class T>
SGPTE_HOST_DEVICE float rounded_to(float value)
{
  return to_float(from_float<T>(value));
}

} // namespace sgpte

#endif
