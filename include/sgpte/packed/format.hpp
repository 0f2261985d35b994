#ifndef SGPTE_PACKED_FORMAT_HPP
#define SGPTE_PACKED_FORMAT_HPP

// The names and constants of the packed layer format (docs/format.md): one safetensors file
// per layer, its tensors and its "__metadata__" keys. Readers reject any other format name or
// version, so a file of a later, incompatible layout is never misread.

#include <sgpte/io/dtype.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sgpte::packed
{

inline constexpr char const *layer_format_name = "sgpte.packed.layer";
inline constexpr char const *model_format_name = "sgpte.packed.model";
// Version 2 added layers that store only their widest width's quantizer parameters
// (keys::parameters_from); version 1 files read as they always did.
inline constexpr int format_version = 2;
inline constexpr int oldest_format_version = 1;
inline constexpr int max_code_bits = 16; // the quantizer's widest option

// How the pruned entries are recorded: not at all (nothing pruned), one bit per weight, or
// the positions of the kept weights in each group of M (N:M pruning).
enum class MaskKind
{
  none,
  bitmap,
  n_of_m
};

inline std::string to_string(MaskKind kind)
{
  switch (kind)
  {
  case MaskKind::bitmap:
    return "bitmap";
  case MaskKind::n_of_m:
    return "n:m";
  default:
    return "none";
  }
}

inline std::optional<MaskKind> parse_mask_kind(std::string_view text)
{
  for (MaskKind kind : {MaskKind::none, MaskKind::bitmap, MaskKind::n_of_m})
    if (text == to_string(kind))
      return kind;
  return std::nullopt;
}

// Tensor names inside a layer file.
namespace names
{
inline constexpr char const *bits = "bits";
inline constexpr char const *sweep_order = "sweep_order";
inline constexpr char const *mask = "mask";
inline constexpr char const *nm_index = "nm_index";
inline constexpr char const *values = "values";
inline std::string codes(int width) { return "q" + std::to_string(width) + ".codes"; }
inline std::string scale(int width) { return "q" + std::to_string(width) + ".scale"; }
inline std::string zero(int width) { return "q" + std::to_string(width) + ".zero"; }
} // namespace names

// "__metadata__" keys of a layer file.
namespace keys
{
inline constexpr char const *format = "format";
inline constexpr char const *version = "format_version";
inline constexpr char const *rows = "rows";
inline constexpr char const *columns = "columns";
inline constexpr char const *encoding = "encoding"; // "codes" or "values"
inline constexpr char const *widths = "widths";
inline constexpr char const *parameters = "parameters"; // "per_row" or "per_tensor"
inline constexpr char const *parameters_from = "parameters_from"; // "widest", or absent
inline constexpr char const *group_size = "group_size";
inline constexpr char const *act_order = "act_order";
inline constexpr char const *mask = "mask";
inline constexpr char const *prune_n = "prune_n";
inline constexpr char const *prune_m = "prune_m";
} // namespace keys

inline constexpr char const *parameters_from_widest_value = "widest";

// Zero points are integers in [0, 2^width − 1]: one byte up to 8 bits, two above.
inline io::Dtype zero_dtype(int width) { return width <= 8 ? io::Dtype::U8 : io::Dtype::U16; }

// Bits of one position inside a group of M: ceil(log2 M).
inline int position_bits(int m)
{
  int bits = 0;
  while ((1 << bits) < m)
    ++bits;
  return bits;
}

// Bytes of `count` fields of `width` bits, packed back to back.
inline std::uint64_t packed_bytes(std::int64_t count, int width)
{
  return (static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(width) + 7) / 8;
}

} // namespace sgpte::packed

#endif
