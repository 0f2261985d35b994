#ifndef SGPTE_LAYER_DETAIL_COLUMN_ORDER_HPP
#define SGPTE_LAYER_DETAIL_COLUMN_ORDER_HPP

// The sweep processes columns in "sweep order": the original order, or with act-order
// the order of decreasing diag(H). These kernels move weights, Hessian and masks between
// the two orders and apply the dead-column rule (H_jj = 0 → H_jj = 1, W[:, j] = 0).
// column_of(k) is the original column at sweep position k.

#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace sgpte::detail
{

// Sweep order: identity, or columns by decreasing diagonal (dead columns counting as 1,
// ties kept in column order so that runs are reproducible).
inline std::vector<int> sweep_order(std::vector<double> const &diagonal, bool act_order)
{
  std::vector<int> order(diagonal.size());
  std::iota(order.begin(), order.end(), 0);
  if (act_order)
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      double const da = diagonal[a] == 0.0 ? 1.0 : diagonal[a];
      double const db = diagonal[b] == 0.0 ? 1.0 : diagonal[b];
      return da > db;
    });
  return order;
}

// The diagonal of H on the host (zero marks a dead column).
template <class ExecutionSpace>
std::vector<double> hessian_diagonal(ExecutionSpace const &space,
                                     Matrix<ExecutionSpace> const &hessian)
{
  int const n = static_cast<int>(hessian.extent(0));
  Vector<ExecutionSpace, float> diagonal(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::diagonal"), n);
  Kokkos::parallel_for(
      "sgpte::hessian_diagonal", Kokkos::RangePolicy<ExecutionSpace>(space, 0, n),
      KOKKOS_LAMBDA(int j) { diagonal(j) = hessian(j, j); });
  auto const host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), diagonal);
  return std::vector<double>(host.data(), host.data() + n);
}

// Hessian in sweep order with dead diagonals set to 1.
template <class ExecutionSpace>
Matrix<ExecutionSpace> hessian_in_sweep_order(ExecutionSpace const &space, Matrix<ExecutionSpace> const &hessian,
                                              Vector<ExecutionSpace, int> const &column_of)
{
  int const n = static_cast<int>(hessian.extent(0));
  Matrix<ExecutionSpace> ordered(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::hessian_work"), n, n);
  Kokkos::parallel_for(
      "sgpte::hessian_in_sweep_order",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(space, 0, static_cast<std::int64_t>(n) * n),
      KOKKOS_LAMBDA(std::int64_t index) {
        int const i = static_cast<int>(index % n);
        int const k = static_cast<int>(index / n);
        float const h = hessian(column_of(i), column_of(k));
        ordered(i, k) = (i == k && h == 0.0f) ? 1.0f : h;
      });
  return ordered;
}

// target(:, k) = source(:, column_of(k)), zero for dead columns. target may alias source
// only when column_of is the identity.
template <class ExecutionSpace>
void gather_live_columns(ExecutionSpace const &space, Matrix<ExecutionSpace> const &source,
                         Vector<ExecutionSpace, int> const &column_of,
                         Vector<ExecutionSpace, std::uint8_t> const &dead, Matrix<ExecutionSpace> const &target)
{
  int const rows = static_cast<int>(source.extent(0));
  std::int64_t const entries = static_cast<std::int64_t>(rows) * static_cast<std::int64_t>(source.extent(1));
  Kokkos::parallel_for(
      "sgpte::gather_live_columns", Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(space, 0, entries),
      KOKKOS_LAMBDA(std::int64_t index) {
        int const row = static_cast<int>(index % rows);
        int const k = static_cast<int>(index / rows);
        int const column = column_of(k);
        target(row, k) = dead(column) ? 0.0f : source(row, column);
      });
}

// target(:, column_of(k)) = source(:, k).
template <class ExecutionSpace>
void scatter_columns(ExecutionSpace const &space, Matrix<ExecutionSpace> const &source,
                     Vector<ExecutionSpace, int> const &column_of, Matrix<ExecutionSpace> const &target)
{
  int const rows = static_cast<int>(source.extent(0));
  std::int64_t const entries = static_cast<std::int64_t>(rows) * static_cast<std::int64_t>(source.extent(1));
  Kokkos::parallel_for(
      "sgpte::scatter_columns", Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(space, 0, entries),
      KOKKOS_LAMBDA(std::int64_t index) {
        int const row = static_cast<int>(index % rows);
        int const k = static_cast<int>(index / rows);
        target(row, column_of(k)) = source(row, k);
      });
}

// A mask bitmap (rows × words, bit c%32 of word c/32) from sweep order to original order.
template <class ExecutionSpace, class MaskView>
MaskView mask_in_original_order(ExecutionSpace const &space, MaskView const &mask,
                                Vector<ExecutionSpace, int> const &position_of, int columns)
{
  int const rows = static_cast<int>(mask.extent(0));
  int const words = static_cast<int>(mask.extent(1));
  MaskView original(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "sgpte::mask"), rows, words);
  Kokkos::parallel_for(
      "sgpte::mask_in_original_order",
      Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(space, 0, static_cast<std::int64_t>(rows) * words),
      KOKKOS_LAMBDA(std::int64_t index) {
        int const row = static_cast<int>(index % rows);
        int const word = static_cast<int>(index / rows);
        std::uint32_t bits = 0;
        for (int b = 0; b < 32 && word * 32 + b < columns; ++b)
        {
          int const k = position_of(word * 32 + b);
          bits |= ((mask(row, k / 32) >> (k % 32)) & 1u) << b;
        }
        original(row, word) = bits;
      });
  return original;
}

} // namespace sgpte::detail

#endif
