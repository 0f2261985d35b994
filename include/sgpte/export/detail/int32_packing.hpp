#ifndef SGPTE_EXPORT_DETAIL_INT32_PACKING_HPP
#define SGPTE_EXPORT_DETAIL_INT32_PACKING_HPP

// Integer fields of `bits` bits packed into 32-bit words, least significant bits first, the
// two ways the exported formats do it:
//
//   stream        field i occupies bits [i·bits, (i+1)·bits) of the sequence of words, bit k
//                 being bit k % 32 of word k / 32: 3-bit fields straddle words, 32 of them
//                 fill 3 words exactly (GPTQ: AutoGPTQ's QuantLinear.pack and its loaders).
//   whole_fields  ⌊32 / bits⌋ fields per word, field i at bit (i mod ⌊32/bits⌋)·bits of word
//                 i / ⌊32/bits⌋, the word's remaining high bits zero (compressed-tensors'
//                 pack_to_int32: 10 fields of 3 bits, 5 of 6 bits per word).
//
// The last word is padded with zero bits.

#include <cstdint>
#include <vector>

namespace sgpte::exports::detail
{

enum class FieldPacking
{
  stream,
  whole_fields
};

inline std::int64_t packed_words(std::int64_t fields, int bits, FieldPacking packing)
{
  if (packing == FieldPacking::stream)
    return (fields * bits + 31) / 32;
  int const per_word = 32 / bits;
  return (fields + per_word - 1) / per_word;
}

// Packs field(0) … field(count − 1), each < 2^bits, into packed_words(count, bits) words.
template <class Field>
std::vector<std::uint32_t> pack_fields(std::int64_t count, int bits, FieldPacking packing,
                                       Field const &field)
{
  std::vector<std::uint32_t> words(static_cast<std::size_t>(packed_words(count, bits, packing)), 0);
  int const per_word = 32 / bits;
  for (std::int64_t i = 0; i < count; ++i)
  {
    std::int64_t const bit =
        packing == FieldPacking::stream ? i * bits : (i / per_word) * 32 + (i % per_word) * bits;
    auto const word = static_cast<std::size_t>(bit / 32);
    int const shift = static_cast<int>(bit % 32);
    std::uint64_t const value = static_cast<std::uint64_t>(field(i)) << shift;
    words[word] |= static_cast<std::uint32_t>(value);
    if (shift + bits > 32)
      words[word + 1] |= static_cast<std::uint32_t>(value >> 32);
  }
  return words;
}

} // namespace sgpte::exports::detail

#endif
