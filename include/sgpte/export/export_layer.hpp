#ifndef SGPTE_EXPORT_EXPORT_LAYER_HPP
#define SGPTE_EXPORT_EXPORT_LAYER_HPP

// A compressed layer on the host, weight by weight, as the exported formats need it: every
// weight's integer code (pruned weights get the zero point of their row and group, whose
// value is exactly 0), the quantizer's grid per row and group, which weights were kept, and,
// for layers that were only pruned, the kept values as the checkpoint's dtype holds them.
// Taken from the layer's packed form (packed/pack.hpp), which checked that it reproduces
// the compressed weights bit for bit: so does every export built from it.
//
// Exported formats store one bit width per layer: a layer whose columns have several
// widths is refused here, with a message saying what can be exported.

#include <sgpte/core/error.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/packed/detail/device_array.hpp>
#include <sgpte/packed/detail/row_teams.hpp>
#include <sgpte/packed/packed_layer.hpp>
#include <sgpte/packed/unpack.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sgpte::exports
{

struct ExportLayer
{
  int rows = 0;
  int columns = 0;
  int bits = 0;       // the layer's single width; 0: not quantized
  int group_size = 0; // 0: one group per row
  bool act_order = false;
  packed::MaskKind mask = packed::MaskKind::none;
  int prune_n = 0, prune_m = 0;
  std::vector<int> group_of;       // quantized: group of each column (sweep order with act-order)
  std::vector<float> scale;        // quantized: rows × groups, row-major (per-tensor: repeated)
  std::vector<std::uint8_t> zero;  // quantized: rows × groups, integers in [0, 2^bits − 1]
  std::vector<std::uint8_t> codes; // quantized: rows × columns, row-major
  std::vector<std::uint8_t> kept;  // rows × columns, row-major: 1 where the weight was kept
  std::vector<float> values;       // not quantized: rows × columns, row-major, pruned +0

  bool quantized() const { return bits > 0; }
  int groups() const { return group_size > 0 ? (columns + group_size - 1) / group_size : 1; }
  std::size_t at(int row, int column) const
  {
    return static_cast<std::size_t>(row) * static_cast<std::size_t>(columns) +
           static_cast<std::size_t>(column);
  }
  std::size_t parameter(int row, int column) const
  {
    return static_cast<std::size_t>(row) * static_cast<std::size_t>(groups()) +
           static_cast<std::size_t>(group_of[static_cast<std::size_t>(column)]);
  }
  // The weight the compression left, from the grid: scale · (code − zero) in float, the
  // sweep's own arithmetic.
  float dequantized(int row, int column) const
  {
    std::size_t const p = parameter(row, column);
    return scale[p] * (static_cast<float>(codes[at(row, column)]) - static_cast<float>(zero[p]));
  }
};

// `name` names the layer in errors.
template <class ExecutionSpace>
ExportLayer export_layer(ExecutionSpace const &space,
                         packed::PackedLayer<ExecutionSpace> const &layer, std::string const &name)
{
  packed::LayerLayout const &layout = layer.layout;
  if (layout.widths.size() > 1)
  {
    std::string widths;
    for (int width : layout.widths)
      widths += (widths.empty() ? "" : ",") + std::to_string(width);
    throw InvalidArgument(
        "export: layer '" + name + "' has columns of " + std::to_string(layout.widths.size()) +
        " bit widths (" + widths +
        "): GPTQ and compressed-tensors store one width per layer; export a run with uniform "
        "bits (--wbits B, or a single --bit-options width), or keep mixed widths in sgpte's "
        "packed format (--save-packed)");
  }
  ExportLayer out;
  out.rows = layout.rows;
  out.columns = layout.columns;
  out.act_order = layout.act_order;
  out.mask = layout.mask;
  out.prune_n = layout.prune_n;
  out.prune_m = layout.prune_m;
  using memory_space = typename ExecutionSpace::memory_space;
  using Bytes = Kokkos::View<std::uint8_t **, Kokkos::LayoutRight, memory_space>;
  Bytes const kept("sgpte::exports::kept", out.rows, out.columns);
  Bytes const codes("sgpte::exports::codes", layout.quantized() ? out.rows : 0,
                    layout.quantized() ? out.columns : 0);
  auto const view = layer.device;
  bool const quantized = layout.quantized();
  packed::detail::for_each_kept_weight(
      space, "sgpte::exports::codes", view,
      KOKKOS_LAMBDA(int row, packed::RowStream const &part, int index, int column) {
        kept(row, column) = 1;
        if (quantized)
          codes(row, column) = static_cast<std::uint8_t>(view.field(part, index));
      });
  out.kept = packed::detail::to_host(kept);
  if (!quantized)
  {
    RowMajorMatrix<ExecutionSpace> values(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::exports::values"), out.rows,
        out.columns);
    packed::unpack(space, layer, values);
    out.values = packed::detail::to_host(values);
    return out;
  }
  out.bits = layout.widths.front();
  if (out.bits > 8)
    throw InvalidArgument("export: layer '" + name + "' is quantized to " +
                          std::to_string(out.bits) +
                          " bits: GPTQ and compressed-tensors store at most 8");
  out.group_size = layout.group_size;
  out.group_of.assign(static_cast<std::size_t>(out.columns), 0);
  if (view.grouped)
    out.group_of = packed::detail::to_host(view.group_of);
  // Parameters of the single stream; a per-tensor grid is repeated on every row.
  auto const scale = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.scale);
  auto const zero = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view.zero);
  int const groups = out.groups();
  out.scale.resize(static_cast<std::size_t>(out.rows) * groups);
  out.zero.resize(out.scale.size());
  for (int row = 0; row < out.rows; ++row)
    for (int group = 0; group < groups; ++group)
    {
      int const parameter_row = layout.per_channel ? row : 0;
      std::size_t const p = static_cast<std::size_t>(row) * groups + group;
      out.scale[p] = scale(0, parameter_row, group);
      out.zero[p] = static_cast<std::uint8_t>(zero(0, parameter_row, group));
    }
  out.codes = packed::detail::to_host(codes);
  for (int row = 0; row < out.rows; ++row)
    for (int column = 0; column < out.columns; ++column)
      if (!out.kept[out.at(row, column)])
        out.codes[out.at(row, column)] = out.zero[out.parameter(row, column)];
  return out;
}

} // namespace sgpte::exports

#endif
