#ifndef SGPTE_PACKED_DETAIL_DENSE_ROWS_MATMUL_HPP
#define SGPTE_PACKED_DETAIL_DENSE_ROWS_MATMUL_HPP

// The fast path of packed_matmul: a layer of one bit width that divides 32 (2, 4 or 8 bits),
// nothing pruned. Then a row's codes are the row's weights in column order, back to back,
// and the k-th field of a row is column k: no kept bits, no prefix sums, no column list.
//
// A row is read in units of 16 bytes (128 / bits columns). On GPUs, lane l of a team's
// 32 · Warps lanes takes units l, l + 32 · Warps, … of each of the team's Rows rows, so that
// each load instruction of a warp reads 512 contiguous bytes of a row (four rows' loads are
// issued together), and decodes them in registers: the 16 bytes' fields, 8 at a time, meet
// the 8 matching inputs of each token (two 16-byte loads, through the read-only cache, shared
// by the Rows rows). Each lane keeps Rows × Tokens sums; a warp adds its lanes' by shuffles,
// the warps of a team theirs through team scratch after the one barrier of the kernel. A
// row whose start is not on 16 bytes (columns · bits not a multiple of 128) is realigned
// with funnel shifts of the unit and the next one's words.
//
// Host backends run the same decomposition, the 32 · Warps lanes of a team one after the
// other, so that the host's tests check the GPU's arithmetic, lane strides and tails.
//
// The tiles (dense_rows_tile): one token, 4 rows per lane and 2 warps per team; 2 to 4
// tokens, 2 rows and 4 warps; more, 1 row and 4 warps. Each is launched light-weight
// (core/detail/light_launch.hpp): its 584-byte CUDA driver would otherwise go through constant
// memory, a host-side wait of about 10 µs a call. On an H200 (mean of 100 back-to-back calls,
// 4-bit layers) the light launch brought one token from 0.024 to 0.0100 ms at 4096² (1.44×
// cuBLAS' fp16 product) and from 0.068 to 0.0525 ms at 12288² (1.58×, 1.43 TB/s), and four
// tokens from 0.057 to 0.042 ms and 0.343 to 0.324 ms; rows per lane matter most (each step
// from 1 to 2 to 4 roughly halves the time: the input loads, shared by a lane's rows, bound
// the kernel), and 2 warps beat 4 (0.0112 / 0.0527 ms) and 1 (0.0111 / 0.0545 ms) at one token.
//
// Each weight is decoded as unpack does, scale · (code − zero) in float (code − zero is exact:
// both are integers below 2^24, here as (2^23 + code) − (2^23 + zero) without a conversion
// instruction), then multiplied by the input and added: only the order of the sums differs
// from a dense product.

#include <sgpte/core/detail/light_launch.hpp>
#include <sgpte/core/float_bits.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/packed/packed_layer.hpp>
#include <sgpte/packed/packed_layer_view.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define SGPTE_UNROLL _Pragma("unroll")
#else
#define SGPTE_UNROLL
#endif

namespace sgpte::packed::detail
{

// Whether the fast path has a kernel for the backend: the host backends and CUDA.
template <class ExecutionSpace>
inline constexpr bool dense_rows_on_cuda =
#if defined(KOKKOS_ENABLE_CUDA)
    std::is_same_v<ExecutionSpace, Kokkos::Cuda>;
#else
    false;
#endif

template <class ExecutionSpace>
inline constexpr bool dense_rows_available =
    sgpte::detail::is_host_space_v<ExecutionSpace> || dense_rows_on_cuda<ExecutionSpace>;

// 16 bytes of a stream: four words.
struct Unit
{
  std::uint32_t word[4];
};

// Rows per lane, tokens per tile and warps per team (GPUs) of a kernel.
struct DenseRowsTile
{
  int rows, tokens, warps;
};

inline constexpr DenseRowsTile one_token_tile{4, 1, 2}, few_tokens_tile{2, 4, 4},
    many_tokens_tile{1, 8, 4};

// The tile for x's token count.
inline constexpr DenseRowsTile dense_rows_tile(std::size_t tokens)
{
  return tokens == 1 ? one_token_tile : tokens <= 4 ? few_tokens_tile : many_tokens_tile;
}

template <class ExecutionSpace, class XView, class YView, int Bits, int Rows, int Tokens, int Warps>
struct DenseRowsMatmul
{
  using Member = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;
  using Scratch = Kokkos::View<float *, typename ExecutionSpace::scratch_memory_space,
                               Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  static constexpr bool host = sgpte::detail::is_host_space_v<ExecutionSpace>;
  static constexpr int lanes = 32;
  static constexpr int team_lanes = lanes * Warps; // lanes splitting a row's units
  static constexpr int unit_columns = 128 / Bits;
  static constexpr int octets = unit_columns / 8; // groups of 8 fields in a unit
  static constexpr std::uint32_t field_mask = (1u << Bits) - 1u;
  static_assert(Bits == 2 || Bits == 4 || Bits == 8, "fields of 2, 4 or 8 bits");

