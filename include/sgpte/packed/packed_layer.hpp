#ifndef SGPTE_PACKED_PACKED_LAYER_HPP
#define SGPTE_PACKED_PACKED_LAYER_HPP

// A packed layer in memory: its layout and small host-side tensors (bits, sweep order) and,
// on the device, the kernel view (streams, parameters, index) and the mask's stored bytes.
// pack.hpp builds one from a compressed layer, layer_file.hpp writes and reads it,
// unpack.hpp and packed_matmul.hpp compute with it.

#include <sgpte/packed/layer_layout.hpp>
#include <sgpte/packed/packed_layer_view.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <vector>

namespace sgpte::packed
{

template <class ExecutionSpace>
struct PackedLayer
{
  using memory_space = typename ExecutionSpace::memory_space;

  LayerLayout layout;
  std::vector<std::uint8_t> bits; // per column; quantized layers only
  std::vector<int> sweep_order;   // original column at each sweep position, when stored
  // The "mask" or "nm_index" tensor as a bit stream (plus a guard word); empty without mask.
  Kokkos::View<std::uint32_t *, memory_space> mask_stream;
  PackedLayerView<ExecutionSpace> device;

  int rows() const { return layout.rows; }
  int columns() const { return layout.columns; }
  // The exact size of this layer's file.
  std::int64_t file_bytes() const { return layout.file_bytes(); }
};

} // namespace sgpte::packed

#endif
