#ifndef SGPTE_OPT_ACTIVATIONS_HPP
#define SGPTE_OPT_ACTIVATIONS_HPP

// Activations of the OPT forward pass: tokens × features, row-major, the windows of a batch
// one after another (token t of window w is row w·seqlen + t). A contiguous row-major
// matrix is a column-major features × tokens matrix over the same memory; the GEMMs use
// that view, so every product runs on LayoutLeft operands without a copy.

#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace sgpte::opt
{

template <class ExecutionSpace>
using Activations =
    Kokkos::View<float **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space>;

// Token ids of a batch of windows, window after window.
template <class ExecutionSpace>
using TokenIds = Kokkos::View<int *, typename ExecutionSpace::memory_space>;

namespace detail
{

// The column-major features × tokens view of a contiguous row-major tokens × features one.
template <class View>
auto transposed(View const &rows)
{
  static_assert(std::is_same<typename View::array_layout, Kokkos::LayoutRight>::value,
                "transposed() views row-major activations");
  return Kokkos::View<typename View::value_type **, Kokkos::LayoutLeft, typename View::memory_space,
                      Kokkos::MemoryTraits<Kokkos::Unmanaged>>(rows.data(), rows.extent(1),
                                                               rows.extent(0));
}

// Rows [begin, end) of row-major activations: again contiguous and row-major.
template <class View>
View token_rows(View const &rows, std::size_t begin, std::size_t end)
{
  return Kokkos::subview(rows, std::make_pair(begin, end), Kokkos::ALL());
}

// Every (token, feature) entry of a tokens × features matrix, features fastest: rows stay
// contiguous on the host, and neighbouring GPU threads touch neighbouring addresses.
template <class ExecutionSpace>
auto every_entry(ExecutionSpace const &space, std::size_t tokens, std::size_t features)
{
  using Policy =
      Kokkos::MDRangePolicy<ExecutionSpace,
                            Kokkos::Rank<2, Kokkos::Iterate::Right, Kokkos::Iterate::Right>>;
  return Policy(space, {0, 0},
                {static_cast<std::int64_t>(tokens), static_cast<std::int64_t>(features)});
}

// max(a, b) without a libm call (compat::fmax is not inlined on every host compiler).
KOKKOS_INLINE_FUNCTION float larger(float a, float b) { return a < b ? b : a; }

} // namespace detail
} // namespace sgpte::opt

#endif