  PackedLayerView<ExecutionSpace> layer;
  XView x;
  YView y;
  float const *x_data; // GPUs: x(t, c) = x_data[t · x_stride + c], 16-byte aligned rows
  std::int64_t x_stride;
  int tokens;
  int row_groups;
  bool streaming; // one token tile: each code is read once, evict it first

  static std::size_t scratch_bytes() { return Scratch::shmem_size(Warps * Rows * Tokens); }

  struct RowState
  {
    std::int64_t base; // first word of the 16 bytes holding the row's first field
    int shift;         // bits before the row's first field there, 0…127
    int parameter_row;
    float scale;
    float zero; // 2^23 + zero point
  };

  KOKKOS_INLINE_FUNCTION Unit load(std::int64_t word) const
  {
    Unit unit;
    std::int64_t const size = static_cast<std::int64_t>(layer.codes.extent(0));
    if (word + 4 <= size)
    {
#if defined(__CUDA_ARCH__)
      uint4 const *address = reinterpret_cast<uint4 const *>(layer.codes.data() + word);
      uint4 const loaded = streaming ? __ldcs(address) : __ldg(address);
      unit.word[0] = loaded.x, unit.word[1] = loaded.y, unit.word[2] = loaded.z,
      unit.word[3] = loaded.w;
#else
      for (int j = 0; j < 4; ++j)
        unit.word[j] = layer.codes(word + j);
#endif
    }
    else
      for (int j = 0; j < 4; ++j)
        unit.word[j] = word + j < size ? layer.codes(word + j) : 0u;
    return unit;
  }

  // Unit u of a row: its bits [128 u, 128 u + 128) from the row's first field.
  KOKKOS_INLINE_FUNCTION Unit row_unit(RowState const &row, int u) const
  {
    std::int64_t const word = row.base + 4 * static_cast<std::int64_t>(u);
    Unit const low = load(word);
    if (row.shift == 0)
      return low;
    Unit const high = load(word + 4);
    std::uint32_t c[8] = {low.word[0],  low.word[1],  low.word[2],  low.word[3],
                          high.word[0], high.word[1], high.word[2], high.word[3]};
    int const words = row.shift >> 5, bits = row.shift & 31;
    if (words & 2)
      for (int j = 0; j < 6; ++j)
        c[j] = c[j + 2];
    if (words & 1)
      for (int j = 0; j < 5; ++j)
        c[j] = c[j + 1];
    Unit unit;
    SGPTE_UNROLL
    for (int j = 0; j < 4; ++j)
      unit.word[j] =
          static_cast<std::uint32_t>(((static_cast<std::uint64_t>(c[j + 1]) << 32) | c[j]) >> bits);
    return unit;
  }

  // The 8 inputs from `column` of each token of the tile (0 past the last column).
  KOKKOS_INLINE_FUNCTION void load_inputs(int column, int first_token, int count,
                                          float (&input)[Tokens][8]) const
  {
    bool const whole = column + 8 <= layer.columns;
    SGPTE_UNROLL
    for (int t = 0; t < Tokens; ++t)
    {
      int const token = first_token + (t < count ? t : count - 1);
#if defined(__CUDA_ARCH__)
      if (!host && whole)
      {
        float4 const *address =
            reinterpret_cast<float4 const *>(x_data + token * x_stride + column);
        float4 const a = __ldg(address), b = __ldg(address + 1);
        input[t][0] = a.x, input[t][1] = a.y, input[t][2] = a.z, input[t][3] = a.w;
        input[t][4] = b.x, input[t][5] = b.y, input[t][6] = b.z, input[t][7] = b.w;
        continue;
      }
#endif
      SGPTE_UNROLL
      for (int k = 0; k < 8; ++k)
        input[t][k] = whole || column + k < layer.columns ? x(token, column + k) : 0.0f;
    }
  }

