#ifndef SGPTE_OPT_MODEL_FORWARD_HPP
#define SGPTE_OPT_MODEL_FORWARD_HPP

// The whole OPT forward pass over a batch of windows, layer-major as the reference runs it:
// embed every window, then each decoder layer in turn (loaded by a DecoderLayerLoader,
// applied to the whole batch), then the head — final layer norm, project_out, lm_head — in
// chunks of tokens so that the tokens × vocab logits stay within the workspace budget. All of
// it in the forward pass's precision (Value), the logits in float. Device memory is bounded
// by one layer (two with the loader's overlap), the edge weights, two batch-sized activation
// buffers and the workspace.

#include <sgpte/backends/mixed_precision_gemm.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/opt/activations.hpp>
#include <sgpte/opt/decoder_layer.hpp>
#include <sgpte/opt/decoder_layer_loader.hpp>
#include <sgpte/opt/detail/cross_entropy.hpp>
#include <sgpte/opt/detail/embedding.hpp>
#include <sgpte/opt/detail/layer_norm.hpp>
#include <sgpte/opt/detail/linear.hpp>
#include <sgpte/opt/forward_precision.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/opt_weights.hpp>
#include <sgpte/opt/tensor_names.hpp>
#include <sgpte/opt/token_windows.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace sgpte::opt
{

struct ForwardOptions
{
  // Scratch memory of a decoder layer's intermediates and of a chunk of logits.
  std::size_t workspace_bytes = std::size_t(256) << 20;
  // Evaluation: the two hidden-state buffers of a batch of windows.
  std::size_t batch_bytes = std::size_t(512) << 20;
  // The activations' and weights' type; by default default_forward_precision.
  std::optional<ForwardPrecision> precision;
  // The next decoder layer's copy to the device beside the current layer's work, at the cost
  // of a second buffer of a layer's stored bytes (DecoderLayerLoader).
  bool overlap_loading = true;

  // The precision the passes run in on ExecutionSpace for this checkpoint.
  template <class ExecutionSpace>
  ForwardPrecision precision_for(OptCheckpoint const &checkpoint) const
  {
    return precision.value_or(default_forward_precision<ExecutionSpace>(
        checkpoint.info(linear_weight_name(0, LinearModule::q_proj)).dtype));
  }
};

// Windows longer than the learned positions, or too short to predict a token, are refused.
inline void require_window_fits(io::OptConfig const &config, int seqlen)
{
  if (seqlen < 2 || seqlen > config.max_position_embeddings)
    throw InvalidArgument("the window length must lie in 2 ... max_position_embeddings (" +
                          std::to_string(config.max_position_embeddings) + "), got " +
                          std::to_string(seqlen));
}

// The input of decoder layer 0 for the windows whose token ids are `ids`.
template <class ExecutionSpace, class Value>
Activations<ExecutionSpace, Value> embed_windows(ExecutionSpace const &space,
                                                 io::OptConfig const &config,
                                                 EdgeWeights<ExecutionSpace, Value> const &edges,
                                                 TokenIds<ExecutionSpace> const &ids, int seqlen)
{
  std::size_t const tokens = ids.extent(0);
  Activations<ExecutionSpace, Value> hidden(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::hidden"), tokens,
      config.hidden_size);
  Activations<ExecutionSpace, Value> projected;
  if (edges.project_in.data() != nullptr)
    projected = Activations<ExecutionSpace, Value>(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::word_embeddings"),
        tokens, config.word_embed_proj_dim);
  detail::embed(space, edges, ids, seqlen, hidden, projected);
  return hidden;
}

// Runs decoder layers [0, layers) over `hidden` (the embedded windows) and returns the last
// layer's output; on_layer(layer, output) sees each layer's output. `hidden` is reused as a
// buffer. With `another_pass`, layer 0 is staged after the last, for the next batch.
template <class ExecutionSpace, class Value, class OnLayer>
Activations<ExecutionSpace, Value>
run_decoder_layers(ExecutionSpace const &space, io::OptConfig const &config,
                   DecoderLayerLoader<ExecutionSpace, Value> &loader,
                   LayerWorkspace<ExecutionSpace, Value> const &workspace,
                   Activations<ExecutionSpace, Value> hidden, int layers, OnLayer &&on_layer,
                   bool another_pass = false)
{
  Activations<ExecutionSpace, Value> next(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::hidden"),
      hidden.extent(0), hidden.extent(1));
  for (int layer = 0; layer < layers; ++layer)
  {
    std::optional<int> const staged_next =
        layer + 1 < layers ? std::optional<int>(layer + 1)
                           : (another_pass ? std::optional<int>(0) : std::nullopt);
    auto const &weights = loader.load(space, layer, staged_next);
    decoder_layer_forward(space, config, weights, workspace, hidden, next);
    loader.prefetch();
    on_layer(layer, next);
    std::swap(hidden, next);
  }
  return hidden;
}

// The head of the model for a chunk of tokens: final layer norm (pre-LN models),
// project_out (where word_embed_proj_dim differs) and lm_head, whose products accumulate
// and return the logits in float.
template <class ExecutionSpace, class Value = float>
class ModelHead
{
public:
  // The most tokens per chunk whose buffers fit in `bytes` (at least one).
  static std::size_t tokens_within(io::OptConfig const &config, std::size_t bytes)
  {
    std::size_t const per_token =
        static_cast<std::size_t>(config.hidden_size + config.word_embed_proj_dim) * sizeof(Value) +
        static_cast<std::size_t>(config.vocab_size) * sizeof(float);
    return std::max<std::size_t>(1, bytes / per_token);
  }

  ModelHead(ExecutionSpace const &space, io::OptConfig const &config,
            EdgeWeights<ExecutionSpace, Value> const &edges, std::size_t chunk_tokens)
      : _edges(edges),
        _normed(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::head_normed"),
                chunk_tokens, config.hidden_size),
        _projected(
            Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::head_projected"),
            edges.project_out.data() != nullptr ? chunk_tokens : 0, config.word_embed_proj_dim),
        _logits(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::logits"),
                chunk_tokens, config.vocab_size)
  {
  }

  std::size_t chunk_tokens() const { return _logits.extent(0); }

  // The final hidden states of a chunk (at most chunk_tokens() rows) after the final layer
  // norm, and its logits; the views live until the next call.
  std::pair<Activations<ExecutionSpace, Value>, Activations<ExecutionSpace>>
  operator()(ExecutionSpace const &space, Activations<ExecutionSpace, Value> const &hidden) const
  {
    std::size_t const tokens = hidden.extent(0);
    Activations<ExecutionSpace, Value> normed = hidden;
    if (_edges.has_final_layer_norm)
    {
      normed = detail::token_rows(_normed, 0, tokens);
      detail::layer_norm(space, _edges.final_layer_norm, hidden, normed);
    }
    Activations<ExecutionSpace, Value> features = normed;
    if (_edges.project_out.data() != nullptr)
    {
      features = detail::token_rows(_projected, 0, tokens);
      detail::linear(space, LinearWeights<ExecutionSpace, Value>{_edges.project_out, {}}, normed,
                     features);
    }
    auto const logits = detail::token_rows(_logits, 0, tokens);
    backends::mixed_precision_gemm(space, "T", "N", 1.0f, detail::transposed(_edges.lm_head),
                                   detail::transposed(features), 0.0f, detail::transposed(logits));
    return {normed, logits};
  }

private:
  EdgeWeights<ExecutionSpace, Value> _edges;
  Activations<ExecutionSpace, Value> _normed, _projected;
  Activations<ExecutionSpace> _logits;
};

// The negative log-likelihood of every next-token prediction of the windows whose final
// hidden states are `hidden` (0 for each window's last token).
template <class ExecutionSpace, class Value>
Vector<ExecutionSpace, double> next_token_nll(ExecutionSpace const &space,
                                              ModelHead<ExecutionSpace, Value> const &head,
                                              Activations<ExecutionSpace, Value> const &hidden,
                                              TokenIds<ExecutionSpace> const &ids, int seqlen)
{
  Vector<ExecutionSpace, double> nll(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::nll"), hidden.extent(0));
  for (std::size_t begin = 0; begin < hidden.extent(0); begin += head.chunk_tokens())
  {
    std::size_t const end = std::min(hidden.extent(0), begin + head.chunk_tokens());
    auto const logits = head(space, detail::token_rows(hidden, begin, end)).second;
    detail::next_token_nll(space, logits, ids, static_cast<int>(begin), seqlen, nll);
  }
  return nll;
}

} // namespace sgpte::opt

#endif
