#ifndef SGPTE_OPT_DECODER_LAYER_LOADER_HPP
#define SGPTE_OPT_DECODER_LAYER_LOADER_HPP

// One decoder layer at a time on the device, the next one on its way while the current one
// is worked on. A layer's tensors travel in their stored dtype as one block of bytes:
//
//   1. a host thread copies them from the memory-mapped checkpoint (or its replacements)
//      into a staging buffer (pinned memory on CUDA), while the device works;
//   2. prefetch() queues the staged block's copy to the device on an instance of its own
//      (its own CUDA stream), so that it runs beside the current layer's kernels;
//   3. load() waits for that copy and decodes the block on the device into the forward
//      pass's weights (DecoderLayerWeights in its precision).
//
// The stored bytes stay on the device while the layer is current: decode_weight() gives
// LayerCompressor a module's weight in float, store_weight() puts the compressed weight back
// into the stored bytes, the forward weights and the checkpoint. Device memory: the forward
// weights and two blocks of stored bytes, or one without `overlap` (then the copy waits for
// the current layer; a memory cap chooses it, and the results are the same).

#include <sgpte/core/error.hpp>
#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/io/byte_span.hpp>
#include <sgpte/opt/detail/stored_values.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/opt_weights.hpp>
#include <sgpte/opt/tensor_names.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <future>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace sgpte::opt
{

namespace detail
{

// Where a layer's tensors lie in its block of stored bytes: in expected_layer_tensors'
// order, each at an offset aligned for any dtype and for vectorised copies.
struct LayerBlock
{
  static constexpr std::size_t alignment = 256;

  struct Tensor
  {
    std::string name;
    io::Dtype dtype;
    std::size_t rows, columns; // a vector is 1 × n
    std::size_t offset, bytes;
  };
  std::vector<Tensor> tensors;
  std::size_t bytes = 0;

  LayerBlock(OptCheckpoint const &checkpoint, int layer)
  {
    for (ExpectedTensor const &expected : expected_layer_tensors(checkpoint.config(), layer))
    {
      io::TensorInfo const &info = checkpoint.info(expected.name);
      bool const vector = expected.shape.size() == 1;
      tensors.push_back({expected.name, info.dtype, vector ? 1 : expected.shape[0],
                         vector ? expected.shape[0] : expected.shape[1], bytes, info.byte_size()});
      bytes += (info.byte_size() + alignment - 1) / alignment * alignment;
    }
  }

  Tensor const &operator[](std::string const &name) const
  {
    for (Tensor const &tensor : tensors)
      if (tensor.name == name)
        return tensor;
    throw Error("no tensor '" + name + "' in the layer's block");
  }
};

// Pinned host memory where the device is a GPU (copies from it are asynchronous), else the
// host's.
template <class ExecutionSpace>
using StagingSpace =
#if defined(KOKKOS_ENABLE_CUDA)
    std::conditional_t<
        std::is_same<typename ExecutionSpace::memory_space, Kokkos::CudaSpace>::value,
        Kokkos::CudaHostPinnedSpace, Kokkos::HostSpace>;
#else
    Kokkos::HostSpace;
#endif

} // namespace detail

template <class ExecutionSpace, class Value>
class DecoderLayerLoader
{
  using Staging = Kokkos::View<unsigned char *, detail::StagingSpace<ExecutionSpace>>;
  using Bytes = detail::DeviceBytes<ExecutionSpace>;
  // The staging buffer is the device's own memory on host backends: nothing to copy.
  static constexpr bool staged_on_device =
      std::is_same<typename Staging::memory_space, typename Bytes::memory_space>::value;

public:
  DecoderLayerLoader(ExecutionSpace const &space, OptCheckpoint const &checkpoint,
                     bool overlap = true)
      : _checkpoint(checkpoint), _overlap(overlap || staged_on_device),
        _copy_space(compat::independent_instance(space))
  {
    std::size_t capacity = 0;
    for (int layer = 0; layer < checkpoint.layers(); ++layer)
      capacity = std::max(capacity, detail::LayerBlock(checkpoint, layer).bytes);
    for (std::size_t slot = 0; slot < 2; ++slot)
    {
      _staging[slot] = Staging(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "sgpte::opt::layer_staging"), capacity);
      if constexpr (staged_on_device)
        _device[slot] = _staging[slot];
      else if (slot == 0 || _overlap)
        _device[slot] =
            Bytes(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::layer_bytes"),
                  capacity);
    }
  }

  DecoderLayerLoader(DecoderLayerLoader const &) = delete;
  DecoderLayerLoader &operator=(DecoderLayerLoader const &) = delete;

  // Makes `layer` current and returns its forward weights (valid until the next load), then
  // starts staging `next` on a host thread, if given.
  DecoderLayerWeights<ExecutionSpace, Value> const &load(ExecutionSpace const &space, int layer,
                                                         std::optional<int> next = std::nullopt)
  {
    // The layer boundary: the last layer's kernels, which read the buffers about to be
    // reused, are done before anything is written over them.
    space.fence();
    if (!_in_flight || _in_flight->layer != layer)
      stage(layer);
    copy_to_device();
    _current = std::move(_in_flight);
    _in_flight.reset();
    decode_forward_weights(space);
    if (next)
      stage(*next);
    return _weights;
  }

  // Queues the copy of the layer staged by the last load() to the device, beside the current
  // layer's work. It waits for the staging thread (a memcpy of the layer's bytes), so call it
  // once the current layer's work is queued.
  void prefetch()
  {
    if (_overlap && _in_flight && !_in_flight->copied)
      copy_to_device(false);
  }

  // The current layer's weight of `module` as stored, in float, column-major.
  void decode_weight(ExecutionSpace const &space, LinearModule module,
                     Matrix<ExecutionSpace> const &weight) const
  {
    detail::decode_transposed(space, stored(linear_weight_name(_current->layer, module)), weight);
  }

  // Stores the current layer's compressed weight of `module` (float, column-major): into its
  // stored bytes, rounded to the tensor's dtype, into the forward weights as those bytes read
  // back, and into the checkpoint, which refuses NaN, infinite and overflowing values.
  void store_weight(ExecutionSpace const &space, OptCheckpoint &checkpoint, LinearModule module,
                    Matrix<ExecutionSpace> const &weight)
  {
    std::string const name = linear_weight_name(_current->layer, module);
    io::FloatEncodingCheck const check = put_weight(space, module, weight);
    auto const tensor = stored(name);
    std::vector<unsigned char> bytes(tensor.bytes.extent(0));
    Kokkos::deep_copy(
        space,
        Kokkos::View<unsigned char *, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(
            bytes.data(), bytes.size()),
        tensor.bytes);
    space.fence();
    checkpoint.replace_stored(name, std::move(bytes), check);
  }

  // Puts a weight (float, column-major) in place of the current layer's weight of `module` on
  // the device alone: into its stored bytes, rounded to the tensor's dtype, and into the
  // forward weights as those bytes read back. The checkpoint keeps its own, which the next
  // load() of the layer reads. Returns the count of NaN, infinite and overflowing values.
  io::FloatEncodingCheck put_weight(ExecutionSpace const &space, LinearModule module,
                                    Matrix<ExecutionSpace> const &weight)
  {
    return detail::encode(space, weight, stored(linear_weight_name(_current->layer, module)),
                          _weights.linear[module_index(module)].weight);
  }

private:
  struct InFlight
  {
    int layer;
    std::size_t slot;
    detail::LayerBlock block;
    std::future<void> staged;
    bool copied = false;
  };

  // Starts the host thread that copies `layer`'s tensors into the staging slot the current
  // layer does not use. That slot's last layer has reached the device (or, on host backends,
  // where the slot is the device buffer, was last read before load()'s fence).
  void stage(int layer)
  {
    _in_flight.reset(); // a thread still filling the slot finishes first
    std::size_t const slot = _current ? 1 - _current->slot : 0;
    detail::LayerBlock block(_checkpoint, layer);
    std::vector<std::pair<io::ByteSpan, unsigned char *>> copies;
    for (auto const &tensor : block.tensors)
      copies.push_back({_checkpoint.bytes(tensor.name), _staging[slot].data() + tensor.offset});
    // Only memcpy on the thread: no Kokkos call, no access to the checkpoint's containers.
    auto staged = std::async(std::launch::async,
                             [copies = std::move(copies)]
                             {
                               for (auto const &[source, destination] : copies)
                                 std::memcpy(destination, source.data, source.size);
                             });
    _in_flight = InFlight{layer, slot, std::move(block), std::move(staged)};
  }

  // The in-flight layer's bytes into its device buffer (waiting for them where `wait`). The
  // buffer last held the layer before the current one (with overlap) or the current one
  // (without, when load() has fenced the device): no queued kernel reads it.
  void copy_to_device(bool wait = true)
  {
    InFlight &layer = *_in_flight;
    if (layer.staged.valid())
      layer.staged.get();
    if constexpr (!staged_on_device)
    {
      std::size_t const device_slot = _overlap ? layer.slot : 0;
      if (!layer.copied)
      {
        auto const size = std::make_pair(std::size_t(0), layer.block.bytes);
        Kokkos::deep_copy(_copy_space, Kokkos::subview(_device[device_slot], size),
                          Kokkos::subview(_staging[layer.slot], size));
        layer.copied = true;
      }
      if (wait)
        _copy_space.fence();
    }
    else
      layer.copied = true;
  }

  detail::StoredTensor<ExecutionSpace> stored(std::string const &name) const
  {
    auto const &tensor = _current->block[name];
    std::size_t const device_slot = _overlap ? _current->slot : 0;
    return {Kokkos::subview(_device[device_slot],
                            std::make_pair(tensor.offset, tensor.offset + tensor.bytes)),
            tensor.dtype, tensor.rows, tensor.columns};
  }

  void decode_forward_weights(ExecutionSpace const &space)
  {
    int const layer = _current->layer;
    _weights.index = layer;
    for (LinearModule const module : linear_modules)
    {
      auto &linear = _weights.linear[module_index(module)];
      auto const weight = stored(linear_weight_name(layer, module));
      if (linear.weight.extent(0) != weight.rows || linear.weight.extent(1) != weight.columns)
        linear.weight = RowMajorMatrix<ExecutionSpace, Value>(
            Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::forward_weight"),
            weight.rows, weight.columns);
      detail::decode<Value>(space, weight, linear.weight.data());
      if (_checkpoint.config().enable_bias)
        decode_vector(space, linear_bias_name(layer, module), linear.bias);
    }
    if (_checkpoint.config().layer_norm_elementwise_affine)
    {
      std::string const prefix = layer_prefix(layer);
      for (auto &[norm, name] :
           {std::pair{&_weights.self_attn_layer_norm, prefix + "self_attn_layer_norm"},
            std::pair{&_weights.final_layer_norm, prefix + "final_layer_norm"}})
      {
        decode_vector(space, name + ".weight", norm->weight);
        decode_vector(space, name + ".bias", norm->bias);
      }
    }
  }

  void decode_vector(ExecutionSpace const &space, std::string const &name,
                     Vector<ExecutionSpace, float> &vector)
  {
    auto const tensor = stored(name);
    if (vector.extent(0) != tensor.count())
      vector = Vector<ExecutionSpace, float>(
          Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::forward_vector"),
          tensor.count());
    detail::decode<Value>(space, tensor, vector.data());
  }

  OptCheckpoint const &_checkpoint;
  bool _overlap;
  ExecutionSpace _copy_space;
  std::array<Staging, 2> _staging;
  std::array<Bytes, 2> _device;
  std::optional<InFlight> _in_flight, _current;
  DecoderLayerWeights<ExecutionSpace, Value> _weights;
};

} // namespace sgpte::opt

#endif
