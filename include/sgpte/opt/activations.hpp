#ifndef SGPTE_OPT_ACTIVATIONS_HPP
#define SGPTE_OPT_ACTIVATIONS_HPP

// Activations of the OPT forward pass: tokens × features, row-major, the windows of a batch
// one after another (token t of window w is row w·seqlen + t), in the forward pass's
// precision (float, float16 or bfloat16; opt/forward_precision.hpp). A contiguous row-major
// matrix is a column-major features × tokens matrix over the same memory; the GEMMs use
// that view, so every product runs on LayoutLeft operands without a copy.

#include <sgpte/core/half_precision.hpp>
#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace sgpte::opt
{

template <class ExecutionSpace, class Value = float>
using Activations = RowMajorMatrix<ExecutionSpace, Value>;

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

// f(token, feature) for every entry of a tokens × features matrix, one token's row per
// team: the team's threads walk the row's contiguous features, so neighbouring GPU threads
// touch neighbouring addresses (an MDRangePolicy maps its first index to the fastest GPU
// thread whatever its iteration order, which made these passes 5–10× slower on CUDA than
// the bytes they move), and a host thread walks a row in memory order.
template <class Member, class EntryFunctor>
struct EveryEntryOfRow
{
  EntryFunctor f;
  std::int64_t width;

  KOKKOS_FUNCTION void operator()(Member const &team) const
  {
    std::int64_t const token = team.league_rank();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, width),
                         [&](std::int64_t feature) { f(token, feature); });
  }
};

// f: a named functor class, f(token, feature), not a KOKKOS_LAMBDA. nvcc's host-side holder
// of an extended lambda (__nv_hdl_wrapper_t) did not survive being held in another functor
// that Kokkos launches: in a CUDA build (Kokkos 4.6.01, nvcc 13) the program crashed while
// destroying it, in Serial runs when the holder sat in a lambda, in Cuda runs when it sat
// in a class.
template <class ExecutionSpace, class EntryFunctor>
void for_every_entry(char const *label, ExecutionSpace const &space, std::size_t tokens,
                     std::size_t features, EntryFunctor const &f)
{
#if defined(__NVCC__)
  static_assert(!__nv_is_extended_host_device_lambda_closure_type(EntryFunctor),
                "for_every_entry takes a named functor class, not a KOKKOS_LAMBDA");
#endif
  using Policy = Kokkos::TeamPolicy<ExecutionSpace>;
  Kokkos::parallel_for(label, Policy(space, static_cast<int>(tokens), Kokkos::AUTO),
                       EveryEntryOfRow<typename Policy::member_type, EntryFunctor>{
                           f, static_cast<std::int64_t>(features)});
}

// max(a, b) without a libm call (compat::fmax is not inlined on every host compiler).
KOKKOS_INLINE_FUNCTION float larger(float a, float b) { return a < b ? b : a; }

} // namespace detail
} // namespace sgpte::opt

#endif
