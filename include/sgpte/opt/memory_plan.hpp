#ifndef SGPTE_OPT_MEMORY_PLAN_HPP
#define SGPTE_OPT_MEMORY_PLAN_HPP

// What sequential compression needs in the memory of its execution space, estimated from
// the configuration before any work, so that a run that cannot fit is refused up front with
// the amounts instead of failing hours in (sgpte-opt checks it against available_memory).
// The terms follow compress_sequential: the calibration activations (inputs and outputs of a
// layer), one decoder layer's weights in float, the six modules' Hessians (all accumulated
// in one forward pass), the layer workspace, and the transient memory of one fasterprune
// (the Hessian in sweep order, the inverse factor in float and its double-precision
// factorisation, a working copy of the weights and the block errors). The embedding tables
// are only resident while the windows are embedded, before any Hessian exists.

#include <sgpte/io/opt_config.hpp>

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

inline MemoryPlan sequential_memory_plan(io::OptConfig const &config, int seqlen, std::int64_t windows,
                                         std::size_t workspace_bytes)
{
  auto const hidden = static_cast<std::uint64_t>(config.hidden_size);
  auto const ffn = static_cast<std::uint64_t>(config.ffn_dim);
  auto const tokens = static_cast<std::uint64_t>(windows) * static_cast<std::uint64_t>(seqlen);
  std::uint64_t const f = sizeof(float);
  std::uint64_t const widest = std::max(hidden, ffn); // columns of the largest Hessian (fc2)
  std::uint64_t const edges =
      (static_cast<std::uint64_t>(config.vocab_size) * config.word_embed_proj_dim +
       static_cast<std::uint64_t>(config.max_position_embeddings + 2) * hidden) * f;
  std::uint64_t const activations = 2 * tokens * hidden * f;
  MemoryPlan plan;
  plan.terms = {{"calibration activations", activations},
                {"one decoder layer", (4 * hidden * hidden + 2 * hidden * ffn + 6 * hidden + ffn) * f},
                {"Hessians", (5 * hidden * hidden + ffn * ffn) * f},
                {"layer workspace", static_cast<std::uint64_t>(workspace_bytes)},
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
