#ifndef SGPTE_SWEEP_DETAIL_BLOCK_THRESHOLD_HPP
#define SGPTE_SWEEP_DETAIL_BLOCK_THRESHOLD_HPP

// The unstructured mask threshold of one block: the k-th smallest (0-based) of
// w(r, j)² / d_j² over the block's rows × columns, exactly the value the reference reads
// from its sorted copy. Found by a two-pass radix select on the float bit patterns (for
// non-negative floats their order is the order of the unsigned integers): a histogram of
// the upper 16 bits picks the bucket holding rank k, a histogram of the lower 16 bits
// inside it picks the value. Everything stays on the device: no host synchronisation.

#include <sgpte/core/views.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <cstring>

namespace sgpte::detail
{

// The mask criterion, computed identically by the threshold and by the sweep.
KOKKOS_INLINE_FUNCTION float pruning_score(float w, float d) { return (w * w) / (d * d); }

KOKKOS_INLINE_FUNCTION std::uint32_t float_bits(float x)
{
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

KOKKOS_INLINE_FUNCTION float bits_to_float(std::uint32_t bits)
{
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

template <class ExecutionSpace>
class BlockThreshold
{
public:
  using memory_space = typename ExecutionSpace::memory_space;
  static constexpr int buckets = 1 << 16;

  explicit BlockThreshold(ExecutionSpace const &space)
      : _histogram(Kokkos::view_alloc(space, "sgpte::threshold_histogram"), buckets)
      , _state(Kokkos::view_alloc(space, "sgpte::threshold_state"))
      , _threshold(Kokkos::view_alloc(space, "sgpte::threshold"))
  {
  }

  // The threshold of block weight(:, begin:begin+count) lands in threshold() on the device.
  void select(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
              Matrix<ExecutionSpace> const &lower, int begin, int count, std::int64_t rank)
  {
    Kokkos::Profiling::pushRegion("sgpte::block_threshold");
    auto const state = _state;
    Kokkos::parallel_for(
        "sgpte::threshold_init", Kokkos::RangePolicy<ExecutionSpace>(space, 0, 1), KOKKOS_LAMBDA(int) {
          state().rank_overall = rank;
          state().high = 0;
          state().rank_in_bucket = 0;
        });
    histogram_pass(space, weight, lower, begin, count, /*high=*/true);
    find_bucket(space, /*high=*/true);
    histogram_pass(space, weight, lower, begin, count, /*high=*/false);
    find_bucket(space, /*high=*/false);
    Kokkos::Profiling::popRegion();
  }

  Kokkos::View<float, memory_space> const &threshold() const { return _threshold; }

  // The steps of select(). Public only because CUDA forbids device lambdas in private
  // member functions.
  // Each pass reads one field and writes others, so the concurrent threads of a scan
  // never see a value another thread of the same scan wrote.
  struct State
  {
    std::int64_t rank_overall;   // rank among all values (read by the high pass)
    std::uint32_t high;          // upper 16 bits of the threshold (written by the high pass)
    std::int64_t rank_in_bucket; // rank inside that bucket (read by the low pass)
  };

  void histogram_pass(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
                      Matrix<ExecutionSpace> const &lower, int begin, int count, bool high)
  {
    Kokkos::deep_copy(space, _histogram, 0u);
    auto const histogram = _histogram;
    auto const state = _state;
    int const rows = static_cast<int>(weight.extent(0));
    Kokkos::parallel_for(
        "sgpte::threshold_histogram",
        Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
            space, 0, static_cast<std::int64_t>(rows) * count),
        KOKKOS_LAMBDA(std::int64_t i) {
          int const row = static_cast<int>(i % rows);
          int const column = begin + static_cast<int>(i / rows);
          std::uint32_t const bits = float_bits(pruning_score(weight(row, column), lower(column, column)));
          if (high)
            Kokkos::atomic_increment(&histogram(bits >> 16));
          else if ((bits >> 16) == state().high)
            Kokkos::atomic_increment(&histogram(bits & 0xffffu));
        });
  }

  // The bucket b with (count below b) <= rank < (count up to b); then the remaining rank.
  void find_bucket(ExecutionSpace const &space, bool high)
  {
    auto const histogram = _histogram;
    auto const state = _state;
    auto const threshold = _threshold;
    Kokkos::parallel_scan(
        "sgpte::threshold_bucket", Kokkos::RangePolicy<ExecutionSpace>(space, 0, buckets),
        KOKKOS_LAMBDA(int b, std::int64_t & below, bool final) {
          std::int64_t const in_bucket = histogram(b);
          if (final)
          {
            std::int64_t const rank = high ? state().rank_overall : state().rank_in_bucket;
            if (below <= rank && rank < below + in_bucket)
            {
              if (high)
              {
                state().high = static_cast<std::uint32_t>(b);
                state().rank_in_bucket = rank - below;
              }
              else
              {
                threshold() = bits_to_float((state().high << 16) | static_cast<std::uint32_t>(b));
              }
            }
          }
          below += in_bucket;
        });
  }

private:
  Kokkos::View<unsigned int *, memory_space> _histogram;
  Kokkos::View<State, memory_space> _state;
  Kokkos::View<float, memory_space> _threshold;
};

} // namespace sgpte::detail

#endif
