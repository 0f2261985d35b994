#ifndef SGPTE_STATS_QUANTIZATION_STATS_HPP
#define SGPTE_STATS_QUANTIZATION_STATS_HPP

// What compression did, per layer and for the whole model (SPEC §8): sparsity, bit
// histogram and average, importance range, OBS loss, damping, time per stage and size.
// print_summary() writes the seed's summary table; to_json() gives the same data to tools.

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace sgpte
{

struct StageSeconds
{
  double statistics = 0.0;    // add_batch: Hessian and column statistics
  double factorization = 0.0; // dead columns, damping, inverse-Hessian factor
  double allocation = 0.0;    // importance scores and bit allocation
  double sweep = 0.0;         // quantizer parameters and the fused sweep

  double total() const { return statistics + factorization + allocation + sweep; }
};

// bytes in bits per weight; 0 for no weights.
inline double bits_per_weight(std::int64_t bytes, std::int64_t weights)
{
  return weights > 0 ? 8.0 * static_cast<double>(bytes) / static_cast<double>(weights) : 0.0;
}

struct LayerStatistics
{
  std::string name;
  int rows = 0;
  int columns = 0;
  double sparsity = 0.0;                    // fraction of weights pruned by the masks
  std::map<int, std::int64_t> bit_histogram; // columns per bit width; 0 = not quantized
  double average_bits = 0.0;                // over columns; 0 when not quantized
  std::optional<double> target_average_bits;
  std::string allocation;                   // "uniform", "quantile", "budget", "packed" or "none"
  std::string quantizer_range;              // mixed precision: "shared" or "per-width"; else empty
  double importance_min = 0.0;
  double importance_mean = 0.0;
  double importance_max = 0.0;
  double loss = 0.0; // OBS loss Σ (w − q)² / (2 d²)
  double percdamp = 0.0;
  int damping_retries = 0;
  int dead_columns = 0;
  std::int64_t size_before_bytes = 0; // dense weights in their original dtype
  std::int64_t size_after_bytes = 0;  // the layer's packed file (packed/layer_file.hpp), exactly
  StageSeconds seconds;

  bool quantized() const { return average_bits > 0.0; }
  // The dense weights in fp16, the usual baseline of compression ratios.
  std::int64_t dense_fp16_bytes() const { return std::int64_t(2) * rows * columns; }
  // What the layer really costs per weight: its packed bytes (codes, mask, scales, zeros,
  // widths) in bits over rows × columns. Configurations compare at equal size by this
  // number, not by the nominal average_bits.
  double packed_bits_per_weight() const
  {
    return bits_per_weight(size_after_bytes, std::int64_t(rows) * columns);
  }
  // The quantile method does not enforce a target; say so when the result differs.
  bool misses_target() const
  {
    return target_average_bits && allocation == "quantile" &&
           std::abs(average_bits - *target_average_bits) > 1e-9;
  }
};

class QuantizationStats
{
public:
  void add(LayerStatistics layer) { _layers.push_back(std::move(layer)); }
  std::vector<LayerStatistics> const &layers() const { return _layers; }

  std::int64_t total_channels() const
  {
    std::int64_t total = 0;
    for (auto const &layer : _layers)
      total += layer.columns;
    return total;
  }

  std::map<int, std::int64_t> bit_histogram() const
  {
    std::map<int, std::int64_t> histogram;
    for (auto const &layer : _layers)
      for (auto const &[bits, count] : layer.bit_histogram)
        histogram[bits] += count;
    return histogram;
  }

  // Mean bits per quantized weight entry: each layer's columns weighted by its rows.
  double average_bits() const
  {
    double bits = 0.0, entries = 0.0;
    for (auto const &layer : _layers)
    {
      if (!layer.quantized())
        continue;
      bits += layer.average_bits * layer.columns * static_cast<double>(layer.rows);
      entries += static_cast<double>(layer.columns) * layer.rows;
    }
    return entries > 0.0 ? bits / entries : 0.0;
  }

  std::int64_t size_before_bytes() const { return sum(&LayerStatistics::size_before_bytes); }
  // The packed bytes in bits per weight of all layers (see LayerStatistics).
  double packed_bits_per_weight() const
  {
    return bits_per_weight(size_after_bytes(), dense_fp16_bytes() / 2);
  }
  std::int64_t size_after_bytes() const { return sum(&LayerStatistics::size_after_bytes); }
  std::int64_t dense_fp16_bytes() const
  {
    std::int64_t total = 0;
    for (auto const &layer : _layers)
      total += layer.dense_fp16_bytes();
    return total;
  }

  void print_summary(std::ostream &out) const
  {
    std::string const rule(72, '=');
    out << rule << "\nQuantization Statistics Summary (量化统计摘要)\n" << rule << "\n\n";
    std::int64_t const channels = total_channels();
    out << "Total channels: " << channels << "\n";
    out << "Bit distribution:\n";
    for (auto const &[bits, count] : bit_histogram())
    {
      std::string const label = bits == 0 ? "unquantized" : std::to_string(bits) + "-bit";
      out << format("  %-12s %8lld channels (%6.2f%%)\n", label.c_str(), static_cast<long long>(count),
                    channels > 0 ? 100.0 * count / channels : 0.0);
    }
    out << format(
        "\nAverage bits: %.3f bits (weighted by rows x columns); packed: %.3f bits per weight "
        "(codes, masks, scales, zeros and widths)\n",
        average_bits(), packed_bits_per_weight());
    std::int64_t const before = size_before_bytes(), after = size_after_bytes(), fp16 = dense_fp16_bytes();
    out << format("Model size: %.3f MB dense -> %.3f MB packed (ratio %.2fx; dense fp16 %.3f MB, "
                  "ratio %.2fx)\n",
                  before / 1e6, after / 1e6, ratio(before, after), fp16 / 1e6, ratio(fp16, after));
    out << "\nPer-layer statistics:\n";
    out << format("  %-32s %11s %7s %6s %-23s %11s %8s %8s %11s %7s\n", "layer", "shape", "sparse", "bits",
                  "importance (min, max)", "loss", "damp", "time s", "packed kB", "ratio");
    for (auto const &layer : _layers)
    {
      std::string const shape = std::to_string(layer.rows) + "x" + std::to_string(layer.columns);
      std::string const range =
          format("(%.3f, %.3f)", layer.importance_min, layer.importance_max);
      out << format("  %-32s %11s %6.2f%% %6.2f %-23s %11.4g %8.2g %8.3f %11.1f %6.2fx\n", layer.name.c_str(),
                    shape.c_str(), 100.0 * layer.sparsity, layer.average_bits, range.c_str(), layer.loss,
                    layer.percdamp, layer.seconds.total(), layer.size_after_bytes / 1e3,
                    ratio(layer.size_before_bytes, layer.size_after_bytes));
      if (layer.misses_target())
        out << format("    note: the quantile method does not enforce the target of %.3f bits; "
                      "achieved %.3f\n",
                      *layer.target_average_bits, layer.average_bits);
      if (layer.damping_retries > 0)
        out << format("    note: the Hessian needed %d damping retries\n", layer.damping_retries);
    }
    out << rule << "\n";
  }

  nlohmann::json to_json() const
  {
    nlohmann::json histogram = nlohmann::json::object();
    for (auto const &[bits, count] : bit_histogram())
      histogram[std::to_string(bits)] = count;
    nlohmann::json layers = nlohmann::json::array();
    for (auto const &layer : _layers)
      layers.push_back(layer_json(layer));
    return {{"total_channels", total_channels()},
            {"bit_histogram", histogram},
            {"average_bits", average_bits()},
            {"packed_bits_per_weight", packed_bits_per_weight()},
            {"size_before_bytes", size_before_bytes()},
            {"size_after_bytes", size_after_bytes()},
            {"size_fp16_bytes", dense_fp16_bytes()},
            {"compression_ratio", ratio(size_before_bytes(), size_after_bytes())},
            {"compression_ratio_fp16", ratio(dense_fp16_bytes(), size_after_bytes())},
            {"layers", layers}};
  }

  static nlohmann::json layer_json(LayerStatistics const &layer)
  {
    nlohmann::json histogram = nlohmann::json::object();
    for (auto const &[bits, count] : layer.bit_histogram)
      histogram[std::to_string(bits)] = count;
    nlohmann::json json = {
        {"name", layer.name},
        {"rows", layer.rows},
        {"columns", layer.columns},
        {"sparsity", layer.sparsity},
        {"bit_histogram", histogram},
        {"average_bits", layer.average_bits},
        {"packed_bits_per_weight", layer.packed_bits_per_weight()},
        {"allocation", layer.allocation},
        {"importance", {{"min", layer.importance_min}, {"mean", layer.importance_mean}, {"max", layer.importance_max}}},
        {"loss", layer.loss},
        {"percdamp", layer.percdamp},
        {"damping_retries", layer.damping_retries},
        {"dead_columns", layer.dead_columns},
        {"size_before_bytes", layer.size_before_bytes},
        {"size_after_bytes", layer.size_after_bytes},
        {"size_fp16_bytes", layer.dense_fp16_bytes()},
        {"compression_ratio", ratio(layer.size_before_bytes, layer.size_after_bytes)},
        {"seconds",
         {{"statistics", layer.seconds.statistics},
          {"factorization", layer.seconds.factorization},
          {"allocation", layer.seconds.allocation},
          {"sweep", layer.seconds.sweep}}}};
    if (layer.target_average_bits)
      json["target_average_bits"] = *layer.target_average_bits;
    if (!layer.quantizer_range.empty())
      json["quantizer_range"] = layer.quantizer_range;
    return json;
  }

  // The inverse of layer_json (derived fields are recomputed, not read). Throws
  // nlohmann::json::exception for JSON of another shape.
  static LayerStatistics layer_from_json(nlohmann::json const &json)
  {
    LayerStatistics layer;
    layer.name = json.at("name").get<std::string>();
    layer.rows = json.at("rows").get<int>();
    layer.columns = json.at("columns").get<int>();
    layer.sparsity = json.at("sparsity").get<double>();
    for (auto const &[bits, count] : json.at("bit_histogram").items())
      layer.bit_histogram[std::stoi(bits)] = count.get<std::int64_t>();
    layer.average_bits = json.at("average_bits").get<double>();
    if (json.contains("target_average_bits"))
      layer.target_average_bits = json.at("target_average_bits").get<double>();
    layer.allocation = json.at("allocation").get<std::string>();
    if (json.contains("quantizer_range"))
      layer.quantizer_range = json.at("quantizer_range").get<std::string>();
    layer.importance_min = json.at("importance").at("min").get<double>();
    layer.importance_mean = json.at("importance").at("mean").get<double>();
    layer.importance_max = json.at("importance").at("max").get<double>();
    layer.loss = json.at("loss").get<double>();
    layer.percdamp = json.at("percdamp").get<double>();
    layer.damping_retries = json.at("damping_retries").get<int>();
    layer.dead_columns = json.at("dead_columns").get<int>();
    layer.size_before_bytes = json.at("size_before_bytes").get<std::int64_t>();
    layer.size_after_bytes = json.at("size_after_bytes").get<std::int64_t>();
    auto const &seconds = json.at("seconds");
    layer.seconds = {seconds.at("statistics").get<double>(), seconds.at("factorization").get<double>(),
                     seconds.at("allocation").get<double>(), seconds.at("sweep").get<double>()};
    return layer;
  }

private:
  static double ratio(std::int64_t before, std::int64_t after)
  {
    return after > 0 ? static_cast<double>(before) / static_cast<double>(after) : 0.0;
  }

  std::int64_t sum(std::int64_t LayerStatistics::*field) const
  {
    std::int64_t total = 0;
    for (auto const &layer : _layers)
      total += layer.*field;
    return total;
  }

  template <class... Args>
  static std::string format(char const *pattern, Args... args)
  {
    int const length = std::snprintf(nullptr, 0, pattern, args...);
    std::string text(static_cast<std::size_t>(length) + 1, '\0');
    std::snprintf(text.data(), text.size(), pattern, args...);
    text.resize(static_cast<std::size_t>(length));
    return text;
  }

  std::vector<LayerStatistics> _layers;
};

} // namespace sgpte

#endif
