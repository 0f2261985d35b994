#ifndef SGPTE_PACKED_PACK_HPP
#define SGPTE_PACKED_PACK_HPP

// Packing a compressed layer: from the weights fasterprune left (dequantized, float), its
// LayerResult (bits, quantizer parameters, sweep order, mask) and the options it ran with.
//
//   auto result = layer.fasterprune(space, options);
//   auto packed = sgpte::packed::pack_layer(space, layer.weight(), result, options, dtype);
//   sgpte::packed::write_layer("fc1.safetensors", packed);
//
// Packing checks that it stores the weights faithfully and fails loudly otherwise: every
// pruned weight must be +0, every kept weight of a quantized layer must be exactly (bit for
// bit) the value its code gives back, scale · (code − zero) with the code the quantizer
// assigns it, and the mask must have the structure the options promise. Kept weights of a
// layer that is not quantized are stored in the checkpoint's dtype, rounded as the
// checkpoint writer rounds them (io/float_codec.hpp).

#include <sgpte/core/error.hpp>
#include <sgpte/core/float_bits.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/io/float_codec.hpp>
#include <sgpte/layer/compression_options.hpp>
#include <sgpte/layer/layer_compressor.hpp>
#include <sgpte/packed/detail/bit_stream.hpp>
#include <sgpte/packed/detail/device_array.hpp>
#include <sgpte/packed/detail/layer_index.hpp>
#include <sgpte/packed/detail/mask_stream.hpp>
#include <sgpte/packed/detail/row_teams.hpp>
#include <sgpte/packed/layer_layout.hpp>
#include <sgpte/packed/packed_layer.hpp>
#include <sgpte/quantization/quantizer.hpp>
#include <sgpte/sweep/detail/block_threshold.hpp> // float bit casts for device code

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

