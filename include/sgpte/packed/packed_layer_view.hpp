#ifndef SGPTE_PACKED_PACKED_LAYER_VIEW_HPP
#define SGPTE_PACKED_PACKED_LAYER_VIEW_HPP

// A packed layer as kernels see it: views and scalars only, copied into kernels by value.
//
// The kept weights are split into streams, one per bit width in use (or a single stream of
// kept values when the layer is not quantized). A stream covers the columns of its width,
// ascending; row by row it holds the fields of that row's kept weights in those columns.
// The index beside the data (derived from bits and mask, not stored in files) makes any row
// decodable on its own: where each row starts in each stream, and the kept bits of each row
// over the stream's columns in words of 32 columns. A word's population count advances the
// position, so the lanes of a warp can take the 32 columns of a word together and read
// neighbouring fields.

#include <sgpte/packed/detail/bit_stream.hpp>
#include <sgpte/packed/detail/value_encoding.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte::packed
{

// One row's part of a stream: which stream, its field width, where the row's first field
// starts (a word and a bit in it: fields inside a row are then found with 32-bit
// arithmetic), and the row's quantizer parameters where they do not vary by group.
struct RowStream
{
  int stream;
  int bits;
  std::int64_t first_word;
  int first_bit;
  float scale;
  float zero;
};

template <class ExecutionSpace>
struct PackedLayerView
{
  using memory_space = typename ExecutionSpace::memory_space;
  template <class Value>
  using Array = Kokkos::View<Value *, memory_space>;
  using ParameterView = Kokkos::View<float ***, Kokkos::LayoutRight, memory_space>;

  int rows = 0;
  int columns = 0;
  int streams = 0;
  bool masked = false;     // false: every weight is kept
  bool grouped = false;    // parameters per column group (group_of)
  bool per_channel = true; // parameters per row, else one row for the tensor
  detail::ValueEncoding encoding = detail::ValueEncoding::codes;

  Array<std::uint32_t> codes; // the streams, each from word_begin(s); guard words (bit_stream.hpp)
  Array<std::int64_t> word_begin; // streams + 1
  Array<int> stream_bits;         // bits of one field, per stream
  Array<int> column_begin;        // streams + 1, into stream_columns
  Array<int> stream_columns;      // each stream's columns, ascending
  Array<std::int64_t> row_begin;  // (rows + 1) per stream: field index where each row starts
  Array<std::uint32_t> keep;      // per stream, rows × chunks words of kept bits (masked only)
  Array<std::int64_t> keep_begin; // streams + 1, into keep
  Array<int> group_of;            // quantizer group of each column (grouped only)
  ParameterView scale;            // (stream, parameter row, group)
  ParameterView zero;

  // One row's part of stream s, with what decoding it needs loaded once.
  KOKKOS_INLINE_FUNCTION RowStream row_stream(int s, int row) const
  {
    int const bits = stream_bits(s);
    std::int64_t const bit = row_begin(s * (rows + 1) + row) * bits;
    RowStream part{s, bits, word_begin(s) + (bit >> 5), static_cast<int>(bit & 31), 0.0f, 0.0f};
    if (encoding == detail::ValueEncoding::codes && !grouped)
      parameters(s, row, 0, part.scale, part.zero);
    return part;
  }

  // Bit of field `index` of the row's part (its index among the row's kept weights there).
  KOKKOS_INLINE_FUNCTION static int field_bit(RowStream const &part, int index)
  {
    return part.first_bit + index * part.bits;
  }

  // The stored field `index` of the row's part: a code, or a value's bits.
  KOKKOS_INLINE_FUNCTION std::uint32_t field(RowStream const &part, int index) const
  {
    return detail::read_field(codes, part.first_word, field_bit(part, index), part.bits);
  }

  // The weight of field `index`, in `column` of the part's row: scale · (code − zero), or the
  // stored value.
  KOKKOS_INLINE_FUNCTION float weight(RowStream const &part, int row, int column, int index) const
  {
    std::uint32_t const code = field(part, index);
    if (encoding != detail::ValueEncoding::codes)
      return detail::decode_value(encoding, code);
    if (!grouped)
      return part.scale * (static_cast<float>(code) - part.zero);
    float scale_value, zero_value;
    parameters(part.stream, row, column, scale_value, zero_value);
    return scale_value * (static_cast<float>(code) - zero_value);
  }

  // The quantizer parameters of a weight of a codes stream.
  KOKKOS_INLINE_FUNCTION void parameters(int s, int row, int column, float &scale_value,
                                         float &zero_value) const
  {
    int const parameter_row = per_channel ? row : 0;
    int const group = grouped ? group_of(column) : 0;
    scale_value = scale(s, parameter_row, group);
    zero_value = zero(s, parameter_row, group);
  }

  // Calls visit(part, field index in the part, column) for the kept weights of `row` that lane
  // `lane` of `lanes` owns: lane l takes columns l, l + lanes, … of each word of 32 stream columns.
  // A single lane visits the set bits of each word in order instead, without a branch per column.
  template <class Visit>
  KOKKOS_INLINE_FUNCTION void for_each_kept(int row, int lane, int lanes, Visit const &visit) const
  {
    for (int s = 0; s < streams; ++s)
    {
      RowStream const part = row_stream(s, row);
      int const first_column = column_begin(s);
      int const count = column_begin(s + 1) - first_column;
      int const chunks = (count + 31) / 32;
      int index = 0;
      std::int64_t const keep_row =
          masked ? keep_begin(s) + static_cast<std::int64_t>(row) * chunks : 0;
      for (int m = 0; m < chunks; ++m)
      {
        std::uint32_t const word = masked ? keep(keep_row + m) : detail::low_bits(count - 32 * m);
        int const chunk_column = first_column + 32 * m;
        if (lanes == 1)
        {
          int next = index;
          for (std::uint32_t rest = word; rest != 0; rest &= rest - 1)
            visit(part, next++, stream_columns(chunk_column + detail::trailing_zeros(rest)));
        }
        else
          for (int j = lane; j < 32; j += lanes)
            if ((word >> j) & 1u)
              visit(part, index + detail::popcount(word & detail::low_bits(j)),
                    stream_columns(chunk_column + j));
        index += detail::popcount(word);
      }
    }
  }
};

} // namespace sgpte::packed

#endif
