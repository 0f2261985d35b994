#ifndef SGPTE_PACKED_UNPACK_HPP
#define SGPTE_PACKED_UNPACK_HPP

// A packed layer back to dense weights: pruned entries +0, quantized ones scale · (code −
// zero) in float, exactly the arithmetic of the sweep, so the result equals the weights that
// were packed bit for bit (kept values of layers that are only pruned come back as their
// checkpoint dtype holds them).

#include <sgpte/core/views.hpp>
#include <sgpte/packed/detail/row_teams.hpp>
#include <sgpte/packed/packed_layer.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte::packed
{

// out: rows × columns, any layout (row-major writes neighbouring addresses from a warp).
template <class ExecutionSpace, class OutView>
void unpack(ExecutionSpace const &space, PackedLayer<ExecutionSpace> const &layer,
            OutView const &out)
{
  static_assert(OutView::rank == 2, "unpack writes a matrix");
  if (static_cast<int>(out.extent(0)) != layer.rows() ||
      static_cast<int>(out.extent(1)) != layer.columns())
    throw InvalidArgument("unpack: the output is " + std::to_string(out.extent(0)) + " x " +
                          std::to_string(out.extent(1)) + ", the layer " +
                          std::to_string(layer.rows()) + " x " + std::to_string(layer.columns()));
  PackedLayerView<ExecutionSpace> const view = layer.device;
  Kokkos::deep_copy(space, out, 0.0f);
  detail::for_each_kept_weight(
      space, "sgpte::packed::unpack", view,
      KOKKOS_LAMBDA(int row, RowStream const &part, int index, int column) {
        out(row, column) = view.weight(part, row, column, index);
      });
}

// The dense weights as the library's weight matrix (column-major).
template <class ExecutionSpace>
Matrix<ExecutionSpace> unpack(ExecutionSpace const &space, PackedLayer<ExecutionSpace> const &layer)
{
  Matrix<ExecutionSpace> weight(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::packed::weight"), layer.rows(),
      layer.columns());
  unpack(space, layer, weight);
  return weight;
}

} // namespace sgpte::packed

#endif