  // sums += the weights of unit u of each row times the tile's inputs.
  template <bool Grouped>
  KOKKOS_INLINE_FUNCTION void add_unit(RowState const (&row)[Rows], int u, int first_token,
                                       int count, float (&sums)[Rows][Tokens]) const
  {
    Unit codes[Rows];
    SGPTE_UNROLL
    for (int r = 0; r < Rows; ++r)
      codes[r] = row_unit(row[r], u);
    SGPTE_UNROLL
    for (int o = 0; o < octets; ++o)
    {
      int const column = u * unit_columns + 8 * o;
      float input[Tokens][8];
      load_inputs(column, first_token, count, input);
      SGPTE_UNROLL
      for (int r = 0; r < Rows; ++r)
        SGPTE_UNROLL
      for (int k = 0; k < 8; ++k)
      {
        int const bit = (8 * o + k) * Bits; // a constant once unrolled
        std::uint32_t const code = (codes[r].word[bit >> 5] >> (bit & 31)) & field_mask;
        float scale = row[r].scale, zero = row[r].zero;
        if (Grouped)
        {
          // Past the last column (a unit's tail) any group will do: the input is 0.
          int const c = column + k < layer.columns ? column + k : layer.columns - 1;
          int const group = layer.group_of(c);
          scale = layer.scale(0, row[r].parameter_row, group);
          zero = 8388608.0f + layer.zero(0, row[r].parameter_row, group);
        }
        float const w = scale * (sgpte::detail::bits_to_float(0x4b000000u | code) - zero);
        SGPTE_UNROLL
        for (int t = 0; t < Tokens; ++t)
          sums[r][t] += w * input[t][k];
      }
    }
  }

  // Lane `lane` of `all` lanes: its units of the group's rows.
  KOKKOS_INLINE_FUNCTION void add_lane(RowState const (&row)[Rows], int lane, int all,
                                       int first_token, int count,
                                       float (&sums)[Rows][Tokens]) const
  {
    int const units = (layer.columns + unit_columns - 1) / unit_columns;
    if (layer.grouped)
      for (int u = lane; u < units; u += all)
        add_unit<true>(row, u, first_token, count, sums);
    else
      for (int u = lane; u < units; u += all)
        add_unit<false>(row, u, first_token, count, sums);
  }

