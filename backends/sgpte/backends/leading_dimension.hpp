#ifndef SGPTE_BACKENDS_LEADING_DIMENSION_HPP
#define SGPTE_BACKENDS_LEADING_DIMENSION_HPP

#include <cstddef>

namespace sgpte::backends::detail
{

// The leading dimension of a column-major view (unit row stride) as BLAS takes it: BLAS
// wants at least the row count (and at least 1) even where a view of one column reports
// another stride.
template <class View>
int leading_dimension(View const &view)
{
  auto const rows = static_cast<std::size_t>(view.extent(0));
  auto const stride = static_cast<std::size_t>(view.stride(1));
  return static_cast<int>(stride > rows ? stride : (rows > 0 ? rows : 1));
}

} // namespace sgpte::backends::detail

#endif
