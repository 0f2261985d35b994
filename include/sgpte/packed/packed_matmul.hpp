#ifndef SGPTE_PACKED_PACKED_MATMUL_HPP
#define SGPTE_PACKED_PACKED_MATMUL_HPP

// y = Ŵ x for a batch of tokens, straight from a packed layer: y(t, r) = Σ_c Ŵ(r, c) x(t, c)
// with x tokens × columns and y tokens × rows, any layouts (on GPUs, row-major x, as
// activations come, is read coalesced; column-major x is not). No dense Ŵ is formed: each
// kept weight is decoded in registers (its code read from the stream, scale · (code − zero))
// and used for a tile of up to 16 tokens at once.
//
// On GPUs each row is a warp's (RowTeams), which decodes blocks of the row's codes into team
// scratch and then sums them against x (sum_row_in_warp); the 32 lanes' partial sums per
// token meet in team scratch. On host backends one thread walks a row's kept weights in
// order. Layers of one width of 2, 4 or 8 bits with nothing pruned take a faster path
// instead, on GPUs and host backends alike (detail/dense_rows_matmul.hpp). The sums differ
// from a dense product only in their order: both are within γ_n Σ_c |Ŵ(r, c) x(t, c)| of
// the exact value (n = columns, γ_n = n u / (1 − n u), u = 2^-24). Both kernels are
// launched light-weight (core/detail/light_launch.hpp): their functors hold the layer's views,
// too large for Kokkos' default launch on CUDA to skip a host-side wait per call.

#include <sgpte/core/detail/light_launch.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/packed/detail/dense_rows_matmul.hpp>
#include <sgpte/packed/detail/row_teams.hpp>
#include <sgpte/packed/packed_layer.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>

namespace sgpte::packed
{

namespace detail
{

template <class ExecutionSpace, class XView, class YView, int Tokens>
struct PackedMatmul
{
  using Teams = RowTeams<ExecutionSpace>;
  using Member = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;
  template <class Value>
  using Scratch = Kokkos::View<Value *, typename ExecutionSpace::scratch_memory_space,
                               Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  static constexpr int lanes = Teams::lanes;
  static constexpr int rows_per_team = Teams::rows_per_team;
  // GPUs: a warp decodes 32 words of 32 stream columns at once, a word per lane; a row of
  // 33 floats per word keeps the lanes' scratch writes on distinct banks.
  static constexpr int block_stride = 33;
  static constexpr int block_floats = 32 * block_stride;

  PackedLayerView<ExecutionSpace> layer;
  XView x;
  YView y;
  int tokens;
  int row_teams;

  static std::size_t scratch_bytes()
  {
    std::size_t const partial = Scratch<float>::shmem_size(rows_per_team * lanes * Tokens);
    if (lanes == 1)
      return partial;
    return partial + Scratch<float>::shmem_size(rows_per_team * block_floats) +
           Scratch<int>::shmem_size(rows_per_team * 32);
  }

  KOKKOS_FUNCTION void operator()(Member const &team) const
  {
    int const first_row = team.league_rank() % row_teams * rows_per_team;
    int const first_token = team.league_rank() / row_teams * Tokens;
    int const count = tokens - first_token < Tokens ? tokens - first_token : Tokens;
    Scratch<float> const partial(team.team_scratch(0), rows_per_team * lanes * Tokens);
    int const k = team.team_rank(); // the policy has exactly rows_per_team · lanes threads
    int const row = first_row + k / lanes;
    float sum[Tokens];
    for (int t = 0; t < Tokens; ++t)
      sum[t] = 0.0f;
    if (lanes > 1)
      sum_row_in_warp(team, row, k % lanes, first_token, count, sum);
    else if (row < layer.rows)
      layer.for_each_kept(
          row, 0, 1,
          [&](RowStream const &part, int index, int column)
          { accumulate(sum, layer.weight(part, row, column, index), column, first_token, count); });
    for (int t = 0; t < Tokens; ++t)
      partial(k * Tokens + t) = sum[t];
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, rows_per_team * Tokens),
                         [&](int i)
                         {
                           int const r = i / Tokens;
                           int const t = i % Tokens;
                           if (first_row + r >= layer.rows || t >= count)
                             return;
                           float total = 0.0f;
                           for (int lane = 0; lane < lanes; ++lane)
                             total += partial((r * lanes + lane) * Tokens + t);
                           y(first_token + t, first_row + r) = total;
                         });
  }

  // sum[t] += w · x(t, column) over the tile's tokens; past the batch, the last token repeats
  // (never stored) so that the loop has no branch.
  KOKKOS_INLINE_FUNCTION void accumulate(float (&sum)[Tokens], float w, int column, int first_token,
                                         int count) const
  {
    if (count == Tokens)
      for (int t = 0; t < Tokens; ++t)
        sum[t] += w * x(first_token + t, column);
    else
      for (int t = 0; t < Tokens; ++t)
        sum[t] += w * x(first_token + (t < count ? t : count - 1), column);
  }

