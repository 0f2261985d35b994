// F16 / BF16 conversions, checked exhaustively over every 16-bit pattern and every midpoint
// between neighbouring values (ties to even), and the array codec built on them.

#include <sgpte/io/float16.hpp>
#include <sgpte/io/float_codec.hpp>

#include "trap_invalid_operations.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace
{

using namespace sgpte::io;

std::uint32_t bits_of(float value)
{
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float float_of(std::uint32_t bits)
{
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

bool is_nan_f16(std::uint16_t half) { return (half & 0x7c00u) == 0x7c00u && (half & 0x3ffu) != 0; }

// The value of a non-NaN half, computed arithmetically from its fields.
float f16_reference_value(std::uint16_t half)
{
  int const exponent = (half >> 10) & 0x1f;
  int const mantissa = half & 0x3ff;
  float const magnitude = exponent == 0x1f ? std::numeric_limits<float>::infinity()
                          : exponent == 0  ? std::ldexp(float(mantissa), -24)
                                           : std::ldexp(float(1024 + mantissa), exponent - 25);
  return (half & 0x8000u) != 0 ? -magnitude : magnitude;
}

// Checks that x rounds to `expected` and its float neighbours to the nearer of below/above.
template <class Narrow>
void check_midpoint(Narrow narrow, float midpoint, std::uint16_t below, std::uint16_t expected,
                    std::uint16_t above)
{
  BOOST_TEST(narrow(midpoint) == expected, "midpoint bits " << std::hex << bits_of(midpoint));
  BOOST_TEST(narrow(std::nextafter(midpoint, 0.0f)) == below);
  BOOST_TEST(narrow(std::nextafter(midpoint, 2 * midpoint)) == above);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(float16, sgpte_test::TrapInvalidOperations)

BOOST_AUTO_TEST_CASE(f16_widening_is_exact_for_every_pattern)
{
  for (std::uint32_t half = 0; half <= 0xffff; ++half)
  {
    float const value = float_from_f16_bits(std::uint16_t(half));
    std::uint32_t const sign = bits_of(value) >> 31;
    BOOST_TEST_REQUIRE(sign == half >> 15);
    if (is_nan_f16(std::uint16_t(half)))
    {
      // NaN stays NaN, comes out quiet, and keeps its payload.
      BOOST_TEST_REQUIRE((bits_of(value) & 0x7fc00000u) == 0x7fc00000u);
      BOOST_TEST_REQUIRE(((bits_of(value) >> 13) & 0x1ffu) == (half & 0x1ffu));
    }
    else
      BOOST_TEST_REQUIRE(bits_of(value) == bits_of(f16_reference_value(std::uint16_t(half))),
                         "half " << std::hex << half);
  }
}

BOOST_AUTO_TEST_CASE(f16_narrowing_inverts_widening)
{
  for (std::uint32_t half = 0; half <= 0xffff; ++half)
  {
    std::uint16_t const back = f16_bits_from_float(float_from_f16_bits(std::uint16_t(half)));
    if (is_nan_f16(std::uint16_t(half)))
      BOOST_TEST_REQUIRE(back == (half | 0x200u)); // quieted, payload and sign kept
    else
      BOOST_TEST_REQUIRE(back == half);
  }
}

BOOST_AUTO_TEST_CASE(f16_narrowing_rounds_to_nearest_even)
{
  // Every midpoint between neighbouring positive halves (subnormals included), and the one
  // between the largest half and 65536, which must round to infinity.
  for (std::uint16_t half = 0; half < 0x7c00; ++half)
  {
    std::uint16_t const next = half + 1;
    float const upper = next == 0x7c00 ? 65536.0f : float_from_f16_bits(next);
    float const midpoint = (float_from_f16_bits(half) + upper) / 2;
    std::uint16_t const even = (half & 1u) == 0 ? half : next;
    check_midpoint(f16_bits_from_float, midpoint, half, even, next);
    check_midpoint(f16_bits_from_float, -midpoint, half | 0x8000u, even | 0x8000u, next | 0x8000u);
  }
  BOOST_TEST(f16_bits_from_float(65504.0f) == 0x7bffu);
  BOOST_TEST(f16_bits_from_float(1e9f) == 0x7c00u);
  BOOST_TEST(f16_bits_from_float(-std::numeric_limits<float>::max()) == 0xfc00u);
  BOOST_TEST(f16_bits_from_float(std::numeric_limits<float>::infinity()) == 0x7c00u);
  BOOST_TEST(f16_bits_from_float(std::numeric_limits<float>::denorm_min()) == 0x0000u);
  BOOST_TEST(f16_bits_from_float(-1e-30f) == 0x8000u);
  BOOST_TEST(f16_bits_from_float(float_of(0xffc00000u)) == 0xfe00u);
  BOOST_TEST(f16_bits_from_float(float_of(0x7f800001u)) == 0x7e00u); // signalling NaN: quieted
}

BOOST_AUTO_TEST_CASE(bf16_widening_and_narrowing_round_trip)
{
  for (std::uint32_t bfloat = 0; bfloat <= 0xffff; ++bfloat)
  {
    float const value = float_from_bf16_bits(std::uint16_t(bfloat));
    bool const nan = (bfloat & 0x7f80u) == 0x7f80u && (bfloat & 0x7fu) != 0;
    std::uint32_t const expected_bits = (bfloat << 16) | (nan ? 0x00400000u : 0u);
    BOOST_TEST_REQUIRE(bits_of(value) == expected_bits);
    BOOST_TEST_REQUIRE(bf16_bits_from_float(value) == (expected_bits >> 16));
  }
}

BOOST_AUTO_TEST_CASE(bf16_narrowing_rounds_to_nearest_even)
{
  // The midpoint after a bfloat16 pattern is that pattern followed by the float bit 0x8000;
  // after the largest finite bfloat16 it rounds to infinity.
  for (std::uint32_t bfloat = 0; bfloat < 0x7f80; ++bfloat)
  {
    for (std::uint32_t sign : {0u, 0x8000u})
    {
      auto const below = std::uint16_t(bfloat | sign);
      auto const above = std::uint16_t((bfloat + 1) | sign);
      float const midpoint = float_of((std::uint32_t(below) << 16) | 0x8000u);
      check_midpoint(bf16_bits_from_float, midpoint, below, (bfloat & 1u) == 0 ? below : above,
                     above);
    }
  }
  BOOST_TEST(bf16_bits_from_float(std::numeric_limits<float>::max()) == 0x7f80u);
  BOOST_TEST(bf16_bits_from_float(float_of(0x7f800001u)) == 0x7fc0u); // signalling NaN: quieted
}

BOOST_AUTO_TEST_CASE(codec_round_trips_every_floating_dtype)
{
  std::vector<float> const values = {0.0f, -0.0f, 1.0f, -2.5f, 0.125f, 1024.0f, 6.103515625e-05f};
  for (Dtype dtype : {Dtype::F16, Dtype::BF16, Dtype::F32, Dtype::F64})
  {
    auto const bytes = encode_from_float(dtype, values.data(), values.size());
    BOOST_TEST(bytes.size() == values.size() * dtype_size(dtype));
    std::vector<float> decoded(values.size());
    decode_to_float(dtype, bytes.data(), values.size(), decoded.data());
    for (std::size_t i = 0; i < values.size(); ++i)
      BOOST_TEST(bits_of(decoded[i]) == bits_of(values[i]), dtype_name(dtype) << " element " << i);
  }
}

BOOST_AUTO_TEST_CASE(codec_narrows_f64_to_float_without_raising)
{
  std::vector<double> const values = {1e300,
                                      -1e300,
                                      std::numeric_limits<double>::quiet_NaN(),
                                      -std::numeric_limits<double>::signaling_NaN(),
                                      1e-300,
                                      0.1};
  std::vector<unsigned char> bytes(values.size() * sizeof(double));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  std::vector<float> decoded(values.size());
  decode_to_float(Dtype::F64, bytes.data(), values.size(), decoded.data());
  BOOST_TEST(bits_of(decoded[0]) == 0x7f800000u);
  BOOST_TEST(bits_of(decoded[1]) == 0xff800000u);
  BOOST_TEST(bits_of(decoded[2]) == 0x7fc00000u);
  BOOST_TEST(bits_of(decoded[3]) == 0xffc00000u);
  BOOST_TEST(bits_of(decoded[4]) == 0u);
  BOOST_TEST(decoded[5] == 0.1f);
}

BOOST_AUTO_TEST_CASE(encoding_check_counts_overflow_and_non_finite_values)
{
  float const infinity = std::numeric_limits<float>::infinity();
  std::vector<float> const values = {1.0f,
                                     70000.0f,
                                     -65520.0f,
                                     65519.996f,
                                     65504.0f,
                                     -infinity,
                                     float_of(0x7fc00000u),
                                     3.4e38f,
                                     std::numeric_limits<float>::max()};
  auto const f16 = check_float_encoding(Dtype::F16, values.data(), values.size());
  BOOST_TEST(f16.non_finite == 2u);
  BOOST_TEST(f16.overflow == 4u); // 70000, -65520, 3.4e38, max
  BOOST_TEST(!f16.ok());
  auto const bf16 = check_float_encoding(Dtype::BF16, values.data(), values.size());
  BOOST_TEST(bf16.non_finite == 2u);
  BOOST_TEST(bf16.overflow == 2u); // 3.4e38 and max round past the largest bfloat16
  auto const f32 = check_float_encoding(Dtype::F32, values.data(), values.size());
  BOOST_TEST(f32.non_finite == 2u);
  BOOST_TEST(f32.overflow == 0u);
  BOOST_TEST(check_float_encoding(Dtype::F16, values.data(), 1).ok());
}

BOOST_AUTO_TEST_CASE(codec_rejects_integer_dtypes)
{
  float const value = 1.0f;
  BOOST_CHECK_THROW(encode_from_float(Dtype::I32, &value, 1), sgpte::InvalidArgument);
  BOOST_CHECK_THROW(check_float_encoding(Dtype::U8, &value, 1), sgpte::InvalidArgument);
  unsigned char const bytes[4] = {};
  float out;
  BOOST_CHECK_THROW(decode_to_float(Dtype::BOOL, bytes, 1, &out), sgpte::InvalidArgument);
}

BOOST_AUTO_TEST_SUITE_END()
