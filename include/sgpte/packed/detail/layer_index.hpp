#ifndef SGPTE_PACKED_DETAIL_LAYER_INDEX_HPP
#define SGPTE_PACKED_DETAIL_LAYER_INDEX_HPP

// The index of a packed layer (see packed_layer_view.hpp), built the same way when a layer
// is packed and when it is read: from the layout's widths and mask kind, the bits per column,
// the sweep order and a matrix of kept bits. It yields the number of kept weights of each
// stream, hence the size of each stream and of the file.

#include <sgpte/packed/detail/bit_stream.hpp>
#include <sgpte/packed/detail/device_array.hpp>
#include <sgpte/packed/detail/value_encoding.hpp>
#include <sgpte/packed/packed_layer.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace sgpte::packed::detail
{

// Bit c % 32 of word (row, c / 32) is set when weight (row, c) is kept; bits past the last
// column are clear.
template <class ExecutionSpace>
using KeepMatrix =
    Kokkos::View<std::uint32_t **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

// The stream of each column: the index of its width among the widths in use, or 0.
inline std::vector<int> stream_of_columns(LayerLayout const &layout,
                                          std::vector<std::uint8_t> const &bits)
{
  std::vector<int> stream(layout.columns, 0);
  if (layout.quantized())
    for (int c = 0; c < layout.columns; ++c)
      stream[c] =
          static_cast<int>(std::lower_bound(layout.widths.begin(), layout.widths.end(), bits[c]) -
                           layout.widths.begin());
  return stream;
}

// Sweep position of each column: the inverse of the sweep order, or the identity.
inline std::vector<int> sweep_positions(int columns, std::vector<int> const &sweep_order)
{
  std::vector<int> position(columns);
  std::iota(position.begin(), position.end(), 0);
  for (std::size_t k = 0; k < sweep_order.size(); ++k)
    position[sweep_order[k]] = static_cast<int>(k);
  return position;
}

template <class ExecutionSpace>
void fill_keep_words(ExecutionSpace const &space, PackedLayerView<ExecutionSpace> const &view,
                     KeepMatrix<ExecutionSpace> const &keep, int first_column, int count,
                     std::int64_t begin)
{
  int const chunks = (count + 31) / 32;
  auto const words = view.keep;
  auto const columns = view.stream_columns;
  Kokkos::parallel_for(
      "sgpte::packed::keep_words",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(view.rows) * chunks),
      KOKKOS_LAMBDA(std::int64_t i) {
        int const row = static_cast<int>(i / chunks);
        int const m = static_cast<int>(i % chunks);
        std::uint32_t word = 0;
        for (int j = 0; j < 32 && 32 * m + j < count; ++j)
        {
          int const c = columns(first_column + 32 * m + j);
          word |= ((keep(row, c >> 5) >> (c & 31)) & 1u) << j;
        }
        words(begin + i) = word;
      });
}

// row_begin(offset + row) = kept weights of the stream in the rows before `row`.
template <class ExecutionSpace>
void scan_rows(ExecutionSpace const &space, PackedLayerView<ExecutionSpace> const &view, int s,
               int count, std::int64_t keep_begin)
{
  int const rows = view.rows;
  int const chunks = (count + 31) / 32;
  bool const masked = view.masked;
  auto const words = view.keep;
  auto const row_begin = view.row_begin;
  std::int64_t const offset = static_cast<std::int64_t>(s) * (rows + 1);
  Kokkos::parallel_scan(
      "sgpte::packed::row_begin", Kokkos::RangePolicy<ExecutionSpace>(space, 0, rows + 1),
      KOKKOS_LAMBDA(int row, std::int64_t &update, bool final) {
        if (final)
          row_begin(offset + row) = update;
        if (row == rows)
          return;
        if (!masked)
        {
          update += count;
          return;
        }
        for (int m = 0; m < chunks; ++m)
          update += popcount(words(keep_begin + static_cast<std::int64_t>(row) * chunks + m));
      });
}

// Fills layer.device (all but the streams' contents and the parameters) from layer.layout
// (all but kept), layer.bits and layer.sweep_order and, for masked layers, the kept bits;
// sets layer.layout.kept and allocates the zeroed stream words.
template <class ExecutionSpace>
void build_index(ExecutionSpace const &space, PackedLayer<ExecutionSpace> &layer,
                 KeepMatrix<ExecutionSpace> const &keep)
{
  LayerLayout &layout = layer.layout;
  PackedLayerView<ExecutionSpace> &view = layer.device;
  int const rows = layout.rows;
  int const columns = layout.columns;
  int const streams = layout.streams();
  view.rows = rows;
  view.columns = columns;
  view.streams = streams;
  view.masked = layout.mask != MaskKind::none;
  view.per_channel = layout.per_channel;
  view.grouped = layout.quantized() && layout.groups() > 1;
  view.encoding = layout.quantized() ? ValueEncoding::codes : value_encoding(layout.value_dtype);

  std::vector<int> const stream = stream_of_columns(layout, layer.bits);
  std::vector<int> column_begin(streams + 1, 0);
  std::vector<int> stream_columns;
  std::vector<int> stream_bits(streams);
  for (int s = 0; s < streams; ++s)
  {
    for (int c = 0; c < columns; ++c)
      if (stream[c] == s)
        stream_columns.push_back(c);
    column_begin[s + 1] = static_cast<int>(stream_columns.size());
    stream_bits[s] = layout.stream_bits(s);
  }
  view.column_begin = to_device(space, "sgpte::packed::column_begin", column_begin);
  view.stream_columns = to_device(space, "sgpte::packed::stream_columns", stream_columns);
  view.stream_bits = to_device(space, "sgpte::packed::stream_bits", stream_bits);
  if (view.grouped)
  {
    std::vector<int> group = sweep_positions(columns, layer.sweep_order);
    for (int &g : group)
      g /= layout.group_size;
    view.group_of = to_device(space, "sgpte::packed::group_of", group);
  }

  std::vector<std::int64_t> keep_begin(streams + 1, 0);
  for (int s = 0; s < streams; ++s)
    keep_begin[s + 1] =
        keep_begin[s] + (view.masked ? static_cast<std::int64_t>(rows) *
                                           ((column_begin[s + 1] - column_begin[s] + 31) / 32)
                                     : 0);
  view.keep_begin = to_device(space, "sgpte::packed::keep_begin", keep_begin);
  view.keep = decltype(view.keep)(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::keep"),
      keep_begin[streams]);
  view.row_begin = decltype(view.row_begin)(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::row_begin"),
      static_cast<std::int64_t>(streams) * (rows + 1));
  for (int s = 0; s < streams; ++s)
  {
    int const count = column_begin[s + 1] - column_begin[s];
    if (view.masked)
      fill_keep_words(space, view, keep, column_begin[s], count, keep_begin[s]);
    scan_rows(space, view, s, count, keep_begin[s]);
  }

  std::vector<std::int64_t> const row_begin = to_host(view.row_begin);
  std::vector<std::int64_t> word_begin(streams + 1, 0);
  layout.kept.assign(streams, 0);
  for (int s = 0; s < streams; ++s)
  {
    layout.kept[s] = row_begin[static_cast<std::size_t>(s) * (rows + 1) + rows];
    word_begin[s + 1] = word_begin[s] + (layout.kept[s] * stream_bits[s] + 31) / 32 + 1; // + guard
  }
  view.word_begin = to_device(space, "sgpte::packed::word_begin", word_begin);
  view.codes = decltype(view.codes)(Kokkos::view_alloc(space, "sgpte::packed::codes"),
                                    word_begin[streams] + 1);
}

} // namespace sgpte::packed::detail

#endif
