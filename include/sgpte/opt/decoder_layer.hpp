#ifndef SGPTE_OPT_DECODER_LAYER_HPP
#define SGPTE_OPT_DECODER_LAYER_HPP

// The forward pass of one OPT decoder layer (transformers' OPTDecoderLayer in eval mode), in
// the forward pass's precision (opt/forward_precision.hpp), pre- or post-layer-norm per
// do_layer_norm_before:
//
//   pre-LN:  h = x + out_proj(attn(ln1(x)));  y = h + fc2(relu(fc1(ln2(h))))
//   post-LN: h = ln1(x + out_proj(attn(x)));  y = ln2(h + fc2(relu(fc1(h))))
//
// The batch (windows × seqlen tokens) runs through in chunks of whole windows, so that the
// intermediate activations fit a LayerWorkspace of bounded size. decoder_layer_capture's
// callback sees the input of every linear module, chunk by chunk — what the reference's forward
// hooks feed to add_batch: q, k and v get the same (layer-normed) input, out_proj the attention
// context, fc1 its input, fc2 relu(fc1(...)).

#include <sgpte/core/views.hpp>
#include <sgpte/io/opt_config.hpp>
#include <sgpte/opt/activations.hpp>
#include <sgpte/opt/detail/causal_attention.hpp>
#include <sgpte/opt/detail/layer_norm.hpp>
#include <sgpte/opt/detail/linear.hpp>
#include <sgpte/opt/opt_weights.hpp>
#include <sgpte/opt/tensor_names.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace sgpte::opt
{

// Scratch memory of the decoder-layer forward pass for chunks of up to `chunk_windows`
// windows: four tokens × hidden buffers, one tokens × ffn buffer (in Value) and the float
// attention scores of one window.
template <class ExecutionSpace, class Value = float>
class LayerWorkspace
{
public:
  // The largest chunk whose buffers fit in `bytes` (at least one window).
  static int windows_within(io::OptConfig const &config, int seqlen, std::size_t bytes)
  {
    std::size_t const per_window =
        static_cast<std::size_t>(seqlen) *
        static_cast<std::size_t>(4 * config.hidden_size + config.ffn_dim) * sizeof(Value);
    return static_cast<int>(std::max<std::size_t>(1, bytes / per_window));
  }

  LayerWorkspace(ExecutionSpace const &space, io::OptConfig const &config, int seqlen,
                 int chunk_windows)
      : _chunk_windows(chunk_windows), _seqlen(seqlen),
        _a(allocate(space, "sgpte::opt::workspace_a", config.hidden_size)),
        _b(allocate(space, "sgpte::opt::workspace_b", config.hidden_size)),
        _c(allocate(space, "sgpte::opt::workspace_c", config.hidden_size)),
        _d(allocate(space, "sgpte::opt::workspace_d", config.hidden_size)),
        _ffn(allocate(space, "sgpte::opt::workspace_ffn", config.ffn_dim)),
        _scores(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::opt::scores"),
                seqlen, static_cast<std::size_t>(seqlen) * config.num_attention_heads)
  {
  }

  int chunk_windows() const { return _chunk_windows; }
  int seqlen() const { return _seqlen; }

  // The buffers cut to `tokens` rows.
  Activations<ExecutionSpace, Value> a(std::size_t tokens) const
  {
    return detail::token_rows(_a, 0, tokens);
  }
  Activations<ExecutionSpace, Value> b(std::size_t tokens) const
  {
    return detail::token_rows(_b, 0, tokens);
  }
  Activations<ExecutionSpace, Value> c(std::size_t tokens) const
  {
    return detail::token_rows(_c, 0, tokens);
  }
  Activations<ExecutionSpace, Value> d(std::size_t tokens) const
  {
    return detail::token_rows(_d, 0, tokens);
  }
  Activations<ExecutionSpace, Value> ffn(std::size_t tokens) const
  {
    return detail::token_rows(_ffn, 0, tokens);
  }
  Matrix<ExecutionSpace> const &scores() const { return _scores; }

private:
  Activations<ExecutionSpace, Value> allocate(ExecutionSpace const &space, char const *label,
                                              std::int64_t features) const
  {
    return Activations<ExecutionSpace, Value>(
        Kokkos::view_alloc(space, Kokkos::WithoutInitializing, std::string(label)),
        static_cast<std::size_t>(_chunk_windows) * _seqlen, static_cast<std::size_t>(features));
  }

  int _chunk_windows;
  int _seqlen;
  Activations<ExecutionSpace, Value> _a, _b, _c, _d, _ffn;
  Matrix<ExecutionSpace> _scores;
};

// Captures nothing.
struct NoCapture
{
  template <class View>
  void operator()(LinearModule, View const &) const
  {
  }
};

namespace detail
{

// One chunk of whole windows; input and output must not overlap. Without an output
// (nullptr) the pass stops once every module's input has been captured: fc2's product and
// the last residual are only needed for the layer's output.
template <class ExecutionSpace, class Value, class Capture>
void decoder_layer_chunk(ExecutionSpace const &space, io::OptConfig const &config,
                         DecoderLayerWeights<ExecutionSpace, Value> const &layer,
                         LayerWorkspace<ExecutionSpace, Value> const &workspace,
                         Activations<ExecutionSpace, Value> const &input,
                         Activations<ExecutionSpace, Value> const *output, Capture &capture)
{
  std::size_t const tokens = input.extent(0);
  auto const attention_input = workspace.a(tokens), q = workspace.b(tokens),
             k = workspace.c(tokens), v = workspace.d(tokens), ffn = workspace.ffn(tokens);
  bool const pre_norm = config.do_layer_norm_before;
  auto const scaling = static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.head_dim())));

  // Self-attention block.
  Activations<ExecutionSpace, Value> normed = input;
  if (pre_norm)
  {
    layer_norm(space, layer.self_attn_layer_norm, input, attention_input);
    normed = attention_input;
  }
  for (LinearModule const module :
       {LinearModule::k_proj, LinearModule::v_proj, LinearModule::q_proj})
    capture(module, normed);
  linear(space, layer[LinearModule::q_proj], normed, q, LinearEpilogue{scaling, false});
  linear(space, layer[LinearModule::k_proj], normed, k);
  linear(space, layer[LinearModule::v_proj], normed, v);
  auto const context = attention_input; // free once q, k, v exist
  causal_self_attention(space, q, k, v, context, workspace.seqlen(),
                        static_cast<int>(config.num_attention_heads), workspace.scores());
  capture(LinearModule::out_proj, context);
  // The residual sum, and the layer norm that follows it: the feed-forward block's (pre-LN)
  // or the attention block's own (post-LN, whose normalised sum is the residual).
  auto const attended = q;
  linear_then_layer_norm(space, layer[LinearModule::out_proj], context, attended, LinearEpilogue{},
                         input, pre_norm ? layer.final_layer_norm : layer.self_attn_layer_norm, k);
  auto const residual = pre_norm ? attended : k;

  // Feed-forward block.
  auto const mlp_input = k;
  capture(LinearModule::fc1, mlp_input);
  linear(space, layer[LinearModule::fc1], mlp_input, ffn, LinearEpilogue{1.0f, true});
  capture(LinearModule::fc2, ffn);
  if (output == nullptr)
    return;
  if (pre_norm)
    linear(space, layer[LinearModule::fc2], ffn, *output, LinearEpilogue{}, residual);
  else
    linear_then_layer_norm(space, layer[LinearModule::fc2], ffn, v, LinearEpilogue{}, residual,
                           layer.final_layer_norm, *output);
}