namespace sgpte::packed
{

namespace detail
{

// keep = ¬pruned, bits past the last column clear.
template <class ExecutionSpace, class MaskView>
KeepMatrix<ExecutionSpace> keep_from_pruned(ExecutionSpace const &space, MaskView const &pruned,
                                            int columns)
{
  int const rows = static_cast<int>(pruned.extent(0));
  int const words = static_cast<int>(pruned.extent(1));
  KeepMatrix<ExecutionSpace> keep(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::keep"), rows, words);
  Kokkos::parallel_for(
      "sgpte::packed::keep_from_pruned",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(rows) * words),
      KOKKOS_LAMBDA(std::int64_t i) {
        int const row = static_cast<int>(i / words);
        int const word = static_cast<int>(i % words);
        keep(row, word) = ~pruned(row, word) & low_bits(columns - 32 * word);
      });
  return keep;
}

template <class ExecutionSpace>
std::vector<std::int64_t> kept_per_column(ExecutionSpace const &space,
                                          KeepMatrix<ExecutionSpace> const &keep, int columns)
{
  int const rows = static_cast<int>(keep.extent(0));
  Kokkos::View<std::int64_t *, typename ExecutionSpace::memory_space> kept(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::kept_per_column"),
      columns);
  Kokkos::parallel_for(
      "sgpte::packed::kept_per_column", Kokkos::RangePolicy<ExecutionSpace>(space, 0, columns),
      KOKKOS_LAMBDA(int c) {
        std::int64_t count = 0;
        for (int row = 0; row < rows; ++row)
          count += (keep(row, c >> 5) >> (c & 31)) & 1u;
        kept(c) = count;
      });
  return to_host(kept);
}

// The layer's parameters for the widths in use, from the plan's grid of every candidate.
template <class ExecutionSpace>
void copy_parameters(ExecutionSpace const &space, PackedLayer<ExecutionSpace> &layer,
                     QuantizationPlan<ExecutionSpace> const &plan, std::string const &where)
{
  LayerLayout const &layout = layer.layout;
  if (static_cast<int>(plan.scale.extent(0)) != layout.parameter_rows() ||
      static_cast<int>(plan.scale.extent(1)) != layout.groups())
    throw InvalidArgument(where +
                          "the quantizer parameters do not match the options (rows, groups)");
  std::vector<int> plan_index;
  for (int width : layout.widths)
  {
    auto const found = std::find(plan.widths.begin(), plan.widths.end(), width);
    if (found == plan.widths.end())
      throw InvalidArgument(where + "no quantizer parameters for the " + std::to_string(width) +
                            "-bit columns");
    plan_index.push_back(static_cast<int>(found - plan.widths.begin()));
  }
  // The file stores the widest width's parameters alone exactly when the sweep derived the
  // others from them; otherwise unpacking would not give the sweep's weights back.
  if (layout.parameters_from_widest != (plan.parameters_from >= 0) ||
      (layout.parameters_from_widest && plan.parameters_from != plan_index.back()))
    throw InvalidArgument(where + "the quantizer parameters were " +
                          (plan.parameters_from >= 0 ? "" : "not ") +
                          "derived from the widest width in use, but the options say otherwise");
  auto const index = to_device(space, "sgpte::packed::plan_index", plan_index);
  using ParameterView = typename PackedLayerView<ExecutionSpace>::ParameterView;
  int const streams = layout.streams(), parameter_rows = layout.parameter_rows(),
            groups = layout.groups();
  ParameterView const scale(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::scale"), streams,
      parameter_rows, groups);
  ParameterView const zero(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::zero"), streams,
      parameter_rows, groups);
  auto const plan_scale = plan.scale;
  auto const plan_zero = plan.zero;
  Kokkos::parallel_for(
      "sgpte::packed::copy_parameters",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(streams) * parameter_rows * groups),
      KOKKOS_LAMBDA(std::int64_t i) {
        int const group = static_cast<int>(i % groups);
        int const row = static_cast<int>(i / groups % parameter_rows);
        int const s = static_cast<int>(i / groups / parameter_rows);
        scale(s, row, group) = plan_scale(row, group, index(s));
        zero(s, row, group) = plan_zero(row, group, index(s));
      });
  // What the file stores, and readers require: finite positive scales, integer zero points
  // in [0, 2^b − 1].
  auto const bits = layer.device.stream_bits;
  std::int64_t invalid = 0;
  Kokkos::parallel_reduce(
      "sgpte::packed::check_parameters",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
          space, 0, static_cast<std::int64_t>(streams) * parameter_rows * groups),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & count) {
        int const group = static_cast<int>(i % groups);
        int const row = static_cast<int>(i / groups % parameter_rows);
        int const s = static_cast<int>(i / groups / parameter_rows);
        float const scale_value = scale(s, row, group), zero_value = zero(s, row, group);
        bool const valid = compat::isfinite(scale_value) && scale_value > 0.0f &&
                           compat::isfinite(zero_value) && zero_value >= 0.0f &&
                           zero_value <= static_cast<float>(low_bits(bits(s))) &&
                           zero_value == compat::nearbyint(zero_value);
        count += valid ? 0 : 1;
      },
      invalid);
  if (invalid > 0)
    throw InvalidArgument(where + std::to_string(invalid) +
                          " quantizer parameters are not a finite positive scale with an integer "
                          "zero point in range");
  layer.device.scale = scale;
  layer.device.zero = zero;
}

// The value weight (row, column) must have for the packed layer to reproduce it: +0 where
// pruned, the value of its code where quantized, itself otherwise.
template <class ExecutionSpace>
struct FaithfulValue
{
  PackedLayerView<ExecutionSpace> view;
  KeepMatrix<ExecutionSpace> keep;
  Kokkos::View<int *, typename ExecutionSpace::memory_space> stream_of;
  Matrix<ExecutionSpace> weight;

  KOKKOS_INLINE_FUNCTION float operator()(int row, int column) const
  {
    float const w = weight(row, column);
    if (((keep(row, column >> 5) >> (column & 31)) & 1u) == 0)
      return 0.0f;
    if (view.encoding != ValueEncoding::codes)
      return w;
    int const s = stream_of(column);
    float scale, zero;
    view.parameters(s, row, column, scale, zero);
    float const maxq = static_cast<float>(low_bits(view.stream_bits(s)));
    return scale * (quantize_code(w, scale, zero, maxq) - zero);
  }
};

