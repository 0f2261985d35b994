#ifndef SGPTE_PACKED_DETAIL_BIT_STREAM_HPP
#define SGPTE_PACKED_DETAIL_BIT_STREAM_HPP

// Fields of 1…32 bits packed back to back into 32-bit words, least significant bit first:
// field i of width b occupies bits [i·b, (i+1)·b) of the stream, bit k being bit k % 32 of
// word k / 32. On a little-endian machine that is bit k % 8 of byte k / 8, the byte stream
// the files store. A field may straddle two words, so a read always loads two: every stream
// is followed by a guard word, and the buffer of all streams by one more, so that reading
// the field just past a stream's end stays inside the buffer.

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte::packed::detail
{

// Population count: the GPU's instruction, else a portable form compilers recognise.
KOKKOS_INLINE_FUNCTION int popcount(std::uint32_t x)
{
#if defined(__CUDA_ARCH__)
  return __popc(x);
#else
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0fu;
  return static_cast<int>((x * 0x01010101u) >> 24);
#endif
}

// The index of the lowest set bit of x != 0.
KOKKOS_INLINE_FUNCTION int trailing_zeros(std::uint32_t x) { return popcount((x & (0u - x)) - 1u); }

// The lowest `count` bits set, for count in 0…32.
KOKKOS_INLINE_FUNCTION std::uint32_t low_bits(int count)
{
  return count >= 32 ? 0xffffffffu : (std::uint32_t(1) << count) - 1u;
}

// Field of `width` bits starting at bit `bit` of the stream that begins at words(first). Bit
// is 32-bit inside a row (cheaper on GPUs), 64-bit across a whole stream.
template <class Words, class Bit>
KOKKOS_INLINE_FUNCTION std::uint32_t read_field(Words const &words, std::int64_t first, Bit bit,
                                                int width)
{
  std::int64_t const word = first + (bit >> 5);
  int const shift = static_cast<int>(bit & 31);
  std::uint64_t const pair =
      static_cast<std::uint64_t>(words(word)) | (static_cast<std::uint64_t>(words(word + 1)) << 32);
  return static_cast<std::uint32_t>(pair >> shift) & low_bits(width);
}

// ORs a field into a zero-initialised stream; atomic, as neighbouring fields written by
// other threads share words.
template <class Words, class Bit>
KOKKOS_INLINE_FUNCTION void or_field(Words const &words, std::int64_t first, Bit bit, int width,
                                     std::uint32_t value)
{
  std::int64_t const word = first + (bit >> 5);
  int const shift = static_cast<int>(bit & 31);
  Kokkos::atomic_fetch_or(&words(word), value << shift);
  if (shift + width > 32)
    Kokkos::atomic_fetch_or(&words(word + 1), value >> (32 - shift));
}

} // namespace sgpte::packed::detail

#endif
