#ifndef SGPTE_LAYER_COMPRESSION_OPTIONS_HPP
#define SGPTE_LAYER_COMPRESSION_OPTIONS_HPP

// Everything fasterprune can be asked to do to one layer, with the defaults of the
// reference pipeline (opt.py) and of the seed. validate() rejects every invalid value or
// combination with a message naming it, before any work starts.

#include <sgpte/allocation/bit_allocation.hpp>
#include <sgpte/core/error.hpp>
#include <sgpte/importance/importance_score.hpp>
#include <sgpte/quantization/quantizer.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace sgpte
{

struct CompressionOptions
{
  // Pruning: unstructured `sparsity`, or N:M (prune_n of every prune_m columns per row).
  double sparsity = 0.0;
  int prune_n = 0;
  int prune_m = 0;
  int block_size = 128;
  double percdamp = 0.01;
  int max_damping_retries = 4;

  // Quantization: off by default. Uniform: every column wbits bits (the reference GPTQ).
  // Mixed: target_average_bits set, widths from bit_options chosen per column with the
  // allocation method: packed by default, which keeps the layer within the packed bytes of
  // uniform quantization at the target (allocation/packed_budget.hpp); budget meets the
  // target in nominal bits per column (SPEC §5); the seed's quantile tiers on request (they
  // do not enforce it). The budget methods minimise the columns' sensitivity: their expected
  // OBS error at each width (importance/obs_sensitivity.hpp), or the five-term importance
  // score's importance · 4^(−b) (SPEC §5); quantile always ranks by the score.
  int wbits = 0;
  std::optional<double> target_average_bits;
  AllocationMethod allocation = AllocationMethod::packed;
  Sensitivity sensitivity = Sensitivity::obs;
  std::vector<int> bit_options = {2, 3, 4, 6, 8};
  std::vector<double> quantiles = {0.2, 0.4, 0.6, 0.8};
  ImportanceWeights importance_weights;
  QuantizerOptions quantizer;
  // Packed and model allocation: when set, the layer's packed budget is uniform ⌊target⌋-bit
  // quantization's bytes plus this many (may be negative) instead of the target's fraction —
  // the layer's share of a model-wide budget (opt/model_allocation.hpp).
  std::optional<std::int64_t> packed_extra_bytes;

  bool quantizes() const { return wbits > 0 || target_average_bits.has_value(); }
  bool mixed_precision() const { return target_average_bits.has_value(); }

  void validate() const
  {
    auto fail = [](std::string const &message) { throw InvalidArgument(message); };
    if (!std::isfinite(sparsity) || sparsity < 0.0 || sparsity >= 1.0)
      fail("sparsity must lie in [0, 1), got " + number(sparsity));
    if (prune_n != 0 || prune_m != 0)
    {
      if (prune_n <= 0 || prune_m <= 0 || prune_n >= prune_m)
        fail("N:M pruning needs 0 < N < M, got " + std::to_string(prune_n) + ":" + std::to_string(prune_m));
      if (sparsity > 0.0)
        fail("choose either unstructured sparsity or N:M pruning, not both");
    }
    if (block_size < 1)
      fail("block size must be positive, got " + std::to_string(block_size));
    if (prune_m > 0 && block_size % prune_m != 0)
      fail("block size " + std::to_string(block_size) + " must be a multiple of M = " +
           std::to_string(prune_m) + " for N:M pruning");
    if (!std::isfinite(percdamp) || percdamp < 0.0)
      fail("percdamp must be finite and non-negative, got " + number(percdamp));
    if (max_damping_retries < 0)
      fail("the number of damping retries must be non-negative");
    if (wbits < 0 || wbits > 16)
      fail("wbits must lie in 0…16 (0: no quantization), got " + std::to_string(wbits));
    if (wbits > 0 && target_average_bits)
      fail("choose either uniform wbits or a target average of bits, not both");
    if (target_average_bits)
    {
      validate_bit_options(bit_options);
      validate_target_average(*target_average_bits, bit_options);
      if (allocation == AllocationMethod::quantile)
        validate_quantiles(quantiles, bit_options.size());
      // The model allocation weighs the modules' expected errors against each other; the
      // importance score ranks columns within a layer but is not an error (tiny-opt at 3 bits:
      // 7.06 with it, worse than uniform's 4.54).
      if (allocation == AllocationMethod::model && sensitivity == Sensitivity::score)
        fail("the model allocation compares expected OBS errors across modules: it needs "
             "sensitivity obs, not score");
    }
    importance_weights.validate();
    quantizer.validate();
  }

private:
  static std::string number(double x)
  {
    std::ostringstream out;
    out << x;
    return out.str();
  }
};

} // namespace sgpte

#endif
