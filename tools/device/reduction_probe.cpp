// Device probe (calls 29, 30, 34 and 35): what a statistics batch's small kernels cost on Cuda. The
// check and merge kernel took 14 µs per 2,048-token batch at 768 columns whether one thread or
// one warp handled a column (calls 26 and 28). This times, back to back as add_batch queues
// them, empty kernels of the same shape with and without a MaxLoc reduction, into host-pinned
// and into device memory, against sgpte's kernels: the host's rate of queueing them. Then the
// device's time alone: each part queued 64 times behind a 5 ms spin kernel, so that the device
// never waits for the host, between two CUDA events recorded after the spin and after the last.
// Built and run by tools/device/call29.sh (call 35: call35.sh).
#include <sgpte/calibration/calibration_statistics.hpp>

#include <Kokkos_Core.hpp>

#include <cstdio>
#include <functional>

#include <cuda_runtime.h>

namespace
{
using Space = Kokkos::Cuda;
using Team = Kokkos::TeamPolicy<Space>::member_type;

void time_it(char const *name, std::function<void()> const &part)
{
  for (int i = 0; i < 16; ++i)
    part();
  Kokkos::fence();
  Kokkos::Timer timer;
  int const repeats = 384;
  for (int i = 0; i < repeats; ++i)
    part();
  Kokkos::fence();
  std::printf("%-60s %8.2f us\n", name, timer.seconds() / repeats * 1e6);
}

// The device's time per part, as above.
void time_on_device(Space const &space, char const *name, std::function<void()> const &part)
{
  for (int i = 0; i < 4; ++i)
    part();
  Kokkos::fence();
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  Kokkos::parallel_for(
      "probe_spin", Kokkos::RangePolicy<Space>(space, 0, 1), KOKKOS_LAMBDA(int) {
#ifdef __CUDA_ARCH__
        long long const begin = clock64();
        while (clock64() - begin < 10'000'000) // ≈ 5 ms at ≈ 2 GHz
          ;
#endif
      });
  cudaEventRecord(start, space.cuda_stream());
  int const repeats = 64;
  for (int i = 0; i < repeats; ++i)
    part();
  cudaEventRecord(stop, space.cuda_stream());
  cudaEventSynchronize(stop);
  float ms = 0;
  cudaEventElapsedTime(&ms, start, stop);
  std::printf("device: %-52s %8.2f us\n", name, ms * 1e3 / repeats);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

template <class ResultSpace>
void team_reduce(Space const &space, int columns, int team_size,
                 typename Kokkos::MaxLoc<double, int, ResultSpace>::result_view_type const &result)
{
  using Reducer = Kokkos::MaxLoc<double, int, ResultSpace>;
  Kokkos::parallel_reduce(
      "probe_team_reduce", Kokkos::TeamPolicy<Space>(space, columns, team_size),
      KOKKOS_LAMBDA(Team const &team, typename Reducer::value_type &partial) {
        if (team.team_rank() == 0 && team.league_rank() > partial.val)
        {
          partial.val = team.league_rank();
          partial.loc = team.league_rank();
        }
      },
      Reducer(result));
}
} // namespace

int main(int argc, char *argv[])
{
  Kokkos::ScopeGuard guard(argc, argv);
  Space space;
  int const columns = 768, tokens = 2048;
  Kokkos::View<double *, Space> sink("sink", columns);
  Kokkos::MaxLoc<double, int, Kokkos::CudaHostPinnedSpace>::result_view_type pinned("pinned");
  Kokkos::MaxLoc<double, int, Kokkos::CudaSpace>::result_view_type on_device("on_device");
  Kokkos::View<double, Kokkos::CudaHostPinnedSpace> pinned_max("pinned_max");

  auto const empty_range = [&]
  {
    Kokkos::parallel_for(
        "probe_range", Kokkos::RangePolicy<Space>(space, 0, columns),
        KOKKOS_LAMBDA(int j) { sink(j) = j; });
  };
  auto const range_reduce = [&]
  {
    using Reducer = Kokkos::MaxLoc<double, int, Kokkos::CudaHostPinnedSpace>;
    Kokkos::parallel_reduce(
        "probe_range_reduce", Kokkos::RangePolicy<Space>(space, 0, columns),
        KOKKOS_LAMBDA(int j, Reducer::value_type &partial) {
          if (j > partial.val)
          {
            partial.val = j;
            partial.loc = j;
          }
        },
        Reducer(pinned));
  };
  time_it("empty parallel_for, RangePolicy(768)", empty_range);
  time_it("empty parallel_for, TeamPolicy(768, 32)",
          [&]
          {
            Kokkos::parallel_for(
                "probe_team", Kokkos::TeamPolicy<Space>(space, columns, 32),
                KOKKOS_LAMBDA(Team const &team) {
                  if (team.team_rank() == 0)
                    sink(team.league_rank()) = 1.0;
                });
          });
  time_it("MaxLoc reduce, TeamPolicy(768, 32), result host-pinned",
          [&] { team_reduce<Kokkos::CudaHostPinnedSpace>(space, columns, 32, pinned); });
  time_it("MaxLoc reduce, TeamPolicy(768, 32), result in CudaSpace",
          [&] { team_reduce<Kokkos::CudaSpace>(space, columns, 32, on_device); });
  time_it("MaxLoc reduce, RangePolicy(768), result host-pinned", range_reduce);
  time_it(
      "parallel_for + atomic_max into a host-pinned double",
      [&]
      {
        Kokkos::parallel_for(
            "probe_atomic_max", Kokkos::RangePolicy<Space>(space, 0, columns),
            KOKKOS_LAMBDA(int j) { Kokkos::atomic_max(&pinned_max(), static_cast<double>(j)); });
      });

  // sgpte's own kernels on a batch like sgpte-bench-statistics-parts'.
  Kokkos::View<float **, Kokkos::LayoutRight, Space> inputs("inputs", tokens, columns);
  Kokkos::deep_copy(inputs, 0.5f);
  sgpte::detail::ColumnStatistics<Space> current(space, columns), merged(space, columns);
  sgpte::detail::ColumnChecks<Space> checks("checks", columns);
  sgpte::detail::ChunkSums<Space> chunk_sums;
  auto const statistics = [&]
  { sgpte::detail::column_statistics(space, inputs, 1, current, merged, checks, chunk_sums); };
  time_it("sgpte column_statistics (host-pinned checks)", statistics);

  sgpte::Matrix<Space> hessian("hessian", columns, columns), next("next", columns, columns);
  sgpte::backends::RankKUpdateWorkspace<Space> workspace;
  auto const product = [&]
  {
    sgpte::detail::gram_update_into(space, 1e-3f, inputs, 0.5f, hessian, next,
                                    sgpte::ProductPrecision::fp32, workspace);
  };
  time_on_device(space, "empty parallel_for, RangePolicy(768)", empty_range);
  time_on_device(space, "MaxLoc reduce, TeamPolicy(768, 32), host-pinned",
                 [&] { team_reduce<Kokkos::CudaHostPinnedSpace>(space, columns, 32, pinned); });
  time_on_device(space, "MaxLoc reduce, TeamPolicy(96, 8, vector 32), host-pinned",
                 [&]
                 {
                   using Reducer = Kokkos::MaxLoc<double, int, Kokkos::CudaHostPinnedSpace>;
                   Kokkos::parallel_reduce(
                       "probe_wide_team_reduce",
                       Kokkos::TeamPolicy<Space>(space, columns / 8, 8, 32),
                       KOKKOS_LAMBDA(Team const &team, Reducer::value_type &partial) {
                         int const column = team.league_rank() * 8 + team.team_rank();
                         Kokkos::single(Kokkos::PerThread(team),
                                        [&]
                                        {
                                          if (column > partial.val)
                                          {
                                            partial.val = column;
                                            partial.loc = column;
                                          }
                                        });
                       },
                       Reducer(pinned));
                 });
  time_on_device(space, "MaxLoc reduce, RangePolicy(768), host-pinned", range_reduce);
  time_on_device(space, "parallel_for TeamPolicy(768, 32) + atomic_max, host-pinned",
                 [&]
                 {
                   Kokkos::parallel_for(
                       "probe_team_atomic_max", Kokkos::TeamPolicy<Space>(space, columns, 32),
                       KOKKOS_LAMBDA(Team const &team) {
                         if (team.team_rank() == 0)
                           Kokkos::atomic_max(&pinned_max(),
                                              static_cast<double>(team.league_rank()));
                       });
                 });
  Kokkos::View<double, Space> device_max("device_max");
  Kokkos::View<unsigned, Space> teams_done("teams_done");
  time_on_device(space, "parallel_for TeamPolicy(768, 32) + device atomic_max + last team",
                 [&]
                 {
                   Kokkos::parallel_for(
                       "probe_team_last_block", Kokkos::TeamPolicy<Space>(space, columns, 32),
                       KOKKOS_LAMBDA(Team const &team) {
                         if (team.team_rank() != 0)
                           return;
                         Kokkos::atomic_max(&device_max(), static_cast<double>(team.league_rank()));
                         Kokkos::memory_fence();
                         if (Kokkos::atomic_fetch_add(&teams_done(), 1u) ==
                             static_cast<unsigned>(team.league_size()) - 1)
                         {
                           pinned_max() = Kokkos::atomic_fetch_add(&device_max(), 0.0);
                           device_max() = 0;
                           teams_done() = 0;
                         }
                       });
                 });
  time_on_device(space, "sgpte column_statistics", statistics);
  time_on_device(space, "sgpte H + XtX beside H (cublasLt)", product);
  time_on_device(space, "column statistics + H + XtX beside H (a staged batch)",
                 [&]
                 {
                   statistics();
                   product();
                 });
  return 0;
}
