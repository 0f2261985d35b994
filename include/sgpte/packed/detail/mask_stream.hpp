#ifndef SGPTE_PACKED_DETAIL_MASK_STREAM_HPP
#define SGPTE_PACKED_DETAIL_MASK_STREAM_HPP

// The stored forms of the kept bits (docs/format.md), as bit streams in words:
//   bitmap: row-major rows × ceil(columns / 8) bytes, bit c % 8 of byte (row, c / 8) set
//           when weight (row, c) is kept;
//   n:m:    for each row, for each group of M consecutive sweep positions (the last one may
//           be shorter, s columns), the positions 0 … s−1 of its s − min(N, s) kept weights,
//           ascending, in ceil(log2 M) bits each.
// encode_mask writes them from a keep matrix; decode_mask reads them back and counts what a
// valid file cannot hold (bits past the last column, positions out of range or not ascending).

#include <sgpte/packed/detail/bit_stream.hpp>
#include <sgpte/packed/detail/device_array.hpp>
#include <sgpte/packed/detail/layer_index.hpp>
#include <sgpte/packed/format.hpp>
#include <sgpte/packed/layer_layout.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <numeric>
#include <vector>

namespace sgpte::packed::detail
{

// Words holding a stream of `bits` bits, plus the guard word.
inline std::int64_t stream_words(std::int64_t bits) { return (bits + 31) / 32 + 1; }

// The N:M groups of a row: their number, and the kept weights they hold.
struct NmGroups
{
  int n;
  int m;
  int groups;
  std::int64_t kept_per_row;
  int position_bits;

  explicit NmGroups(LayerLayout const &layout)
      : n(layout.prune_n), m(layout.prune_m), groups((layout.columns + m - 1) / m), kept_per_row(0),
        position_bits(packed::position_bits(m))
  {
    int const last = layout.columns - (groups - 1) * m;
    kept_per_row = static_cast<std::int64_t>(groups - 1) * (m - n) + (last > n ? last - n : 0);
  }
};

template <class ExecutionSpace>
using Words = Kokkos::View<std::uint32_t *, typename ExecutionSpace::memory_space>;

template <class ExecutionSpace>
using Columns = Kokkos::View<int *, typename ExecutionSpace::memory_space>;

template <class ExecutionSpace>
// The original column at each sweep position: the sweep order, or the identity when it is not
// stored.
Columns<ExecutionSpace> sweep_columns(ExecutionSpace const &space, LayerLayout const &layout,
                                      std::vector<int> const &sweep_order)
{
  std::vector<int> order = sweep_order;
  if (order.empty())
  {
    order.resize(layout.columns);
    std::iota(order.begin(), order.end(), 0);
  }
  return to_device(space, "sgpte::packed::column_at", order);
}

template <class ExecutionSpace>
Words<ExecutionSpace> encode_bitmap(ExecutionSpace const &space, LayerLayout const &layout,
                                    KeepMatrix<ExecutionSpace> const &keep)
{
  int const row_bytes = (layout.columns + 7) / 8;
  std::int64_t const bytes = static_cast<std::int64_t>(layout.rows) * row_bytes;
  Words<ExecutionSpace> stream(Kokkos::view_alloc(space, "sgpte::packed::mask"),
                               stream_words(8 * bytes));
  Kokkos::parallel_for(
      "sgpte::packed::encode_bitmap",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(space, 0, bytes),
      KOKKOS_LAMBDA(std::int64_t i) {
        int const row = static_cast<int>(i / row_bytes);
        int const byte = static_cast<int>(i % row_bytes);
        or_field(stream, 0, 8 * i, 8, (keep(row, byte / 4) >> (8 * (byte % 4))) & 0xffu);
      });
  return stream;
}

template <class ExecutionSpace>
Words<ExecutionSpace> encode_nm_positions(ExecutionSpace const &space, LayerLayout const &layout,
                                          KeepMatrix<ExecutionSpace> const &keep,
                                          Columns<ExecutionSpace> const &column_at)
{
  NmGroups const nm(layout);
  int const columns = layout.columns;
  Words<ExecutionSpace> stream(Kokkos::view_alloc(space, "sgpte::packed::nm_index"),
                               stream_words(layout.rows * nm.kept_per_row * nm.position_bits));
  Kokkos::parallel_for(
      "sgpte::packed::encode_nm_positions",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(layout.rows) * nm.groups),
      KOKKOS_LAMBDA(std::int64_t i) {
        int const row = static_cast<int>(i / nm.groups);
        int const group = static_cast<int>(i % nm.groups);
        int const first = group * nm.m;
        int const size = columns - first < nm.m ? columns - first : nm.m;
        std::int64_t field =
            row * nm.kept_per_row + static_cast<std::int64_t>(group) * (nm.m - nm.n);
        for (int p = 0; p < size; ++p)
        {
          int const c = column_at(first + p);
          if ((keep(row, c >> 5) >> (c & 31)) & 1u)
            or_field(stream, 0, field++ * nm.position_bits, nm.position_bits,
                     static_cast<std::uint32_t>(p));
        }
      });
  return stream;
}