// Runs the layer over `input` in chunks of whole windows; output may be nullptr (see
// decoder_layer_chunk).
template <class ExecutionSpace, class Value, class Capture>
void decoder_layer_chunks(ExecutionSpace const &space, io::OptConfig const &config,
                          DecoderLayerWeights<ExecutionSpace, Value> const &layer,
                          LayerWorkspace<ExecutionSpace, Value> const &workspace,
                          Activations<ExecutionSpace, Value> const &input,
                          Activations<ExecutionSpace, Value> const *output, Capture &capture)
{
  std::size_t const chunk =
      static_cast<std::size_t>(workspace.chunk_windows()) * workspace.seqlen();
  for (std::size_t begin = 0; begin < input.extent(0); begin += chunk)
  {
    std::size_t const end = std::min(input.extent(0), begin + chunk);
    auto const output_rows =
        output != nullptr ? token_rows(*output, begin, end) : Activations<ExecutionSpace, Value>();
    decoder_layer_chunk(space, config, layer, workspace, token_rows(input, begin, end),
                        output != nullptr ? &output_rows : nullptr, capture);
  }
}

} // namespace detail

// input, output: tokens × hidden for whole windows of workspace.seqlen() tokens; they must
// not overlap.
template <class ExecutionSpace, class Value>
void decoder_layer_forward(ExecutionSpace const &space, io::OptConfig const &config,
                           DecoderLayerWeights<ExecutionSpace, Value> const &layer,
                           LayerWorkspace<ExecutionSpace, Value> const &workspace,
                           Activations<ExecutionSpace, Value> const &input,
                           Activations<ExecutionSpace, Value> const &output)
{
  NoCapture capture;
  detail::decoder_layer_chunks(space, config, layer, workspace, input, &output, capture);
}

// The layer's forward pass as far as every module's input: capture(LinearModule,
// Activations) is called with each, chunk by chunk; the layer's output is not computed
// (the calibration pass of sequential compression needs only the inputs).
template <class ExecutionSpace, class Value, class Capture>
void decoder_layer_capture(ExecutionSpace const &space, io::OptConfig const &config,
                           DecoderLayerWeights<ExecutionSpace, Value> const &layer,
                           LayerWorkspace<ExecutionSpace, Value> const &workspace,
                           Activations<ExecutionSpace, Value> const &input, Capture &&capture)
{
  detail::decoder_layer_chunks(space, config, layer, workspace, input,
                               static_cast<Activations<ExecutionSpace, Value> const *>(nullptr),
                               capture);
}

} // namespace sgpte::opt

#endif
