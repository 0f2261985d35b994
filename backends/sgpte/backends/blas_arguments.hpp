#ifndef SGPTE_BACKENDS_BLAS_ARGUMENTS_HPP
#define SGPTE_BACKENDS_BLAS_ARGUMENTS_HPP

// BLAS arguments from the backends' inputs, shared by the host BLAS and cuBLAS calls.

#include <cstddef>

namespace sgpte::backends::detail
{

// Whether a BLAS transpose flag ("N", "T" or "C"; real data, so "C" is "T") transposes.
inline bool transposes(char const *trans) { return trans[0] != 'N' && trans[0] != 'n'; }

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
