#ifndef SGPTE_IO_DETAIL_SHAPE_HPP
#define SGPTE_IO_DETAIL_SHAPE_HPP

// Tensor shapes as stored in files: element counts that cannot overflow silently, and the
// "[2, 3]" form used in messages.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace sgpte::io::detail
{

inline std::optional<std::size_t> checked_multiply(std::size_t a, std::size_t b)
{
  std::size_t product;
  if (__builtin_mul_overflow(a, b, &product))
    return std::nullopt;
  return product;
}

// The number of elements of `shape` (1 for a scalar), or nothing if it overflows size_t.
inline std::optional<std::size_t> checked_element_count(std::vector<std::size_t> const &shape)
{
  std::optional<std::size_t> count = 1;
  for (std::size_t extent : shape)
    if (!(count = checked_multiply(*count, extent)))
      return std::nullopt;
  return count;
}

inline std::string format_shape(std::vector<std::size_t> const &shape)
{
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    text += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
  return text + "]";
}

} // namespace sgpte::io::detail

#endif
