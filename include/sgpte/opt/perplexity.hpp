#ifndef SGPTE_OPT_PERPLEXITY_HPP
#define SGPTE_OPT_PERPLEXITY_HPP

// Perplexity as the reference's opt_eval defines it: over non-overlapping windows of
// seqlen tokens, each window's loss is the mean cross entropy of its seqlen − 1 next-token
// predictions, and ppl = exp(mean of the window losses). Windows run in batches whose
// hidden states fit ForwardOptions::batch_bytes; sums are taken in double, window by window
// in order, so the result does not depend on the batching. The forward pass runs in the
// options' precision, the losses in float and double.

#include <sgpte/core/error.hpp>
#include <sgpte/opt/decoder_layer.hpp>
#include <sgpte/opt/decoder_layer_loader.hpp>
#include <sgpte/opt/forward_precision.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>
#include <sgpte/opt/opt_weights.hpp>
#include <sgpte/opt/progress.hpp>
#include <sgpte/opt/token_windows.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace sgpte::opt
{

struct PerplexityResult
{
  double perplexity = 0.0;
  double mean_nll = 0.0; // mean of the window losses
  std::size_t windows = 0;
  double seconds = 0.0;
  std::vector<double> window_losses; // window by window
};

// The result of these window losses (in window order): their sum taken in double, window by
// window in order, so that it depends on the losses alone, not on how the windows were
// batched or shared out among processes.
inline PerplexityResult perplexity_of(std::vector<double> window_losses, double seconds)
{
  if (window_losses.empty())
    throw InvalidArgument("perplexity needs at least one window");
  double loss_sum = 0.0;
  for (double const loss : window_losses)
    loss_sum += loss;
  PerplexityResult result;
  result.windows = window_losses.size();
  result.mean_nll = loss_sum / static_cast<double>(result.windows);
  result.perplexity = std::exp(result.mean_nll);
  result.seconds = seconds;
  result.window_losses = std::move(window_losses);
  return result;
}

// Appends the loss of each window whose final hidden states are `hidden` (token ids `ids`)
// to window_losses: the mean of its seqlen − 1 next-token losses, summed in double in order.
template <class ExecutionSpace, class Value>
void append_window_losses(ExecutionSpace const &space, ModelHead<ExecutionSpace, Value> const &head,
                          Activations<ExecutionSpace, Value> const &hidden,
                          TokenIds<ExecutionSpace> const &ids, int seqlen,
                          std::vector<double> &window_losses)
{
  auto const nll = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), next_token_nll(space, head, hidden, ids, seqlen));
  std::size_t const windows = hidden.extent(0) / static_cast<std::size_t>(seqlen);
  for (std::size_t window = 0; window < windows; ++window)
  {
    double window_sum = 0.0;
    for (int t = 0; t + 1 < seqlen; ++t)
      window_sum += nll(window * seqlen + t);
    window_losses.push_back(window_sum / (seqlen - 1));
  }
}

namespace detail
{

template <class Value, class ExecutionSpace>
PerplexityResult evaluate_perplexity_in(ExecutionSpace const &space,
                                        OptCheckpoint const &checkpoint,
                                        TokenWindows const &windows, ForwardOptions const &options,
                                        ProgressCallback const &progress)
{
  Kokkos::Timer timer;
  io::OptConfig const &config = checkpoint.config();
  int const seqlen = windows.seqlen;
  std::size_t const window_bytes =
      2 * static_cast<std::size_t>(seqlen) * config.hidden_size * sizeof(Value);
  std::size_t const count = windows.count();
  std::size_t const batch =
      std::min(count, std::max<std::size_t>(1, options.batch_bytes / window_bytes));
  int const batches = static_cast<int>((count + batch - 1) / batch);
  int const layers = checkpoint.layers();

  auto const edges = load_edge_weights<Value>(space, checkpoint);
  LayerWorkspace<ExecutionSpace, Value> const workspace(
      space, config, seqlen,
      std::min(static_cast<int>(batch), LayerWorkspace<ExecutionSpace, Value>::windows_within(
                                            config, seqlen, options.workspace_bytes)));
  ModelHead<ExecutionSpace, Value> const head(
      space, config, edges,
      std::min(ModelHead<ExecutionSpace, Value>::tokens_within(config, options.workspace_bytes),
               batch * seqlen));
  DecoderLayerLoader<ExecutionSpace, Value> loader(space, checkpoint, options.overlap_loading);
  std::vector<double> window_losses;
  window_losses.reserve(count);
  for (int index = 0; index < batches; ++index)
  {
    std::size_t const first = index * batch;
    std::size_t const batch_windows = std::min(batch, count - first);
    auto const ids = windows_on_device(space, windows, first, batch_windows);
    // What runs next: layer `layer` of this batch (0-based), or the head after the last.
    auto const announce = [&](int layer)
    {
      std::string const windows_text = "windows " + std::to_string(first + 1) + "-" +
                                       std::to_string(first + batch_windows) + " of " +
                                       std::to_string(count);
      report(progress, "evaluate", index * layers + layer, batches * layers,
             windows_text + (layer < layers ? ", layer " + std::to_string(layer + 1) + "/" +
                                                  std::to_string(layers)
                                            : ", logits and loss"));
    };
    announce(0);
    auto const on_layer = [&](int layer, auto const &) { announce(layer + 1); };
    auto const hidden = run_decoder_layers(space, config, loader, workspace,
                                           embed_windows(space, config, edges, ids, seqlen), layers,
                                           on_layer, index + 1 < batches);
    append_window_losses(space, head, hidden, ids, seqlen, window_losses);
  }
  return perplexity_of(std::move(window_losses), timer.seconds());
}

} // namespace detail

// In the precision options.precision_for<ExecutionSpace>(checkpoint) gives.
template <class ExecutionSpace>
PerplexityResult evaluate_perplexity(ExecutionSpace const &space, OptCheckpoint const &checkpoint,
                                     TokenWindows const &windows,
                                     ForwardOptions const &options = {},
                                     ProgressCallback const &progress = {})
{
  require_window_fits(checkpoint.config(), windows.seqlen);
  return with_forward_value_type(options.precision_for<ExecutionSpace>(checkpoint),
                                 [&](auto value)
                                 {
                                   return detail::evaluate_perplexity_in<decltype(value)>(
                                       space, checkpoint, windows, options, progress);
                                 });
}

} // namespace sgpte::opt

#endif
