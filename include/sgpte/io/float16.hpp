#ifndef SGPTE_IO_FLOAT16_HPP
#define SGPTE_IO_FLOAT16_HPP

// Conversions between float and the 16-bit IEEE binary16 (F16) and bfloat16 (BF16) bit
// patterns checkpoints are stored in. Widening is exact (subnormals, infinities and NaN
// payloads included, except that NaNs come out quiet, as hardware conversions do); narrowing
// rounds to nearest, ties to even, overflows to infinity and keeps NaNs NaN (quiet, same
// sign). Only integer operations are used, so no floating-point exception is ever raised,
// even for signalling NaNs.

#include <sgpte/core/half_precision.hpp>

#include <cstdint>

namespace sgpte::io
{

namespace detail
{

using sgpte::detail::float_bits;

// Classification from the bits: std::isnan may compile to a comparison, which raises
// FE_INVALID on a signalling NaN.
inline bool is_nan(float value) { return (float_bits(value) & 0x7fffffffu) > 0x7f800000u; }
inline bool is_finite(float value) { return (float_bits(value) & 0x7f800000u) != 0x7f800000u; }

} // namespace detail

// The conversions themselves live in core/half_precision.hpp, where kernels use them too.
using sgpte::bf16_bits_from_float;
using sgpte::f16_bits_from_float;
using sgpte::float_from_bf16_bits;
using sgpte::float_from_f16_bits;

} // namespace sgpte::io

#endif
