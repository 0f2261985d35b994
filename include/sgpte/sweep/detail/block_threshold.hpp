#ifndef SGPTE_SWEEP_DETAIL_BLOCK_THRESHOLD_HPP
#define SGPTE_SWEEP_DETAIL_BLOCK_THRESHOLD_HPP

// The unstructured mask threshold of one block: the k-th smallest (0-based) of
// w(r, j)² / d_j² over the block's rows × columns, exactly the value the reference reads
// from its sorted copy. Found by a two-pass radix select on the float bit patterns (for
// non-negative floats their order is the order of the unsigned integers): a histogram of
// the upper 16 bits picks the bucket holding rank k, a histogram of the lower 16 bits
// inside it picks the value. Everything stays on the device: no host synchronisation,
// except where the rows are shared among processes (RowExchange): each process counts its
// rows, and the histograms are summed across the processes (through host memory) before
// each pick, so every process finds the value a single process finds over all rows.

#include <sgpte/core/float_bits.hpp>
#include <sgpte/core/views.hpp>
#include <sgpte/sweep/row_exchange.hpp>

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <type_traits>

namespace sgpte::detail
{

// The mask criterion, computed identically by the threshold and by the sweep.
KOKKOS_INLINE_FUNCTION float pruning_score(float w, float d) { return (w * w) / (d * d); }

template <class ExecutionSpace>
class BlockThreshold
{
public:
  using memory_space = typename ExecutionSpace::memory_space;
  static constexpr int buckets = 1 << 16;

  explicit BlockThreshold(ExecutionSpace const &space)
      : _histogram(Kokkos::view_alloc(space, "sgpte::threshold_histogram"), buckets),
        _state(Kokkos::view_alloc(space, "sgpte::threshold_state")),
        _threshold(Kokkos::view_alloc(space, "sgpte::threshold"))
  {
  }

  // The threshold of block weight(:, begin:begin+count) lands in threshold() on the device.
  // With an exchange, this process counts only `rows` (its share) and the block is the
  // processes' rows together; `rank` is then a rank among all of them.
  void select(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
              Matrix<ExecutionSpace> const &lower, int begin, int count, std::int64_t rank,
              RowBlock rows = {0, -1}, RowExchange const *exchange = nullptr)
  {
    if (rows.count < 0)
      rows = {0, static_cast<int>(weight.extent(0))};
    Kokkos::Profiling::pushRegion("sgpte::block_threshold");
    auto const state = _state;
    Kokkos::parallel_for(
        "sgpte::threshold_init", Kokkos::RangePolicy<ExecutionSpace>(space, 0, 1),
        KOKKOS_LAMBDA(int) {
          state().rank_overall = rank;
          state().high = 0;
          state().rank_in_bucket = 0;
        });
    histogram_pass(space, weight, lower, begin, count, rows, /*high=*/true);
    sum_histograms(space, exchange);
    find_bucket(space, /*high=*/true);
    histogram_pass(space, weight, lower, begin, count, rows, /*high=*/false);
    sum_histograms(space, exchange);
    find_bucket(space, /*high=*/false);
    Kokkos::Profiling::popRegion();
  }

  Kokkos::View<float, memory_space> const &threshold() const { return _threshold; }

  // Progress of the selection on the device. Each pass reads one field and writes others,
  // so no thread of a pass reads a value another thread of the same pass wrote.
  struct State
  {
    std::int64_t rank_overall;   // rank among all values (read by the high pass)
    std::uint32_t high;          // upper 16 bits of the threshold (written by the high pass)
    std::int64_t rank_in_bucket; // rank inside that bucket (read by the low pass)
  };

  // The steps of select(). Public only because CUDA forbids device lambdas in private
  // member functions.
  void histogram_pass(ExecutionSpace const &space, Matrix<ExecutionSpace> const &weight,
                      Matrix<ExecutionSpace> const &lower, int begin, int count, RowBlock block,
                      bool high)
  {
    Kokkos::deep_copy(space, _histogram, 0u);
    auto const histogram = _histogram;
    auto const state = _state;
    int const first_row = block.first;
    int const rows = block.count;
    if (rows == 0)
      return;
    Kokkos::parallel_for(
        "sgpte::threshold_histogram",
        Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(
            space, 0, static_cast<std::int64_t>(rows) * count),
        KOKKOS_LAMBDA(std::int64_t i) {
          int const row = first_row + static_cast<int>(i % rows);
          int const column = begin + static_cast<int>(i / rows);
          std::uint32_t const bits =
              float_bits(pruning_score(weight(row, column), lower(column, column)));
          if (high)
            Kokkos::atomic_add(&histogram(bits >> 16), 1u);
          else if ((bits >> 16) == state().high)
            Kokkos::atomic_add(&histogram(bits & 0xffffu), 1u);
        });
  }

  // The histograms of all processes, summed (every process then holds the same counts).
  void sum_histograms(ExecutionSpace const &space, RowExchange const *exchange)
  {
    if (exchange == nullptr || exchange->size() == 1)
      return;
    static_assert(std::is_same_v<unsigned int, std::uint32_t>, "32-bit histogram counts");
    auto const host = Kokkos::create_mirror_view(_histogram);
    Kokkos::deep_copy(space, host, _histogram);
    space.fence();
    exchange->sum(host.data(), host.size());
    Kokkos::deep_copy(space, _histogram, host);
  }

  // The bucket b with (count below b) <= rank < (count up to b); then the remaining rank.
  // One team: each thread owns a run of buckets, a team scan gives each run its offset,
  // and the run holding the rank walks its buckets. A single launch, where a device-wide
  // scan would take several.
  void find_bucket(ExecutionSpace const &space, bool high)
  {
    auto const histogram = _histogram;
    auto const state = _state;
    auto const threshold = _threshold;
    using member_type = typename Kokkos::TeamPolicy<ExecutionSpace>::member_type;
    Kokkos::parallel_for(
        "sgpte::threshold_bucket", Kokkos::TeamPolicy<ExecutionSpace>(space, 1, Kokkos::AUTO),
        KOKKOS_LAMBDA(member_type const &team) {
          int const runs = team.team_size();
          int const run_length = (buckets + runs - 1) / runs;
          std::int64_t const rank = high ? state().rank_overall : state().rank_in_bucket;
          // The team scan over the runs: `below` arrives as the count of the runs before `run`.
          auto const scan_run = [&](int run, std::int64_t &below, bool final)
          {
            int const first = run * run_length;
            int const last = first + run_length < buckets ? first + run_length : buckets;
            std::int64_t in_run = 0;
            for (int b = first; b < last; ++b)
              in_run += histogram(b);
            if (final && below <= rank && rank < below + in_run)
            {
              std::int64_t before = below;
              int b = first;
              while (before + histogram(b) <= rank)
                before += histogram(b++);
              if (high)
              {
                state().high = static_cast<std::uint32_t>(b);
                state().rank_in_bucket = rank - before;
              }
              else
              {
                threshold() = bits_to_float((state().high << 16) | static_cast<std::uint32_t>(b));
              }
            }
            below += in_run;
          };
          Kokkos::parallel_scan(Kokkos::TeamThreadRange(team, runs), scan_run);
        });
  }

private:
  Kokkos::View<unsigned int *, memory_space> _histogram;
  Kokkos::View<State, memory_space> _state;
  Kokkos::View<float, memory_space> _threshold;
};

} // namespace sgpte::detail

#endif