// Groups of M whose kept count is not s − min(N, s): a mask that is not N:M.
template <class ExecutionSpace>
std::int64_t count_nm_violations(ExecutionSpace const &space, LayerLayout const &layout,
                                 KeepMatrix<ExecutionSpace> const &keep,
                                 Columns<ExecutionSpace> const &column_at)
{
  NmGroups const nm(layout);
  int const columns = layout.columns;
  std::int64_t violations = 0;
  Kokkos::parallel_reduce(
      "sgpte::packed::count_nm_violations",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(layout.rows) * nm.groups),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & count) {
        int const row = static_cast<int>(i / nm.groups);
        int const first = static_cast<int>(i % nm.groups) * nm.m;
        int const size = columns - first < nm.m ? columns - first : nm.m;
        int kept = 0;
        for (int p = 0; p < size; ++p)
        {
          int const c = column_at(first + p);
          kept += (keep(row, c >> 5) >> (c & 31)) & 1u;
        }
        count += kept != (size > nm.n ? size - nm.n : 0) ? 1 : 0;
      },
      violations);
  return violations;
}

template <class ExecutionSpace>
KeepMatrix<ExecutionSpace> decode_bitmap(ExecutionSpace const &space, LayerLayout const &layout,
                                         Words<ExecutionSpace> const &stream, std::int64_t &invalid)
{
  int const columns = layout.columns;
  int const words = (columns + 31) / 32;
  std::int64_t const row_bits = 8 * static_cast<std::int64_t>((columns + 7) / 8);
  KeepMatrix<ExecutionSpace> keep(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::keep"), layout.rows,
      words);
  invalid = 0;
  Kokkos::parallel_reduce(
      "sgpte::packed::decode_bitmap",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(layout.rows) * words),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & count) {
        int const row = static_cast<int>(i / words);
        int const word = static_cast<int>(i % words);
        int const width = columns - 32 * word < 32 ? columns - 32 * word : 32;
        std::int64_t const bit = row * row_bits + 32 * word;
        keep(row, word) = read_field(stream, 0, bit, width);
        if (word == words - 1 && row_bits > columns) // padding of the row's last byte
          count += read_field(stream, 0, row * row_bits + columns,
                              static_cast<int>(row_bits - columns)) != 0;
      },
      invalid);
  return keep;
}

template <class ExecutionSpace>
KeepMatrix<ExecutionSpace>
decode_nm_positions(ExecutionSpace const &space, LayerLayout const &layout,
                    Words<ExecutionSpace> const &stream, Columns<ExecutionSpace> const &column_at,
                    std::int64_t &invalid)
{
  NmGroups const nm(layout);
  int const columns = layout.columns;
  KeepMatrix<ExecutionSpace> keep(Kokkos::view_alloc(space, "sgpte::packed::keep"), layout.rows,
                                  (columns + 31) / 32);
  invalid = 0;
  Kokkos::parallel_reduce(
      "sgpte::packed::decode_nm_positions",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(layout.rows) * nm.groups),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & count) {
        int const row = static_cast<int>(i / nm.groups);
        int const group = static_cast<int>(i % nm.groups);
        int const first = group * nm.m;
        int const size = columns - first < nm.m ? columns - first : nm.m;
        int const kept = size > nm.n ? size - nm.n : 0;
        std::int64_t const field =
            row * nm.kept_per_row + static_cast<std::int64_t>(group) * (nm.m - nm.n);
        int previous = -1;
        for (int k = 0; k < kept; ++k)
        {
          int const p = static_cast<int>(
              read_field(stream, 0, (field + k) * nm.position_bits, nm.position_bits));
          if (p <= previous || p >= size)
          {
            ++count;
            return;
          }
          previous = p;
          int const c = column_at(first + p);
          Kokkos::atomic_fetch_or(&keep(row, c >> 5), std::uint32_t(1) << (c & 31));
        }
      },
      invalid);
  return keep;
}

} // namespace sgpte::packed::detail

#endif
