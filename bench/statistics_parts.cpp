// sgpte-bench-statistics-parts: where the time of CalibrationStatistics::add_batch goes, per
// batch, on one Kokkos backend. Each part runs --batches times back to back (queued without
// waiting, as add_batch queues it) between two fences; the per-batch time is then the part's
// cost in a stream of batches: the device's time where the host queues faster than the device
// runs, the host's where not. add_batch itself runs the same way for comparison.
//
//   sgpte-bench-statistics-parts [--columns 768] [--batch 2048] [--batches 384] [--backend cuda]

#include <sgpte/calibration/calibration_statistics.hpp>

#include <Kokkos_Core.hpp>
#include <Kokkos_Random.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <functional>
#include <string>

#include "common/benchmark_main.hpp"

namespace
{

struct Options
{
  int columns = 768;
  int batch = 2048;
  int batches = 384;
};

template <class ExecutionSpace>
void time_part(ExecutionSpace const &space, Options const &options, char const *name,
               std::function<void()> const &part)
{
  for (int b = 0; b < 8; ++b) // warm-up: allocations, cuBLAS' first call, Kokkos' launch set-up
    part();
  space.fence();
  Kokkos::Timer timer;
  for (int b = 0; b < options.batches; ++b)
    part();
  space.fence();
  std::printf("%-44s %9.1f us\n", name, timer.seconds() / options.batches * 1e6);
  std::fflush(stdout);
}

template <class ExecutionSpace>
void run(ExecutionSpace const &space, Options const &options)
{
  namespace detail = sgpte::detail;
  int const n = options.columns;
  std::printf("statistics per batch of %d tokens x %d columns on %s (Kokkos %s), %d batches\n",
              options.batch, n, ExecutionSpace::name(), sgpte::compat::version_string().c_str(),
              options.batches);
  Kokkos::View<float **, Kokkos::LayoutRight, typename ExecutionSpace::memory_space> inputs(
      "inputs", options.batch, n);
  space.fence();
  Kokkos::Random_XorShift64_Pool<ExecutionSpace> pool(1);
  Kokkos::fill_random(inputs, pool, -1.0f, 1.0f);
  Kokkos::fence();

  detail::ColumnStatistics<ExecutionSpace> current(space, n), merged(space, n);
  detail::ColumnChecks<ExecutionSpace> checks("checks", n);
  detail::ChunkSums<ExecutionSpace> chunk_sums;
  sgpte::Matrix<ExecutionSpace> hessian("hessian", n, n), next("next", n, n);
  sgpte::backends::RankKUpdateWorkspace<ExecutionSpace> workspace;
  sgpte::backends::CompletionEvent<ExecutionSpace> checked;
  auto const update_into = [&]
  {
    detail::gram_update_into(space, 1e-3f, inputs, 0.5f, hessian, next,
                             sgpte::ProductPrecision::fp32, workspace);
  };

  auto const column_statistics = [&]
  { detail::column_statistics(space, inputs, 1, current, merged, checks, chunk_sums); };
  time_part(space, options, "column statistics and check", column_statistics);
  time_part(space, options, "host waits for the check (record + wait)",
            [&]
            {
              checked.record(space);
              checked.wait();
            });
  time_part(space, options, "XtX into H (beta = 0.5)",
            [&] { detail::gram_update_lower(space, 1e-3f, inputs, 0.5f, hessian); });
  time_part(space, options, "H + XtX beside H (the staged update)", update_into);
  time_part(space, options, "all kernels of a staged batch, no wait",
            [&]
            {
              column_statistics();
              update_into();
            });
  sgpte::CalibrationStatistics<ExecutionSpace> statistics(space, n);
  time_part(space, options,
            detail::stages_gram_update<ExecutionSpace>(n) ? "add_batch (staged)" : "add_batch",
            [&] { statistics.add_batch(space, inputs); });
}

} // namespace

int main(int argc, char *argv[])
{
  sgpte::drivers::KokkosArguments command_line(argc, argv);
  CLI::App app{"Time the parts of a calibration statistics batch on a Kokkos backend.",
               "sgpte-bench-statistics-parts"};
  app.footer(sgpte::drivers::KokkosArguments::help_footer);
  Options options;
  app.add_option("--columns", options.columns, "Input columns of the layer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch", options.batch, "Tokens per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batches", options.batches, "Batches per part")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return sgpte::bench::run_on_chosen_backend(app, command_line,
                                             [&](auto const &space) { run(space, options); });
}