  KOKKOS_FUNCTION void operator()(Member const &team) const
  {
    int const first_row = team.league_rank() % row_groups * Rows;
    int const first_token = team.league_rank() / row_groups * Tokens;
    int const count = tokens - first_token < Tokens ? tokens - first_token : Tokens;
    RowState row[Rows];
    for (int r = 0; r < Rows; ++r)
    {
      // Rows past the last repeat it (never stored), so that every lane reaches the barrier.
      int const walked = first_row + r < layer.rows ? first_row + r : layer.rows - 1;
      RowStream const part = layer.row_stream(0, walked);
      std::int64_t const bit = 32 * part.first_word + part.first_bit;
      row[r].base = (bit >> 7) * 4;
      row[r].shift = static_cast<int>(bit & 127);
      row[r].parameter_row = layer.per_channel ? walked : 0;
      row[r].scale = part.scale;
      row[r].zero = 8388608.0f + part.zero;
    }
    float sums[Rows][Tokens];
    for (int r = 0; r < Rows; ++r)
      for (int t = 0; t < Tokens; ++t)
        sums[r][t] = 0.0f;
    if constexpr (host)
    {
      for (int lane = 0; lane < team_lanes; ++lane)
      {
        float partial[Rows][Tokens];
        for (int r = 0; r < Rows; ++r)
          for (int t = 0; t < Tokens; ++t)
            partial[r][t] = 0.0f;
        add_lane(row, lane, team_lanes, first_token, count, partial);
        for (int r = 0; r < Rows; ++r)
          for (int t = 0; t < Tokens; ++t)
            sums[r][t] += partial[r][t];
      }
      for (int r = 0; r < Rows; ++r)
        for (int t = 0; t < count; ++t)
          if (first_row + r < layer.rows)
            y(first_token + t, first_row + r) = sums[r][t];
    }
    else
    {
      int const k = team.team_rank(); // the policy has exactly 32 · Warps threads
      add_lane(row, k, team_lanes, first_token, count, sums);
#if defined(__CUDA_ARCH__)
      SGPTE_UNROLL
      for (int r = 0; r < Rows; ++r)
        SGPTE_UNROLL
      for (int t = 0; t < Tokens; ++t)
        SGPTE_UNROLL
      for (int m = 16; m > 0; m >>= 1)
        sums[r][t] += __shfl_xor_sync(0xffffffffu, sums[r][t], m);
#endif
      Scratch const partial(team.team_scratch(0), Warps * Rows * Tokens);
      if (k % lanes == 0)
        for (int r = 0; r < Rows; ++r)
          for (int t = 0; t < Tokens; ++t)
            partial((k / lanes * Rows + r) * Tokens + t) = sums[r][t];
      team.team_barrier();
      if (k < Rows * Tokens)
      {
        int const r = k / Tokens, t = k % Tokens;
        float total = 0.0f;
        for (int w = 0; w < Warps; ++w)
          total += partial((w * Rows + r) * Tokens + t);
        if (first_row + r < layer.rows && t < count)
          y(first_token + t, first_row + r) = total;
      }
    }
  }
};

template <class ExecutionSpace, class XView, class YView, int Bits, int Rows, int Tokens, int Warps>
void run_dense_rows_matmul(ExecutionSpace const &space,
                           PackedLayerView<ExecutionSpace> const &layer, XView const &x,
                           YView const &y)
{
  using Kernel = DenseRowsMatmul<ExecutionSpace, XView, YView, Bits, Rows, Tokens, Warps>;
  int const tokens = static_cast<int>(x.extent(0));
  int const row_groups = (layer.rows + Rows - 1) / Rows;
  int const tiles = (tokens + Tokens - 1) / Tokens;
  auto policy = sgpte::detail::light_launch<Kernel>(Kokkos::TeamPolicy<ExecutionSpace>(
      space, row_groups * tiles, Kernel::host ? 1 : Kernel::team_lanes));
  if (!Kernel::host)
    policy.set_scratch_size(0, Kokkos::PerTeam(Kernel::scratch_bytes()));
  float const *x_data = nullptr;
  if constexpr (std::is_same_v<typename XView::non_const_value_type, float>)
    x_data = x.data();
  std::int64_t const x_stride = tokens > 1 ? static_cast<std::int64_t>(x.stride(0)) : 0;
  Kokkos::parallel_for("sgpte::packed::matmul_dense_rows", policy,
                       Kernel{layer, x, y, x_data, x_stride, tokens, row_groups, tiles == 1});
}

template <int Bits, class ExecutionSpace, class XView, class YView>
void run_dense_rows_tiles(ExecutionSpace const &space, PackedLayerView<ExecutionSpace> const &layer,
                          XView const &x, YView const &y)
{
  // One token: four rows per lane share each input load. A few tokens: fewer rows, as the
  // sums and inputs of the tile take the registers.
  constexpr DenseRowsTile one = one_token_tile, few = few_tokens_tile, many = many_tokens_tile;
  int const tile_tokens = dense_rows_tile(x.extent(0)).tokens;
  if (tile_tokens == one.tokens)
    run_dense_rows_matmul<ExecutionSpace, XView, YView, Bits, one.rows, one.tokens, one.warps>(
        space, layer, x, y);
  else if (tile_tokens == few.tokens)
    run_dense_rows_matmul<ExecutionSpace, XView, YView, Bits, few.rows, few.tokens, few.warps>(
        space, layer, x, y);
  else
    run_dense_rows_matmul<ExecutionSpace, XView, YView, Bits, many.rows, many.tokens, many.warps>(
        space, layer, x, y);
}

// Runs the fast path when it applies (and returns true): quantized, one width of 2, 4 or 8
// bits, nothing pruned; on GPUs also float inputs whose rows are contiguous and 16-byte
// aligned, and a 16-byte aligned code buffer.
template <class ExecutionSpace, class XView, class YView>
bool dense_rows_matmul(ExecutionSpace const &space, PackedLayer<ExecutionSpace> const &layer,
                       XView const &x, YView const &y)
{
  if constexpr (!dense_rows_available<ExecutionSpace>)
    return false;
  else
  {
    LayerLayout const &layout = layer.layout;
    if (!layout.quantized() || layout.streams() != 1 || layout.mask != MaskKind::none)
      return false;
    int const bits = layout.stream_bits(0);
    if (bits != 2 && bits != 4 && bits != 8)
      return false;
    if constexpr (!sgpte::detail::is_host_space_v<ExecutionSpace>)
    {
      if constexpr (!std::is_same_v<typename XView::non_const_value_type, float>)
        return false;
      auto const aligned = [](void const *pointer)
      { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; };
      if (x.stride(1) != 1 || (x.extent(0) > 1 && x.stride(0) % 4 != 0) || !aligned(x.data()) ||
          !aligned(layer.device.codes.data()))
        return false;
    }
    if (bits == 2)
      run_dense_rows_tiles<2>(space, layer.device, x, y);
    else if (bits == 4)
      run_dense_rows_tiles<4>(space, layer.device, x, y);
    else
      run_dense_rows_tiles<8>(space, layer.device, x, y);
    return true;
  }
}

} // namespace sgpte::packed::detail

#undef SGPTE_UNROLL

#endif
