#ifndef SGPTE_LAYER_DETAIL_COMPRESSED_SIZE_HPP
#define SGPTE_LAYER_DETAIL_COMPRESSED_SIZE_HPP

// Bytes a compressed layer needs when stored as what the compression saved (SPEC §9):
// the kept weights' codes at their column's width, one width byte per column, a (scale,
// zero) pair of 2 + 2 bytes per parameter row, group and width in use, and the mask —
// a bitmap for unstructured sparsity, ceil(log2 M)-bit positions of the kept entries for
// N:M. Without quantization the kept weights keep their original storage size.

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

namespace sgpte::detail
{

struct CompressedLayout
{
  int rows = 0;
  int columns = 0;
  std::vector<std::uint8_t> bits;         // per column; 0 = not quantized
  std::vector<std::int64_t> kept;         // kept entries per column
  int parameter_rows = 1;                 // rows (per channel) or 1 (per tensor)
  int groups = 1;
  bool unstructured_mask = false;
  int prune_n = 0;
  int prune_m = 0;
  int storage_bytes_per_weight = 2;
};

inline std::int64_t compressed_size_bytes(CompressedLayout const &layout)
{
  std::int64_t payload_bits = 0;
  std::set<int> widths;
  for (int j = 0; j < layout.columns; ++j)
  {
    int const bits = layout.bits[j] > 0 ? layout.bits[j] : 8 * layout.storage_bytes_per_weight;
    payload_bits += layout.kept[j] * bits;
    if (layout.bits[j] > 0)
      widths.insert(layout.bits[j]);
  }
  std::int64_t bytes = (payload_bits + 7) / 8;
  if (!widths.empty())
    bytes += layout.columns + static_cast<std::int64_t>(layout.parameter_rows) * layout.groups *
                                  static_cast<std::int64_t>(widths.size()) * 4;
  std::int64_t const entries = static_cast<std::int64_t>(layout.rows) * layout.columns;
  if (layout.unstructured_mask)
    bytes += (entries + 7) / 8;
  else if (layout.prune_n > 0)
  {
    int const index_bits = static_cast<int>(std::ceil(std::log2(static_cast<double>(layout.prune_m))));
    std::int64_t kept_entries = 0;
    for (std::int64_t k : layout.kept)
      kept_entries += k;
    bytes += (kept_entries * index_bits + 7) / 8;
  }
  return bytes;
}

} // namespace sgpte::detail

#endif
