#ifndef SGPTE_OPT_MEMORY_PLAN_HPP
#define SGPTE_OPT_MEMORY_PLAN_HPP

// What sequential compression needs in the memory of its execution space, estimated from
// the checkpoint before any work, so that a run that cannot fit is refused up front with the
// amounts instead of failing hours in (sgpte-opt checks it against available_memory, or a
// cap the user sets). The terms follow compress_sequential: the calibration activations
// (inputs and outputs of a layer) in the forward precision, the layer loader's buffers (the
// model itself stays in host memory, mapped from its files, as the official pipeline keeps
// it on the CPU), one module's weight in float, the six modules' Hessians (all accumulated in
// one forward pass), the layer workspace with one window's attention scores, and the
// transient memory of one fasterprune (the Hessian in sweep order, the inverse factor in
// float and its double-precision factorisation, a working copy of the weights and the block
// errors). The embedding tables are only resident while the windows are embedded, before any
// Hessian exists.

#include <sgpte/opt/decoder_layer.hpp>
#include <sgpte/opt/decoder_layer_loader.hpp>
#include <sgpte/opt/forward_precision.hpp>
#include <sgpte/opt/model_forward.hpp>
#include <sgpte/opt/opt_checkpoint.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(KOKKOS_ENABLE_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace sgpte::opt
{

struct MemoryPlan
{
  std::vector<std::pair<std::string, std::uint64_t>> terms; // what, bytes

  std::uint64_t total() const
  {
    std::uint64_t sum = 0;
    for (auto const &term : terms)
      sum += term.second;
    return sum;
  }

  static std::string gib(std::uint64_t bytes)
  {
    std::ostringstream text;
    text.precision(3);
    text << static_cast<double>(bytes) / double(1 << 30) << " GiB";
    return text.str();
  }

  // "12.3 GiB (calibration activations 8 GiB, ...)"
  std::string describe() const
  {
    std::string text = gib(total()) + " (";
    for (std::size_t i = 0; i < terms.size(); ++i)
      text += (i ? ", " : "") + terms[i].first + " " + gib(terms[i].second);
    return text + ")";
  }
};

// Sequential compression of `windows` windows of `seqlen` tokens with the forward passes in
// `precision` and `options`' workspace and loading.
inline MemoryPlan sequential_memory_plan(OptCheckpoint const &checkpoint, int seqlen,
                                         std::int64_t windows, ForwardOptions const &options,
                                         ForwardPrecision precision)
{
  io::OptConfig const &config = checkpoint.config();
  auto const hidden = static_cast<std::uint64_t>(config.hidden_size);
  auto const ffn = static_cast<std::uint64_t>(config.ffn_dim);
  auto const tokens = static_cast<std::uint64_t>(windows) * static_cast<std::uint64_t>(seqlen);
  std::uint64_t const f = sizeof(float);
  std::uint64_t const v = forward_value_bytes(precision);
  std::uint64_t const widest = std::max(hidden, ffn); // columns of the largest Hessian (fc2)
  std::uint64_t const edges =
      (static_cast<std::uint64_t>(config.vocab_size) * config.word_embed_proj_dim +
       static_cast<std::uint64_t>(config.max_position_embeddings + 2) * hidden) *
      v;
  std::uint64_t const activations = 2 * tokens * hidden * v;
  // The layer loader: the forward weights in the forward precision, the vectors in float,
  // the stored bytes once or twice.
  detail::LayerBlock const block(checkpoint, 0);
  std::uint64_t loader = block.bytes * (options.overlap_loading ? 2 : 1);
  for (auto const &tensor : block.tensors)
    loader += tensor.rows * tensor.columns * (tensor.rows > 1 ? v : f);
  // LayerWorkspace's chunks of whole windows within the budget, and one window's scores.
  std::uint64_t const per_window = static_cast<std::uint64_t>(seqlen) * (4 * hidden + ffn) * v;
  std::uint64_t const chunk_windows = std::min<std::uint64_t>(
      static_cast<std::uint64_t>(windows),
      with_forward_value_type(
          precision,
          [&](auto value)
          {
            return LayerWorkspace<Kokkos::DefaultHostExecutionSpace,
                                  decltype(value)>::windows_within(config, seqlen,
                                                                   options.workspace_bytes);
          }));
  std::uint64_t const workspace = chunk_windows * per_window + static_cast<std::uint64_t>(seqlen) *
                                                                   seqlen *
                                                                   config.num_attention_heads * f;
  MemoryPlan plan;
  plan.terms = {
      {"calibration activations", activations},
      {"one decoder layer", loader},
      {"one module's weight in float", hidden * ffn * f},
      {"Hessians", (5 * hidden * hidden + ffn * ffn) * f},
      {"layer workspace", workspace},
      {"fasterprune", widest * widest * (2 * f + 2 * sizeof(double)) + 2 * widest * hidden * f}};
  // Embedding happens before the Hessians exist: count the larger of the two phases.
  std::uint64_t const after_embedding = plan.total() - activations / 2;
  if (edges + activations > after_embedding)
    plan.terms.push_back({"embedding tables", edges + activations - after_embedding});
  return plan;
}

// Memory the execution space can still allocate, where it can be known: free device memory
// on CUDA, MemAvailable of /proc/meminfo for host spaces; nothing otherwise.
template <class ExecutionSpace>
std::optional<std::uint64_t> available_memory()
{
  using memory_space = typename ExecutionSpace::memory_space;
#if defined(KOKKOS_ENABLE_CUDA)
  if constexpr (std::is_same<memory_space, Kokkos::CudaSpace>::value)
  {
    std::size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) != cudaSuccess)
      return std::nullopt;
    return static_cast<std::uint64_t>(free);
  }
#endif
  if constexpr (std::is_same<memory_space, Kokkos::HostSpace>::value)
  {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::uint64_t kib = 0;
    std::string unit;
    while (meminfo >> key >> kib >> unit)
      if (key == "MemAvailable:")
        return kib * 1024;
  }
  return std::nullopt;
}

} // namespace sgpte::opt

#endif
