#ifndef SGPTE_OPT_OPT_WEIGHTS_HPP
#define SGPTE_OPT_OPT_WEIGHTS_HPP

// OPT weights on the device: one decoder layer at a time (load_decoder_layer), and the
// "edges" of the model that surround the layers — embeddings, positions, projections, final
// layer norm and lm_head (load_edge_weights). Linear weights are sgpte::Matrix (column-major,
// out × in), the form LayerCompressor compresses in place; store_linear_weight puts a
// compressed weight back into the checkpoint and rounds the device copy to the stored dtype.

#include <sgpte/core/views.hpp>
#include <sgpte/opt/detail/device_copy.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/tensor_names.hpp>

#include <Kokkos_Core.hpp>

#include <array>
#include <string>
#include <vector>

namespace sgpte::opt
{

template <class ExecutionSpace>
struct LinearWeights
{
  Matrix<ExecutionSpace> weight;      // out × in
  Vector<ExecutionSpace, float> bias; // out, or empty when the model has no biases
};

// Empty views when the layer norm has no elementwise affine parameters (weight 1, bias 0).
template <class ExecutionSpace>
struct LayerNormWeights
{
  Vector<ExecutionSpace, float> weight;
  Vector<ExecutionSpace, float> bias;
};

template <class ExecutionSpace>
struct DecoderLayerWeights
{
  int index = 0;
  std::array<LinearWeights<ExecutionSpace>, linear_modules.size()> linear; // by module_index
  LayerNormWeights<ExecutionSpace> self_attn_layer_norm;
  LayerNormWeights<ExecutionSpace> final_layer_norm;

  LinearWeights<ExecutionSpace> const &operator[](LinearModule module) const
  {
    return linear[module_index(module)];
  }
};

template <class ExecutionSpace>
struct EdgeWeights
{
  Matrix<ExecutionSpace> embed_tokens;    // vocab × word_embed_proj_dim
  Matrix<ExecutionSpace> embed_positions; // (max_position_embeddings + 2) × hidden
  Matrix<ExecutionSpace> project_in;      // hidden × word_embed_proj_dim, or empty
  Matrix<ExecutionSpace> project_out;     // word_embed_proj_dim × hidden, or empty
  bool has_final_layer_norm = false;
  LayerNormWeights<ExecutionSpace> final_layer_norm;
  Matrix<ExecutionSpace> lm_head; // vocab × word_embed_proj_dim; embed_tokens when tied
};

namespace detail
{

// Copies the checkpoint's values into an existing device matrix of the tensor's shape.
template <class ExecutionSpace>
void fill_matrix(ExecutionSpace const &space, OptCheckpoint const &checkpoint,
                 std::string const &name, Matrix<ExecutionSpace> const &matrix)
{
  std::vector<float> const values = checkpoint.read(name);
  copy_rows_to_device(space, values.data(), matrix);
}

template <class ExecutionSpace>
Matrix<ExecutionSpace> load_matrix(ExecutionSpace const &space, OptCheckpoint const &checkpoint,
                                   std::string const &name)
{
  io::TensorInfo const &tensor = checkpoint.info(name);
  Matrix<ExecutionSpace> matrix(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, name),
                                tensor.shape[0], tensor.shape[1]);
  fill_matrix(space, checkpoint, name, matrix);
  return matrix;
}

template <class ExecutionSpace>
Vector<ExecutionSpace, float> load_vector(ExecutionSpace const &space,
                                          OptCheckpoint const &checkpoint, std::string const &name)
{
  std::vector<float> const values = checkpoint.read(name);
  return copy_to_device(space, values.data(), values.size(), name);
}

template <class ExecutionSpace>
LayerNormWeights<ExecutionSpace> load_layer_norm(ExecutionSpace const &space,
                                                 OptCheckpoint const &checkpoint,
                                                 std::string const &prefix)
{
  if (!checkpoint.config().layer_norm_elementwise_affine)
    return {};
  return {load_vector(space, checkpoint, prefix + ".weight"),
          load_vector(space, checkpoint, prefix + ".bias")};
}

} // namespace detail

template <class ExecutionSpace>
DecoderLayerWeights<ExecutionSpace> load_decoder_layer(ExecutionSpace const &space,
                                                       OptCheckpoint const &checkpoint, int layer)
{
  DecoderLayerWeights<ExecutionSpace> weights;
  weights.index = layer;
  for (LinearModule const module : linear_modules)
  {
    auto &linear = weights.linear[module_index(module)];
    linear.weight = detail::load_matrix(space, checkpoint, linear_weight_name(layer, module));
    if (checkpoint.config().enable_bias)
      linear.bias = detail::load_vector(space, checkpoint, linear_bias_name(layer, module));
  }
  std::string const prefix = layer_prefix(layer);
  weights.self_attn_layer_norm =
      detail::load_layer_norm(space, checkpoint, prefix + "self_attn_layer_norm");
  weights.final_layer_norm =
      detail::load_layer_norm(space, checkpoint, prefix + "final_layer_norm");
  return weights;
}

template <class ExecutionSpace>
EdgeWeights<ExecutionSpace> load_edge_weights(ExecutionSpace const &space,
                                              OptCheckpoint const &checkpoint)
{
  io::OptConfig const &config = checkpoint.config();
  EdgeWeights<ExecutionSpace> edges;
  edges.embed_tokens = detail::load_matrix(space, checkpoint, names::embed_tokens);
  edges.embed_positions = detail::load_matrix(space, checkpoint, names::embed_positions);
  if (config.word_embed_proj_dim != config.hidden_size)
  {
    edges.project_in = detail::load_matrix(space, checkpoint, names::project_in);
    edges.project_out = detail::load_matrix(space, checkpoint, names::project_out);
  }
  edges.has_final_layer_norm = config.has_final_layer_norm();
  if (edges.has_final_layer_norm)
    edges.final_layer_norm = detail::load_layer_norm(space, checkpoint, names::final_layer_norm);
  edges.lm_head = config.tie_word_embeddings
                      ? edges.embed_tokens
                      : detail::load_matrix(space, checkpoint, names::lm_head);
  return edges;
}

// Stores a (compressed) linear weight in the checkpoint, in the tensor's dtype, and replaces
// the device matrix by what was stored (F16/BF16 rounding), so that the next forward pass
// computes with exactly the weights written.
template <class ExecutionSpace>
void store_linear_weight(ExecutionSpace const &space, OptCheckpoint &checkpoint,
                         std::string const &name, Matrix<ExecutionSpace> const &weight)
{
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), weight);
  std::vector<float> values(weight.size());
  Kokkos::View<float **, Kokkos::LayoutRight, Kokkos::HostSpace,
               Kokkos::MemoryTraits<Kokkos::Unmanaged>> const rows(values.data(), weight.extent(0),
                                                                   weight.extent(1));
  Kokkos::deep_copy(rows, host);
  checkpoint.replace(name, values);
  detail::fill_matrix(space, checkpoint, name, weight);
}

} // namespace sgpte::opt

#endif
