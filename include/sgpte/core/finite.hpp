#ifndef SGPTE_CORE_FINITE_HPP
#define SGPTE_CORE_FINITE_HPP

// Counting NaN and Inf entries, for the input checks and the never-write-NaN guarantee.

#include <sgpte/core/kokkos_compat.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace sgpte
{

template <class ExecutionSpace, class MatrixView>
std::int64_t count_non_finite(ExecutionSpace const &space, MatrixView const &matrix)
{
  static_assert(MatrixView::rank == 2, "count_non_finite expects a matrix");
  int const rows = static_cast<int>(matrix.extent(0));
  std::int64_t const entries = static_cast<std::int64_t>(rows) * static_cast<std::int64_t>(matrix.extent(1));
  std::int64_t bad = 0;
  Kokkos::parallel_reduce(
      "sgpte::count_non_finite",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(space, 0, entries),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t & partial) {
        partial += compat::isfinite(matrix(static_cast<int>(i % rows), static_cast<int>(i / rows))) ? 0 : 1;
      },
      bad);
  return bad;
}

} // namespace sgpte

#endif
