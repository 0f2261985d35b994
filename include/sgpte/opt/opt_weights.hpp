#ifndef SGPTE_OPT_OPT_WEIGHTS_HPP
#define SGPTE_OPT_OPT_WEIGHTS_HPP

// OPT weights on the device as the forward pass uses them, in its precision (Value: float,
// float16 or bfloat16): linear weights row-major (out × in) as checkpoints store them,
// biases and layer-norm parameters in float, rounded to Value's precision as PyTorch holds
// them in a model of that dtype. One decoder layer at a time comes from a DecoderLayerLoader
// (decoder_layer_loader.hpp); the "edges" of the model that surround the layers —
// embeddings, positions, projections, final layer norm and lm_head — from load_edge_weights.

#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/detail/device_copy.hpp>
#include <sgpte/opt/detail/stored_values.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/tensor_names.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <string>
#include <vector>

namespace sgpte::opt
{

template <class ExecutionSpace, class Value = float>
struct LinearWeights
{
  RowMajorMatrix<ExecutionSpace, Value> weight; // out × in
  Vector<ExecutionSpace, float> bias;           // out, or empty when the model has no biases
};

// Empty views when the layer norm has no elementwise affine parameters (weight 1, bias 0).
template <class ExecutionSpace>
struct LayerNormWeights
{
  Vector<ExecutionSpace, float> weight;
  Vector<ExecutionSpace, float> bias;
};

template <class ExecutionSpace, class Value = float>
struct DecoderLayerWeights
{
  int index = 0;
  std::array<LinearWeights<ExecutionSpace, Value>, linear_modules.size()> linear; // by module_index
  LayerNormWeights<ExecutionSpace> self_attn_layer_norm;
  LayerNormWeights<ExecutionSpace> final_layer_norm;

  LinearWeights<ExecutionSpace, Value> const &operator[](LinearModule module) const
  {
    return linear[module_index(module)];
  }
};

template <class ExecutionSpace, class Value = float>
struct EdgeWeights
{
  RowMajorMatrix<ExecutionSpace, Value> embed_tokens;    // vocab × word_embed_proj_dim
  RowMajorMatrix<ExecutionSpace, Value> embed_positions; // (max_position_embeddings + 2) × hidden
  RowMajorMatrix<ExecutionSpace, Value> project_in;      // hidden × word_embed_proj_dim, or empty
  RowMajorMatrix<ExecutionSpace, Value> project_out;     // word_embed_proj_dim × hidden, or empty
  bool has_final_layer_norm = false;
  LayerNormWeights<ExecutionSpace> final_layer_norm;
  RowMajorMatrix<ExecutionSpace, Value>
      lm_head; // vocab × word_embed_proj_dim; embed_tokens when tied
};

namespace detail
{

// A matrix of the checkpoint on the device, in Value, row-major (out × in), decoded there
// from the stored bytes.
template <class Value, class ExecutionSpace>
RowMajorMatrix<ExecutionSpace, Value>
load_rows(ExecutionSpace const &space, OptCheckpoint const &checkpoint, std::string const &name)
{
  io::TensorInfo const &tensor = checkpoint.info(name);
  RowMajorMatrix<ExecutionSpace, Value> matrix(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, name), tensor.shape[0],
      tensor.shape[1]);
  StoredTensor<ExecutionSpace> const stored{device_bytes(space, checkpoint.bytes(name), name),
                                            tensor.dtype, tensor.shape[0], tensor.shape[1]};
  decode<Value>(space, stored, matrix.data());
  space.fence(); // before the stored bytes are released
  return matrix;
}

// A vector of the checkpoint in float, rounded to Value's precision.
template <class Value, class ExecutionSpace>
Vector<ExecutionSpace, float> load_vector(ExecutionSpace const &space,
                                          OptCheckpoint const &checkpoint, std::string const &name)
{
  std::vector<float> values = checkpoint.read(name);
  for (float &value : values)
    value = rounded_to<Value>(value);
  return copy_to_device(space, values.data(), values.size(), name);
}

template <class Value, class ExecutionSpace>
LayerNormWeights<ExecutionSpace> load_layer_norm(ExecutionSpace const &space,
                                                 OptCheckpoint const &checkpoint,
                                                 std::string const &prefix)
{
  if (!checkpoint.config().layer_norm_elementwise_affine)
    return {};
  return {load_vector<Value>(space, checkpoint, prefix + ".weight"),
          load_vector<Value>(space, checkpoint, prefix + ".bias")};
}

} // namespace detail

template <class Value, class ExecutionSpace>
EdgeWeights<ExecutionSpace, Value> load_edge_weights(ExecutionSpace const &space,
                                                     OptCheckpoint const &checkpoint)
{
  io::OptConfig const &config = checkpoint.config();
  EdgeWeights<ExecutionSpace, Value> edges;
  edges.embed_tokens = detail::load_rows<Value>(space, checkpoint, names::embed_tokens);
  edges.embed_positions = detail::load_rows<Value>(space, checkpoint, names::embed_positions);
  if (config.word_embed_proj_dim != config.hidden_size)
  {
    edges.project_in = detail::load_rows<Value>(space, checkpoint, names::project_in);
    edges.project_out = detail::load_rows<Value>(space, checkpoint, names::project_out);
  }
  edges.has_final_layer_norm = config.has_final_layer_norm();
  if (edges.has_final_layer_norm)
    edges.final_layer_norm =
        detail::load_layer_norm<Value>(space, checkpoint, names::final_layer_norm);
  edges.lm_head = config.tie_word_embeddings
                      ? edges.embed_tokens
                      : detail::load_rows<Value>(space, checkpoint, names::lm_head);
  return edges;
}

} // namespace sgpte::opt

#endif
