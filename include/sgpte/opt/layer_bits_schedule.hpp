#ifndef SGPTE_OPT_LAYER_BITS_SCHEDULE_HPP
#define SGPTE_OPT_LAYER_BITS_SCHEDULE_HPP

// A per-layer schedule of target average bits, e.g. the first half of the decoder layers at
// 3.5 bits and the second at 4.5: "0-5:3.5,6-11:4.5" (ranges inclusive, a single layer as
// "7:4"). Ranges may come in any order but must not overlap; check_layers() then requires
// them to lie inside the model and to cover every layer that is compressed.

#include <sgpte/core/error.hpp>
#include <sgpte/core/number_parsing.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sgpte::opt
{

struct LayerBits
{
  int first = 0; // first and last layer, inclusive
  int last = 0;
  double bits = 0.0;
};

class LayerBitsSchedule
{
public:
  LayerBitsSchedule() = default;

  explicit LayerBitsSchedule(std::vector<LayerBits> ranges)
      : LayerBitsSchedule(std::move(ranges), "layer-bit schedule")
  {
  }

  // "0-5:3.5,6-11:4.5"; throws InvalidArgument quoting the text and the bad entry.
  static LayerBitsSchedule parse(std::string_view text)
  {
    std::string const context = "layer-bit schedule '" + std::string(text) + "'";
    std::vector<LayerBits> ranges;
    std::size_t start = 0;
    while (start <= text.size())
    {
      std::size_t const comma = std::min(text.find(',', start), text.size());
      ranges.push_back(parse_entry(text.substr(start, comma - start), context));
      start = comma + 1;
    }
    return LayerBitsSchedule(std::move(ranges), context);
  }

  std::vector<LayerBits> const &ranges() const { return _ranges; }
  bool empty() const { return _ranges.empty(); }

  std::optional<double> bits_for(int layer) const
  {
    for (LayerBits const &range : _ranges)
      if (range.first <= layer && layer <= range.last)
        return range.bits;
    return std::nullopt;
  }

  // Every range inside a model of `layers` layers, every compressed layer
  // (min_layer <= i < max_layer) covered.
  void check_layers(int layers, int min_layer, int max_layer) const
  {
    for (LayerBits const &range : _ranges)
      if (range.last >= layers)
        throw InvalidArgument("layer-bit schedule: " + describe(range) + " names layer " +
                              std::to_string(range.last) + ", but the model has " +
                              std::to_string(layers) + " layers (0-" + std::to_string(layers - 1) +
                              ")");
    for (int layer = min_layer; layer < max_layer; ++layer)
      if (!bits_for(layer))
        throw InvalidArgument("layer-bit schedule: layer " + std::to_string(layer) +
                              " is compressed but has no target bits");
  }

private:
  // `context` starts every error message.
  LayerBitsSchedule(std::vector<LayerBits> ranges, std::string const &context)
      : _ranges(std::move(ranges))
  {
    for (LayerBits const &range : _ranges)
    {
      if (range.first < 0 || range.last < range.first)
        throw InvalidArgument(context + ": " + describe(range) +
                              " is not a range of layers FIRST-LAST with 0 <= FIRST <= LAST");
      if (!std::isfinite(range.bits) || range.bits <= 0.0)
        throw InvalidArgument(context + ": " + describe(range) +
                              " needs a positive number of bits");
    }
    std::vector<LayerBits> sorted = _ranges;
    std::sort(sorted.begin(), sorted.end(),
              [](LayerBits const &a, LayerBits const &b) { return a.first < b.first; });
    for (std::size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i].first <= sorted[i - 1].last)
        throw InvalidArgument(context + ": " + describe(sorted[i - 1]) + " and " +
                              describe(sorted[i]) + " overlap");
  }

  static std::string describe(LayerBits const &range)
  {
    std::string layers = std::to_string(range.first);
    if (range.last != range.first)
      layers += "-" + std::to_string(range.last);
    std::string bits = std::to_string(range.bits);
    bits.erase(bits.find_last_not_of('0') + 1);
    if (!bits.empty() && bits.back() == '.')
      bits.pop_back();
    return "'" + layers + ":" + bits + "'";
  }

  // "FIRST-LAST:BITS" or "LAYER:BITS".
  static LayerBits parse_entry(std::string_view entry, std::string const &context)
  {
    std::string const where = context + ": entry '" + std::string(entry) + "'";
    std::size_t const colon = entry.find(':');
    if (colon == std::string_view::npos)
      throw InvalidArgument(where + " is not FIRST-LAST:BITS or LAYER:BITS");
    std::string_view const layers = entry.substr(0, colon);
    std::size_t const dash = layers.find('-');
    int const first = parse_number<int>(layers.substr(0, dash), where);
    int const last =
        dash == std::string_view::npos ? first : parse_number<int>(layers.substr(dash + 1), where);
    return LayerBits{first, last, parse_number<double>(entry.substr(colon + 1), where)};
  }

  std::vector<LayerBits> _ranges;
};

} // namespace sgpte::opt

#endif