  // GPUs: the row's warp takes 32 words of 32 stream columns at a time. First each lane
  // decodes one word's kept weights into scratch: its codes are a contiguous run of the
  // stream (found by a prefix sum of the words' kept counts), so the warp reads one block of
  // the stream. Then each lane sums one column of every 32, so the reads of x and of the
  // column list are coalesced. Rows past the last repeat the last row: every warp must reach
  // the team barriers.
  KOKKOS_INLINE_FUNCTION void sum_row_in_warp(Member const &team, int row, int lane,
                                              int first_token, int count,
                                              float (&sum)[Tokens]) const
  {
    int const warp = team.team_rank() / lanes;
    Scratch<float> const decoded(team.team_scratch(0), rows_per_team * block_floats);
    Scratch<int> const kept(team.team_scratch(0), rows_per_team * 32);
    int const walked = row < layer.rows ? row : layer.rows - 1;
    for (int s = 0; s < layer.streams; ++s)
    {
      RowStream const part = layer.row_stream(s, walked);
      int const first_column = layer.column_begin(s);
      int const columns = layer.column_begin(s + 1) - first_column;
      int const chunks = (columns + 31) / 32;
      std::int64_t const keep_row =
          layer.masked ? layer.keep_begin(s) + static_cast<std::int64_t>(walked) * chunks : 0;
      int index = 0; // field of the block's first kept weight
      for (int first_chunk = 0; first_chunk < chunks; first_chunk += 32)
      {
        int const chunk = first_chunk + lane;
        std::uint32_t const word =
            chunk >= chunks
                ? 0u
                : (layer.masked ? layer.keep(keep_row + chunk) : low_bits(columns - 32 * chunk));
        kept(warp * 32 + lane) = popcount(word);
        team.team_barrier();
        int next = index;
        for (int l = 0; l < 32; ++l)
        {
          int const n = kept(warp * 32 + l);
          next += l < lane ? n : 0;
          index += n;
        }
        for (int j = 0; j < 32; ++j)
        {
          float w = 0.0f;
          if ((word >> j) & 1u)
            w = layer.weight(
                part, walked,
                layer.grouped ? layer.stream_columns(first_column + 32 * chunk + j) : 0, next++);
          decoded(warp * block_floats + lane * block_stride + j) = w;
        }
        team.team_barrier();
        int const block_columns =
            columns - 32 * first_chunk < 1024 ? columns - 32 * first_chunk : 1024;
        for (int c = lane; c < block_columns; c += 32)
          accumulate(sum, decoded(warp * block_floats + c / 32 * block_stride + c % 32),
                     layer.stream_columns(first_column + 32 * first_chunk + c), first_token, count);
      }
    }
  }
};

template <int Tokens, class ExecutionSpace, class XView, class YView>
void run_packed_matmul(ExecutionSpace const &space, PackedLayerView<ExecutionSpace> const &layer,
                       XView const &x, YView const &y)
{
  using Kernel = PackedMatmul<ExecutionSpace, XView, YView, Tokens>;
  int const tokens = static_cast<int>(x.extent(0));
  int const row_teams = Kernel::Teams::teams(layer.rows);
  // Light-weight: the functor holds the layer's views (core/detail/light_launch.hpp).
  auto policy = sgpte::detail::light_launch<Kernel>(
      Kernel::Teams::policy(space, layer.rows, (tokens + Tokens - 1) / Tokens));
  policy.set_scratch_size(0, Kokkos::PerTeam(Kernel::scratch_bytes()));
  Kokkos::parallel_for("sgpte::packed::matmul", policy, Kernel{layer, x, y, tokens, row_teams});
}

} // namespace detail

// y(t, r) = Σ_c Ŵ(r, c) x(t, c): x is tokens × columns, y tokens × rows.
template <class ExecutionSpace, class XView, class YView>
void packed_matmul(ExecutionSpace const &space, PackedLayer<ExecutionSpace> const &layer,
                   XView const &x, YView const &y)
{
  static_assert(XView::rank == 2 && YView::rank == 2, "packed_matmul multiplies matrices");
  if (static_cast<int>(x.extent(1)) != layer.columns() || y.extent(0) != x.extent(0) ||
      static_cast<int>(y.extent(1)) != layer.rows())
    throw InvalidArgument(
        "packed_matmul: a " + std::to_string(layer.rows()) + " x " +
        std::to_string(layer.columns()) + " layer maps tokens x " +
        std::to_string(layer.columns()) + " inputs to tokens x " + std::to_string(layer.rows()) +
        " outputs, got " + std::to_string(x.extent(0)) + " x " + std::to_string(x.extent(1)) +
        " and " + std::to_string(y.extent(0)) + " x " + std::to_string(y.extent(1)));
  std::size_t const tokens = x.extent(0);
  if (tokens == 0)
    return;
  // One width of 2, 4 or 8 bits and nothing pruned: rows decoded 16 bytes at a time
  // (detail/dense_rows_matmul.hpp).
  if (detail::dense_rows_matmul(space, layer, x, y))
    return;
  // Register tiles of 1, 4, 8 or 16 tokens: one decode of a weight serves the whole tile.
  if (tokens == 1)
    detail::run_packed_matmul<1>(space, layer.device, x, y);
  else if (tokens <= 4)
    detail::run_packed_matmul<4>(space, layer.device, x, y);
  else if (tokens <= 8)
    detail::run_packed_matmul<8>(space, layer.device, x, y);
  else
    detail::run_packed_matmul<16>(space, layer.device, x, y);
}

} // namespace sgpte::packed

#endif