template <class ExecutionSpace>
void require_faithful(ExecutionSpace const &space, FaithfulValue<ExecutionSpace> const &expected,
                      std::string const &where)
{
  auto const weight = expected.weight;
  int const rows = static_cast<int>(weight.extent(0));
  std::int64_t const entries =
      static_cast<std::int64_t>(rows) * static_cast<std::int64_t>(weight.extent(1));
  using Policy = Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>;
  std::int64_t first = entries;
  Kokkos::parallel_reduce(
      "sgpte::packed::require_faithful", Policy(space, 0, entries),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & lowest) {
        int const row = static_cast<int>(i % rows);
        int const column = static_cast<int>(i / rows);
        if (sgpte::detail::float_bits(expected(row, column)) !=
                sgpte::detail::float_bits(weight(row, column)) &&
            i < lowest)
          lowest = i;
      },
      Kokkos::Min<std::int64_t>(first));
  if (first >= entries) // the identity of Min: nothing differs
    return;
  int const row = static_cast<int>(first % rows), column = static_cast<int>(first / rows);
  Kokkos::View<float[2], typename ExecutionSpace::memory_space> pair("sgpte::packed::mismatch");
  Kokkos::parallel_for(
      "sgpte::packed::mismatch", Kokkos::RangePolicy<ExecutionSpace>(space, 0, 1),
      KOKKOS_LAMBDA(int) {
        pair(0) = weight(row, column);
        pair(1) = expected(row, column);
      });
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), pair);
  std::ostringstream message;
  message << std::setprecision(9) << where << "weight (" << row << ", " << column << ") is "
          << host(0) << " but would be stored as " << host(1)
          << " (pruned weights must be +0, quantized ones exactly the value of their code): pack "
             "the weights fasterprune left, with its result and the options it ran with";
  throw InvalidArgument(message.str());
}

// Kept values of a layer that is not quantized, as the bits of the checkpoint dtype, one
// field per weight, row-major. Encoded on the host with the checkpoint writer's codec, so
// that both round alike.
template <class ExecutionSpace>
Kokkos::View<std::uint32_t *, typename ExecutionSpace::memory_space>
encode_values(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight, io::Dtype dtype,
              std::string const &where)
{
  auto const column_major = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), weight);
  Kokkos::View<float **, Kokkos::LayoutRight, Kokkos::HostSpace> row_major(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "sgpte::packed::values"), weight.extent(0),
      weight.extent(1));
  Kokkos::deep_copy(row_major, column_major);
  io::FloatEncodingCheck const check =
      io::check_float_encoding(dtype, row_major.data(), row_major.size());
  if (!check.ok())
    throw NumericalError(where + std::to_string(check.non_finite) +
                         " weights are NaN or infinite and " + std::to_string(check.overflow) +
                         " overflow " + std::string(io::dtype_name(dtype)));
  std::vector<unsigned char> const bytes =
      io::encode_from_float(dtype, row_major.data(), row_major.size());
  std::size_t const size = io::dtype_size(dtype);
  std::vector<std::uint32_t> fields(row_major.size(), 0);
  for (std::size_t i = 0; i < fields.size(); ++i)
    std::memcpy(&fields[i], bytes.data() + i * size, size); // little-endian: the low bytes
  return to_device(space, "sgpte::packed::value_fields", fields);
}

// Writes every kept weight's field into its stream: its code, or values(row · columns + c).
template <class ExecutionSpace>
void pack_fields(ExecutionSpace const &space, PackedLayerView<ExecutionSpace> const &view,
                 Matrix<ExecutionSpace> const &weight,
                 Kokkos::View<std::uint32_t *, typename ExecutionSpace::memory_space> const &values)
{
  int const columns = view.columns;
  bool const quantized = view.encoding == ValueEncoding::codes;
  for_each_kept_weight(
      space, "sgpte::packed::pack_fields", view,
      KOKKOS_LAMBDA(int row, RowStream const &part, int index, int column) {
        std::uint32_t field;
        if (quantized)
        {
          float scale, zero;
          view.parameters(part.stream, row, column, scale, zero);
          field = static_cast<std::uint32_t>(quantize_code(
              weight(row, column), scale, zero, static_cast<float>(low_bits(part.bits))));
        }
        else
          field = values(static_cast<std::int64_t>(row) * columns + column);
        or_field(view.codes, part.first_word, view.field_bit(part, index), part.bits, field);
      });
}

} // namespace detail

// Packs the layer whose dequantized weights are `weight` (rows × columns, as fasterprune
// left them) and whose compression is described by `result` and `options`; checkpoint_dtype
// is the dtype of the layer in its checkpoint (kept values of layers that are only pruned are
// stored in it). Throws InvalidArgument naming the layer when the weights are not what the
// result and options produce.
template <class ExecutionSpace>
PackedLayer<ExecutionSpace>
pack_layer(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
           LayerResult<ExecutionSpace> const &result, CompressionOptions const &options,
           io::Dtype checkpoint_dtype)
{
  std::string const where = "packing layer '" + result.statistics.name + "': ";
  int const rows = static_cast<int>(weight.extent(0));
  int const columns = static_cast<int>(weight.extent(1));
  if (result.bits.size() != static_cast<std::size_t>(columns) ||
      static_cast<int>(result.mask.extent(0)) != rows ||
      static_cast<int>(result.mask.extent(1)) != (columns + 31) / 32 ||
      result.sweep_order.size() != static_cast<std::size_t>(columns))
    throw InvalidArgument(where + "the result does not belong to a " + std::to_string(rows) +
                          " x " + std::to_string(columns) + " weight");
  options.validate();
  auto const keep = detail::keep_from_pruned(space, result.mask, columns);
  PackedLayer<ExecutionSpace> layer;
  layer.layout = make_layer_layout(rows, result.bits, detail::kept_per_column(space, keep, columns),
                                   options, checkpoint_dtype);
  LayerLayout const &layout = layer.layout;
  if (layout.quantized())
    layer.bits = result.bits;
  if (layout.stores_sweep_order())
    layer.sweep_order = result.sweep_order;
  auto const column_at = detail::sweep_columns(space, layout, result.sweep_order);
  std::int64_t const pruned = static_cast<std::int64_t>(rows) * columns - layout.kept_total();
  if (layout.mask == MaskKind::none && pruned > 0)
    throw InvalidArgument(where + "the mask prunes " + std::to_string(pruned) +
                          " weights but the options prune nothing");
  if (layout.mask == MaskKind::n_of_m)
    if (std::int64_t const bad = detail::count_nm_violations(space, layout, keep, column_at);
        bad > 0)
      throw InvalidArgument(where + std::to_string(bad) + " groups of " +
                            std::to_string(layout.prune_m) + " do not keep " +
                            std::to_string(layout.prune_m - layout.prune_n) +
                            " weights: the mask is not " + std::to_string(layout.prune_n) + ":" +
                            std::to_string(layout.prune_m));

  detail::build_index(space, layer, keep);
  Kokkos::View<std::uint32_t *, typename ExecutionSpace::memory_space> values;
  if (layout.quantized())
    detail::copy_parameters(space, layer, result.quantization, where);
  else
    values = detail::encode_values(space, weight, layout.value_dtype, where);
  auto const stream_of = detail::to_device(space, "sgpte::packed::stream_of",
                                           detail::stream_of_columns(layout, layer.bits));
  detail::require_faithful(
      space, detail::FaithfulValue<ExecutionSpace>{layer.device, keep, stream_of, weight}, where);
  detail::pack_fields(space, layer.device, weight, values);
  if (layout.mask == MaskKind::bitmap)
    layer.mask_stream = detail::encode_bitmap(space, layout, keep);
  else if (layout.mask == MaskKind::n_of_m)
    layer.mask_stream = detail::encode_nm_positions(space, layout, keep, column_at);
  space.fence();
  return layer;
}

} // namespace sgpte::packed

#endif
